"""Suites of real kernels with known FLOP and byte counts, measured and written as standard ops.

Each kernel is what a numpy/scipy user writes, and its ``ops`` are the standard op kinds
(roofsim/ops/kinds.py) of every pass it makes, temporaries included, exactly as a workload file
would describe it: numpy's row softmax is five passes (max, subtract, exp, sum, divide), an
embedding bag is a gather into a temporary and then a sum over each bag. The model is held
against these with nothing suite-specific: the same ops, the same spec, the same engine.

Sizes follow the spec's caches, so "in cache" and "far beyond the last cache" mean that on any
machine: IN_CACHE_FRACTION of the largest private cache, and OUT_OF_CACHE_FACTOR x the last
cache (its OS capacity where the probe measured a smaller share; at most MAX_FOOTPRINT_FRACTION
of main memory).

Measuring: BLAS pinned to one thread, the median of >= 7 repeats, gather indices (and the
values of every kernel's inputs) drawn once per repeat from a pool so that a table larger than
the caches is not warm from the previous call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import Problem, SpecError
from ..ops import kinds as K
from ..ops.op import Op
from ..specs import HardwareSpec
from .records import Measurement

SUITES = ("cpu",)
IN_CACHE_FRACTION = 0.5
OUT_OF_CACHE_FACTOR = 8
MAX_FOOTPRINT_FRACTION = 0.125
INDEX_POOL = 8          # index sets cycled through by the gather kernels
EMB_DIM = 64            # fp32 embedding rows of 256 B
POOLING = 20
BAGS = 4096
SPMM_DEGREE = 10        # nonzeros per row
SPMM_FEATURES = 32
# each timed sample runs at least this long (many calls of a short kernel), so that it averages
# over the bursts of other work on a shared machine instead of catching one or none
MIN_SAMPLE_S = 5e-3


@dataclass(frozen=True)
class Kernel:
    """A real kernel: its standard ops and how to build its call (from a numpy Generator)."""
    name: str
    category: str
    ops: tuple[Op, ...]
    make: Callable[..., Callable[[], object]]
    footprint_bytes: float        # distinct bytes it touches (for the machine's memory budget)
    library: str = "numpy"
    notes: str = ""


@dataclass(frozen=True)
class Sizes:
    """Working-set sizes of a machine, in bytes."""
    in_cache: float
    last_cache: float
    out_of_cache: float
    shared: float = 0.0     # served by the last cache: beyond the private ones, well inside the last


def _shared_size(inner: float, last: float) -> float:
    """A working set the last cache serves: a quarter of it, but at least twice the largest private
    cache where the last is several times larger (a small share of a shared L3, 5 MiB beside a
    1 MiB L2, would otherwise put "last cache" kernels in the L2) and at most half of it."""
    return max(last / 4, min(2 * inner, last / 2)) if inner < last else last / 4


def sizes_for(hw: HardwareSpec) -> Sizes:
    caches = [m for m in hw.memory[:hw.main_index] if m.type == "cache" and m.capacity_bytes]
    if not caches:
        raise SpecError(Problem(hw.file, "memory", "at least one cache level with a capacity (the suite sizes its "
                                                   "kernels in and out of cache)", "none"))
    private = [m for m in caches if (m.shared_by or 1) <= 1] or caches[:1]
    inner = max(m.capacity_bytes for m in private)
    last = caches[-1].capacity_bytes
    # beyond what the last cache could give a thread at all (its OS capacity, where the probe measured
    # a smaller share), so that "out of cache" stays out when the neighbours go quiet
    out = OUT_OF_CACHE_FACTOR * max(last, caches[-1].os_capacity_bytes or 0.0)
    main = hw.main_memory.total_capacity_bytes
    if main:
        out = min(out, MAX_FOOTPRINT_FRACTION * main)
    return Sizes(IN_CACHE_FRACTION * inner, last, max(out, 2 * last), _shared_size(inner, last))


def _pow2(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1.0)))))


# ---------------------------------------------------------------- kernels

def _gemm(name, category, m, n, k, dtype="fp64") -> Kernel:
    """C = A @ B with preallocated C: one gemm op, 2mnk FLOPs, A, B read and C written once at least."""
    np_dtype = {"fp64": "float64", "fp32": "float32"}[dtype]

    def make(np, rng):
        a = rng.standard_normal((m, k)).astype(np_dtype)
        b = rng.standard_normal((k, n)).astype(np_dtype)
        c = np.empty((m, n), np_dtype)
        return lambda: np.matmul(a, b, out=c)
    size = 8 if dtype == "fp64" else 4
    return Kernel(name, category, (K.gemm(name, m, n, k, dtype=dtype, weight=None),), make,
                  (m * k + k * n + m * n) * size, library="numpy.matmul (BLAS)")


def _add(name, category, elements) -> Kernel:
    """c = a + b (out=c): one elementwise op, 2 inputs, 1 output."""
    def make(np, rng):
        a, b, c = rng.random(elements), rng.random(elements), np.empty(elements)
        return lambda: np.add(a, b, out=c)
    return Kernel(name, category, (K.elementwise(name, elements, dtype="fp64", inputs=2, outputs=1),), make,
                  3 * 8 * elements)


def _triad(name, category, elements) -> Kernel:
    """a = b + s * c as numpy runs it: t = s * c (1 in, 1 out), then a = b + t (2 in, 1 out)."""
    def make(np, rng):
        a, b, c, t = rng.random(elements), rng.random(elements), rng.random(elements), np.empty(elements)
        s = 3.0

        def triad():
            np.multiply(c, s, out=t)
            np.add(b, t, out=a)
        return triad
    return Kernel(name, category, (K.elementwise(f"{name}.scale", elements, dtype="fp64", inputs=1, outputs=1),
                                   K.elementwise(f"{name}.add", elements, dtype="fp64", inputs=2, outputs=1)),
                  make, 4 * 8 * elements)


def _softmax(name, category, rows, cols) -> Kernel:
    """y = softmax(x, axis=1) as numpy writes it: five passes, two temporaries."""
    n = rows * cols

    def make(np, rng):
        x = rng.standard_normal((rows, cols))

        def softmax():
            m = x.max(axis=1, keepdims=True)
            e = np.exp(x - m)
            return e / e.sum(axis=1, keepdims=True)
        return softmax
    # every pass allocates its output (no out=): 8 B x n temporaries that may come fresh from the OS
    ops = (K.reduction(f"{name}.max", n, outputs=rows, dtype="fp64", allocates=True),
           # x - m and e / s: the row max and row sum, shape (rows, 1), broadcast along each row
           K.elementwise(f"{name}.sub", n, dtype="fp64", inputs=1, outputs=1, allocates=True, broadcast=True),
           K.elementwise(f"{name}.exp", n, dtype="fp64", inputs=1, outputs=1, transcendentals_per_element=1,
                         allocates=True),
           K.reduction(f"{name}.sum", n, outputs=rows, dtype="fp64", allocates=True),
           K.elementwise(f"{name}.div", n, dtype="fp64", inputs=1, outputs=1, allocates=True, broadcast=True))
    return Kernel(name, category, ops, make, 4 * 8 * n)


def _embedding_bag(name, category, table_rows, distribution, zipf_alpha=1.05, seed=7) -> Kernel:
    """out[b] = sum of POOLING rows of table (fp32, EMB_DIM wide): table[idx] gathers BAGS*POOLING
    rows into a temporary, .sum(axis=1) reduces each bag: a gather and a reduction."""
    lookups = BAGS * POOLING
    row_bytes = EMB_DIM * 4

    def make(np, rng):
        from ..cache.traces import scatter, zipf_ranks
        table = rng.random((table_rows, EMB_DIM), dtype=np.float32)
        if distribution == "uniform":
            pool = [rng.integers(0, table_rows, lookups) for _ in range(INDEX_POOL)]
        else:
            pool = [scatter(zipf_ranks(lookups, table_rows, zipf_alpha, rng), table_rows, seed)
                    for _ in range(INDEX_POOL)]
        state = {"i": 0}

        def bag():
            idx = pool[state["i"] % INDEX_POOL]
            state["i"] += 1
            return table[idx].reshape(BAGS, POOLING, EMB_DIM).sum(axis=1)
        return bag
    ops = (K.gather(f"{name}.gather", lookups, row_bytes, table_rows, dtype="fp32", pooling=1,
                    distribution=distribution, zipf_alpha=zipf_alpha, allocates=True),
           # (BAGS, POOLING, EMB_DIM).sum(axis=1): runs of EMB_DIM along the innermost axis
           K.reduction(f"{name}.sum", lookups * EMB_DIM, outputs=BAGS * EMB_DIM, dtype="fp32", run=EMB_DIM,
                       allocates=True))
    return Kernel(name, category, ops, make, table_rows * row_bytes + 2 * lookups * row_bytes,
                  notes=f"{distribution} indices, {INDEX_POOL} index sets cycled between calls")


def _spmm(name, category, nodes, degree_alpha=2.1) -> Kernel:
    """Y = A @ X, A CSR (nodes x nodes, SPMM_DEGREE nonzeros per row on average, power-law column
    popularity), X dense fp32 (nodes x SPMM_FEATURES): scipy's CSR kernel; one spmm op."""
    nnz = nodes * SPMM_DEGREE

    def make(np, rng):
        import scipy.sparse as sp
        from ..cache.traces import power_law_graph
        r, c = power_law_graph(nodes, nodes, nnz, degree_alpha, seed=11)
        a = sp.csr_matrix((rng.random(nnz, dtype=np.float32), (r, c)), shape=(nodes, nodes))
        a.sum_duplicates()
        x = rng.random((nodes, SPMM_FEATURES), dtype=np.float32)
        return lambda: a @ x
    op = K.spmm(name, nodes, nodes, nnz, SPMM_FEATURES, dtype="fp32", degree_alpha=degree_alpha, allocates=True)
    return Kernel(name, category, (op,), make, nnz * 8 + 2 * nodes * SPMM_FEATURES * 4, library="scipy.sparse")


