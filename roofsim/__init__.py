"""roofsim: roofline and hardware simulation.

Data flows one way: YAML -> validated specs -> workload ops -> model -> one DataFrame.
Heavy modules (pandas, numba) are imported lazily by the functions that need them.
"""
__version__ = "0.1.0"
