"""Seeded synthetic address traces (numpy only): streams, strides, random, embedding gathers,
CSR SpMM/SDDMM gathers over a power-law graph, and tiled GEMM.

Every generator returns a Trace of uint64 byte addresses (plus access sizes and a write mask
where they matter) and is deterministic for a given seed. Regions of different arrays start at
`base` and are separated by a 1 MiB-aligned gap so they never share a cache line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import CacheConfigError

_ALIGN = 1 << 20


@dataclass(frozen=True)
class Trace:
    addrs: np.ndarray                    # uint64 byte addresses
    sizes: Optional[np.ndarray] = None   # int64 bytes per access (None: access_bytes each)
    writes: Optional[np.ndarray] = None  # bool (None: all reads)
    access_bytes: int = 8                # the size every access has when sizes is None

    def __len__(self) -> int:
        return int(self.addrs.shape[0])

    @property
    def bytes_accessed(self) -> int:
        return int(self.sizes.sum()) if self.sizes is not None else len(self) * self.access_bytes


@dataclass(frozen=True)
class SequentialAccess:
    """A streaming access descriptor for the predictors: `nbytes` read in order, `passes`
    times, in accesses of access_bytes (roofsim.ops.access.StreamAccess carries no sizes)."""
    nbytes: int
    passes: int = 1
    access_bytes: int = 8


def _positive(**kw) -> None:
    for name, v in kw.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise CacheConfigError(f"trace {name}: expected a positive integer, found {v!r}")


def _region(base: int, nbytes: int) -> int:
    """Start of the region after one of nbytes at base."""
    return base + (nbytes + _ALIGN - 1) // _ALIGN * _ALIGN + _ALIGN


def _row_reads(rows: np.ndarray, row_bytes: int, access_bytes: int, base: int) -> np.ndarray:
    """Addresses reading each row in `access_bytes` pieces, row after row."""
    access_bytes = access_bytes or row_bytes
    per_row = -(-row_bytes // access_bytes)
    offs = np.arange(per_row, dtype=np.uint64) * np.uint64(access_bytes)
    starts = rows.astype(np.uint64) * np.uint64(row_bytes) + np.uint64(base)
    return (starts[:, None] + offs[None, :]).ravel()


def _trace(addrs: np.ndarray, row_bytes: int, access_bytes: int) -> Trace:
    if access_bytes:
        return Trace(addrs, access_bytes=access_bytes)
    return Trace(addrs, np.full(addrs.shape[0], row_bytes, np.int64), access_bytes=row_bytes)


def sequential(n: int, access_bytes: int = 8, base: int = 0, passes: int = 1) -> Trace:
    """n consecutive accesses of access_bytes, repeated `passes` times."""
    _positive(n=n, access_bytes=access_bytes, passes=passes)
    one = np.uint64(base) + np.arange(n, dtype=np.uint64) * np.uint64(access_bytes)
    return Trace(np.tile(one, passes), access_bytes=access_bytes)


def strided(n: int, stride_bytes: int, footprint_bytes: int, access_bytes: int = 8,
            base: int = 0) -> Trace:
    """n accesses stepping by stride_bytes, wrapping around a footprint."""
    _positive(n=n, stride_bytes=stride_bytes, footprint_bytes=footprint_bytes,
              access_bytes=access_bytes)
    offs = (np.arange(n, dtype=np.uint64) * np.uint64(stride_bytes)) % np.uint64(footprint_bytes)
    return Trace(offs + np.uint64(base), access_bytes=access_bytes)


def uniform(n: int, footprint_bytes: int, access_bytes: int = 8, seed: int = 0,
            base: int = 0) -> Trace:
    """n aligned accesses drawn uniformly from a footprint."""
    _positive(n=n, footprint_bytes=footprint_bytes, access_bytes=access_bytes)
    slots = max(1, footprint_bytes // access_bytes)
    idx = np.random.default_rng(seed).integers(0, slots, n, dtype=np.uint64)
    return Trace(idx * np.uint64(access_bytes) + np.uint64(base), access_bytes=access_bytes)


ZIPF_EXACT_HEAD = 1 << 16  # ranks below this use the exact CDF; the tail its integral


def zipf_ranks(n: int, items: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """n draws of a bounded Zipf: P(rank k) proportional to 1 / k^alpha, k = 1..items (0-based).

    The first ZIPF_EXACT_HEAD ranks use the exact cumulative sum; beyond it the sum is replaced by
    its integral, sum_{j=K+1..k} j^-a ~ int_{K+1/2}^{k+1/2} x^-a dx (midpoint rule, relative error
    below 1e-9 there), which is inverted in closed form. A table of 260 M rows (DLRM) then needs no
    2 GB cumulative array.
    """
    if not alpha > 0:
        raise CacheConfigError(f"trace zipf_alpha: expected a number > 0, found {alpha!r}")
    head = min(items, ZIPF_EXACT_HEAD)
    cdf = np.cumsum(np.arange(1, head + 1, dtype=np.float64) ** -alpha)
    lo = head + 0.5

    def integral(x):  # int_lo^x t^-a dt
        return np.log(x / lo) if alpha == 1 else (x ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)

    tail = float(integral(items + 0.5)) if items > head else 0.0
    u = rng.random(n) * (cdf[-1] + tail)
    ranks = np.searchsorted(cdf, u, side="right").astype(np.int64)
    in_tail = u >= cdf[-1]
    if in_tail.any():
        v = u[in_tail] - cdf[-1]
        if alpha == 1:
            x = lo * np.exp(v)
        else:
            x = (lo ** (1 - alpha) + (1 - alpha) * v) ** (1 / (1 - alpha))
        ranks[in_tail] = np.floor(x - 0.5).astype(np.int64)  # x in [k-1/2, k+1/2) -> rank k (1-based) -> k-1
    return np.minimum(ranks, items - 1)


def scatter(ranks: np.ndarray, items: int, seed: int) -> np.ndarray:
    """Map popularity ranks to item ids by a seeded bijection, so hot items are not adjacent."""
    rng = np.random.default_rng(seed + 0x5EED)
    a = int(rng.integers(1, max(2, items)))
    while np.gcd(a, items) != 1:  # a must be coprime with items for (a k + b) mod items to be 1:1
        a += 1
    b = int(rng.integers(0, items))
    return ((ranks.astype(object) * a + b) % items).astype(np.int64) if items > 2**31 else \
        (ranks.astype(np.int64) * a + b) % items


def embedding_gathers(lookups: int, row_bytes: int, table_rows: int,
                      distribution: str = "zipf", zipf_alpha: float = 1.05, pooling: int = 1,
                      access_bytes: int = 64, seed: int = 0, base: int = 0,
                      output: bool = False, ids: Optional[np.ndarray] = None) -> Trace:
    """Embedding-bag row gathers: `lookups` rows (in bags of `pooling`), each read in
    access_bytes pieces (0: one access of row_bytes per row); with output=True each bag then
    writes its pooled row to an output. distribution 'file': the rows are `ids` in order,
    cycled when lookups exceeds them."""
    _positive(lookups=lookups, row_bytes=row_bytes, table_rows=table_rows, pooling=pooling)
    rng = np.random.default_rng(seed)
    if distribution == "file":
        if ids is None or len(ids) == 0:
            raise CacheConfigError("trace distribution file: expected row ids, found none")
        rows = np.asarray(ids, dtype=np.int64)[np.arange(lookups) % len(ids)]
    elif distribution == "uniform":
        rows = rng.integers(0, table_rows, lookups)
    elif distribution == "zipf":
        rows = scatter(zipf_ranks(lookups, table_rows, zipf_alpha, rng), table_rows, seed)
    else:
        raise CacheConfigError(f"trace distribution: expected one of uniform, zipf, file, "
                               f"found {distribution!r}")
    addrs = _row_reads(rows, row_bytes, access_bytes, base)
    if not output:
        return _trace(addrs, row_bytes, access_bytes)
    per_row = -(-row_bytes // access_bytes) if access_bytes else 1
    bags = -(-lookups // pooling)
    out_base = _region(base, table_rows * row_bytes)
    out = _row_reads(np.arange(bags), row_bytes, access_bytes, out_base).reshape(bags, per_row)
    reads = np.full(bags * pooling * per_row, np.iinfo(np.uint64).max, np.uint64)
    reads[:addrs.shape[0]] = addrs
    reads = reads.reshape(bags, pooling * per_row)
    merged = np.concatenate([reads, out], axis=1).ravel()
    writes = np.concatenate([np.zeros((bags, pooling * per_row), bool),
                             np.ones((bags, per_row), bool)], axis=1).ravel()
    keep = merged != np.iinfo(np.uint64).max  # the last bag may be partial
    t = _trace(merged[keep], row_bytes, access_bytes)
    return Trace(t.addrs, t.sizes, writes[keep], t.access_bytes)


def insert_before(values: np.ndarray, at: np.ndarray, inserted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` with ``inserted[q]`` placed before ``values[at[q]]`` (``at`` sorted; ``at`` =
    len(values) appends), and the mask of the original values in the result. The q-th inserted
    value lands at at[q] + q (the q before it each shift it by one): one scatter, no copies."""
    where = np.asarray(at, np.int64) + np.arange(len(at), dtype=np.int64)
    keep = np.ones(values.shape[0] + where.shape[0], bool)
    keep[where] = False
    out = np.empty(keep.shape[0], np.result_type(values, inserted))
    out[keep], out[where] = values, inserted
    return out, keep


