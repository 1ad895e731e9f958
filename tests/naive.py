"""Slow, obviously-correct twins of the numba kernels (stumpy-style), for tests only.

Plain Python lists and recursion, written from the documented semantics, not from the kernels.
"""
from __future__ import annotations

MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------- set-associative caches

def naive_rng_seed(seed: int, level: int) -> int:
    """The random policy's documented initial state (roofsim.cache.simulator.rng_seed)."""
    state = (seed * 0x9E3779B97F4A7C15 + (level + 1) * 0x632BE59BD9B4E019) & MASK64
    return state or 1


def naive_xorshift64(x: int) -> int:
    x ^= (x << 13) & MASK64
    x ^= x >> 7
    x ^= (x << 17) & MASK64
    return x


class NaiveLevel:
    """One cache level as `sets` lists of `ways` slots; a slot is None or [line, dirty]."""

    def __init__(self, capacity, ways, line_bytes, policy="lru", write_back=True,
                 write_allocate=True, rng_state=1):
        self.ways, self.line_bytes, self.policy = ways, line_bytes, policy
        self.write_back, self.write_allocate = write_back, write_allocate
        self.nsets = capacity // (ways * line_bytes)
        self.slots = [[None] * ways for _ in range(self.nsets)]
        self.order = [[] for _ in range(self.nsets)]  # lru: least recent first; fifo: oldest first
        self.tree = [[0] * ways for _ in range(self.nsets)]  # plru bits, node 1 is the root
        self.rng = rng_state
        self.count = dict(accesses=0, hits=0, misses=0, evictions=0, writebacks=0,
                          bytes_from_next=0, bytes_to_next=0, invalidations=0)

    def find(self, line):
        s = line % self.nsets
        for w, slot in enumerate(self.slots[s]):
            if slot is not None and slot[0] == line:
                return s, w
        return s, None

    def touch(self, s, w, line, installed):
        """Update the replacement state after a hit (installed=False) or an install."""
        if self.policy == "lru":
            if line in self.order[s]:
                self.order[s].remove(line)
            self.order[s].append(line)
        elif self.policy == "fifo" and installed:
            self.order[s].append(line)
        elif self.policy == "plru":
            # walk from the root towards w, pointing every node at the other half
            node, lo, half = 1, 0, self.ways // 2
            while half >= 1:
                if w < lo + half:
                    self.tree[s][node] = 1
                    node = 2 * node
                else:
                    self.tree[s][node] = 0
                    node, lo = 2 * node + 1, lo + half
                half //= 2

    def choose_victim(self, s):
        empty = [w for w, slot in enumerate(self.slots[s]) if slot is None]
        if empty:
            return empty[0]
        if self.policy in ("lru", "fifo"):
            oldest = self.order[s][0]
            return next(w for w, slot in enumerate(self.slots[s]) if slot[0] == oldest)
        if self.policy == "random":
            self.rng = naive_xorshift64(self.rng)
            return self.rng % self.ways
        node, lo, half = 1, 0, self.ways // 2
        while half >= 1:
            if self.tree[s][node] == 0:
                node = 2 * node
            else:
                node, lo = 2 * node + 1, lo + half
            half //= 2
        return lo

    def remove(self, s, w):
        line, dirty = self.slots[s][w]
        self.slots[s][w] = None
        if line in self.order[s]:
            self.order[s].remove(line)
        return line, dirty


