"""Analytic traffic model: bytes served by each memory level, vectorised over ops and hardware.

- Dense (GEMM-shaped) ops: output-stationary tiling. The bytes a level serves depend on the
  capacity of the level inside it: an output tile of Tm x Tn elements is held there while A and
  B stream through, so A is read ceil(n/Tn) times and B ceil(m/Tm) times. When the smaller
  operand fits entirely, traffic is compulsory (each operand once). A tile may use
  TILE_FRACTION of the inner level (the rest holds operand slivers and double buffers).
- Streaming ops: every byte read or written once, at every level from the innermost to main.
- Irregular ops: a cache predictor (roofsim/cache) when given; otherwise compulsory traffic
  with each row access rounded up to whole cache lines of the level inside.
- Communication: the buffer is read and written once in main memory; the link time comes from
  the collective model of roofsim/comm.py.
- Levels outside main memory (host DDR over PCIe, CXL) serve nothing: operands live in main
  memory. Offload is a later feature.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .ops.access import CommAccess, DenseAccess, ExplicitAccess, GatherAccess, SparseAccess, StreamAccess
from .ops.op import Op
from .memo import ByIdentity
from .specs import HardwareSpec

TILE_FRACTION = 0.5
DEFAULT_LINE_BYTES = 64.0
PATTERNS = ("dense", "stream", "irregular", "comm", "explicit")


@dataclass(frozen=True)
class LevelArrays:
    """Per-hardware level data padded to a common depth L (padding: no bandwidth, no traffic)."""
    names: list                # per hw: list of level names
    bandwidth: np.ndarray      # [H, L] B/s, inf where unknown or padded (no time term)
    efficiency: np.ndarray     # [H, L]
    tile_capacity: np.ndarray  # [H, L] bytes a tile may use in the level INSIDE, nan if unknown
    inner_line: np.ndarray     # [H, L] line size of the level inside (for irregular rounding)
    active: np.ndarray         # [H, L] bool: levels from the innermost through main memory
    main_index: np.ndarray     # [H] int


def tile_capacities(capacity: np.ndarray) -> np.ndarray:
    """[H, L] per-instance capacities (nan: unknown) -> [H, L] bytes a tile may use in the level
    inside each level: the next level out tiles against the nearest inner level with a capacity."""
    out = np.full(capacity.shape, np.nan)
    inner = np.full(capacity.shape[0], np.nan)
    for j in range(capacity.shape[1]):
        out[:, j] = inner * TILE_FRACTION
        inner = np.where(np.isnan(capacity[:, j]), inner, capacity[:, j])
    return out


_ONE_DEVICE = ByIdentity()


def level_arrays(hws: list[HardwareSpec]) -> LevelArrays:
    """The devices' levels as arrays; one device's are built once (a warm query asks again),
    and are read-only, as shared arrays must be."""
    if len(hws) == 1:
        return _ONE_DEVICE.get(hws[0], lambda: _read_only(_level_arrays(hws)))
    return _level_arrays(hws)


def _read_only(lv: LevelArrays) -> LevelArrays:
    for a in (lv.bandwidth, lv.efficiency, lv.tile_capacity, lv.inner_line, lv.active, lv.main_index):
        a.flags.writeable = False
    return lv


def _level_arrays(hws: list[HardwareSpec]) -> LevelArrays:
    H, L = len(hws), max(len(h.memory) for h in hws)
    bw = np.full((H, L), np.inf)
    eff = np.ones((H, L))
    cap = np.full((H, L), np.nan)
    line = np.full((H, L), DEFAULT_LINE_BYTES)
    active = np.zeros((H, L), bool)
    main = np.zeros(H, int)
    for i, h in enumerate(hws):
        main[i] = h.main_index
        inner_line = DEFAULT_LINE_BYTES
        for j, m in enumerate(h.memory):
            if m.bandwidth_bytes_per_s:
                bw[i, j] = m.bandwidth_bytes_per_s
            eff[i, j] = h.efficiency.memory_fraction(m.name)
            if m.capacity_bytes:
                cap[i, j] = m.capacity_bytes
            line[i, j] = inner_line
            active[i, j] = j <= h.main_index
            if m.line_bytes:
                inner_line = m.line_bytes
    return LevelArrays([[m.name for m in h.memory] for h in hws], bw, eff, tile_capacities(cap), line, active, main)


@dataclass(frozen=True)
class OpArrays:
    """Struct of arrays over N ops (one execution each)."""
    pattern: np.ndarray     # [N] index into PATTERNS
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    batch: np.ndarray
    a_bytes: np.ndarray
    b_bytes: np.ndarray
    c_bytes: np.ndarray
    rw_bytes: np.ndarray    # reads + writes
    row_accesses: np.ndarray  # irregular: number of row accesses and bytes per row
    row_bytes: np.ndarray
    other_bytes: np.ndarray   # irregular: the streamed rest (indices, outputs)
    explicit_main: np.ndarray  # explicit: bytes at main memory (0 if none)
    stored: np.ndarray = None  # [N, 3] dense: stored bytes per GEMM-view element of A, B, C


def op_arrays(ops: list[Op]) -> OpArrays:
    N = len(ops)
    z = lambda: np.zeros(N)
    pattern = np.zeros(N, int)
    m, n, k, batch, ab, bb, cb, rw, ra, rb, ob, em = (z() for _ in range(12))
    stored = np.zeros((N, 3))
    for i, op in enumerate(ops):
        a = op.access
        pattern[i] = PATTERNS.index(a.kind)
        rw[i] = op.read_bytes + op.write_bytes
        if isinstance(a, DenseAccess):
            m[i], n[i], k[i], batch[i] = a.m, a.n, a.k, a.batch
            ab[i], bb[i], cb[i] = a.a_bytes, a.b_bytes, a.c_bytes
            stored[i] = a.stored_bytes_per_element()
        elif isinstance(a, GatherAccess):
            ra[i], rb[i] = a.lookups, a.row_bytes
            ob[i] = max(rw[i] - a.lookups * a.row_bytes, 0.0)
        elif isinstance(a, SparseAccess):
            ra[i], rb[i] = a.nnz, a.feature_bytes
            ob[i] = max(rw[i] - a.nnz * a.feature_bytes, 0.0)
        elif isinstance(a, ExplicitAccess):
            em[i] = a.main or 0.0
    return OpArrays(pattern, m, n, k, batch, ab, bb, cb, rw, ra, rb, ob, em, stored)


def dense_bytes(m, n, k, a_b, b_b, c_b, cap):
    """Bytes one GEMM moves through a level whose inner level lets a tile use ``cap`` bytes.

    Broadcasts over any shapes. ``cap`` nan means unknown capacity: compulsory traffic.
    """
    compulsory = a_b * m * k + b_b * k * n + c_b * m * n
    with np.errstate(invalid="ignore", divide="ignore"):
        elems = np.maximum(np.floor(cap / np.maximum(c_b, 1e-30)), 1.0)
        t = np.sqrt(elems)
        # orientation 1: square-ish tile limited by m; orientation 2: limited by n
        tm1 = np.minimum(m, t); tn1 = np.minimum(n, np.maximum(np.floor(elems / np.maximum(tm1, 1)), 1))
        tn2 = np.minimum(n, t); tm2 = np.minimum(m, np.maximum(np.floor(elems / np.maximum(tn2, 1)), 1))
        def traffic(tm, tn):
            return a_b * m * k * np.ceil(n / np.maximum(tn, 1)) + b_b * k * n * np.ceil(m / np.maximum(tm, 1)) + c_b * m * n
        tiled = np.minimum(traffic(tm1, tn1), traffic(tm2, tn2))
        smaller_fits = np.minimum(a_b * m * k, b_b * k * n) <= cap
        out = np.where(smaller_fits, compulsory, tiled)
        return np.where(np.isnan(cap), compulsory, out)


def analytic_bytes(ops: OpArrays, lv: LevelArrays) -> np.ndarray:
    """[H, N, L] bytes served by each level per execution, for every pattern but irregular
    predictions (compulsory, line-rounded here) and explicit per-level figures (filled by the caller)."""
    H, L = lv.bandwidth.shape
    N = ops.pattern.shape[0]
    out = np.zeros((H, N, L))
    act = lv.active[:, None, :]                      # [H,1,L]
    cap = lv.tile_capacity[:, None, :]               # [H,1,L]
    is_main = (np.arange(L)[None, :] == lv.main_index[:, None])[:, None, :]   # [H,1,L]
    dense = np.flatnonzero(ops.pattern == 0)
    if dense.size:
        # The tiling model is the costly part. Sweeps share few distinct capacities, so evaluate
        # it once per distinct capacity and scatter: [U, Nd] instead of [H, Nd, L].
        uniq, inv = np.unique(lv.tile_capacity.ravel(), return_inverse=True)
        sub = lambda x: x[dense][None, :]
        # stored bytes per element: an implicit operand (convolution input) counts the tensor it
        # reads, re-read once per tile column as in implicit GEMM, never an im2col copy
        st = ops.stored if ops.stored is not None else np.stack([ops.a_bytes, ops.b_bytes, ops.c_bytes], 1)
        per_cap = dense_bytes(sub(ops.m), sub(ops.n), sub(ops.k), st[dense, 0][None, :], st[dense, 1][None, :],
                              st[dense, 2][None, :], uniq[:, None]) * sub(ops.batch)          # [U, Nd]
        per_gemm = per_cap[inv.reshape(H, L)].transpose(0, 2, 1)                          # [H, Nd, L]
        out[:, dense, :] = np.where(act, per_gemm, 0.0)
    stream = np.flatnonzero(ops.pattern == 1)
    if stream.size:
        out[:, stream, :] = np.where(act, ops.rw_bytes[stream][None, :, None], 0.0)
    irregular = np.flatnonzero(ops.pattern == 2)
    if irregular.size:
        line = lv.inner_line[:, None, :]
        sub = lambda x: x[irregular][None, :, None]
        rows = sub(ops.row_accesses) * np.ceil(sub(ops.row_bytes) / line) * line
        out[:, irregular, :] = np.where(act, rows + sub(ops.other_bytes), 0.0)
    comm = np.flatnonzero(ops.pattern == 3)
    if comm.size:
        out[:, comm, :] = np.where(is_main, ops.rw_bytes[comm][None, :, None], 0.0)
    explicit = np.flatnonzero(ops.pattern == 4)
    if explicit.size:  # per-level figures by name are placed by the caller
        out[:, explicit, :] = np.where(is_main, ops.explicit_main[explicit][None, :, None], 0.0)
    return out


def explicit_bytes(op: Op, hw: HardwareSpec) -> np.ndarray:
    """Per-level bytes of an ExplicitAccess op on one device (unnamed levels: none)."""
    a = op.access
    assert isinstance(a, ExplicitAccess)
    out = np.zeros(len(hw.memory))
    if a.main is not None:
        out[hw.main_index] = a.main
    names = [m.name for m in hw.memory]
    for name, b in a.levels:
        if name in names:
            out[names.index(name)] = b
    return out


def comm_terms(op: Op, hw: HardwareSpec, ideal: bool) -> tuple[float, str]:
    """(seconds on the link, link name) for a communication op on ``hw``: roofsim/comm.py's model."""
    from .comm import collective_cost
    a = op.access
    assert isinstance(a, CommAccess)
    cost = collective_cost(hw, a.collective, a.bytes, a.participants, scope=a.scope, stride=a.stride,
                           algorithm=a.algorithm, ideal=ideal)
    if math.isinf(cost.time_s):
        return math.inf, "none"
    return cost.time_s, cost.link