def outputs_before(lookups: int, pooling: int) -> int:
    """Output rows written by the first ``lookups`` lookups of embedding_gathers(output=True):
    one per whole bag."""
    return lookups // pooling


def head(t: Trace, n: int) -> Trace:
    """The first n accesses of a trace."""
    return Trace(t.addrs[:n], None if t.sizes is None else t.sizes[:n],
                 None if t.writes is None else t.writes[:n], t.access_bytes)


def repeat(t: Trace, times: int) -> Trace:
    """The trace played `times` times in a row (epochs over the same data)."""
    rep = lambda a: None if a is None else np.tile(a, times)
    return Trace(np.tile(t.addrs, times), rep(t.sizes), rep(t.writes), t.access_bytes)


def power_law_graph(rows: int, cols: int, nnz: int, degree_alpha: float = 2.1,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of nnz nonzeros in CSR order; column degrees follow a power law with exponent
    degree_alpha, i.e. column popularity is Zipf with exponent 1 / (degree_alpha - 1)."""
    _positive(rows=rows, cols=cols, nnz=nnz)
    if not degree_alpha > 1:
        raise CacheConfigError(f"trace degree_alpha: expected a number > 1, found {degree_alpha!r}")
    rng = np.random.default_rng(seed)
    r = np.sort(rng.integers(0, rows, nnz))
    c = scatter(zipf_ranks(nnz, cols, 1.0 / (degree_alpha - 1.0), rng), cols, seed)
    order = np.lexsort((c, r))
    return r[order], c[order]


def csr_gathers(rows: int, cols: int, nnz: int, feature_bytes: int, degree_alpha: float = 2.1,
                kind: str = "spmm", access_bytes: int = 64, seed: int = 0,
                base: int = 0) -> Trace:
    """Dense-feature gathers of CSR SpMM (each nonzero (r, c) reads feature row c of B) or SDDMM
    (reads row r of X and row c of Y). access_bytes 0: one access per feature row."""
    _positive(feature_bytes=feature_bytes)
    r, c = power_law_graph(rows, cols, nnz, degree_alpha, seed)
    if kind == "spmm":
        return _trace(_row_reads(c, feature_bytes, access_bytes, base), feature_bytes, access_bytes)
    if kind == "sddmm":
        y_base = _region(base, rows * feature_bytes)
        x = _row_reads(r, feature_bytes, access_bytes, base)
        y = _row_reads(c, feature_bytes, access_bytes, y_base)
        per = x.shape[0] // nnz
        both = np.concatenate([x.reshape(nnz, per), y.reshape(nnz, per)], axis=1).ravel()
        return _trace(both, feature_bytes, access_bytes)
    raise CacheConfigError(f"trace kind: expected one of spmm, sddmm, found {kind!r}")


def tiled_gemm(m: int, n: int, k: int, tile: int = 32, elem_bytes: int = 4,
               base: int = 0) -> Trace:
    """C[m,n] += A[m,k] B[k,n], row-major, loops over tiles (i0, j0, k0) then (i, k, j): per
    multiply-add a read of A[i,k], a read of B[k,j] and a store to C[i,j]."""
    _positive(m=m, n=n, k=k, tile=tile, elem_bytes=elem_bytes)
    a_base = base
    b_base = _region(a_base, m * k * elem_bytes)
    c_base = _region(b_base, k * n * elem_bytes)
    t = tile
    ti, tj, tk = -(-m // t), -(-n // t), -(-k // t)
    # index grids in loop order (i0, j0, k0, i, k, j), then drop the out-of-range padding
    i0, j0, k0, i, kk, j = np.meshgrid(np.arange(ti), np.arange(tj), np.arange(tk), np.arange(t),
                                       np.arange(t), np.arange(t), indexing="ij")
    gi, gj, gk = (i0 * t + i).ravel(), (j0 * t + j).ravel(), (k0 * t + kk).ravel()
    ok = (gi < m) & (gj < n) & (gk < k)
    gi, gj, gk = gi[ok].astype(np.uint64), gj[ok].astype(np.uint64), gk[ok].astype(np.uint64)
    e = np.uint64(elem_bytes)
    a = np.uint64(a_base) + (gi * np.uint64(k) + gk) * e
    b = np.uint64(b_base) + (gk * np.uint64(n) + gj) * e
    c = np.uint64(c_base) + (gi * np.uint64(n) + gj) * e
    addrs = np.stack([a, b, c], axis=1).ravel()
    writes = np.tile(np.array([False, False, True]), a.shape[0])
    return Trace(addrs, writes=writes, access_bytes=elem_bytes)