class NaiveHierarchy:
    """Recursive, depth-first twin of roofsim.kernels.cachesim.simulate (and of simulate_lru,
    the specialised kernel for all-LRU write-back hierarchies)."""

    def __init__(self, configs, inclusive=False, seed=0):
        # configs: (capacity, ways, line_bytes, policy, write_back, write_allocate) tuples
        self.levels = [NaiveLevel(*c, rng_state=naive_rng_seed(seed, i))
                       for i, c in enumerate(configs)]
        self.inclusive = inclusive

    def access(self, addr, size=1, write=False):
        self.request(0, addr, size, write, False)

    def request(self, level, start, nbytes, write, full):
        """Serve [start, start+nbytes) at `level`, one line at a time, in address order."""
        if level == len(self.levels):
            return  # memory
        lb = self.levels[level].line_bytes
        pos, end = start, start + nbytes
        while pos < end:
            piece_end = min(end, (pos // lb + 1) * lb)
            self.serve(level, pos, piece_end - pos, write, full and piece_end - pos == lb)
            pos = piece_end

    def serve(self, i, start, nbytes, write, full):
        lv = self.levels[i]
        lb = lv.line_bytes
        line = start // lb
        c = lv.count
        c["accesses"] += 1
        s, w = lv.find(line)
        if w is not None:
            c["hits"] += 1
            lv.touch(s, w, line, installed=False)
            if write and lv.write_back:
                lv.slots[s][w][1] = True
            elif write:
                c["bytes_to_next"] += nbytes
                self.request(i + 1, start, nbytes, True, full)
            return
        c["misses"] += 1
        if write and not lv.write_allocate:
            c["bytes_to_next"] += nbytes
            self.request(i + 1, start, nbytes, True, full)
            return
        v = lv.choose_victim(s)
        outgoing = []
        if lv.slots[s][v] is not None:
            old, dirty = lv.remove(s, v)
            c["evictions"] += 1
            if self.inclusive:
                dirty = self.back_invalidate(i, old) or dirty
            if dirty:
                c["writebacks"] += 1
                c["bytes_to_next"] += lb
                outgoing.append((old * lb, lb, True, True))
        lv.slots[s][v] = [line, bool(write and lv.write_back)]
        lv.touch(s, v, line, installed=True)
        if not full:
            c["bytes_from_next"] += lb
            outgoing.append((line * lb, lb, False, False))
        if write and not lv.write_back:
            c["bytes_to_next"] += nbytes
            outgoing.append((start, nbytes, True, full))
        for o_start, o_bytes, o_write, o_full in outgoing:
            self.request(i + 1, o_start, o_bytes, o_write, o_full)

    def back_invalidate(self, i, victim):
        lo, hi = victim * self.levels[i].line_bytes, (victim + 1) * self.levels[i].line_bytes
        any_dirty = False
        for inner in self.levels[:i]:
            for line in range(lo // inner.line_bytes, (hi - 1) // inner.line_bytes + 1):
                s, w = inner.find(line)
                if w is not None:
                    _, dirty = inner.remove(s, w)
                    inner.count["invalidations"] += 1
                    any_dirty = any_dirty or dirty
        return any_dirty

    def counts(self):
        return [dict(lv.count) for lv in self.levels]


def naive_simulate(configs, addrs, sizes=None, writes=None, inclusive=False, seed=0):
    h = NaiveHierarchy(configs, inclusive=inclusive, seed=seed)
    for k, a in enumerate(addrs):
        h.access(int(a), 1 if sizes is None else int(sizes[k]),
                 False if writes is None else bool(writes[k]))
    return h.counts()


# ---------------------------------------------------------------- reuse (stack) distance

def naive_stack_distances(lines):
    """LRU stack distance of each access: distinct other lines since the last use, or None."""
    out = []
    for t, x in enumerate(lines):
        seen = set()
        d = None
        for u in range(t - 1, -1, -1):
            if lines[u] == x:
                d = len(seen)
                break
            seen.add(lines[u])
        out.append(d)
    return out


def naive_fully_associative_lru_misses(lines, capacity_lines):
    """Misses of a fully associative LRU cache of `capacity_lines` lines (a recency list)."""
    stack, misses = [], 0
    for x in lines:
        if x in stack:
            stack.remove(x)
        else:
            misses += 1
            if len(stack) == capacity_lines:
                stack.pop(0)
        stack.append(x)
    return misses


def naive_lru_stage(level, requests, first):
    """One write-back, write-allocate LRU level (a NaiveLevel) as a stream transformer: serve
    `requests` ((line, is_write) pairs) in order and return the requests it sends outwards, in
    order: for each miss, the dirty victim's write-back, then the fetch of the line (skipped for
    a write-back arriving from an inner level: a whole line). Twin of the per-level pass of
    roofsim.kernels.cachesim.simulate_lru; chaining it over the levels must equal
    NaiveHierarchy (non-inclusive: outer levels never change an inner one)."""
    out = []
    for line, write in requests:
        c = level.count
        c["accesses"] += 1
        s, w = level.find(line)
        if w is not None:
            c["hits"] += 1
            level.touch(s, w, line, installed=False)
            if write:
                level.slots[s][w][1] = True
            continue
        c["misses"] += 1
        v = level.choose_victim(s)
        if level.slots[s][v] is not None:
            old, dirty = level.remove(s, v)
            c["evictions"] += 1
            if dirty:
                c["writebacks"] += 1
                c["bytes_to_next"] += level.line_bytes
                out.append((old, True))
        level.slots[s][v] = [line, bool(write)]
        level.touch(s, v, line, installed=True)
        if first or not write:
            c["bytes_from_next"] += level.line_bytes
            out.append((line, False))
    return out


def naive_simulate_lru_levels(configs, addrs, writes=None):
    """Level after level over the whole trace with naive_lru_stage (configs as naive_simulate's,
    every level LRU, write-back, write-allocate, one line size)."""
    levels = [NaiveLevel(*c) for c in configs]
    lb = levels[0].line_bytes
    stream = [(int(a) // lb, False if writes is None else bool(writes[k]))
              for k, a in enumerate(addrs)]
    for i, lv in enumerate(levels):
        stream = naive_lru_stage(lv, stream, first=(i == 0))
    return [dict(lv.count) for lv in levels]


# ---------------------------------------------------------------- pointer chasing

def naive_chase(nxt, start: int, steps: int) -> int:
    """Twin of roofsim.kernels.chase.chase: follow the chain ``steps`` times."""
    i = start
    for _ in range(steps):
        i = int(nxt[i])
    return i
