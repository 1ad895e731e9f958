"""Embedding tables that share one cache: one steady-state trace of all their lookups.

The tables of a step (roofsim.tiers.table_ops: its forward row gathers) run one after another
every step and share the device's caches, so a row's reuse from one step to the next sees every
other table's lines in between. The trace of one step is every table's lookups in op order
(table-major, as the roofline runs the ops and as batched embedding kernels walk their bags), each
table in its own address range; the steady state is step after step. One pass of the stack-distance
kernel over a warm-up and the measured step gives the distance of every measured access; split by
table, a table's misses in a fully associative LRU cache of C lines are its measured accesses with
distance >= C plus its first uses: one trace answers every table at every capacity (Mattson et al.).

- Warm-up: the end of the history before the measured step, in whole table segments (the last
  tables of the step before, then more), the fewest whose expected distinct lines reach the
  largest capacity asked, at most WARMUP x ``max_accesses`` lookups (a shorter one leaves the
  caches part cold, which over-counts misses). Exact for every capacity up to the warm-up's
  distinct lines: an access not seen in the warm-up has a reuse distance at least that large.
- Steps are numbered back from the measured one (step 0); table t's rows are drawn i.i.d.
  (uniform, Zipf) from one seeded stream per table, step 0's first, then step 1's, ..., or are the
  user's ids before the last batch of the file (measured), so a longer warm-up only prepends
  segments and leaves every result at a capacity the shorter one covered unchanged, whatever was
  asked first.
- All tables together no larger than the cache: nothing misses in steady state (every row stays).
- Steps of more than ``max_accesses`` lookups are cut, every table by the same fraction f (the
  first f x batch samples), and the misses are scaled by 1 / f.
- Rows of whole lines (every table's rows span the same n >= 1 whole lines) are traced as rows:
  a row's n lines are read together, so each has distance n D + n - 1 for D distinct rows in
  between, and the trace is n times shorter. Otherwise every line is traced.
- Each bag's output row (one per ``pooling`` lookups) is written to a fresh address right after
  its lookups: a stream through the same caches that evicts rows but is never reused (its misses
  are not the table's; its bytes are the op's own streamed bytes). A pooling-1 gather, which
  copies every row it reads, keeps about half the hot rows a cache of table rows alone would.
Other traffic between the tables' ops (the MLPs' activations) is not in the trace.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import traces

_ALIGN = 1 << 20
WARMUP = 4      # warm-up lookups: at most this many times max_accesses
_NEVER = np.iinfo(np.int32).max   # the distance a first use stands for (always a miss)


@dataclass(frozen=True)
class SharedCurves:
    """Sorted stack distances of each table's measured accesses (in traced units), one line size."""
    unit_lines: int          # lines per traced access (n for row tracing, else 1)
    sorted_d: tuple          # per table: int32 distances, first uses as _NEVER, sorted
    scale: float             # 1 / f: the measured (possibly cut) step -> one whole step
    covered_lines: float     # distinct lines of the warm-up: capacities up to it are exact
    segments: int            # warm-up table segments

    def misses(self, t: int, capacity_bytes, line_bytes: int):
        """Misses (lines) of table t in one whole step at ``capacity_bytes`` (a number or an array)."""
        lines = np.floor(np.asarray(capacity_bytes, dtype=np.float64) / line_bytes)
        n = self.unit_lines
        # a traced access of distance D stands for n lines of distance n D + n - 1: a miss iff
        # n D + n - 1 >= C lines, i.e. D >= ceil((C - n + 1) / n)
        k = np.minimum(np.ceil((lines - n + 1) / n).clip(min=0), _NEVER)
        d = self.sorted_d[t]
        out = n * (d.shape[0] - np.searchsorted(d, k.astype(np.int64), side="left")) * self.scale
        out = np.where(lines <= 0, n * d.shape[0] * self.scale, out).astype(np.float64)
        return float(out) if out.ndim == 0 else out


