"""Every numba kernel of roofsim lives here, on arrays only.

Nothing outside this package imports numba, and the public modules import these kernels inside
the functions that need them, so ``import roofsim`` and ``roofsim --help`` never load numba.
"""
