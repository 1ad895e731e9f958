"""roofsim: roofline and hardware simulation.

Data flows one way: YAML -> validated specs -> workload ops -> model -> one DataFrame.
Heavy modules (pandas, numba) are imported lazily by the functions that need them.
"""
__version__ = "0.1.0"


def __getattr__(name):
    # roofsim.run(...) and roofsim.query(...) without importing pandas at `import roofsim`
    if name in ("run", "query"):
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'roofsim' has no attribute {name!r}")