# ---- ops run back to back in a loop (a timing loop, a repeated step) ---------------------------
def op_footprint(op: Op) -> float:
    """Distinct bytes one execution touches: its tensors once each; a gather or SpMM touches at
    most its whole table / feature matrix however many lookups it makes."""
    a = op.access
    if isinstance(a, GatherAccess):
        return min(a.lookups, a.table_rows) * a.row_bytes + max(op.read_bytes + op.write_bytes - a.lookups * a.row_bytes, 0.0)
    if isinstance(a, SparseAccess):
        return min(a.nnz, a.cols) * a.feature_bytes + max(op.read_bytes + op.write_bytes - a.nnz * a.feature_bytes, 0.0)
    return op.working_set_bytes


def loop_footprint(ops: list[Op]) -> float:
    """Distinct bytes of one pass over ``ops``: what an op reads of what the previous op just wrote
    (a temporary handed on) is counted once."""
    total = 0.0
    for j, op in enumerate(ops):
        total += op_footprint(op)
        if j:
            handed_on = sum(t.bytes for t in op.reads if t.role == "activation")
            total -= min(ops[j - 1].write_bytes, handed_on)
    return max(total, 0.0)


def warm_bytes(B: np.ndarray, ops: list[Op], hws: list[HardwareSpec], each: bool = False) -> np.ndarray:
    """[H, N, L] bytes per level in the steady state of ``ops`` run back to back in a loop
    (``each``: every op is a loop of its own, as in a table of kernels timed one by one).

    Every byte of the loop is touched again after the loop's whole footprint has gone by (a
    cyclic reuse pattern), so under LRU it hits in the innermost cache level that holds the
    footprint and misses in every level that does not: levels outside that cache, up to main
    memory, serve nothing after the first pass. A footprint larger than every cache changes
    nothing (no partial credit: a cyclic pattern larger than an LRU cache misses on every access).
    Capacity is one instance's: a loop runs on one core (or, on a GPU, shares one L2).
    """
    footprint = (np.array([loop_footprint([op]) for op in ops]) if each
                 else np.full(len(ops), loop_footprint(ops)))
    out = B.copy()
    for i, h in enumerate(hws):
        served = np.zeros(len(ops), bool)     # already held by an inner cache
        for j, m in enumerate(h.memory[:h.main_index]):
            if m.type == "cache" and m.capacity_bytes:
                fits = ~served & (footprint <= m.capacity_bytes)
                out[i, fits, j + 1:h.main_index + 1] = 0.0
                served |= fits
    return out


