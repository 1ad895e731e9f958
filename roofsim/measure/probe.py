"""The local machine, measured: an empirical hardware document (kind ``measured``).

In the spirit of the Empirical Roofline Toolkit and likwid-bench, with the libraries roofsim's
users run (numpy's BLAS and ufuncs):

- caches from the OS (sysfs): size, line, ways, and how many CPUs share each; then each cache's
  capacity as one thread sees it: the knee of a pointer chase's latency over working sets
  (effective_capacities). A shared last cache on a virtual machine or a busy chip can give one
  thread a fraction of what the OS reports, and the model must size reuse by what it gets;
- peak FLOP/s per dtype: the best median of square BLAS GEMMs, on 1 thread and on all (the
  ``matrix`` rate: what GEMM-shaped ops run at); numpy's vector loop rate (a contiguous sum, one
  add per element: the ``vector`` rate of elementwise ops and reductions), np.exp's
  evaluations per second beyond it (the ``transcendental`` rate) and scipy's SpMM loop, a fused
  multiply-add per nonzero and feature (the ``fma`` rate);
- sustained bandwidth per level: read (sum), copy and add (c = a + b) swept over working-set
  sizes; the median of the sizes that sit inside a level (above the level inside it, at most
  half of it) is that level's plateau. Bytes are counted as the roofline counts them (reads +
  writes, no write-allocate), and each call's fixed cost (the same call on a 1-element array)
  is taken off first, so the plateau is the loop's rate, not numpy's overhead;
- load-to-use latency per level: a pointer chase (roofsim/kernels/chase.py) over a random cycle
  of cache lines in a working set of half the level (4x the last cache for main memory);
- what one library call costs per op kind (efficiency.per_call: a 1-element ufunc, a 1 x 1 row
  sum, a 2x2 GEMM, a 1-row gather, a 2x2 SpMM), added to every op's time: a numpy call is
  synchronous, its cost does not overlap the loop;
- the library's time per item (efficiency.per_item), on data in cache, net of the call and the
  FLOPs: numpy's gather per row, a reduction per run, BLAS per packed operand element, scipy's
  CSR SpMM per nonzero;
- the fraction of the peak a GEMM reaches by its smallest dimension (efficiency.compute_by_depth),
  net of the call and packing;
- first touch (efficiency.first_touch): the rate at which the OS maps and zeroes memory an op
  allocates fresh (numpy outputs above glibc's mmap threshold);
- misses in flight (efficiency.memory_parallelism): independent random 64-byte row gathers from
  a table beyond the last cache; latency / (time per row - the library's time per row);
- the rate at which one thread's BLAS GEMV reads its matrix from main memory
  (efficiency.gemv_bandwidth), below a plain read's where the library walks several rows at once.

The written spec describes the machine as ONE thread sees it (numpy's ufuncs are
single-threaded and the scored validation suite pins BLAS to one thread); the all-thread peaks
are recorded in the notes. Each figure is a median of repeats; a median spread above
NOISY_SPREAD triggers a warning.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from .timing import Timing, blas_threads, cpu_count, threads_controllable, time_call

NOISY_SPREAD = 0.10       # median relative IQR of the repeats above which the machine looks busy
SYSFS_CPU = Path("/sys/devices/system/cpu")
ProgressFn = Callable[[str, float], None]   # (what is being measured, fraction done)


@dataclass(frozen=True)
class CacheInfo:
    """One cache level as the OS describes it (sizes in bytes)."""
    level: int
    type: str                 # Data, Instruction, Unified
    size_bytes: int
    line_bytes: int
    ways: Optional[int]
    shared_by: int            # CPUs sharing one instance
    instances: int

    @property
    def name(self) -> str:
        return f"l{self.level}d" if self.type == "Data" else f"l{self.level}"


def _size(text: str) -> Optional[int]:
    text = text.strip().upper()
    mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    try:
        return int(text[:-1]) * mult[text[-1]] if text and text[-1] in mult else int(text)
    except ValueError:
        return None


def _cpu_list_len(text: str) -> int:
    n = 0
    for part in text.strip().split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            n += int(hi) - int(lo) + 1
        elif part:
            n += 1
    return max(n, 1)


def os_caches(root: Path = SYSFS_CPU) -> list[CacheInfo]:
    """Data and unified caches of cpu0, innermost first, from sysfs (empty when unavailable)."""
    base = root / "cpu0" / "cache"
    out = []
    for index in sorted(base.glob("index*")):
        read = lambda name: (index / name).read_text().strip() if (index / name).exists() else ""
        try:
            kind, level = read("type"), int(read("level") or 0)
        except (OSError, ValueError):
            continue
        size = _size(read("size"))
        if kind == "Instruction" or not size or not level:
            continue
        line = int(read("coherency_line_size") or 64)
        ways = int(read("ways_of_associativity")) if read("ways_of_associativity").isdigit() else None
        shared = _cpu_list_len(read("shared_cpu_list") or "0")
        instances = max(1, cpu_count() // shared)
        out.append(CacheInfo(level, kind, size, line, ways or None, shared, instances))
    return sorted(out, key=lambda c: c.level)


def cpu_name() -> tuple[str, str]:
    """(model name, vendor) from /proc/cpuinfo, else platform's."""
    model, vendor = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            if key.strip() == "vendor_id" and not vendor:
                vendor = value.strip()
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), vendor or "unknown"


def memory_bytes() -> Optional[int]:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


# ---------------------------------------------------------------- measurements

