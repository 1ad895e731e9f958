"""The public cache simulator: validates traces, owns the state arrays, calls the numba kernel.

Hierarchy.feed() can be called any number of times; all state lives in numpy arrays held here,
so chunked feeding equals one pass (tests/test_cachesim.py checks it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CacheConfigError
from .config import CacheLevelConfig, check_hierarchy

_POLICY_CODES = {"lru": 0, "fifo": 1, "random": 2, "plru": 3}
_MASK64 = (1 << 64) - 1
# One access is served line by line: a single size of 2**60 from a tiny file would run for ages.
MAX_ACCESS_BYTES = 1 << 30


def rng_seed(seed: int, level: int) -> int:
    """Initial xorshift64 state of a level's random policy (never 0, which xorshift keeps at 0)."""
    state = (int(seed) * 0x9E3779B97F4A7C15 + (level + 1) * 0x632BE59BD9B4E019) & _MASK64
    return state or 1


@dataclass(frozen=True)
class LevelResult:
    """Counts for one level. accesses = hits + misses; accesses at level i+1 are level i's
    fetches, write-backs and forwarded writes. invalidations: lines removed by an outer level's
    eviction (inclusive hierarchies only)."""

    name: str
    capacity_bytes: int
    ways: int
    line_bytes: int
    policy: str
    accesses: int
    hits: int
    misses: int
    evictions: int
    writebacks: int
    bytes_from_next: int
    bytes_to_next: int
    invalidations: int

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.accesses if self.accesses else 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _kernel_array(a: np.ndarray, dtype) -> np.ndarray:
    # One array type per kernel argument (C-contiguous, writeable), so numba compiles and
    # caches one specialisation: a read-only memory map would otherwise trigger a second one.
    return np.require(a, dtype, ["C", "W"])


def _as_int64_addresses(addrs) -> np.ndarray:
    a = np.asarray(addrs)
    if a.ndim != 1:
        raise CacheConfigError(f"trace: expected a 1-D array of byte addresses, found shape {a.shape}")
    if a.dtype == np.uint64:
        if a.size and int(a.max()) >= 2**62:
            raise CacheConfigError("trace: addresses must be below 2**62")
        return _kernel_array(a.view(np.int64), np.int64)
    if a.dtype.kind in "iu":
        if a.size and int(a.min()) < 0:
            raise CacheConfigError("trace: addresses must be >= 0")
        return _kernel_array(a, np.int64)
    raise CacheConfigError(f"trace: expected integer byte addresses (uint64), found {a.dtype}")


def _as_sizes(sizes, n: int) -> np.ndarray:
    if sizes is None:
        return np.empty(0, np.int64)
    s = np.asarray(sizes)
    if s.ndim != 1 or s.shape[0] != n:
        raise CacheConfigError(f"sizes: expected {n} access sizes, found shape {s.shape}")
    if s.dtype.kind not in "iu":
        raise CacheConfigError(f"sizes: expected integer byte counts, found {s.dtype}")
    if n and int(s.min()) < 1:
        raise CacheConfigError("sizes: every access size must be >= 1 byte")
    if n and int(s.max()) > MAX_ACCESS_BYTES:
        raise CacheConfigError(f"sizes: expected at most {MAX_ACCESS_BYTES} bytes (1 GiB) per access "
                               f"(split larger transfers), found {int(s.max())}")
    return _kernel_array(s, np.int64)


def _as_writes(writes, n: int) -> np.ndarray:
    if writes is None:
        return np.empty(0, np.uint8)
    w = np.asarray(writes)
    if w.ndim != 1 or w.shape[0] != n:
        raise CacheConfigError(f"writes: expected {n} flags, found shape {w.shape}")
    if w.dtype == np.bool_:
        return _kernel_array(w.view(np.uint8), np.uint8)
    if w.dtype.kind in "iu" and (n == 0 or int(w.min()) >= 0 and int(w.max()) <= 1):
        return _kernel_array(w, np.uint8)
    raise CacheConfigError(f"writes: expected a boolean (or 0/1) write mask, found {w.dtype}")


# Levels of up to this many ways x sets keep every set in one dense array (64 MiB of tags);
# larger ones (an HBM-sized "cache") keep only the sets the trace touches, found through a hash
# table, so memory grows with the lines the trace touches, not with the capacity.
DENSE_SLOTS = 1 << 23
FIRST_SPARSE_SETS = 1 << 10  # a sparse level starts with room for this many sets, then doubles


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