# ---- costs of irregular access and of library work ------------------------------------------
def op_items(op: Op) -> float:
    """Items a library handles one by one (else 0): rows of a gather, nonzeros of an SpMM, the
    inner-loop runs of a streaming op, the operand elements a BLAS GEMM packs into its blocked
    buffers (A and B once each; a matrix-vector product, m or n = 1, goes to GEMV, which packs
    nothing)."""
    a = op.access
    if isinstance(a, GatherAccess):
        return float(a.lookups)
    if isinstance(a, SparseAccess):
        return float(a.nnz)
    if isinstance(a, StreamAccess):
        return float(a.runs)
    if isinstance(a, DenseAccess) and a.m > 1 and a.n > 1:
        return float((a.m * a.k + a.k * a.n) * a.batch)
    return 0.0


def gathered_bytes(op: Op) -> float:
    """Bytes a gather copies out of the rows it reads (numpy's fancy indexing copies each row
    element by element: a cost per byte on top of the one per row); 0 for other ops."""
    a = op.access
    return float(a.lookups) * float(a.row_bytes) if isinstance(a, GatherAccess) else 0.0


def library_seconds(ops: list[Op], hws: list[HardwareSpec]) -> np.ndarray:
    """[H, N] the calling core's own work around an op's loop, ADDED to the op's time: the
    library's call cost (efficiency.per_call) + items x its time per item (efficiency.per_item;
    elements against a broadcast operand x its per_item.broadcast; a gather's copied bytes x
    per_item.gathered_byte)
    + faulting in outputs the call allocates fresh from the OS (efficiency.first_touch). Zero
    for specs that give none of them (the whole catalogue)."""
    out = np.zeros((len(hws), len(ops)))
    items = np.array([op_items(op) for op in ops])
    for i, h in enumerate(hws):
        e = h.efficiency
        if e.per_item_s or e.per_call_s or e.first_touch_bytes_per_s:
            out[i] = [e.call_seconds(op.kind) + n * e.item_seconds(op.kind)
                      + getattr(op.access, "broadcast", 0.0) * e.item_seconds("broadcast")
                      + gathered_bytes(op) * e.item_seconds("gathered_byte")
                      + (sum(e.first_touch_seconds(t.bytes) for t in op.writes) if op.allocates else 0.0)
                      for op, n in zip(ops, items)]
    return out