def cpu_suite(hw: HardwareSpec, with_scipy: bool = True) -> list[Kernel]:
    """The CPU suite for ``hw``'s caches. Every size is derived from ``sizes_for(hw)``."""
    s = sizes_for(hw)
    small = _pow2(s.in_cache / 24)              # add: 3 fp64 arrays in the private cache
    big = _pow2(s.out_of_cache / 24)            # add: 3 fp64 arrays far beyond the last cache
    big_triad = _pow2(s.out_of_cache / 32)
    gemv_in = _pow2(math.sqrt(s.in_cache / 8))  # an n x n fp64 matrix in the private cache
    gemv_out = _pow2(math.sqrt(s.out_of_cache / 8))
    soft_cols = 512
    emb_row = EMB_DIM * 4
    kernels = [
        _gemm("gemm-256", "gemm square", 256, 256, 256),
        _gemm("gemm-512", "gemm square", 512, 512, 512),
        _gemm("gemm-1024", "gemm square", 1024, 1024, 1024),
        _gemm("sgemm-1024", "gemm square", 1024, 1024, 1024, dtype="fp32"),
        _gemm("gemm-m4", "gemm skinny", 4, 1024, 1024),
        _gemm("gemm-m16", "gemm skinny", 16, 1024, 1024),
        _gemm("gemm-m64", "gemm skinny", 64, 1024, 1024),
        _gemm("gemm-tall-k64", "gemm tall", 16384, 64, 64),
        _gemm("gemm-tall-k256", "gemm tall", 8192, 256, 256),
        # GEMV y = A x is a gemm with m = 1: x (1 x k) times the matrix (k x n)
        _gemm(f"gemv-{gemv_in}", "gemv", 1, gemv_in, gemv_in),
        _gemm(f"gemv-{gemv_out}", "gemv", 1, gemv_out, gemv_out),
        _add("add-in-cache", "elementwise", small),
        _add("add-out-of-cache", "elementwise", big),
        _triad("triad-in-cache", "elementwise", _pow2(s.in_cache / 32)),
        _triad("triad-out-of-cache", "elementwise", big_triad),
        _softmax("softmax-in-cache", "softmax", _pow2(s.in_cache / 32 / soft_cols), soft_cols),
        _softmax("softmax-out-of-cache", "softmax", _pow2(s.out_of_cache / 32 / soft_cols), soft_cols),
        _embedding_bag("bag-uniform-in-cache", "gather", _pow2(s.in_cache / emb_row), "uniform"),
        _embedding_bag("bag-uniform-llc", "gather", _pow2(s.shared / emb_row), "uniform"),
        _embedding_bag("bag-uniform-dram", "gather", _pow2(s.out_of_cache / emb_row), "uniform"),
        _embedding_bag("bag-zipf-llc", "gather", _pow2(s.shared / emb_row), "zipf"),
        _embedding_bag("bag-zipf-dram", "gather", _pow2(s.out_of_cache / emb_row), "zipf"),
    ]
    if with_scipy:
        # X at half the shared size: with Y and the CSR arrays the footprint is ~1.3x it
        kernels += [_spmm("spmm-llc", "spmm", _pow2(s.shared / 2 / (SPMM_FEATURES * 4))),
                    _spmm("spmm-dram", "spmm", _pow2(s.out_of_cache / (SPMM_FEATURES * 4)))]
    return kernels


