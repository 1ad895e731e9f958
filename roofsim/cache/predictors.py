"""Cache predictors: bytes served by each memory level for one execution of an irregular op.

Both predictors build a seeded trace from the op's access descriptor (GatherAccess: embedding
row gathers; SparseAccess: CSR SpMM feature-row gathers; SequentialAccess: a stream), one
access per row, and model the caches of hw.memory that have a capacity (type 'cache'):

- MRCPredictor: one miss-ratio curve per line size, read at each level's total capacity
  (capacity x instances) as a fully associative LRU cache. Fast: one pass for all levels.
- SimulationPredictor: simulates the hierarchy (line_bytes and ways from the spec, else 64 B and
  16 ways; LRU; write-back; non-inclusive). Exact for that configuration.

Bytes served: the innermost modelled cache serves every byte accessed; cache i+1 serves cache i's
misses x its line size; a level that is not modelled (registers, scratchpad, a cache without a
capacity, main memory) serves what leaves the nearest modelled cache inside it (everything if
there is none); levels beyond main ('far') serve 0 here (the roofline moves the lookups of
embedding rows held beyond main memory there: roofsim/tiers.py). Streamed bytes the descriptor does not
describe (indices, outputs: op.read_bytes + op.write_bytes minus the gathered rows, when the op
has them) pass through every level up to main, as in the compulsory model of roofsim/traffic.py.

Steady state. An op runs again and again (every training step, every epoch), so its bytes are
those of one execution with the caches warmed by the executions before it, not of a cold start:
the trace is a warm-up followed by the measured execution, and only the measured part's misses
count (misses(warm-up + measured) - misses(warm-up), exact for LRU, whose decisions on a prefix do
not depend on what follows).
- Gathers (i.i.d. row ids, uniform or Zipf): the warm-up is the shortest run of earlier lookups
  whose expected distinct rows fill the largest modelled cache (or touch 99% of a table that
  fits); with a user's ids, the ids before the measured batch, as many as it takes for their
  distinct rows to fill that cache. Cached rows are then those of a long history, as in a step of
  a training run. The trace also writes each bag's output row (a fresh address: a stream), which
  passes through the same caches and evicts table rows: a pooling-1 gather that copies every row
  it reads keeps about half the hot rows a cache of table rows alone would.
- SpMM (the same graph every epoch): one whole pass is the warm-up of the next. Each row of the
  output is written after its nonzeros, at fresh addresses every epoch: a stream that evicts
  feature rows (its misses are not the gathers'; its bytes are the op's own).
Measured parts longer than max_accesses are cut to that many rows and the bytes scaled up
linearly; the warm-up is at most max_accesses rows (a shorter one leaves the caches part cold,
which over-counts misses: conservative).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..errors import CacheConfigError
from ..memo import ByIdentity
from . import traces
from .config import CacheLevelConfig

DEFAULT_LINE_BYTES = 64
DEFAULT_WAYS = 16
_MODELLED_OUTSIDE = ("main", "far")


class CachePredictor:
    """Interface used by roofsim.roofline."""

    name: str = "cache-predictor"

    def level_bytes(self, op, hw) -> tuple[float, ...]:
        """Bytes served by each level of hw.memory (innermost first) for one execution of op."""
        raise NotImplementedError

    def table_level_bytes(self, ops, hw) -> list[tuple[float, ...]]:
        """level_bytes of each embedding table of a step (roofsim.tiers.table_ops), tables that
        share the caches; by default each as if it had them alone."""
        return [self.level_bytes(op, hw) for op in ops]

    def prepare_tables(self, ops, hws) -> None:
        """A hint before table_level_bytes is asked for each of ``hws``: work that serves them all
        can be done once (results never depend on it)."""


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1)))))


def modelled_capacity(total, line: int, ways: int):
    """Bytes of a cache of ``total`` bytes as modelled: whole sets of ``ways`` lines (0 if smaller
    than one set). Works on arrays too (a sweep over capacities)."""
    total = np.floor(np.asarray(total, dtype=np.float64))
    w = np.maximum(1, np.minimum(ways, total // line))
    return (total // (w * line)) * w * line


def cache_levels(hw) -> list[tuple[int, CacheLevelConfig]]:
    """(index in hw.memory, config) of the levels modelled as caches, innermost first (built
    once per device: a warm query asks again)."""
    return list(_CACHE_LEVELS.get(hw, lambda: tuple(_cache_levels(hw))))


_CACHE_LEVELS = ByIdentity()


def _cache_levels(hw) -> list[tuple[int, CacheLevelConfig]]:
    out = []
    for j, m in enumerate(hw.memory):
        if m.type != "cache" or not m.capacity_bytes:
            continue
        line = _pow2_floor(m.line_bytes or DEFAULT_LINE_BYTES)
        total = int(m.capacity_bytes * (getattr(m, "instances", 1) or 1))
        ways = max(1, min(int(m.ways or DEFAULT_WAYS), total // line))
        capacity = int(modelled_capacity(total, line, int(m.ways or DEFAULT_WAYS)))
        if capacity < 1:
            continue  # smaller than one line: nothing to model
        out.append((j, CacheLevelConfig(capacity, ways, line, "lru", name=m.name)))
    return out


def _main_index(hw) -> int:
    for j, m in enumerate(hw.memory):
        if m.type == "main":
            return j
    return len(hw.memory) - 1


def _occupancy(access, line_bytes) -> float:
    """Cache bytes one row of a gather's table takes in steady state: its whole lines, and its
    share of the output rows the gather writes through the same caches (one per bag of
    ``pooling`` lookups, never read again by it: a stream that evicts table rows). A
    pooling-1 gather copies every row it reads, so a table fits only in twice its size."""
    span = -(-int(access.row_bytes) // line_bytes) * line_bytes
    return span * (1.0 + 1.0 / max(1, int(access.pooling)))


def table_fits(access, levels: list[CacheLevelConfig]) -> list[bool]:
    """Per level: does the whole table fit, with the output the gather streams between its
    rows' reuses (_occupancy)? Then, in steady state, every row stays resident and the level
    misses nothing (the op alone uses the cache between executions)."""
    if type(access).__name__ != "GatherAccess":
        return [False] * len(levels)
    return [access.table_rows * _occupancy(access, lv.line_bytes) <= lv.capacity_bytes for lv in levels]


def _rows_to_fill(access, levels: list[CacheLevelConfig]) -> float:
    """Distinct rows whose lines fill the largest modelled cache the table overflows."""
    need = 0.0
    for lv, fits in zip(levels, table_fits(access, levels)):
        if not fits:
            need = max(need, lv.capacity_bytes / _occupancy(access, lv.line_bytes))
    return min(need, float(access.table_rows))


def gather_warmup(access, levels: list[CacheLevelConfig], max_accesses: int) -> int:
    """Lookups of the warm-up before a measured gather (see the module docstring)."""
    return int(warmup_lookups(access, _rows_to_fill(access, levels), max_accesses))


def warmup_lookups(access, need, max_accesses: int):
    """Lookups of warm-up whose distinct rows reach ``need`` (a number, or an array of them for a
    sweep over cache capacities)."""
    need = np.asarray(need, dtype=np.float64)
    if access.distribution == "file":
        ids = access.ids.ids
        first = np.sort(np.unique(ids, return_index=True)[1])   # where each distinct id first occurs
        k = np.minimum(np.ceil(need), first.shape[0]).astype(np.int64)
        out = np.where(k > 0, np.minimum(first[np.maximum(k, 1) - 1] + 1, max_accesses), 0)
    else:
        from ..ops.popularity import expected_distinct_uniform, expected_distinct_zipf
        grid = np.unique(np.geomspace(1, max_accesses, 48).astype(np.int64))   # steps of 1.36x
        if access.distribution == "zipf":
            distinct = expected_distinct_zipf(grid.astype(np.float64), int(access.table_rows), access.zipf_alpha,
                                              head=1024, bins=256)
        else:
            distinct = np.array([expected_distinct_uniform(float(n), int(access.table_rows)) for n in grid])
        reached = distinct[None, :] >= need.reshape(-1, 1)          # the first grid step that reaches it
        out = np.where(reached.any(axis=1), grid[reached.argmax(axis=1)], int(max_accesses)).reshape(need.shape)
    return np.where(need <= 0, 0, out)


def op_trace(access, max_accesses: int, levels: tuple = (), warm: Optional[int] = None
             ) -> tuple[traces.Trace, int, float]:
    """A seeded trace for an access descriptor (one access per row): (trace, accesses of its
    warm-up prefix, scale of the measured part to one whole execution). A gather's warm-up is the
    one ``levels`` need, or ``warm`` lookups when given."""
    if access is None:
        raise CacheConfigError("cache predictor: the op has no access descriptor")
    kind = type(access).__name__
    if kind == "GatherAccess":
        # every bag's output row is in the trace (a stream through the same caches), so the
        # measured part is whole bags after a warm-up of whole bags
        pooling = max(1, int(access.pooling))
        n = max(pooling, min(int(access.lookups), max_accesses) // pooling * pooling)
        warm = gather_warmup(access, list(levels), max_accesses) if warm is None else int(warm)
        warm = -(-warm // pooling) * pooling
        t = traces.embedding_gathers(warm + n, int(access.row_bytes), int(access.table_rows),
                                     access.distribution, access.zipf_alpha, pooling, access_bytes=0,
                                     seed=access.seed, output=True,
                                     ids=access.ids.ids if getattr(access, "ids", None) is not None else None)
        return t, warm + traces.outputs_before(warm, pooling), access.lookups / n
    if kind == "SparseAccess":
        n = min(int(access.nnz), max_accesses)
        rows = max(1, round(access.rows * n / access.nnz))  # keep the nonzeros per row
        cols = getattr(access, "columns", None)
        fb = int(access.feature_bytes)
        if cols is not None:   # a user's graph: its real column indices, in CSR order
            t = traces.embedding_gathers(n, fb, int(access.cols), "file", access_bytes=0, ids=cols.ids[:n])
            row = np.arange(n) * rows // n          # its rows' extents are not kept: even ones
        else:
            t = traces.csr_gathers(rows, int(access.cols), n, fb, access.degree_alpha, "spmm", access_bytes=0,
                                   seed=access.seed)
            row = traces.power_law_graph(rows, int(access.cols), n, access.degree_alpha, access.seed)[0]
        # each row of Y is written after its nonzeros: a stream through the same caches, at fresh
        # addresses in every epoch (the previous epoch is the warm-up of the next)
        first, span = traces._region(0, int(access.cols) * fb), traces._region(0, (rows + 1) * fb)
        epochs = [_with_row_outputs(t, row, fb, first + e * span) for e in range(2 if levels else 1)]
        out = traces.Trace(np.concatenate([e.addrs for e in epochs]), np.concatenate([e.sizes for e in epochs]),
                           np.concatenate([e.writes for e in epochs]), t.access_bytes)
        return out, len(epochs[0]) if levels else 0, access.nnz / n
    if kind == "SequentialAccess":
        per_pass = -(-int(access.nbytes) // int(access.access_bytes))
        n = min(per_pass, max_accesses)
        t = traces.sequential(n, int(access.access_bytes), passes=int(access.passes))
        return t, 0, per_pass / n
    raise CacheConfigError(f"cache predictor: cannot build a trace for a {kind}; expected "
                           f"GatherAccess, SparseAccess or SequentialAccess")


def _with_row_outputs(t: traces.Trace, row: np.ndarray, row_bytes: int, base: int) -> traces.Trace:
    """``t`` (one access per nonzero, in CSR order; ``row`` the row of each) with a write of
    ``row_bytes`` at a fresh address (from ``base``) after each row's last nonzero."""
    at = np.flatnonzero(np.r_[row[1:] != row[:-1], True]) + 1          # after each row's last
    fresh = np.uint64(base) + np.arange(at.shape[0], dtype=np.uint64) * np.uint64(row_bytes)
    addrs, keep = traces.insert_before(t.addrs, at, fresh)
    sizes = t.sizes if t.sizes is not None else np.full(len(t), t.access_bytes, np.int64)
    sizes, _ = traces.insert_before(sizes, at, np.full(at.shape[0], row_bytes, np.int64))
    return traces.Trace(addrs, sizes, ~keep, t.access_bytes)


