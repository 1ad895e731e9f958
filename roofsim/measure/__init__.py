"""Measurements of real kernels and the model held against them.

records.py: the measurement CSV format, its loader and rows -> standard ops;
validate.py: predicted vs measured per kernel, and the error summary.
"""
from .records import Measurement, load_measurements, to_op
from .validate import error_summary, validate

__all__ = ["Measurement", "load_measurements", "to_op", "validate", "error_summary"]
