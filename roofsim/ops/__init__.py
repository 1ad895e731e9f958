"""Workload ops: the Op and Workload types, standard op kinds, and one builder per family.

Builders (transformer, dlrm, ...) live in modules of this package and register themselves with
``register_builder`` so YAML files can say ``builder: transformer``.
"""
from .access import CommAccess, DenseAccess, ExplicitAccess, GatherAccess, SparseAccess, StreamAccess
from .kinds import collective, custom, elementwise, gather, gemm, layernorm, reduction, softmax, spmm
from .op import FlopCount, Op, Tensor, Workload
from .from_doc import build_workload, register_builder

__all__ = ["CommAccess", "DenseAccess", "ExplicitAccess", "GatherAccess", "SparseAccess", "StreamAccess",
           "collective", "custom", "elementwise", "gather", "gemm", "layernorm", "reduction", "softmax", "spmm",
           "FlopCount", "Op", "Tensor", "Workload", "build_workload", "register_builder"]