def _streamed(t: traces.Trace, warm: int) -> float:
    """Bytes the measured part of a trace writes (a gather's output rows: fresh addresses, so
    every byte misses every cache once). Their misses are taken off the table's: the stream only
    evicts, and its bytes are counted with the op's other streamed bytes (_other_bytes)."""
    if t.writes is None:
        return 0.0
    w = t.writes[warm:]
    sizes = t.sizes[warm:] if t.sizes is not None else np.full(w.shape[0], t.access_bytes)
    return float(sizes[w].sum())


def _other_bytes(op, accessed: float) -> float:
    rw = getattr(op, "read_bytes", None)
    if rw is None:
        return 0.0
    out = np.maximum(float(rw) + float(getattr(op, "write_bytes", 0.0) or 0.0) - accessed, 0.0)
    return out if np.ndim(out) else float(out)   # accessed may be an array over design points


def assemble(n_levels: int, main: int, modelled: list[tuple[int, int]], misses: list, accessed: float,
             other: float) -> list:
    """Spread the per-cache misses over the levels (see the module docstring).

    ``modelled``: (level index, line bytes) of each modelled cache, innermost first; ``misses``:
    each one's misses, floats or arrays over design points (a sweep). Returns one value per level.
    """
    served = [0.0] * n_levels
    leaving = accessed  # bytes leaving the nearest modelled cache so far (all, before the first)
    k = 0
    for j in range(min(main + 1, n_levels)):  # far levels serve nothing
        served[j] = leaving + other
        if k < len(modelled) and modelled[k][0] == j:
            leaving = misses[k] * modelled[k][1]
            k += 1
    return served