@dataclass
class ProbeResult:
    """Everything measured, with the timings behind it."""
    caches: list
    peaks_1t: dict = field(default_factory=dict)         # dtype -> FLOP/s
    peaks_all: dict = field(default_factory=dict)
    threads_all: int = 1
    threads_controlled: bool = False
    gemm_sizes: list = field(default_factory=list)       # (dtype, n, FLOPs, FLOP/s) at 1 thread
    sweep: list = field(default_factory=list)            # (kernel, working-set bytes, B/s)
    plateaus: dict = field(default_factory=dict)         # level name -> {kernel: B/s}
    latency: dict = field(default_factory=dict)          # level name -> s
    chase: list = field(default_factory=list)            # (working-set bytes, s per dependent load)
    os_sizes: dict = field(default_factory=dict)         # level name -> the OS's capacity, where the probe saw less
    overheads: dict = field(default_factory=dict)        # call -> s
    calls: dict = field(default_factory=dict)            # op kind -> library s per call (efficiency.per_call)
    items: dict = field(default_factory=dict)            # op kind -> library s per item
    vector: dict = field(default_factory=dict)           # dtype -> numpy's vector loop FLOP/s (1 add per element)
    transcendental: dict = field(default_factory=dict)   # dtype -> np.exp evaluations / s beyond that add
    fma: dict = field(default_factory=dict)              # dtype -> scipy's SpMM multiply-add FLOP/s, in cache
    memory_parallelism: Optional[float] = None
    depth: list = field(default_factory=list)            # (smallest GEMM dimension, fraction of the 1-thread peak)
    first_touch: Optional[float] = None                   # B/s at which fresh pages are faulted in and zeroed
    gemv: Optional[float] = None                          # B/s at which 1-thread BLAS GEMV reads a matrix from DRAM
    spreads: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def median_spread(self) -> float:
        s = sorted(self.spreads)
        return s[len(s) // 2] if s else 0.0

    @property
    def noisy(self) -> bool:
        return self.median_spread > NOISY_SPREAD


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full probe, or a quick one for tests."""
    repeats: int = 7
    gemm_n: tuple = (1024, 1536)
    gemm_small: tuple = (16, 32, 64, 128, 256, 512)
    sweep_points_per_octave: int = 1
    sweep_max_bytes: int = 256 * 2 ** 20
    chase_steps: int = 2_000_000
    capacity_points_per_octave: int = 2      # the latency sweep that finds each cache's knee
    capacity_chase_steps: int = 200_000
    capacity_passes: int = 3
    bandwidth_passes: int = 3
    parallelism_passes: int = 5
    # each sample lasts at least this long: a sample of many calls averages over the bursts of
    # whatever else runs on the machine (the sibling core's work evicting shared caches), where
    # a 0.2 ms sample catches one burst or none and the medians of the per-item figures wander
    min_sample_s: float = 2e-3

    @staticmethod
    def quick() -> "Plan":
        return Plan(repeats=3, gemm_n=(256,), gemm_small=(32, 128), sweep_points_per_octave=1,
                    sweep_max_bytes=8 * 2 ** 20, chase_steps=50_000, min_sample_s=2e-4,
                    capacity_points_per_octave=1, capacity_chase_steps=20_000,
                    capacity_passes=1, bandwidth_passes=1,
                    parallelism_passes=1)


def _note(result: ProbeResult, t: Timing) -> Timing:
    result.spreads.append(t.spread)
    return t


def _timed(result: ProbeResult, plan: "Plan", fn, repeats: int, clock: str = "cpu") -> Timing:
    """time_call with the plan's sample length, its spread noted for the noise warning."""
    return _note(result, time_call(fn, repeats, min_sample_s=plan.min_sample_s, clock=clock))


def measure_gemm(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    import numpy as np
    rng = np.random.default_rng(0)
    for dtype, np_dtype in (("fp64", np.float64), ("fp32", np.float32)):
        for threads, target in ((1, result.peaks_1t), (result.threads_all, result.peaks_all)):
            best = 0.0
            with blas_threads(threads):
                for n in plan.gemm_n:
                    progress(f"GEMM {dtype} n={n} on {threads} thread(s)", 0.0)
                    a, b = (rng.standard_normal((n, n)).astype(np_dtype) for _ in range(2))
                    c = np.empty((n, n), np_dtype)
                    clock = "cpu" if threads == 1 else "wall"
                    t = _timed(result, plan, lambda: np.matmul(a, b, out=c), plan.repeats, clock=clock)
                    best = max(best, 2.0 * n ** 3 / t.median_s)
            target[dtype] = best
        with blas_threads(1):
            for n in plan.gemm_small:
                a, b = (rng.standard_normal((n, n)).astype(np_dtype) for _ in range(2))
                c = np.empty((n, n), np_dtype)
                t = _timed(result, plan, lambda: np.matmul(a, b, out=c), plan.repeats)
                result.gemm_sizes.append((dtype, n, 2.0 * n ** 3, 2.0 * n ** 3 / t.median_s))


def sweep_sizes(caches: list, plan: Plan, os_sizes: Optional[dict] = None) -> list[int]:
    """Working-set sizes (bytes), geometric, from 4 KiB to 4x the last cache (its OS capacity where
    the probe saw a smaller share: main memory's window starts there) at most plan's max."""
    last = max([caches[-1].size_bytes if caches else 8 * 2 ** 20, *(os_sizes or {}).values()])
    top = min(plan.sweep_max_bytes, max(4 * last, 32 * 2 ** 20))
    sizes, s = [], 4096.0
    step = 2.0 ** (1.0 / plan.sweep_points_per_octave)
    while s <= top:
        sizes.append(int(s))
        s *= step
    return sizes


# kernel -> (arrays it touches, bytes counted per element, build the call from (a, b, c))
STREAM_KERNELS = {
    "read": (1, 8, lambda np, a, b, c: (lambda: np.add.reduce(a))),
    "copy": (2, 16, lambda np, a, b, c: (lambda: np.copyto(c, a))),
    "add": (3, 24, lambda np, a, b, c: (lambda: np.add(a, b, out=c))),
}


def measure_bandwidth(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    import numpy as np
    sizes = sweep_sizes(result.caches, plan, result.os_sizes)
    overhead = {}
    one = [np.ones(1) for _ in range(3)]
    for name, (_, _, build) in STREAM_KERNELS.items():
        overhead[name] = _timed(result, plan, build(np, *one), plan.repeats).median_s
    # whole sweeps one after another, the median per point across them (as for the latency sweep):
    # a burst of other work on the machine then spoils one sweep's points, not the plateau
    rates: dict = {}
    for p in range(plan.bandwidth_passes):
        for i, ws in enumerate(sizes):
            progress(f"bandwidth sweep {p + 1}, working set {ws / 1024:.0f} KiB",
                     (p * len(sizes) + i) / (plan.bandwidth_passes * len(sizes)))
            for name, (arrays, per_elem, build) in STREAM_KERNELS.items():
                n = max(1, ws // (8 * arrays))
                a, b, c = np.ones(n), np.ones(n), np.empty(n)
                t = _timed(result, plan, build(np, a, b, c), plan.repeats).median_s
                net = max(t - overhead[name], t * 0.05)   # the loop's own time
                rates.setdefault((name, n * 8 * arrays), []).append(n * per_elem / net)
    result.sweep = [(name, ws, float(np.median(r))) for (name, ws), r in rates.items()]
    result.overheads["ufunc stream call"] = min(overhead.values())


def level_windows(caches: list, os_sizes: Optional[dict] = None) -> dict[str, tuple[float, float]]:
    """Working-set windows (lo, hi] whose sweep points measure each level's plateau. Main memory's
    starts at 4x the largest capacity any cache might give (the OS's figure where the probe saw a
    smaller share: when the neighbours go quiet the share grows, and a non-LRU cache keeps part of a
    working set a little larger than itself)."""
    out, inner = {}, 0
    for c in caches:
        out[c.name] = (max(inner * 2.0, 2048.0), c.size_bytes / 2.0)
        inner = c.size_bytes
    outer = max([inner, *(os_sizes or {}).values()])
    out["dram"] = (max(outer * 4.0, 16 * 2 ** 20), math.inf)
    return out


def plateaus(sweep: list, windows: dict) -> dict[str, dict[str, float]]:
    import numpy as np
    out = {}
    for level, (lo, hi) in windows.items():
        per = {}
        for kernel in STREAM_KERNELS:
            pts = [(ws, bw) for k, ws, bw in sweep if k == kernel]
            inside = [bw for ws, bw in pts if lo < ws <= hi]
            if not inside and pts:   # no point inside: the nearest one to the window's middle
                mid = math.sqrt(lo * (hi if math.isfinite(hi) else lo * 4))
                inside = [min(pts, key=lambda p: abs(math.log(p[0] / mid)))[1]]
            if inside:
                per[kernel] = float(np.median(inside))
        out[level] = per
    return out


def _chain(np, ws: int, line: int):
    """A pointer chain through every line of a ``ws``-byte array in one random cycle: (next, start)."""
    lines = max(ws // line, 4)
    step = line // 8
    order = np.random.default_rng(1).permutation(lines)
    nxt = np.zeros(lines * step, np.int64)
    nxt[order * step] = np.roll(order, -1) * step
    return nxt, int(order[0] * step)


def measure_latency(result: ProbeResult, plan: Plan, windows: dict, progress: ProgressFn) -> None:
    import numpy as np
    from ..kernels.chase import chase
    line = result.caches[0].line_bytes if result.caches else 64
    for level, (lo, hi) in windows.items():
        ws = int(hi if math.isfinite(hi) else min(lo, plan.sweep_max_bytes))
        ws = max(ws, 4 * line)
        progress(f"latency {level} ({ws / 1024:.0f} KiB chain)", 0.0)
        nxt, start = _chain(np, ws, line)
        steps = plan.chase_steps
        t = _timed(result, plan, lambda: chase(nxt, start, steps), max(3, plan.repeats // 2))
        result.latency[level] = t.median_s / steps


def measure_capacity(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """Load-to-use latency over working sets from 4 KiB to 4x the last cache (a pointer chase,
    ``capacity_points_per_octave`` sizes per doubling); then each cache's capacity as this thread
    sees it (effective_capacities), which replaces the OS's figure where it is far smaller."""
    import numpy as np
    from ..kernels.chase import chase
    if not result.caches:
        return
    line = result.caches[0].line_bytes
    top = min(plan.sweep_max_bytes, 4 * result.caches[-1].size_bytes)
    step, ws = 2.0 ** (1.0 / plan.capacity_points_per_octave), 4096.0
    sizes = []
    while ws <= top * 1.0001:
        sizes.append(int(ws) // line * line)
        ws *= step
    # whole sweeps one after another, the median per size across them: what else runs on the chip
    # (a neighbour filling the shared cache for a few seconds) moves one sweep's knee, not the median's
    passes = {size: [] for size in sizes}
    for p in range(plan.capacity_passes):
        for i, size in enumerate(sizes):
            progress(f"latency sweep {p + 1}, working set {size / 1024:.0f} KiB",
                     (p * len(sizes) + i) / (plan.capacity_passes * len(sizes)))
            nxt, start = _chain(np, size, line)
            steps = plan.capacity_chase_steps
            chase(nxt, start, min(steps, len(nxt)))          # one pass to bring the chain in
            passes[size].append(_timed(result, plan, lambda: chase(nxt, start, steps), 3).median_s / steps)
    result.chase = [(size, float(np.median(ts))) for size, ts in passes.items()]
    caches = effective_capacities(result.caches, result.chase)
    result.os_sizes = {c.name: c.size_bytes for c, e in zip(result.caches, caches) if e.size_bytes != c.size_bytes}
    result.caches = caches


# a knee below this fraction of the OS's capacity is what the thread really gets (a cache shared
# with other cores or tenants, a partitioned one); a knee near it is the OS's figure, measured coarsely
KNEE_TRUSTED_BELOW = 0.5


def effective_capacities(caches: list, curve: list) -> list:
    """Each cache with its capacity as a pointer chase sees it: where the latency curve, rising
    from this level's latency (the lowest it shows above the inner level) towards the next one's
    (at twice the OS's capacity), crosses their geometric mean, interpolated in log-log between
    the sweep points around it. That knee replaces the OS's capacity when it lies below
    KNEE_TRUSTED_BELOW of it (rounded down to whole sets of lines x ways, at least the inner
    level's); otherwise the OS's figure stands. ``curve``: (working-set bytes, latency s)."""
    pts = sorted((float(ws), float(t)) for ws, t in curve if ws > 0 and t > 0)
    out, inner = [], 0.0
    for c in caches:
        nominal = float(c.size_bytes)
        here = [t for ws, t in pts if 2.0 * inner < ws <= nominal]
        beyond = [t for ws, t in pts if ws >= 2.0 * nominal]
        size = nominal
        if here and beyond:
            threshold = math.sqrt(min(here) * beyond[0])
            above = [(ws, t) for ws, t in pts if ws > 2.0 * inner]
            knee = _crossing(above, threshold)
            if knee is not None and knee < KNEE_TRUSTED_BELOW * nominal:
                unit = c.line_bytes * (c.ways or 1)
                size = max(math.floor(knee / unit) * unit, inner, unit)
        out.append(replace(c, size_bytes=int(size)))
        inner = size
    return out


def _crossing(pts: list, threshold: float) -> Optional[float]:
    """The working set at which the latency first rises above ``threshold`` (log-log between the
    last point below and the first above); None when it never does, and the first point when it
    starts above."""
    for j, (ws, t) in enumerate(pts):
        if t > threshold:
            if j == 0:
                return ws
            (w0, t0) = pts[j - 1]
            f = (math.log(threshold) - math.log(t0)) / (math.log(t) - math.log(t0))
            return math.exp(math.log(w0) + f * (math.log(ws) - math.log(w0)))
    return None


def _tiny_spmm(np):
    import scipy.sparse as sp
    return sp.csr_matrix(np.ones((2, 2))), np.ones((2, 1))


# op kind -> a call of the library on one item's worth of data (efficiency.per_call)
CALLS = {
    "elementwise": ("ufunc on 1 element", lambda np: (lambda x=np.ones(1), z=np.empty(1): np.add(x, x, out=z))),
    "reduction": ("row sum of a 1 x 1 array", lambda np: (lambda x=np.ones((1, 1)): x.sum(axis=1))),
    "gemm": ("2x2 GEMM", lambda np: (lambda m=np.ones((2, 2)), out=np.empty((2, 2)): np.matmul(m, m, out=out))),
    "gather": ("1-row gather", lambda np: (lambda t=np.ones((8, 4)), i=np.zeros(1, np.int64): t[i])),
    "spmm": ("2x2 CSR SpMM (scipy)", lambda np: (lambda ax=_tiny_spmm(np): ax[0] @ ax[1])),
}


def measure_overheads(result: ProbeResult, plan: Plan) -> None:
    """What one library call costs, per op kind, on one item's worth of data: added to every op's
    time (efficiency.per_call; elementwise is the default for the other kinds)."""
    import numpy as np
    with blas_threads(1):
        for kind, (label, build) in CALLS.items():
            try:
                fn = build(np)
            except ImportError:   # scipy missing: no SpMM call cost
                continue
            result.calls[kind] = result.overheads[label] = _timed(result, plan, fn, plan.repeats).median_s


ITEM_LOOKUPS = 4096
VECTOR_ELEMENTS = 32768     # 256 KiB of fp64: inside any L2, long enough to dwarf the call
RUN = 8                     # reduction runs of 8 elements: the per-run cost dominates the adds
FMA_FEATURES = 32           # SpMM feature columns of the fused multiply-add rate (a GNN's hidden size)
BROADCAST_SHAPE = (64, 256)  # x - m, m of shape (64, 1): 128 KiB per array, in the private cache


def _net(t: float, *known: float) -> float:
    """``t`` less the parts already accounted for, never below 5 % of it (noise must not make a
    per-item cost negative or zero)."""
    return max(t - sum(known), 0.05 * t)


def measure_vector(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """numpy's vector loop rate per dtype (a contiguous sum: one add per element, data in L2),
    and np.exp's evaluations per second beyond that rate (the transcendental rate)."""
    import numpy as np
    progress("vector and transcendental rates", 0.0)
    call_red, call_ufunc = result.calls.get("reduction", 0.0), result.calls.get("elementwise", 0.0)
    n = VECTOR_ELEMENTS
    for dtype, np_dtype in (("fp64", np.float64), ("fp32", np.float32)):
        a = (np.random.default_rng(5).random(n) + 0.5).astype(np_dtype)
        c = np.empty(n, np_dtype)
        t_sum = _timed(result, plan, lambda: a.sum(), plan.repeats).median_s
        result.vector[dtype] = n / _net(t_sum, call_red)
        t_exp = _timed(result, plan, lambda: np.exp(a, out=c), plan.repeats).median_s
        result.transcendental[dtype] = n / _net(t_exp, call_ufunc, n / result.vector[dtype])


def measure_items(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """Library time per item on data in cache (so bytes cost little), net of the call and of the
    FLOPs the model already prices: numpy's gather per row and per byte it copies (rows of 64
    and 512 bytes), a reduction per run of RUN
    elements, an element against a row-broadcast operand (beyond a plain elementwise one), BLAS
    per operand element packed (a GEMM with m = 8), scipy's CSR SpMM per nonzero."""
    import numpy as np
    rng = np.random.default_rng(2)
    progress("library time per gathered row / run / packed element / nonzero", 0.0)
    # rows of 8 and of 64 fp64 (64 B, 512 B), in cache: a fixed cost per row and one per byte copied
    idx = rng.integers(0, 64, ITEM_LOOKUPS)
    per_row = {}
    for width in (8, 64):
        table = rng.random((64, width))
        per_row[width] = _net(_timed(result, plan, lambda: table[idx], plan.repeats).median_s,
                              result.calls.get("gather", 0.0)) / ITEM_LOOKUPS
    per_byte = max(per_row[64] - per_row[8], 0.0) / (56 * 8)
    result.items["gathered_byte"] = per_byte
    result.items["gather"] = max(per_row[8] - 64 * per_byte, 0.0)
    x = rng.random((ITEM_LOOKUPS, RUN))
    t = _timed(result, plan, lambda: x.sum(axis=1), plan.repeats).median_s
    adds = x.size / result.vector.get("fp64", math.inf)
    result.items["reduction"] = _net(t, result.calls.get("reduction", 0.0), adds) / ITEM_LOOKUPS
    # a row-broadcast operand: x - m with m of shape (rows, 1), less the same subtraction of two
    # full arrays, per element (both in cache, into a given output)
    x, y, out = rng.random(BROADCAST_SHAPE), rng.random(BROADCAST_SHAPE), np.empty(BROADCAST_SHAPE)
    col = rng.random((BROADCAST_SHAPE[0], 1))
    t_bcast = _timed(result, plan, lambda: np.subtract(x, col, out=out), plan.repeats).median_s
    t_full = _timed(result, plan, lambda: np.subtract(x, y, out=out), plan.repeats).median_s
    result.items["broadcast"] = max(t_bcast - t_full, 0.0) / x.size
    m, k = 8, 512
    a, b, out = rng.random((m, k)), rng.random((k, k)), np.empty((m, k))
    with blas_threads(1):
        t = _timed(result, plan, lambda: np.matmul(a, b, out=out), plan.repeats).median_s
    flops = 2.0 * m * k * k / result.peaks_1t.get("fp64", math.inf)
    result.items["gemm"] = _net(t, result.calls.get("gemm", 0.0), flops) / (m * k + k * k)
    try:
        import scipy.sparse as sp
    except ImportError:
        return
    n = 128
    s = sp.random(n, n, density=0.25, format="csr", random_state=3)
    v = rng.random((n, 1))
    t = _timed(result, plan, lambda: s @ v, plan.repeats).median_s
    result.items["spmm"] = _net(t, result.calls.get("spmm", 0.0)) / s.nnz
    # the fused multiply-add rate: the same matrix times FMA_FEATURES columns (y[row] += a * x[col]
    # over a row of features, which a compiler fuses and vectorises), net of the call and nonzeros
    for dtype, np_dtype in (("fp64", np.float64), ("fp32", np.float32)):
        a = s.astype(np_dtype)
        x = rng.random((n, FMA_FEATURES)).astype(np_dtype)
        t = _timed(result, plan, lambda: a @ x, plan.repeats).median_s
        flops = 2.0 * a.nnz * FMA_FEATURES
        result.fma[dtype] = flops / _net(t, result.calls.get("spmm", 0.0), a.nnz * result.items["spmm"])


DEPTHS = (4, 16, 64, 256)   # the short dimension of the probe's GEMMs
DEPTH_N = 768                # their long dimensions (square GEMMs this size run near the peak)


def measure_depth(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """The fraction of the fp64 peak a GEMM reaches by its smallest dimension s: the median of
    (s, N, N) and (N, N, s), net of the call and the packing the model adds; then N at 1.0."""
    import numpy as np
    peak = result.peaks_1t.get("fp64")
    if not peak:
        return
    progress("GEMMs with a short dimension", 0.0)
    rng = np.random.default_rng(6)
    n = DEPTH_N
    call, per_element = result.calls.get("gemm", 0.0), result.items.get("gemm", 0.0)
    with blas_threads(1):
        for s in DEPTHS:
            fractions = []
            for m, k in ((s, n), (n, s)):
                a, b, c = rng.random((m, k)), rng.random((k, n)), np.empty((m, n))
                t = _timed(result, plan, lambda: np.matmul(a, b, out=c), plan.repeats).median_s
                flops = 2.0 * m * n * k
                fractions.append(min(1.0, flops / peak / _net(t, call, per_element * (m * k + k * n))))
            result.depth.append((float(s), round(float(np.median(fractions)), 4)))
    result.depth.append((float(n), 1.0))


# glibc's malloc maps a block of at least its mmap threshold straight from the OS and unmaps it on
# free; the threshold adapts upward to freed sizes but never beyond DEFAULT_MMAP_THRESHOLD_MAX,
# 32 MiB on 64-bit (glibc malloc/malloc.c): larger outputs come fresh from the OS on every call.
FRESH_ABOVE_BYTES = 32 * 2 ** 20
FIRST_TOUCH_BYTES = 64 * 2 ** 20


def measure_first_touch(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """The rate at which the OS maps and zeroes fresh memory: c = a + b into a new FIRST_TOUCH_BYTES
    array, less the same add into an existing one, per output byte."""
    import numpy as np
    progress("first touch of freshly allocated memory", 0.0)
    n = min(FIRST_TOUCH_BYTES, plan.sweep_max_bytes) // 8
    a, b, c = np.ones(n), np.ones(n), np.empty(n)
    fresh = _timed(result, plan, lambda: np.add(a, b), plan.repeats).median_s
    reused = _timed(result, plan, lambda: np.add(a, b, out=c), plan.repeats).median_s
    result.first_touch = 8 * n / _net(fresh, reused)


def measure_gemv(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """The rate at which BLAS GEMV (one thread) reads its matrix from main memory: y = x @ A for
    an n x n fp64 A four times the last cache's OS capacity (the bytes of A over the call, net of
    the call's fixed cost)."""
    import numpy as np
    progress("BLAS GEMV from main memory", 0.0)
    last = max([result.caches[-1].size_bytes if result.caches else 32 * 2 ** 20, *result.os_sizes.values()])
    n = int(math.sqrt(min(4 * last, plan.sweep_max_bytes) / 8))
    rng = np.random.default_rng(5)
    a, x, y = rng.random((n, n)), rng.random((1, n)), np.empty((1, n))
    with blas_threads(1):
        t = _timed(result, plan, lambda: np.matmul(x, a, out=y), plan.repeats).median_s
    result.gemv = a.nbytes / _net(t, result.calls.get("gemm", 0.0))


def measure_parallelism(result: ProbeResult, plan: Plan, progress: ProgressFn) -> None:
    """Misses in flight: independent 64-byte row gathers from a table beyond the last cache take
    latency / parallelism each (Little's law), on top of the library's time per row."""
    import numpy as np
    latency = result.latency.get("dram")
    if not latency:
        return
    progress("independent misses in flight", 0.0)
    # beyond the last cache whatever share of it this thread gets (its OS capacity)
    last = max([result.caches[-1].size_bytes if result.caches else 32 * 2 ** 20, *result.os_sizes.values()])
    rows = max(4 * last, 2 ** 22) // 64
    rows = min(rows, plan.sweep_max_bytes // 64)
    rng = np.random.default_rng(4)
    table = np.ones((rows, 8))
    pool = [rng.integers(0, rows, ITEM_LOOKUPS * 4) for _ in range(8)]
    state = {"i": 0}

    def gather():
        state["i"] += 1
        return table[pool[state["i"] % 8]]
    library = result.items.get("gather", 0.0) + 64 * result.items.get("gathered_byte", 0.0)   # one 64-byte row
    # the median of PARALLELISM_PASSES timings, each a median of repeats: the rate of random
    # misses moves with what the other cores (and tenants) do to the memory system
    stalls = []
    for _ in range(plan.parallelism_passes):
        per_row = _timed(result, plan, gather, plan.repeats).median_s / (ITEM_LOOKUPS * 4)
        stalls.append(max(per_row - library, latency / 64))
    result.memory_parallelism = max(1.0, latency / float(np.median(stalls)))


def probe(quick: bool = False, progress: Optional[ProgressFn] = None) -> ProbeResult:
    """Measure this machine (about a minute; ``quick``: a few seconds, for tests)."""
    import time
    plan = Plan.quick() if quick else Plan()
    progress = progress or (lambda what, frac: None)
    t0 = time.perf_counter()
    result = ProbeResult(caches=os_caches(), threads_all=cpu_count(), threads_controlled=threads_controllable())
    steps = (("overheads", lambda: measure_overheads(result, plan)),
             ("gemm", lambda: measure_gemm(result, plan, lambda w, f: progress(w, 0.05 + 0.25 * f))),
             ("capacity", lambda: measure_capacity(result, plan, lambda w, f: progress(w, 0.3 + 0.1 * f))),
             ("bandwidth", lambda: measure_bandwidth(result, plan, lambda w, f: progress(w, 0.4 + 0.4 * f))))
    for _, step in steps:
        step()
    windows = level_windows(result.caches, result.os_sizes)
    result.plateaus = plateaus(result.sweep, windows)
    measure_latency(result, plan, windows, lambda w, f: progress(w, 0.85))
    measure_vector(result, plan, lambda w, f: progress(w, 0.88))
    measure_items(result, plan, lambda w, f: progress(w, 0.9))
    measure_depth(result, plan, lambda w, f: progress(w, 0.92))
    measure_parallelism(result, plan, lambda w, f: progress(w, 0.95))
    measure_gemv(result, plan, lambda w, f: progress(w, 0.96))
    measure_first_touch(result, plan, lambda w, f: progress(w, 0.97))
    progress("done", 1.0)
    result.seconds = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------- the hardware document

ITEM_NAMES = {"gather": "gathered row", "reduction": "reduction run", "gemm": "packed GEMM element",
              "spmm": "CSR nonzero", "broadcast": "element against a row-broadcast operand",
              "gathered_byte": "byte a gather copies"}
LEVEL_KERNEL = "add"   # the plateau a level's bandwidth is: 2 reads + 1 write, like most elementwise ops


def _fmt(value: float, unit: str) -> str:
    return f"{value:.4g} {unit}"


def _gbs(x: float) -> str:
    return f"{x / 1e9:.3g} GB/s"


def to_document(result: ProbeResult, id: str = "local", today: Optional[str] = None, version: str = "") -> dict:
    """The hardware document (as a YAML file holds it) of a probe result; loads like any catalogue entry."""
    from .. import __version__
    version = version or __version__
    today = today or _dt.date.today().isoformat()
    model, vendor = cpu_name()
    method = ("roofsim probe: BLAS GEMM peaks (best median), read/copy/add sweeps over working sets "
              "(level plateaus), pointer chasing (latency), 1-element calls (per-call costs); medians of repeats")
    prov = f"measured by roofsim {version} `roofsim probe` on {today}"
    threads = "BLAS threads set with threadpoolctl" if result.threads_controlled else \
        "BLAS threads from the environment (threadpoolctl not installed)"
    peaks_all = ", ".join(f"{d} {_fmt(v / 1e9, 'GFLOP/s')}" for d, v in result.peaks_all.items())
    memory = []
    level_bw = monotone_bandwidths([result.plateaus.get(c.name, {}).get(LEVEL_KERNEL) for c in result.caches]
                                   + [result.plateaus.get("dram", {}).get(LEVEL_KERNEL)])
    for c, level_bandwidth in zip(result.caches, level_bw):
        bw = result.plateaus.get(c.name, {})
        memory.append({
            # one thread uses one instance of a private cache (the chip's count is in the notes)
            "name": c.name, "type": "cache", "capacity": f"{c.size_bytes} B",
            **({"os_capacity": f"{result.os_sizes[c.name]} B"} if c.name in result.os_sizes else {}), "instances": 1,
            "shared_by": c.shared_by, "line_size": f"{c.line_bytes} B", **({"ways": c.ways} if c.ways else {}),
            **({"bandwidth": f"{level_bandwidth!r} B/s"} if level_bandwidth else {}),
            **({"latency": f"{result.latency[c.name]!r} s"} if c.name in result.latency else {}),
            "source": (f"sysfs (line, ways, sharing{'' if c.name in result.os_sizes else ', size'}); "
                       + ("capacity: the latency knee of a pointer chase over working sets; " if c.name in result.os_sizes else "")
                       + f"bandwidth and latency {prov}"),
            "notes": (f"The OS says {result.os_sizes[c.name]} B; one thread's pointer chase turns towards the next "
                      f"level's latency at {c.size_bytes} B (the rest is used by other cores or tenants). "
                      if c.name in result.os_sizes else "")
                     + f"{c.instances} on the chip, each shared by {c.shared_by} CPU(s). 1-thread plateaus: "
                     + ", ".join(f"{k} {_gbs(v)}" for k, v in bw.items())
                     + f"; bandwidth is the {LEVEL_KERNEL} plateau (bytes read + written / s), at least the next level's",
        })
    dram_bw = result.plateaus.get("dram", {})
    mem_bytes = memory_bytes()
    memory.append({
        "name": "dram", "type": "main", **({"capacity": f"{mem_bytes} B"} if mem_bytes else {}),
        **({"bandwidth": f"{level_bw[-1]!r} B/s"} if level_bw[-1] else {}),
        **({"latency": f"{result.latency['dram']!r} s"} if "dram" in result.latency else {}),
        "source": f"capacity from sysconf; bandwidth and latency {prov}",
        "notes": "1-thread plateaus: " + ", ".join(f"{k} {_gbs(v)}" for k, v in dram_bw.items()),
    })
    rate = lambda table: {d: f"{v!r} FLOP/s" for d, v in table.items()}
    sizes = ", ".join(f"n={n} {r / result.peaks_1t[d]:.0%}" for d, n, _, r in result.gemm_sizes
                      if d == "fp64" and result.peaks_1t.get(d))
    calls = ", ".join(f"{CALLS[k][0]} {v * 1e6:.2f} us" for k, v in result.calls.items())
    doc = {
        "schema_version": 1, "id": id, "name": f"{model} (measured, 1 thread)", "vendor": vendor,
        "kind": "measured", "cores": max(1, cpu_count()), "core_name": model,
        "source": f"{prov}; {method}",
        "provenance": {"method": method, "date": today, "tool": f"roofsim {version}",
                       "notes": f"{result.seconds:.0f} s; median spread of repeats {result.median_spread:.1%}"
                                + ("; the machine looked busy (noisy)" if result.noisy else "")},
        "notes": (f"One thread's view of the machine (numpy ufuncs are single-threaded; score BLAS on 1 thread). "
                  f"All {result.threads_all} threads: {peaks_all}. {threads}."),
        "compute": {
            "matrix": rate(result.peaks_1t),
            **({"vector": rate(result.vector)} if result.vector else {}),
            **({"transcendental": rate(result.transcendental)} if result.transcendental else {}),
            **({"fma": rate(result.fma)} if result.fma else {}),
            "source": f"matrix: BLAS GEMM (numpy.matmul), best median over n in {sorted(set(Plan().gemm_n))}; "
                      f"vector: numpy's contiguous sum (1 add per element, data in L2); transcendental: "
                      f"np.exp evaluations / s beyond that add (written as FLOP/s); fma: scipy's CSR SpMM "
                      f"over {FMA_FEATURES} feature columns in cache (a fused multiply-add, 2 FLOPs, per "
                      f"nonzero and column), net of the call and the nonzeros; {prov}",
            "notes": "1-thread rates. Smaller fp64 GEMMs reach (call cost included; it is efficiency.per_call.gemm): "
                     + (sizes or "not measured")},
        "memory": memory,
        "efficiency": {
            # achieved figures (efficiency 1); the library's call costs are added to every op, so no floor
            "compute": 1.0, "memory": 1.0, "latency": "0 s",
            **({"compute_by_depth": [list(p) for p in result.depth]} if result.depth else {}),
            **({"per_call": {"default" if k == "elementwise" else k: f"{v!r} s" for k, v in result.calls.items()}}
               if result.calls else {}),
            **({"per_item": {k: f"{v!r} s" for k, v in result.items.items()}} if result.items else {}),
            **({"memory_parallelism": round(result.memory_parallelism, 2)} if result.memory_parallelism else {}),
            **({"first_touch": {"bandwidth": f"{result.first_touch!r} B/s", "above": f"{FRESH_ABOVE_BYTES} B",
                                "source": "bandwidth: a fresh 64 MiB output less a reused one, per byte; above: "
                                          "glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX, 64-bit)"}}
               if result.first_touch else {}),
            **({"gemv_bandwidth": f"{result.gemv!r} B/s"} if result.gemv else {}),
            "source": f"{prov}: the peaks and bandwidths are achieved figures (efficiency 1); per_call is what one "
                      f"library call costs on one item's worth of data ({calls}), added to every op of its kind "
                      f"(default: the ufunc call); per_item the library's time per gathered row, reduction run, "
                      f"packed GEMM operand element, CSR nonzero, element against a row-broadcast operand and "
                      f"byte a gather copies, "
                      f"net of the call and of the FLOPs",
        },
    }
    return doc


def monotone_bandwidths(values: list) -> list:
    """Each level at least as fast as the level outside it (a plateau measured below the next
    level's is the noise of a short call, not the hardware); None stays None."""
    out, outer = list(values), 0.0
    for i in range(len(out) - 1, -1, -1):
        if out[i] is not None:
            out[i] = max(out[i], outer)
            outer = out[i]
    return out


def summary_rows(result: ProbeResult) -> list[dict]:
    """What the probe found, one row per figure, for people."""
    rows = [{"figure": f"peak {d}, 1 thread", "value": _fmt(v / 1e9, "GFLOP/s")} for d, v in result.peaks_1t.items()]
    rows += [{"figure": f"peak {d}, {result.threads_all} threads", "value": _fmt(v / 1e9, "GFLOP/s")}
             for d, v in result.peaks_all.items()]
    for level, per in result.plateaus.items():
        rows.append({"figure": f"{level} bandwidth (read / copy / add)",
                     "value": " / ".join(_gbs(per[k]) for k in STREAM_KERNELS if k in per)})
    rows += [{"figure": f"{level} latency", "value": _fmt(t * 1e9, "ns")} for level, t in result.latency.items()]
    rows += [{"figure": f"{c.name} capacity seen by one thread", "value": f"{c.size_bytes / 2**20:.3g} MiB "
              f"(the OS says {result.os_sizes[c.name] / 2**20:.3g} MiB)"} for c in result.caches if c.name in result.os_sizes]
    rows += [{"figure": f"vector rate {d} (numpy sum)", "value": _fmt(v / 1e9, "GFLOP/s")} for d, v in result.vector.items()]
    rows += [{"figure": f"exp rate {d}", "value": _fmt(v / 1e9, "G/s")} for d, v in result.transcendental.items()]
    rows += [{"figure": f"fused multiply-add rate {d} (scipy SpMM)", "value": _fmt(v / 1e9, "GFLOP/s")}
             for d, v in result.fma.items()]
    rows += [{"figure": f"call: {k}", "value": _fmt(v * 1e6, "us")} for k, v in result.overheads.items()]
    rows += [{"figure": f"library time per {ITEM_NAMES.get(k, k + ' item')}", "value": _fmt(v * 1e9, "ns")}
             for k, v in result.items.items()]
    rows += [{"figure": f"GEMM with smallest dimension {int(d)}", "value": f"{f:.0%} of peak"}
             for d, f in result.depth[:-1]]
    if result.first_touch:
        rows.append({"figure": "first touch of fresh memory", "value": _gbs(result.first_touch)})
    if result.memory_parallelism:
        rows.append({"figure": "misses in flight (memory parallelism)", "value": f"{result.memory_parallelism:.1f}"})
    if result.gemv:
        rows.append({"figure": "BLAS GEMV reading its matrix from main memory", "value": _gbs(result.gemv)})
    rows.append({"figure": "median spread of repeats", "value": f"{result.median_spread:.1%}"})
    return rows