class Hierarchy:
    """A cache hierarchy (innermost level first) with its state.

    inclusive=False (default): non-inclusive, non-exclusive. inclusive=True: an outer eviction
    back-invalidates inner copies. seed: the random policy's seed (see rng_seed). dense_slots:
    levels with more ways x sets than this are held sparsely (same results; tests lower it).
    """

    def __init__(self, levels, inclusive: bool = False, seed: int = 0, dense_slots: int = DENSE_SLOTS):
        from ..kernels.cachesim_layout import N_PARAMS  # numba-free constants

        self.levels: tuple[CacheLevelConfig, ...] = check_hierarchy(levels)
        self.inclusive = bool(inclusive)
        self.seed = int(seed)
        n = len(self.levels)
        self._sparse = [lv.sets * lv.ways > dense_slots for lv in self.levels]
        self._params = np.zeros((n, N_PARAMS), np.int64)
        for i, lv in enumerate(self.levels):
            sets = lv.sets
            self._params[i, :8] = (sets, lv.ways, lv.line_bytes.bit_length() - 1,
                                   _POLICY_CODES[lv.policy], lv.write_policy == "write-back",
                                   lv.write_allocate, 0, sets - 1 if sets & (sets - 1) == 0 else -1)
        # The specialised kernel (roofsim.kernels.cachesim.simulate_lru) serves the common case:
        # every level LRU, write-back + write-allocate, one line size, non-inclusive (any set
        # counts). It keeps the same state arrays, so feeds may alternate kernels.
        self._fast = (not self.inclusive
                      and len({lv.line_bytes for lv in self.levels}) == 1
                      and all(lv.policy == "lru" and lv.write_policy == "write-back"
                              and lv.write_allocate for lv in self.levels))
        self.reset()

    def reset(self) -> None:
        """Empty every level and zero the counters."""
        n = len(self.levels)
        # int32 tags (half the bytes the specialised kernel moves per set) until a feed needs
        # the general kernel or a line number of NARROW_LINES or more; then int64 until reset
        self._tags = np.empty(0, np.int32 if self._fast else np.int64)
        self._layout([min(lv.sets, FIRST_SPARSE_SETS) if sparse else lv.sets
                      for lv, sparse in zip(self.levels, self._sparse)], keep=False)
        self._rng = np.array([rng_seed(self.seed, i) for i in range(n)], np.uint64)
        self._counters = np.zeros((n, 8), np.int64)
        self.trace_accesses = 0

    @property
    def allocated_bytes(self) -> int:
        """Bytes of simulator state (tags, PLRU bits, set tables): what grows with the trace."""
        return sum(a.nbytes for a in (self._tags, self._plru, self._table))

    def _layout(self, caps: list[int], keep: bool) -> None:
        """(Re)allocate the state arrays for `caps` sets per level; keep: carry the state over
        (sets keep their compact numbers; the hash tables are rebuilt at their new size)."""
        from ..kernels.cachesim_layout import P_CAP, P_DIR_MASK, P_DIR_OFF, P_OFFSET, P_USED

        p = self._params
        ways = [lv.ways for lv in self.levels]
        tables = [_next_pow2(2 * c) if sparse else 0 for c, sparse in zip(caps, self._sparse)]
        slot_off = np.concatenate([[0], np.cumsum([c * w for c, w in zip(caps, ways)])]).astype(np.int64)
        dir_off = 2 * np.concatenate([[0], np.cumsum(tables)]).astype(np.int64)  # (key, number) pairs
        tags = np.full(int(slot_off[-1]), -1, self._tags.dtype)  # line << 1 | dirty; -1 = empty
        plru = np.zeros(int(slot_off[-1]), np.uint8)       # `ways` tree bits per set; node 0 unused
        table = np.full(int(dir_off[-1]), -1, np.int64)    # set index (-1: free), compact number
        for i, sparse in enumerate(self._sparse):
            if keep:
                used = int(p[i, P_USED]) if sparse else caps[i]
                old, new = int(p[i, P_OFFSET]), int(slot_off[i])
                tags[new:new + used * ways[i]] = self._tags[old:old + used * ways[i]]
                plru[new:new + used * ways[i]] = self._plru[old:old + used * ways[i]]
                if sparse:
                    from ..kernels import load

                    o, m = int(p[i, P_DIR_OFF]), 2 * (int(p[i, P_DIR_MASK]) + 1)
                    load("cachesim").rehash(self._table[o:o + m], table[dir_off[i]:dir_off[i + 1]])
            else:
                p[i, P_USED] = 0
            p[i, P_OFFSET] = slot_off[i]
            p[i, P_DIR_OFF] = dir_off[i]
            p[i, P_DIR_MASK] = tables[i] - 1 if sparse else -1
            p[i, P_CAP] = caps[i]
        self._tags, self._plru, self._table = tags, plru, table

    def _set_room(self, fast: bool, max_size: int) -> None:
        """P_ROOM: the most sets one kernel step can allocate at each level. Specialised kernel:
        a round of FAST_CHUNK accesses sends at most (i + 1) x FAST_CHUNK requests to level i.
        General kernel, per trace access: level 0 serves ceil(size / line) + 1 lines; each line a
        level serves sends at most 3 requests on (write-back, fetch, forwarded write), each over
        at most max(1, line_i / line_i+1) lines of the next level."""
        from ..kernels.cachesim_layout import FAST_CHUNK, P_ROOM

        lines = -(-max_size // self.levels[0].line_bytes) + 1
        for i, lv in enumerate(self.levels):
            self._params[i, P_ROOM] = (i + 1) * FAST_CHUNK if fast else min(lines, lv.sets)
            if i + 1 < len(self.levels):
                lines *= 3 * max(1, lv.line_bytes // self.levels[i + 1].line_bytes)

    def _widen(self) -> None:
        self._tags = self._tags.astype(np.int64, copy=False)

    def _grow(self) -> None:
        from ..kernels.cachesim_layout import P_CAP, P_ROOM, P_USED

        p = self._params
        caps = [int(c) for c in p[:, P_CAP]]
        for i, (lv, sparse) in enumerate(zip(self.levels, self._sparse)):
            used, room = int(p[i, P_USED]), int(p[i, P_ROOM])
            if sparse and caps[i] - used < min(room, lv.sets - used):
                caps[i] = min(lv.sets, max(2 * caps[i], used + room))
        self._layout(caps, keep=True)

    def feed(self, addrs, sizes=None, writes=None) -> "Hierarchy":
        """Run one chunk of a trace (byte addresses; optional sizes in bytes and write mask)."""
        a = _as_int64_addresses(addrs)
        s = _as_sizes(sizes, a.shape[0])
        w = _as_writes(writes, a.shape[0])
        if s.size and a.size and int(a.max()) + int(s.max()) >= 2**62:
            raise CacheConfigError("trace: address + size must stay below 2**62")
        fast = False
        if self._fast:
            shift = int(self._params[0, 2])
            # accesses inside one line are served like 1-byte ones (write-back, write-allocate:
            # traffic is counted in whole lines); any access spanning lines: general kernel
            fast = s.size == 0 or not np.any((a & ((1 << shift) - 1)) + s > (1 << shift))
        self._set_room(fast, int(s.max()) if s.size else 1)
        from ..kernels import load
        from ..kernels.cachesim_layout import NEED_ROOM, NEED_WIDE

        cachesim = load("cachesim")  # lazy: numba loads on first simulation

        if not fast:
            self._widen()  # the general kernel keeps int64 tags
        done, n = 0, a.shape[0]
        while True:
            rest = slice(done, None)
            if fast:
                served, why, _ = cachesim.simulate_lru(a[rest], w[rest] if w.size else w, shift,
                                                       self._params, self._tags, self._counters,
                                                       self._table)
            else:
                served = cachesim.simulate(a[rest], s[rest] if s.size else s,
                                           w[rest] if w.size else w, self._params, self._tags,
                                           self._plru, self._rng, self._counters,
                                           1 if self.inclusive else 0, self._table)
                why = NEED_ROOM
            done += served
            if done >= n:
                break
            if why == NEED_WIDE:
                self._widen()  # a line number that int32 tags cannot hold
            else:
                self._grow()  # a sparse level needs room for more sets
        self.trace_accesses += n
        return self

    def load_kernels(self, max_address: int = 0, spanning: bool = False) -> None:
        """Compile or load (from numba's cache) every kernel that feeding addresses up to
        `max_address` uses (`spanning`: also accesses that cross lines, which the general kernel
        serves), so that a timed feed measures the simulation alone; leaves the state empty."""
        self.feed(np.array([0, max_address], np.uint64))
        if spanning:
            self.feed(np.zeros(1, np.uint64), np.full(1, 1 << 12, np.int64))
        self.reset()

    def results(self) -> tuple[LevelResult, ...]:
        out = []
        for lv, c in zip(self.levels, self._counters.tolist()):
            out.append(LevelResult(lv.name, lv.capacity_bytes, lv.ways, lv.line_bytes, lv.policy,
                                   *c))
        return tuple(out)


def simulate(addrs, levels, sizes=None, writes=None, inclusive: bool = False, seed: int = 0,
             chunk: int | None = None) -> tuple[LevelResult, ...]:
    """Simulate a whole trace; `chunk` feeds it in pieces of that many accesses (same result)."""
    h = Hierarchy(levels, inclusive=inclusive, seed=seed)
    n = len(addrs)
    step = n if not chunk else int(chunk)
    if step < 1:
        step = 1
    for i in range(0, max(n, 1), step):
        h.feed(addrs[i:i + step], None if sizes is None else sizes[i:i + step],
               None if writes is None else writes[i:i + step])
    return h.results()