def _assemble(hw, levels, misses: list[float], accessed: float, other: float) -> tuple:
    served = assemble(len(hw.memory), _main_index(hw), [(j, lv.line_bytes) for j, lv in levels], misses,
                      accessed, other)
    return tuple(float(x) for x in served)


def _tables_served(ops, hw, levels, misses: list) -> list[tuple]:
    """level_bytes of each table op from its misses at each modelled cache (one execution)."""
    out = []
    for op, m in zip(ops, misses):
        accessed = float(op.access.lookups) * float(op.access.row_bytes)
        out.append(_assemble(hw, levels, m, accessed, _other_bytes(op, accessed)))
    return out


class _TracePredictor(CachePredictor):
    def __init__(self, max_accesses: int = 2_000_000, seed: int = 0):
        if int(max_accesses) < 1:
            raise CacheConfigError(f"max_accesses: expected a positive integer, "
                                   f"found {max_accesses!r}")
        self.max_accesses = int(max_accesses)
        self.seed = int(seed)
        self._memo: dict = {}

    def _misses(self, t: traces.Trace, levels: list[CacheLevelConfig]) -> list[float]:
        raise NotImplementedError

    def level_bytes(self, op, hw) -> tuple[float, ...]:
        access = getattr(op, "access", None)
        levels = cache_levels(hw)
        key = (access, tuple(lv for _, lv in levels),
               tuple((m.type, m.name) for m in hw.memory))
        hit = self._memo.get(key)
        configs = [lv for _, lv in levels]
        fits = table_fits(access, configs)
        if hit is None and configs and all(fits):   # steady state: every row resident, no misses
            hit = ([0.0] * len(configs), float(access.lookups) * float(access.row_bytes))
            self._memo[key] = hit
        if hit is None:
            misses, accessed = self._measured(access, configs)
            hit = ([0.0 if f else m for m, f in zip(misses, fits)], accessed)
            self._memo[key] = hit
        misses, accessed = hit
        return _assemble(hw, levels, misses, accessed, _other_bytes(op, accessed))

    def _measured(self, access, configs: list[CacheLevelConfig]) -> tuple[list, float]:
        """Misses of each cache and bytes accessed in one steady-state execution."""
        t, warm, scale = op_trace(access, self.max_accesses, tuple(configs))
        misses = self._misses(t, configs)
        if warm:   # steady state: only the misses after the warm-up count
            w = traces.head(t, warm)
            misses = [a - b for a, b in zip(misses, self._misses(w, configs))]
            accessed = t.bytes_accessed - w.bytes_accessed
        else:
            accessed = t.bytes_accessed
        streamed = _streamed(t, warm)
        misses = [max(m - streamed / lv.line_bytes, 0.0) for m, lv in zip(misses, configs)]
        return [m * scale for m in misses], (accessed - streamed) * scale