def lines_per_row(accesses, line_bytes: int) -> int:
    """n when every table's rows span exactly n whole lines (row tracing), else 0."""
    n = {int(a.row_bytes) // line_bytes if int(a.row_bytes) % line_bytes == 0 else 0 for a in accesses}
    return n.pop() if len(n) == 1 else 0


def set_bytes(accesses, line_bytes: int) -> float:
    """Bytes of whole lines all the tables occupy in steady state (rows rounded up to lines), with
    the output rows the gathers write between their rows' reuses (predictors._occupancy)."""
    from .predictors import _occupancy
    return float(sum(int(a.table_rows) * _occupancy(a, line_bytes) for a in accesses))


def _output_lines(a, line_bytes: int, n: int) -> int:
    """Traced units of one output row: 1 when rows are traced (n lines a unit), else its lines."""
    return 1 if n else -(-int(a.row_bytes) // line_bytes)


def _with_outputs(parts: list, lookups, pooling, k, first_id: int):
    """The ``parts`` (traced units of ``lookups[i]`` lookups each) concatenated, with ``k[i]``
    fresh units (an output row) after each bag of ``pooling[i]`` lookups (bags split a part's
    units evenly: whole rows when a row is one unit): (units, mask of the lookups' units, length
    of each part with its outputs). One vectorised insertion for every part at once."""
    lengths = np.array([p.shape[0] for p in parts], np.int64)
    lookups, pooling, k = (np.asarray(x, np.int64) for x in (lookups, pooling, k))
    bags = np.maximum(1, -(-lookups // np.maximum(1, pooling)))
    part = np.repeat(np.arange(len(parts)), bags)                    # the part of every bag
    j = np.arange(part.shape[0]) - np.repeat(np.cumsum(bags) - bags, bags) + 1
    offset = np.cumsum(lengths) - lengths
    ends = np.round(j * lengths[part] / bags[part]).astype(np.int64) + offset[part]
    at = np.repeat(ends, k[part])
    units, mask = traces.insert_before(np.concatenate(parts).astype(np.int64), at,
                                       first_id + np.arange(at.shape[0], dtype=np.int64))
    return units, mask, lengths + bags * k


def per_step(accesses, max_accesses: int) -> tuple[list[int], float]:
    """Lookups of each table in one traced step, and the scale back to a whole step (1 / f)."""
    total = sum(int(a.lookups) for a in accesses)
    f = min(1.0, max_accesses / total) if total else 1.0
    return [max(1, round(int(a.lookups) * f)) for a in accesses], 1.0 / f


def segment(k: int, tables: int) -> tuple[int, int]:
    """(table, step) of the k-th warm-up segment counted back from the measured step (k >= 1)."""
    return tables - 1 - (k - 1) % tables, 1 + (k - 1) // tables


def _drawn(per: list[int], k: int) -> list[int]:
    """Lookups of each table in the last k warm-up segments."""
    T = len(per)
    full, part = divmod(k, T)
    return [m * (full + (1 if t >= T - part else 0)) for t, m in enumerate(per)]


def most_segments(accesses, max_accesses: int) -> int:
    """Warm-up segments that WARMUP x max_accesses lookups allow."""
    per, _ = per_step(accesses, max_accesses)
    budget = WARMUP * max_accesses
    full, left = divmod(budget, sum(per))
    k = full * len(per)
    for t in range(len(per) - 1, -1, -1):   # then the last tables of one more step, while they fit
        if per[t] > left:
            break
        left -= per[t]
        k += 1
    return max(k, 1)


def warmup_segments(accesses, line_bytes: int, need_lines: float, max_accesses: int, start: int = 0) -> int:
    """The fewest warm-up segments (at least ``start``) whose expected distinct lines reach
    ``need_lines``, within most_segments (a doubling, then a bisection)."""
    from ..ops.popularity import expected_distinct_uniform, expected_distinct_zipf
    if need_lines <= 0:
        return start
    per, _ = per_step(accesses, max_accesses)
    spans = [-(-int(a.row_bytes) // line_bytes) for a in accesses]

    def distinct(a, n: int) -> float:
        if n <= 0:
            return 0.0
        if a.distribution == "zipf":   # ~1% (roofsim.cache.predictors.warmup_lookups does the same)
            return float(expected_distinct_zipf(float(n), int(a.table_rows), a.zipf_alpha, head=1024, bins=256))
        if a.distribution == "uniform":
            return expected_distinct_uniform(float(n), int(a.table_rows))
        return float(min(n, int(a.table_rows)))   # a user's ids: at most every lookup new

    def reaches(k: int) -> bool:   # the rows' lines and the output rows written meanwhile
        return sum(span * (distinct(a, n) + n / max(1, int(a.pooling)))
                   for a, span, n in zip(accesses, spans, _drawn(per, k))) >= need_lines

    most = most_segments(accesses, max_accesses)
    lo, hi = max(start, 1), max(start, 1)
    while hi < most and not reaches(hi):
        lo, hi = hi + 1, min(most, 2 * hi)
    while lo < hi:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def _rows(a, m: int, steps: int) -> np.ndarray:
    """[steps, m] table rows: row s holds the m lookups of step s (0: measured, 1: the one before).
    Drawn from one stream per table in order of s, so more steps only append rows."""
    if a.distribution == "file":
        ids = a.ids.ids
        end = ids.shape[0]               # the last batch of the file is measured; earlier ones warm
        pos = (end - m * np.arange(1, steps + 1)[:, None] + np.arange(m)[None, :]) % ids.shape[0]
        return ids[pos].astype(np.int64)
    rng = np.random.default_rng([int(a.seed), 0x5A4ED])
    if a.distribution == "uniform":
        rows = rng.integers(0, int(a.table_rows), steps * m)
    else:
        rows = traces.scatter(traces.zipf_ranks(steps * m, int(a.table_rows), a.zipf_alpha, rng), int(a.table_rows),
                              int(a.seed))
    return rows.reshape(steps, m)


def layout(accesses) -> list[int]:
    """Base address of each table: its own range, 1 MiB-aligned, with a 1 MiB gap."""
    bases, base = [], 0
    for a in accesses:
        bases.append(base)
        base = base + (int(a.table_rows) * int(a.row_bytes) + _ALIGN - 1) // _ALIGN * _ALIGN + _ALIGN
    return bases


def shared_trace(accesses, segments: int, max_accesses: int) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """The rows of each table ([steps, lookups], step 0 first) and the order of the trace: (table,
    step) of the ``segments`` warm-up segments, oldest first, then the measured step's tables in
    op order (step 0)."""
    per, _ = per_step(accesses, max_accesses)
    T = len(per)
    order = [segment(k, T) for k in range(segments, 0, -1)] + [(t, 0) for t in range(T)]
    steps = [1 + max([s for t2, s in order if t2 == t]) for t in range(T)]
    return [_rows(a, m, n) for a, m, n in zip(accesses, per, steps)], order


def shared_curves(accesses, line_bytes: int, segments: int, max_accesses: int) -> SharedCurves:
    """Trace the warm-up and the measured step of the tables, and split the measured accesses'
    stack distances by table (see the module docstring)."""
    from ..kernels import load
    from .mrc import line_accesses
    n = lines_per_row(accesses, line_bytes)
    bases = layout(accesses)
    rows, order = shared_trace(accesses, segments, max_accesses)
    if n:   # row tracing: one access per row, in units of n lines (tables are line-aligned)
        units = [r + bases[t] // (n * line_bytes) for t, r in enumerate(rows)]
    else:   # every line of every row
        units = []
        for t, r in enumerate(rows):
            size = int(accesses[t].row_bytes)
            lines = line_accesses(np.uint64(bases[t]) + r.ravel().astype(np.uint64) * np.uint64(size), line_bytes,
                                  np.full(r.size, size, np.int64))
            units.append(lines.reshape(r.shape[0], -1))   # each row spans the same lines in every step
    # each bag's output row follows its lookups: fresh units after every table's range
    fresh = max(int(u.max()) for u in units) + 1 if units else 0
    trace, mask, counts = _with_outputs([units[t][s] for t, s in order], [rows[t].shape[1] for t, _ in order],
                                        [int(accesses[t].pooling) for t, _ in order],
                                        [_output_lines(accesses[t], line_bytes, n) for t, _ in order], fresh)
    measured = counts[len(counts) - len(accesses):]
    start = int(counts.sum() - measured.sum())
    d, cold = load("reuse").stack_distances(trace, max(4096, min(int(trace.shape[0]), 1 << 20)), start)
    first_uses = int(np.count_nonzero(d < 0))
    d = np.where(d < 0, _NEVER, np.minimum(d, _NEVER - 1)).astype(np.int32)
    ends = np.cumsum(measured)
    # a table's misses are its lookups' (the outputs only evict: their bytes are the op's own)
    lookup = mask[start:]
    sorted_d = tuple(np.sort(d[e - c:e][lookup[e - c:e]]) for e, c in zip(ends, measured))
    unit = n or 1
    return SharedCurves(unit, sorted_d, per_step(accesses, max_accesses)[1], float((cold - first_uses) * unit), segments)


def simulated_misses(accesses, levels, segments: int, max_accesses: int, seed: int = 0) -> list[list[float]]:
    """[table][level] misses in one whole step of the set-associative hierarchy ``levels``
    (CacheLevelConfig), simulated on the shared trace: the warm-up, then each table's measured
    lookups, reading the counters after each."""
    from .simulator import Hierarchy
    bases = layout(accesses)
    h = Hierarchy(list(levels), seed=seed)
    before = [0.0] * len(levels)
    out = [[0.0] * len(levels) for _ in accesses]
    scale = per_step(accesses, max_accesses)[1]
    rows, order = shared_trace(accesses, segments, max_accesses)
    # output rows (one per bag, after its lookups) at fresh addresses beyond every table; each
    # misses every level once (whole lines: outputs are row_bytes apart from a 1 MiB boundary)
    fresh = (bases[-1] + int(accesses[-1].table_rows) * int(accesses[-1].row_bytes)) // _ALIGN * _ALIGN + 2 * _ALIGN
    for t, s in order:
        a, r = accesses[t], rows[t][s]
        size = int(a.row_bytes)
        ids, mask, _ = _with_outputs([r.astype(np.int64)], [r.shape[0]], [int(a.pooling)], [1], 0)
        outs = int(np.count_nonzero(~mask))
        addrs = np.where(mask, bases[t] + ids * size, fresh + np.cumsum(~mask) * size - size)
        fresh += outs * size
        h.feed(addrs.astype(np.uint64), np.full(addrs.shape[0], size, np.int64), ~mask)
        now = [float(x.misses) for x in h.results()]
        if s == 0:   # the table's own: less its outputs' lines, which miss every level once
            out[t] = [max(x - y - outs * size / lv.line_bytes, 0.0) * scale
                      for x, y, lv in zip(now, before, levels)]
        before = now
    return out


class SharedTables:
    """Curves of table sets, built once per (tables, line size) and rebuilt with a longer warm-up
    when a larger cache needs one (results at the capacities the shorter one covered stay)."""

    def __init__(self, max_accesses: int):
        self.max_accesses = int(max_accesses)
        self._curves: dict = {}

    def curves(self, accesses: tuple, line_bytes: int, capacity_bytes: float) -> SharedCurves:
        """Curves whose warm-up covers ``capacity_bytes`` (as far as WARMUP x max_accesses allows)."""
        key = (accesses, int(line_bytes))
        have = self._curves.get(key)
        need = float(capacity_bytes) / line_bytes
        most = most_segments(accesses, self.max_accesses)
        if have is not None and (have.covered_lines >= need or have.segments >= most):
            return have
        k = warmup_segments(accesses, line_bytes, need, self.max_accesses,
                            start=min(2 * have.segments, most) if have is not None else 0)
        out = shared_curves(accesses, line_bytes, k, self.max_accesses)
        while out.covered_lines < need and k < most:   # the expectation fell short: a longer one
            k = min(most, math.ceil(1.5 * k) + 1)
            out = shared_curves(accesses, line_bytes, k, self.max_accesses)
        self._curves[key] = out
        return out
