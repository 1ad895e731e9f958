"""Access-pattern descriptors: how an op's memory traffic is predicted.

- DenseAccess: tileable loops (GEMM, convolution as implicit GEMM, attention matmuls); the
  analytic tiling model in roofsim/traffic.py derives bytes per level from capacities.
- StreamAccess: every byte read or written once (elementwise, reductions, norms).
- GatherAccess / SparseAccess: irregular; bytes come from a cache predictor (roofsim/cache),
  or compulsory traffic rounded to cache lines without one.
- CommAccess: bytes over a link (collectives).
- ExplicitAccess: bytes given directly, at main memory or per named level.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..comm import COLLECTIVES  # noqa: F401  (re-exported: the op constructors check against it)


@dataclass(frozen=True)
class DenseAccess:
    """C[m,n] (+)= A[m,k] @ B[k,n], ``batch`` independent times; element sizes in bytes."""
    m: int
    n: int
    k: int
    batch: int = 1
    a_bytes: float = 2.0
    b_bytes: float = 2.0
    c_bytes: float = 2.0
    # Implicit operands (a convolution as implicit GEMM): the elements actually stored, per
    # batch instance, when fewer than the GEMM view's (A's m x k im2col view of the input tensor).
    a_elements: Optional[float] = None
    b_elements: Optional[float] = None
    c_elements: Optional[float] = None
    kind = "dense"

    def stored_bytes_per_element(self) -> tuple[float, float, float]:
        """Bytes per GEMM-view element of A, B and C such that (view elements x it) is the bytes
        stored: the element size, scaled down for implicit operands."""
        view = (self.m * self.k, self.k * self.n, self.m * self.n)
        sizes = (self.a_bytes, self.b_bytes, self.c_bytes)
        stored = (self.a_elements, self.b_elements, self.c_elements)
        return tuple(b * (e / v if e is not None else 1.0) for b, v, e in zip(sizes, view, stored))


@dataclass(frozen=True)
class StreamAccess:
    """Every byte once. ``runs``: the contiguous stretches a library's inner loop walks one call
    at a time (a reduction over a middle axis of (4096, 20, 64) makes 4096 x 20 runs of 64
    elements); each costs the library's time per item (efficiency.per_item). 0: not counted.
    ``broadcast``: elements computed against an operand broadcast along the rows (x - row_max of
    a (rows, 1) array), which numpy runs through a slower, unvectorised loop; each costs the
    library's time per broadcast element (efficiency.per_item.broadcast). 0: none."""
    runs: float = 0.0
    broadcast: float = 0.0
    kind = "stream"


@dataclass(frozen=True)
class RowIds:
    """A user's sequence of row ids (int64, validated by roofsim.ops.indices). Equal and hashed by
    content digest, so ops that carry one stay hashable and cache-model results can be memoised."""
    ids: np.ndarray = field(compare=False, repr=False)
    digest: str = ""

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class GatherAccess:
    """Embedding-bag style row gathers."""
    lookups: int            # total row reads per execution
    row_bytes: int
    table_rows: int
    distribution: str = "uniform"   # "uniform" | "zipf" | "file" (the ids of ``ids``, in order)
    zipf_alpha: float = 1.05
    pooling: int = 1        # rows summed per output bag (lookups already includes it)
    seed: int = 0
    ids: Optional[RowIds] = None    # distribution "file": the row ids consecutive batches read
    kind = "irregular"


@dataclass(frozen=True)
class SparseAccess:
    """CSR SpMM / SDDMM gathers of dense feature rows."""
    rows: int
    cols: int
    nnz: int
    feature_bytes: int      # bytes of one dense feature row that each nonzero gathers
    degree_alpha: float = 2.1   # power-law exponent of the column degree distribution
    seed: int = 0
    columns: Optional[RowIds] = None   # a user's graph: the column of every nonzero, in CSR order
    kind = "irregular"


@dataclass(frozen=True)
class CommAccess:
    """A collective over ``participants`` devices on a data buffer of ``bytes`` per device.

    ``scope`` forces a link (scale-up, scale-out, host); None lets roofsim/comm.py choose by group
    size. ``stride``: how many ranks apart the members are (it decides how many share a scale-up domain).
    ``algorithm``: ring, tree, hierarchical or auto (the fastest).
    """
    collective: str
    bytes: float
    participants: int
    scope: Optional[str] = None
    stride: int = 1
    algorithm: str = "auto"
    kind = "comm"


@dataclass(frozen=True)
class ExplicitAccess:
    """Bytes given by the workload: ``main`` bytes, and/or bytes per named level."""
    main: Optional[float] = None
    levels: tuple[tuple[str, float], ...] = ()
    kind = "explicit"