def scipy_available() -> bool:
    try:
        import scipy.sparse  # noqa: F401
    except ImportError:
        return False
    return True


def suite(name: str, hw: HardwareSpec) -> list[Kernel]:
    if name not in SUITES:
        raise SpecError(Problem(None, "--suite", "one of " + ", ".join(SUITES), repr(name)))
    return cpu_suite(hw, with_scipy=scipy_available())


# kernels measured side by side keep all their arrays at once: at most this fraction of main memory
INTERLEAVE_MEMORY_FRACTION = 0.25


def interleaved_groups(kernels: list[Kernel], budget_bytes: Optional[float]) -> list[list[Kernel]]:
    """Consecutive kernels in groups whose footprints together stay within ``budget_bytes`` (a
    kernel larger than it alone in its group); one group when there is no budget."""
    if not budget_bytes:
        return [list(kernels)] if kernels else []
    groups, used = [], math.inf
    for k in kernels:
        if used + k.footprint_bytes > budget_bytes:
            groups.append([])
            used = 0.0
        groups[-1].append(k)
        used += k.footprint_bytes
    return groups


def measure(kernels: list[Kernel], hw: HardwareSpec, repeats: int = 7, progress=None, seed: int = 0) -> list[Measurement]:
    """Run every kernel (BLAS on one thread), median of ``repeats``; Measurements for ``validate``.

    The samples are interleaved: round r times sample r of every kernel of a group in turn, so
    each kernel's median spans the whole run rather than the few seconds when its turn came (a
    burst of other work on a shared machine then spoils one sample of each kernel, not every
    sample of one). Every kernel is called once, untimed, before each sample, so that it is
    timed as a loop of its own runs: its data back in the caches it fits, and the allocator
    where its own calls leave it (glibc reuses the heap a repeated temporary was freed to; after
    another kernel's allocations the first call may fault its pages in afresh)."""
    import datetime as _dt

    import numpy as np

    from .. import __version__
    from .timing import blas_threads, calls_per_sample, sample, summarise
    progress = progress or (lambda what, frac: None)
    rng = np.random.default_rng(seed)
    main = hw.main_memory.total_capacity_bytes
    today = _dt.date.today().isoformat()
    timings, done, total = {}, 0, len(kernels) * (repeats + 1)
    with blas_threads(1) as controlled:
        for group in interleaved_groups(kernels, INTERLEAVE_MEMORY_FRACTION * main if main else None):
            runs = []
            for k in group:
                progress(f"{k.name} (setting up)", done / total)
                fn = k.make(np, rng)
                runs.append((k, fn, calls_per_sample(fn, MIN_SAMPLE_S)))
                done += 1
            samples = {k.name: [] for k, *_ in runs}
            for r in range(repeats):
                for k, fn, calls in runs:
                    progress(f"{k.name} (sample {r + 1} of {repeats})", done / total)
                    fn()     # untimed: back to this kernel's own steady state
                    samples[k.name].append(sample(fn, calls))
                    done += 1
            for k, _, calls in runs:
                timings[k.name] = summarise(samples[k.name], calls)
            del runs
    out = []
    for k in kernels:
        t = timings[k.name]
        out.append(Measurement(
            name=k.name, device=hw.id, category=k.category, ops=k.ops, time_s=t.median_s,
            source=f"roofsim {__version__} suite cpu on this machine", repeats=repeats, spread=t.spread,
            warm=True,   # timed back to back: what fits in a cache stays there between calls
            method=f"median of {repeats} samples of {t.calls_per_sample} call(s), interleaved with the other "
                   f"kernels', process CPU time; BLAS 1 thread" + ("" if controlled else " (from the environment)"),
            library=k.library, date=today, notes=k.notes))
    progress("done", 1.0)
    return out
