"""Miss-ratio curves of fully associative LRU caches, exact or SHARDS-sampled.

mrc(addrs) computes every access's LRU stack distance at line granularity in one O(N log N)
pass (roofsim.kernels.reuse); a cache of C lines misses exactly the accesses whose distance is
>= C, plus first uses, so one histogram answers every size.

Sampling (SHARDS, Waldspurger et al., FAST 2015): keep the accesses of the lines whose spatial
hash falls below R x 2^24, i.e. about a fraction R of the lines with all their accesses, scale
the sampled distances by 1/R and divide by the expected sample size N x R (SHARDS-adj).
Stated error, measured over 20 seeds with R = 0.1 at sizes >= 1/R lines (smaller caches are
below the sampling resolution) and checked on one seeded trace by tests/test_reuse.py:
- uniform traces with ~2,000 sampled lines: max absolute error of the miss ratio <= 0.07,
  mean over sizes <= 0.06 (the sample size varies by ~1/sqrt(sampled lines) = 2.2%);
- Zipf(1.1) traces whose hottest lines carry over 10% of all accesses: max <= 0.25, mean
  <= 0.07, because whether one hot line is sampled moves the whole curve. Use R = 1 (exact,
  fast enough for tens of millions of accesses) for small or very skewed footprints.
The error shrinks like 1/sqrt(sampled lines): SHARDS is meant for footprints of millions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import CacheConfigError
from .simulator import _as_int64_addresses, _as_sizes

_SAMPLE_BITS = 24


@dataclass(frozen=True)
class MissRatioCurve:
    """hist[d]: (sampled) accesses with stack distance d; cold: (sampled) first uses.

    accesses: line accesses of the whole trace; sampled: those the histogram holds.
    """

    line_bytes: int
    accesses: int
    sampled: int
    cold: int
    hist: np.ndarray = field(repr=False)
    sample_rate: float = 1.0

    def _tail(self) -> np.ndarray:
        return self._tail_counts

    @cached_property
    def _tail_counts(self) -> np.ndarray:
        # tail[k] = accesses with distance >= k (k = 0 .. len(hist)); once per curve, since a
        # sweep reads one curve at many capacities
        return np.concatenate([np.cumsum(self.hist[::-1])[::-1], [0]])

    def misses(self, capacity_bytes) -> np.ndarray | float:
        """Misses of the whole trace in a fully associative LRU cache of capacity_bytes (scalar
        or array): exact integers when sample_rate is 1, else the SHARDS estimate."""
        cap = np.asarray(capacity_bytes, dtype=np.float64)
        lines = np.floor(cap / self.line_bytes)
        # a sampled distance d stands for d / R lines: a miss iff d / R >= C, i.e. d >= ceil(C R)
        k = np.ceil(lines * self.sample_rate - 1e-9).astype(np.int64)
        tail = self._tail()
        k = np.clip(k, 0, len(tail) - 1)
        # Scaling by 1/R (not by N / sampled) is SHARDS-adj: when a hot line happens to be
        # sampled (or not), the surplus (or deficit) of accesses sits at small distances, i.e.
        # in the hits; scaling by the expected sample size N x R cancels it. R = 1: exact.
        sampled_misses = self.cold + tail[k]
        if self.sample_rate == 1.0:
            out = np.where(lines <= 0, self.accesses, sampled_misses)
        else:
            out = np.where(lines <= 0, self.accesses,
                           np.minimum(sampled_misses / self.sample_rate, self.accesses))
        return out.item() if out.ndim == 0 else out

    def miss_ratio(self, capacity_bytes) -> np.ndarray | float:
        """Miss ratio of a fully associative LRU cache of capacity_bytes (scalar or array)."""
        return np.asarray(self.misses(capacity_bytes)) / max(self.accesses, 1) if np.ndim(
            capacity_bytes) else self.misses(capacity_bytes) / max(self.accesses, 1)

    def footprint_bytes(self) -> float:
        """(Estimated) distinct lines x line size."""
        return self.cold / self.sample_rate * self.line_bytes

    def default_sizes(self) -> np.ndarray:
        """Powers of two from one line up to the first size holding the whole footprint."""
        top = max(self.line_bytes, self.footprint_bytes())
        n = int(np.ceil(np.log2(top / self.line_bytes))) + 1
        return self.line_bytes * 2.0 ** np.arange(n)


def line_accesses(addrs, line_bytes: int, sizes=None) -> np.ndarray:
    """The trace as int64 line numbers; an access spanning k lines becomes k line accesses."""
    a = _as_int64_addresses(addrs)
    if (not isinstance(line_bytes, (int, np.integer)) or line_bytes < 1 or line_bytes & (line_bytes - 1)
            or line_bytes > 1 << 62):  # addresses are below 2**62 (a wider shift is undefined)
        raise CacheConfigError(f"line size: expected a power of two in bytes, at most 2**62, found {line_bytes!r}")
    shift = int(line_bytes).bit_length() - 1
    first = a >> shift
    if sizes is None:
        return first
    s = _as_sizes(sizes, a.shape[0])
    count = ((a + s - 1) >> shift) - first + 1
    if np.all(count == 1):
        return first
    # repeat each first line `count` times and add 0, 1, ... within each group
    starts = np.repeat(first, count)
    offsets = np.arange(starts.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    return starts + offsets


def spatial_sample(lines: np.ndarray, rate: float, seed: int = 0) -> np.ndarray:
    """Keep the accesses of lines whose hash (splitmix64 finaliser) is below rate x 2^24."""
    x = lines.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & (2**64 - 1))
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    threshold = np.uint64(int(round(rate * (1 << _SAMPLE_BITS))))
    return lines[(x >> np.uint64(64 - _SAMPLE_BITS)) < threshold]


# Traces up to this many line accesses skip the JIT kernel: importing numba and loading the
# kernel cost about 0.4-1 s, more than a whole query on a short trace.
SMALL_TRACE = 1024
_ROWS = 256   # rows of the [rows, N] comparison done at once (a few MB)


def _neighbours(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N] index of the previous use of each access's line (-1: none) and of the next (N: none)."""
    n = lines.shape[0]
    order = np.argsort(lines, kind="stable")
    same = lines[order[1:]] == lines[order[:-1]]
    prev = np.full(n, -1, np.int64)
    nxt = np.full(n, n, np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return prev, nxt


def small_trace_histogram(lines: np.ndarray) -> tuple[np.ndarray, int]:
    """(hist, cold) as the reuse kernel returns them, by an O(N^2) numpy count for short traces.

    The stack distance of access i is the number of distinct lines in (prev_i, i), where prev_i
    is the previous use of its line: the accesses j in that window that are the last use of
    their line before i (next_j >= i)."""
    lines = np.asarray(lines, dtype=np.int64)
    n = lines.shape[0]
    prev, nxt = _neighbours(lines)
    reused = np.flatnonzero(prev >= 0)
    distances = np.empty(reused.shape[0], np.int64)
    for lo in range(0, reused.shape[0], _ROWS):
        i = reused[lo:lo + _ROWS, None]
        p = prev[i]
        hi = int(i.max()) if i.size else 0    # j < i: only the columns before the last row
        j = np.arange(hi)[None, :]
        distances[lo:lo + _ROWS] = ((j > p) & (j < i) & (nxt[None, :hi] >= i)).sum(axis=1)
    hist = np.bincount(distances).astype(np.int64)
    return hist, int(n - reused.shape[0])


# A measured part of up to this many line accesses is counted by numpy (measured_curve),
# whatever the warm-up's length: a decode step's one embedding lookup after ~7,700 warm-up rows
# needs no JIT kernel, and a sweep's warm-ups of up to 2 M rows (128 M line accesses) are never
# expanded to lines. Longer measured parts take the difference of two kernel curves.
SMALL_MEASURED = 4096


def measured_curve(addrs, start: int, line_bytes: int = 64, sizes=None) -> MissRatioCurve:
    """Miss-ratio curve of the accesses from ``start`` on (a trace index), the caches warmed by
    those before it: exactly mrc(all) minus mrc(the first ``start``) at every size (LRU's
    decisions on a prefix do not depend on what follows), without sampling.

    A measured part of up to SMALL_MEASURED line accesses is counted directly: the stack
    distance of a measured access is the number of distinct lines since its line's previous
    use, in the measured part or, failing that, in the warm-up."""
    a = _as_int64_addresses(addrs)
    s = None if sizes is None else _as_sizes(sizes, a.shape[0])
    measured = line_accesses(a[start:], line_bytes, None if s is None else s[start:])
    m = measured.shape[0]
    if m > SMALL_MEASURED:
        lines = line_accesses(a, line_bytes, s)
        s0 = lines.shape[0] - m
        full, prefix = _curve(lines, int(line_bytes)), _curve(lines[:s0], int(line_bytes))
        hist = np.zeros(max(full.hist.shape[0], prefix.hist.shape[0]), np.int64)
        hist[:full.hist.shape[0]] += full.hist
        hist[:prefix.hist.shape[0]] -= prefix.hist
        return MissRatioCurve(int(line_bytes), m, m, full.cold - prefix.cold, hist, 1.0)
    shift = int(line_bytes).bit_length() - 1
    first = a[:start] >> shift
    count = np.ones(start, np.int64) if s is None else ((a[:start] + s[:start] - 1) >> shift) - first + 1
    hist, cold = _measured_histogram(*_warm_up_last_uses(first, count, measured), measured)
    return MissRatioCurve(int(line_bytes), m, m, cold, hist, 1.0)


def _measured_histogram(warm_last: np.ndarray, ends: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, int]:
    """(hist, cold) of the stack distances of the measured lines S, given each one's last use
    in the warm-up (``warm_last``, a line position, -1 if none) and the sorted last-use
    positions of every line of the warm-up (``ends``)."""
    m = S.shape[0]
    prev, nxt = _neighbours(S)    # previous and next use of each line within the measured part
    # warm-up lines used after each access's last warm-up use (its line's own use is not after it)
    after = ends.shape[0] - np.searchsorted(ends, warm_last, side="right")
    d = np.zeros(m, np.int64)
    for lo in range(0, m, _ROWS):
        i = np.arange(lo, min(lo + _ROWS, m))[:, None]
        j = np.arange(int(i[-1, 0]) if m else 0)[None, :]
        latest = (j < i) & (nxt[None, :j.shape[1]] >= i)    # S[j] is its line's latest use before i
        # used before in the part: the distinct lines since; else the warm-up lines used after
        # its last warm-up use, less those used again since (counted in the part instead)
        within = (latest & (j > prev[i])).sum(axis=1)
        since = latest.sum(axis=1) - (latest & (warm_last[None, :j.shape[1]] > warm_last[i])).sum(axis=1)
        d[lo:lo + _ROWS] = np.where(prev[i[:, 0]] >= 0, within, after[i[:, 0]] + since)
    reused = (prev >= 0) | (warm_last >= 0)
    return np.bincount(d[reused]).astype(np.int64), int(m - reused.sum())


def _warm_up_last_uses(first: np.ndarray, count: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a warm-up of accesses covering ``count`` lines from line ``first`` each: (the line
    position of the last use of each of ``lines`` in it, -1 if none; the sorted last-use
    positions of all its distinct lines), without expanding the warm-up to lines.

    A line's last use lies in the last occurrence of some access (same first line and span)
    covering it: only those are expanded, a table's rows at most."""
    n = first.shape[0]
    if n == 0:
        return np.full(lines.shape[0], -1, np.int64), np.zeros(0, np.int64)
    start = np.cumsum(count) - count                   # line position of each access's first line
    widest = int(count.max())
    if int(count.min()) == widest:                     # one span (a table's rows): the first line says it
        _, last = _latest(first, np.arange(n))
    elif (int(first.max()) - int(first.min()) + 1) * (widest + 1) < 1 << 62:
        _, last = _latest((first - first.min()) * (widest + 1) + count, np.arange(n))
    else:
        order = np.lexsort((np.arange(n), count, first))
        f, c = first[order], count[order]
        last = order[np.append((f[1:] != f[:-1]) | (c[1:] != c[:-1]), True)]
    last = np.sort(last)                               # in time order: positions come out ascending
    spans = count[last]
    offsets = np.arange(int(spans.sum())) - np.repeat(np.cumsum(spans) - spans, spans)
    position = np.repeat(start[last], spans) + offsets
    u, ends = _latest(np.repeat(first[last], spans) + offsets, position)
    k = np.minimum(np.searchsorted(u, lines), u.shape[0] - 1)
    # no line covered twice (rows that do not overlap): the last uses are all those positions
    return np.where(u[k] == lines, ends[k], -1), position if u.shape[0] == position.shape[0] else np.sort(ends)


def _latest(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, sorted; the largest value of each). Keys within a span of a few times
    their number (a table's rows or lines) go through a dense table, no sort."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < 8 * keys.shape[0] + 4096:
        table = np.full(hi - lo + 1, -1, np.int64)
        np.maximum.at(table, keys - lo, values)
        present = np.flatnonzero(table >= 0)
        return present + lo, table[present]
    order = np.lexsort((values, keys))
    k = keys[order]
    final = np.append(k[1:] != k[:-1], True)
    return k[final], values[order][final]


def preload() -> None:
    """Compile (first use) or load the reuse-distance kernel now, so callers can time it apart."""
    from ..kernels import load

    load("reuse").stack_distance_histogram(np.zeros(2, np.int64), 4096)


def mrc(addrs, line_bytes: int = 64, sizes=None, sample_rate: float = 1.0,
        seed: int = 0) -> MissRatioCurve:
    """Miss-ratio curve of the trace for fully associative LRU caches of every size."""
    if not (isinstance(sample_rate, (int, float)) and 0 < sample_rate <= 1):
        raise CacheConfigError(f"sample rate: expected a number in (0, 1], found {sample_rate!r}")
    lines = line_accesses(addrs, line_bytes, sizes)
    total = int(lines.shape[0])
    rate = float(sample_rate)
    if rate < 1:
        applied = int(round(rate * (1 << _SAMPLE_BITS))) / (1 << _SAMPLE_BITS)
        if applied == 0:
            raise CacheConfigError(f"sample rate: expected at least 2^-{_SAMPLE_BITS} = "
                                   f"{2.0 ** -_SAMPLE_BITS:.2g} (the sampling hash's resolution), "
                                   f"found {sample_rate!r}")
        lines = spatial_sample(lines, rate, seed)
        rate = applied
        if total and not lines.shape[0]:
            raise CacheConfigError(f"sample rate {sample_rate!r} sampled none of the trace's "
                                   f"{total} line accesses: raise it (SHARDS wants thousands of "
                                   f"sampled lines; 1 is exact)")
    curve = _curve(lines, int(line_bytes))
    return MissRatioCurve(int(line_bytes), total, curve.sampled, curve.cold, curve.hist, rate)


def _curve(lines: np.ndarray, line_bytes: int) -> MissRatioCurve:
    """The exact curve of a trace of line numbers."""
    if lines.shape[0] <= SMALL_TRACE:
        hist, cold = small_trace_histogram(lines)
    else:
        from ..kernels import load

        stack_distance_histogram = load("reuse").stack_distance_histogram  # lazy: numba loads here
        capacity = max(4096, min(int(lines.shape[0]), 1 << 20))
        hist, cold, _ = stack_distance_histogram(np.require(lines, np.int64, ["C", "W"]), capacity)
    n = int(lines.shape[0])
    return MissRatioCurve(line_bytes, n, n, int(cold), hist)
