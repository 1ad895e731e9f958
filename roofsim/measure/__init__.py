"""Measurements of real kernels and the model held against them.

records.py: the measurement CSV format, its loader and rows -> standard ops;
validate.py: predicted vs measured per kernel, and the error summary;
timing.py: medians of repeats and BLAS thread control; probe.py: the local machine -> a
hardware spec; suites.py: real numpy/scipy kernels expressed as standard ops.

Nothing heavy is imported here: the CLI pins BLAS threads before numpy loads.
"""
_PUBLIC = {"Measurement": "records", "load_measurements": "records", "to_op": "records",
           "validate": "validate", "error_summary": "validate"}
__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