def rows_served(B: np.ndarray, ops: OpArrays, level: int, line_bytes: float) -> np.ndarray:
    """[H, N] random row accesses each level serves for irregular ops: the gathered bytes it
    serves (its bytes less the streamed indices and outputs) / the row rounded up to whole lines."""
    row = np.maximum(np.ceil(ops.row_bytes / line_bytes), 1.0) * line_bytes
    return np.maximum(B[..., level] - ops.other_bytes, 0.0) / row


def miss_seconds(misses, latency_s: float, concurrency: float):
    """Little's law: ``misses`` independent random accesses, each waiting ``latency_s``, with
    ``concurrency`` of them in flight, take misses x latency / concurrency. An access also
    moves its lines at the level's bandwidth; the caller keeps the larger of the two, so a
    miss costs max(its bytes / bandwidth, latency / concurrency)."""
    return misses * latency_s / concurrency


def random_access_seconds(B: np.ndarray, ops: OpArrays, hws: list[HardwareSpec]) -> np.ndarray:
    """[H, N, L] the latency-bound time of irregular ops (gathers, SpMM) at each level that serves
    them: every row is a random jump that waits the level's ``latency`` with
    ``efficiency.memory_parallelism`` jumps in flight. A row's further lines follow its first
    (adjacent-line prefetch, same page), so a row is one miss. Zero for other patterns, levels
    without a latency and specs without a memory parallelism (the bytes / bandwidth term alone)."""
    out = np.zeros_like(B)
    irregular = ops.pattern == PATTERNS.index("irregular")
    if not irregular.any():
        return out
    sub = OpArrays(*(getattr(ops, f.name)[irregular] if getattr(ops, f.name) is not None else None
                     for f in dataclasses.fields(OpArrays)))
    for i, h in enumerate(hws):
        mlp = h.efficiency.memory_parallelism
        if not mlp:
            continue
        for l, m in enumerate(h.memory[:h.main_index + 1]):
            if m.latency_s:
                rows = rows_served(B[i, irregular], sub, l, m.line_bytes or DEFAULT_LINE_BYTES)
                out[i, irregular, l] = miss_seconds(rows, m.latency_s, mlp)
    return out