class MRCPredictor(_TracePredictor):
    """Fast: fully associative LRU miss ratios at each level's total capacity, from one MRC.
    A step's embedding tables share the caches: one trace of all their lookups (cache/shared.py)."""

    name = "mrc"

    def __init__(self, sample_rate: float = 1.0, max_accesses: int = 2_000_000, seed: int = 0):
        super().__init__(max_accesses, seed)
        self.sample_rate = float(sample_rate)
        self._curves: dict = {}
        from .shared import SharedTables
        self._shared = SharedTables(self.max_accesses)

    def table_level_bytes(self, ops, hw) -> list[tuple[float, ...]]:
        levels = cache_levels(hw)
        accesses = tuple(op.access for op in ops)
        key = ("tables", accesses, tuple(lv for _, lv in levels), tuple((m.type, m.name) for m in hw.memory))
        hit = self._memo.get(key)
        if hit is None:
            caps = [lv.capacity_bytes for _, lv in levels]
            lines = [lv.line_bytes for _, lv in levels]
            misses = self.table_misses(accesses, lines, np.array([caps], dtype=np.float64))
            hit = [[float(m[0]) for m in per] for per in misses]
            self._memo[key] = hit
        return _tables_served(ops, hw, levels, hit)

    def prepare_tables(self, ops, hws) -> None:
        """One trace per line size, with the warm-up the largest of these caches needs."""
        from .shared import set_bytes
        accesses = tuple(op.access for op in ops)
        largest: dict = {}
        for hw in hws:
            for _, lv in cache_levels(hw):
                if set_bytes(accesses, lv.line_bytes) > lv.capacity_bytes:
                    largest[lv.line_bytes] = max(largest.get(lv.line_bytes, 0), lv.capacity_bytes)
        for line, cap in largest.items():
            self._shared.curves(accesses, line, cap)

    def table_misses(self, accesses: tuple, lines: list[int], capacities: np.ndarray) -> list[list]:
        """Misses of each table (lines of each modelled cache, one execution) at P points:
        ``lines`` the line size of each cache, ``capacities`` [P, C] their modelled bytes.
        Returns [tables][C] arrays [P]. A set of tables no larger than a cache misses nothing there."""
        from .shared import set_bytes
        P, C = capacities.shape
        out = [[np.zeros(P) for _ in range(C)] for _ in accesses]
        for c, line in enumerate(lines):
            fits = set_bytes(accesses, line) <= capacities[:, c]
            if fits.all():
                continue
            curves = self._shared.curves(accesses, line, float(np.max(capacities[~fits, c])))
            for t in range(len(accesses)):
                out[t][c] = np.where(fits, 0.0, curves.misses(t, capacities[:, c], line))
        return out

    def _misses(self, t, levels):
        return [float(self._curve(t, lv.line_bytes).misses(lv.capacity_bytes)) for lv in levels]

    def _measured(self, access, configs):
        """As the base class, from curves kept for every hierarchy that needs the same warm-up (an
        SpMM's is its previous epoch whatever the caches: one pair of curves serves every device)."""
        warm = gather_warmup(access, configs, self.max_accesses) if type(access).__name__ == "GatherAccess" else None
        misses, measured, scale = [], None, 1.0
        for lv in configs:   # one line size at a time: hierarchies that mix them share each curve
            ((full, part),), measured, scale, streamed = self._warm_curves(access, warm, [lv.line_bytes],
                                                                           tuple(configs))
            left = float(full.misses(lv.capacity_bytes)) - (float(part.misses(lv.capacity_bytes)) if part else 0.0)
            misses.append(max(left - streamed / lv.line_bytes, 0.0) * scale)
        if measured is None:   # no modelled cache: only the trace's bytes
            _, measured, scale, _ = self._warm_curves(access, warm, [], ())
        return misses, measured * scale

    def _curve(self, t, line_bytes: int):
        from .mrc import mrc
        return mrc(t.addrs, line_bytes, t.sizes, self.sample_rate, self.seed)

    def _measured_curves(self, t, warm: int, lines) -> dict:
        """line bytes -> the exact curve of the accesses after the first ``warm`` (mrc.measured_curve:
        a short measured part needs no JIT kernel, however long its warm-up)."""
        from .mrc import measured_curve
        return {line: measured_curve(t.addrs, warm, line, t.sizes) for line in lines}

    def sweep_misses(self, access, caches: list[tuple[int, int]], capacities: np.ndarray):
        """level_bytes' misses and accessed bytes of one execution at P points at once: ``caches``
        the (line bytes, ways) of each modelled cache, ``capacities`` [P, C] their modelled bytes.

        Points are grouped by the warm-up their capacities need (a gather's warm-up takes one of
        at most 48 lengths); each group's trace and its warm-up prefix get one miss-ratio curve per
        line size, read at every capacity of the group. Returns ([C] arrays [P], accessed [P])."""
        P, C = capacities.shape
        configs = lambda row: [CacheLevelConfig(int(c), max(1, min(w, int(c) // l)), l, "lru")  # noqa: E731
                               for c, (l, w) in zip(row, caches)]
        gather = type(access).__name__ == "GatherAccess"
        if gather:
            span = np.array([_occupancy(access, l) for l, _ in caches], dtype=np.float64)
            fits = access.table_rows * span[None, :] <= capacities
            need = np.minimum(np.max(np.where(fits, 0.0, capacities / span[None, :]), axis=1, initial=0.0),
                              float(access.table_rows))
            warm = warmup_lookups(access, need, self.max_accesses)
        else:
            fits = np.zeros((P, C), bool)
            warm = np.zeros(P, np.int64)
        misses = [np.zeros(P) for _ in caches]
        accessed = np.zeros(P)
        for w in np.unique(warm):
            at = np.flatnonzero(warm == w)
            curves, measured, scale, streamed = self._warm_curves(
                access, int(w) if gather else None, [l for l, _ in caches],
                tuple(configs(capacities[at[0]])) if C else ())
            for k, (full, part) in enumerate(curves):
                left = np.asarray(full.misses(capacities[at, k]), float) - (part.misses(capacities[at, k]) if part else 0.0)
                left = np.maximum(left - streamed / caches[k][0], 0.0)
                misses[k][at] = np.where(fits[at, k], 0.0, left * scale)
            accessed[at] = measured * scale
        if gather and C:  # every table-fitting point: every row resident (as level_bytes has it)
            resident = fits.all(axis=1)
            accessed[resident] = float(access.lookups) * float(access.row_bytes)
        return misses, accessed

    def _warm_curves(self, access, warm: Optional[int], lines: list[int], levels: tuple):
        """([(curve of the trace, curve of its warm-up or None)] per line size, measured bytes
        accessed (less the streamed output), scale, streamed output bytes), built once per
        (access, warm-up, line sizes)."""
        key = (access, warm, tuple(lines), bool(levels))
        if key not in self._curves:
            t, w_used, scale = op_trace(access, self.max_accesses, levels, warm=warm)
            prefix = traces.head(t, w_used) if w_used else None
            if prefix and self.sample_rate == 1.0:   # exact: the measured part's own curve
                measured = self._measured_curves(t, w_used, set(lines))
                curves = [(measured[line], None) for line in lines]
            else:
                curves = [(self._curve(t, line), self._curve(prefix, line) if prefix else None) for line in lines]
            streamed = _streamed(t, w_used)
            self._curves[key] = (curves, t.bytes_accessed - (prefix.bytes_accessed if prefix else 0) - streamed,
                                 scale, streamed)
        return self._curves[key]


class SimulationPredictor(_TracePredictor):
    """Exact: the set-associative hierarchy simulated on the trace. A step's embedding tables
    share the caches: their one trace is simulated (cache/shared.py)."""

    name = "simulate"

    def table_level_bytes(self, ops, hw) -> list[tuple[float, ...]]:
        from .shared import set_bytes, simulated_misses, warmup_segments
        levels = cache_levels(hw)
        configs = [lv for _, lv in levels]
        accesses = tuple(op.access for op in ops)
        key = ("tables", accesses, tuple(configs), tuple((m.type, m.name) for m in hw.memory))
        hit = self._memo.get(key)
        if hit is None:
            fits = [set_bytes(accesses, lv.line_bytes) <= lv.capacity_bytes for lv in configs]
            hit = [[0.0] * len(configs) for _ in accesses]
            if not all(fits):
                segments = max(warmup_segments(accesses, lv.line_bytes, lv.capacity_bytes / lv.line_bytes,
                                               self.max_accesses) for lv, f in zip(configs, fits) if not f)
                sim = simulated_misses(accesses, configs, segments, self.max_accesses, self.seed)
                hit = [[0.0 if f else m for m, f in zip(per, fits)] for per in sim]
            self._memo[key] = hit
        return _tables_served(ops, hw, levels, hit)

    def _misses(self, t, levels):
        if not levels:
            return []
        from .simulator import simulate

        return [float(r.misses) for r in simulate(t.addrs, levels, sizes=t.sizes,
                                                  writes=t.writes, seed=self.seed)]
