"""Cache simulator: hand-derived counts, the naive twin, chunking, LRU inclusion, errors."""
import numpy as np
import pytest

from roofsim.cache.config import CacheLevelConfig, check_hierarchy
from roofsim.cache.simulator import Hierarchy, simulate
from roofsim.errors import CacheConfigError

from naive import naive_simulate, naive_simulate_lru_levels

FIELDS = ("accesses", "hits", "misses", "evictions", "writebacks", "bytes_from_next",
          "bytes_to_next", "invalidations")


def lv(capacity, ways, line=64, policy="lru", wp="write-back", wa=True):
    return CacheLevelConfig(capacity, ways, line, policy, wp, wa)


def counts(results):
    return [{f: getattr(r, f) for f in FIELDS} for r in results]


def addrs(*xs):
    return np.array(xs, dtype=np.uint64)


# ------------------------------------------------------------------ hand-derived

def test_lru_and_fifo_differ_on_a_hit_to_the_oldest_line():
    # 256 B, 2-way, 64 B lines -> 2 sets; lines 0, 2, 4 all map to set 0.
    trace = addrs(0, 128, 0, 256, 0)  # lines 0, 2, 0, 4, 0
    # LRU: 0 miss, 2 miss, 0 hit (0 becomes MRU), 4 miss evicts 2, 0 hit -> 3 misses, 2 hits
    (r,) = simulate(trace, [lv(256, 2, policy="lru")])
    assert (r.accesses, r.hits, r.misses, r.evictions) == (5, 2, 3, 1)
    # FIFO: the hit does not refresh 0, so 4 evicts 0 (oldest) and the last 0 misses, evicting 2
    (r,) = simulate(trace, [lv(256, 2, policy="fifo")])
    assert (r.accesses, r.hits, r.misses, r.evictions) == (5, 1, 4, 2)
    # bytes fetched = misses x 64
    assert r.bytes_from_next == 4 * 64


def test_dirty_eviction_is_written_back_once():
    # one 64 B line: store to line 0, then read line 1 evicts the dirty line 0
    (r,) = simulate(addrs(0, 64), [lv(64, 1)], writes=np.array([True, False]))
    assert (r.misses, r.evictions, r.writebacks) == (2, 1, 1)
    assert r.bytes_from_next == 2 * 64  # both misses fetch (the store too: write-allocate)
    assert r.bytes_to_next == 64        # one dirty line


def test_write_through_no_allocate_forwards_store_bytes():
    level = lv(128, 2, wp="write-through", wa=False)
    # 8-byte store to 0 misses and is forwarded (8 B), not allocated; the load of 0 then misses
    (r,) = simulate(addrs(0, 0), [level], sizes=np.array([8, 8]), writes=np.array([1, 0]))
    assert (r.accesses, r.hits, r.misses) == (2, 0, 2)
    assert (r.bytes_to_next, r.bytes_from_next) == (8, 64)
    # a store that hits is forwarded too (write-through): 4 more bytes, nothing dirty
    (r,) = simulate(addrs(0, 0), [level], sizes=np.array([8, 4]), writes=np.array([0, 1]))
    assert (r.hits, r.bytes_to_next, r.writebacks) == (1, 4, 0)


def test_access_spanning_two_lines_touches_both():
    # bytes 60..67 cover lines 0 and 1: two line accesses, two misses
    (r,) = simulate(addrs(60), [lv(1024, 2)], sizes=np.array([8]))
    assert (r.accesses, r.misses) == (2, 2)


def test_second_level_sees_misses_and_writebacks():
    # L1: one 64 B line. L2: 4 lines fully associative. Store 0, load 64, load 0.
    # L1: 3 misses; evicting dirty line 0 writes it back (an L2 write that hits).
    # L2 accesses = 3 fetches + 1 write-back = 4; hits: the write-back of 0 and the re-fetch of 0.
    l1, l2 = simulate(addrs(0, 64, 0), [lv(64, 1), lv(256, 4)], writes=np.array([1, 0, 0]))
    assert (l1.misses, l1.writebacks) == (3, 1)
    assert (l2.accesses, l2.hits, l2.misses) == (4, 2, 2)
    assert l2.bytes_from_next == 2 * 64 and l2.bytes_to_next == 0  # L2 keeps the dirty line


def test_inclusive_back_invalidation():
    # L1: 1 set x 2 ways. L2: 2 sets x 1 way (direct mapped), lines 0 and 2 collide in L2 set 0.
    levels = [lv(128, 2), lv(128, 1)]
    trace = addrs(0, 128, 0)  # lines 0, 2, 0
    # inclusive: fetching 2 into L2 evicts 0 there and removes it from L1, so the last 0 misses
    # in L1 too; fetching 0 again evicts 2 from L2 and from L1: 2 invalidations in L1.
    l1, l2 = simulate(trace, levels, inclusive=True)
    assert (l1.accesses, l1.misses, l1.evictions, l1.invalidations) == (3, 3, 0, 2)
    assert (l2.accesses, l2.misses, l2.evictions) == (3, 3, 2)
    # non-inclusive: L1 keeps both lines, the last 0 hits
    l1, l2 = simulate(trace, levels)
    assert (l1.misses, l1.hits, l1.invalidations) == (2, 1, 0)
    assert (l2.accesses, l2.misses, l2.evictions) == (2, 2, 1)


# ------------------------------------------------------------------ against the naive twin

def _random_case(rng):
    nlev = int(rng.integers(1, 4))
    line = int(rng.choice([16, 32, 64]))
    configs, levels = [], []
    capacity = 0
    for i in range(nlev):
        line_i = line * int(rng.choice([1, 2])) if i else line  # outer lines equal or larger
        kind = rng.choice(["direct", "set", "full"])
        policy = str(rng.choice(["lru", "fifo", "random", "plru"]))
        if kind == "direct":
            ways, sets = 1, int(rng.choice([1, 3, 4, 8]))
        elif kind == "set":
            ways, sets = int(rng.choice([2, 4, 8])), int(rng.choice([2, 3, 4]))
        else:
            ways, sets = int(rng.choice([2, 4, 8, 16])), 1
        sets = max(sets, (capacity // (ways * line_i)) + 1)  # keep capacities growing outward
        capacity = sets * ways * line_i
        wb, wa = bool(rng.random() < 0.7), bool(rng.random() < 0.7)
        configs.append((capacity, ways, line_i, policy, wb, wa))
        levels.append(lv(capacity, ways, line_i, policy,
                         "write-back" if wb else "write-through", wa))
        line = line_i
    n = 1500
    footprint = int(rng.choice([512, 2048, 8192]))
    trace = rng.integers(0, footprint, n).astype(np.uint64)
    sizes = rng.integers(1, 2 * levels[0].line_bytes, n) if rng.random() < 0.5 else None
    writes = rng.random(n) < 0.3 if rng.random() < 0.7 else None
    return configs, levels, trace, sizes, writes


@pytest.mark.parametrize("case", range(48))
def test_matches_naive_simulator(case):
    rng = np.random.default_rng(1000 + case)
    configs, levels, trace, sizes, writes = _random_case(rng)
    inclusive = bool(case % 3 == 0)
    seed = case
    got = counts(simulate(trace, levels, sizes=sizes, writes=writes, inclusive=inclusive,
                          seed=seed))
    want = naive_simulate(configs, trace.tolist(), None if sizes is None else sizes.tolist(),
                          None if writes is None else writes.tolist(), inclusive=inclusive,
                          seed=seed)
    assert got == want


@pytest.mark.parametrize("policy", ["lru", "fifo", "random", "plru"])
def test_each_policy_matches_naive_with_writes_two_levels(policy):
    rng = np.random.default_rng(7)
    trace = rng.integers(0, 16384, 3000).astype(np.uint64)
    writes = rng.random(3000) < 0.4
    configs = [(1024, 4, 64, policy, True, True), (4096, 8, 64, policy, True, True)]
    levels = [lv(*c[:4]) for c in configs]
    for inclusive in (False, True):
        got = counts(simulate(trace, levels, writes=writes, inclusive=inclusive, seed=3))
        want = naive_simulate(configs, trace.tolist(), writes=writes.tolist(),
                              inclusive=inclusive, seed=3)
        assert got == want


def test_random_policy_depends_on_seed_only():
    trace = np.random.default_rng(0).integers(0, 1 << 16, 5000).astype(np.uint64)
    level = [lv(2048, 8, policy="random")]
    a = simulate(trace, level, seed=1)[0].misses
    assert a == simulate(trace, level, seed=1)[0].misses
    assert a != simulate(trace, level, seed=2)[0].misses  # checked: seeds 1 and 2 differ here


# ------------------------------------------------------------------ the specialised LRU kernel
# Every level LRU, write-back + write-allocate, one line size, non-inclusive (any set counts):
# Hierarchy runs roofsim.kernels.cachesim.simulate_lru (levels one after another over a chunk).

def _lru_case(rng, n, footprint):
    nlev = int(rng.integers(1, 4))
    line = int(rng.choice([16, 32, 64]))
    configs, levels, capacity = [], [], 0
    for _ in range(nlev):
        ways = int(rng.choice([1, 2, 3, 4, 8, 16]))  # 2, 4, 8, 16 have vector copies; others not
        sets = (1 << int(rng.integers(0, 5))) * int(rng.choice([1, 1, 3, 5]))  # set = line % sets
        while sets * ways * line <= capacity:
            sets *= 2
        capacity = sets * ways * line
        configs.append((capacity, ways, line, "lru", True, True))
        levels.append(lv(capacity, ways, line))
    trace = rng.integers(0, footprint, n).astype(np.uint64)
    if rng.random() < 0.3:  # runs of the same line (merged into one request by the kernel)
        trace = np.sort(trace)
    writes = rng.random(n) < 0.3 if rng.random() < 0.7 else None
    sizes = None
    if rng.random() < 0.3:  # sizes that stay inside one line take the fast path too
        sizes = line - trace.astype(np.int64) % line
    return configs, levels, trace, sizes, writes


@pytest.mark.parametrize("case", range(24))
def test_lru_kernel_matches_naive(case):
    rng = np.random.default_rng(5000 + case)
    configs, levels, trace, sizes, writes = _lru_case(rng, 1500, int(rng.choice([1024, 8192])))
    h = Hierarchy(levels)
    assert h._fast
    got = counts(h.feed(trace, sizes=sizes, writes=writes).results())
    wl = None if writes is None else writes.tolist()
    assert got == naive_simulate(configs, trace.tolist(),
                                 None if sizes is None else sizes.tolist(), wl)
    assert got == naive_simulate_lru_levels(configs, trace.tolist(), wl)


@pytest.mark.parametrize("case", range(24))
def test_lru_kernel_equals_general_kernel_in_any_chunks(case):
    # counts and the whole state (tags, dirty bits, LRU order) equal the general kernel's, for
    # one pass, for chunks of any size (1 to past the kernel's internal chunk of 4096), and when
    # the two kernels take turns on one hierarchy
    rng = np.random.default_rng(7000 + case)
    configs, levels, trace, sizes, writes = _lru_case(rng, 12000, int(rng.choice([4096, 1 << 16])))
    general = Hierarchy(levels)
    general._fast = False
    general.feed(trace, sizes=sizes, writes=writes)
    step = int(rng.choice([1, 97, 4096, 5000, 12000]))
    for alternate in (False, True):
        h = Hierarchy(levels)
        for i in range(0, len(trace), step):
            h._fast = not (alternate and (i // step) % 2)
            h.feed(trace[i:i + step], sizes=None if sizes is None else sizes[i:i + step],
                   writes=None if writes is None else writes[i:i + step])
        assert counts(h.results()) == counts(general.results())
        assert np.array_equal(h._tags, general._tags)


def test_lru_kernel_with_prefetched_level_equals_general_kernel():
    # the 4 MiB level's tags (65,536 ways x 8 B) exceed PREFETCH_BYTES, so its pass touches sets
    # ahead; the uniform trace over 16 MiB crosses several 4096-access chunks
    from roofsim.kernels.cachesim import PREFETCH_BYTES

    levels = [lv(1024, 2), lv(16384, 4), lv(4 << 20, 16)]
    assert levels[2].sets * 16 * 8 > PREFETCH_BYTES
    rng = np.random.default_rng(9)
    trace = rng.integers(0, 16 << 20, 30000).astype(np.uint64)
    writes = rng.random(30000) < 0.25
    fast, general = Hierarchy(levels), Hierarchy(levels)
    general._fast = False
    fast.feed(trace, writes=writes)
    general.feed(trace, writes=writes)
    assert counts(fast.results()) == counts(general.results())
    assert np.array_equal(fast._tags, general._tags)
    assert fast.results()[2].accesses > 20000  # the outer level really saw a stream


def test_lru_kernel_with_a_set_count_that_is_not_a_power_of_two():
    # 768 B 4-way 64 B = 3 sets; set = line % 3. Lines 0, 3, 6, 9, 12 all map to set 0 (4 ways):
    # 5 misses, the fifth evicting line 0; then line 0 misses again (evicting 3) and line 12
    # hits: 7 accesses, 1 hit, 6 misses, 2 evictions. Lines 1 and 4 (set 1) miss without
    # evicting: 9 accesses, 1 hit, 8 misses, 2 evictions. A mask (line & 2) would put line 3
    # in set 1 and line 6 in set 2, and give no evictions at all.
    h = Hierarchy([lv(3 * 256, 4)])
    assert h._fast and h.levels[0].sets == 3
    lines = [0, 3, 6, 9, 12, 0, 12, 1, 4]
    r = h.feed(addrs(*[64 * x for x in lines])).results()[0]
    assert (r.accesses, r.hits, r.misses, r.evictions) == (9, 1, 8, 2)
    configs = [(3 * 256, 4, 64, "lru", True, True)]
    assert counts((r,)) == naive_simulate(configs, [64 * x for x in lines])


def test_lru_kernel_widens_int32_tags_at_the_first_line_they_cannot_hold():
    # 1 KiB 2-way 64 B = 8 sets. The specialised kernel keeps int32 tags (line << 1 | dirty)
    # while every line number is below 2**30 (NARROW_LINES). Lines 0, 2**30 and 2**31 (byte
    # addresses 0, 2**36, 2**37) all map to set 0 (2**30 % 8 = 0). Trace L0 L1 L0 L2 L1:
    # miss, miss, hit (L0 MRU, L1 LRU), miss evicting L1, miss evicting L0: 1 hit, 4 misses,
    # 2 evictions. Truncated to int32, L1's tag 2**31 | 0 would read as a negative (empty)
    # way and the evictions would be miscounted.
    from roofsim.kernels.cachesim_layout import NARROW_LINES

    assert NARROW_LINES == 1 << 30
    h = Hierarchy([lv(1024, 2)])
    h.feed(addrs(0))
    assert h._tags.dtype == np.int32
    h.feed(addrs(1 << 36, 0, 1 << 37, 1 << 36))
    assert h._tags.dtype == np.int64
    r = h.results()[0]
    assert (r.accesses, r.hits, r.misses, r.evictions) == (5, 1, 4, 2)
    h.reset()
    assert h._tags.dtype == np.int32


@pytest.mark.parametrize("at", [0, 4095, 4096, 9000])
def test_lru_kernel_widening_mid_trace_equals_naive(at):
    # the first line of 2**30 or more at index `at` (first access, last of a 4096-access
    # round, first of the next, mid-round): the round that meets it stops unchanged, the tags
    # widen, and the whole trace still equals the naive twin and the general kernel
    levels = [lv(1024, 2), lv(8192, 4), lv(65536, 16)]
    configs = [(1024, 2, 64, "lru", True, True), (8192, 4, 64, "lru", True, True),
               (65536, 16, 64, "lru", True, True)]
    rng = np.random.default_rng(at)
    trace = rng.integers(0, 1 << 18, 12000).astype(np.uint64)
    trace[at:] += np.uint64((1 << 36) - (1 << 17))  # straddles line 2**30 from `at` on
    trace[at] = 1 << 36
    writes = rng.random(12000) < 0.3
    h, general = Hierarchy(levels), Hierarchy(levels)
    general._fast = False
    h.feed(trace, writes=writes)
    general.feed(trace, writes=writes)
    assert h._tags.dtype == np.int64
    assert counts(h.results()) == naive_simulate(configs, trace.tolist(), None, writes.tolist())
    assert counts(h.results()) == counts(general.results())
    assert np.array_equal(h._tags, general._tags)


def test_load_kernels_leaves_the_hierarchy_empty():
    h = Hierarchy([lv(1024, 2), lv(8192, 4)])
    h.load_kernels(1 << 40, spanning=True)
    assert h._tags.dtype == np.int32 and (h._tags == -1).all()
    assert all(r.accesses == 0 for r in h.results()) and h.trace_accesses == 0


def test_general_kernel_serves_what_the_lru_kernel_cannot():
    assert not Hierarchy([lv(1024, 2), lv(4096, 4, 128)])._fast       # two line sizes
    assert not Hierarchy([lv(1024, 2), lv(4096, 4)], inclusive=True)._fast
    assert not Hierarchy([lv(1024, 2, policy="fifo")])._fast
    assert not Hierarchy([lv(1024, 2, wp="write-through")])._fast
    # an access spanning two lines goes to the general kernel, with the same counts as naive
    configs = [(1024, 2, 64, "lru", True, True)]
    got = counts(simulate(addrs(60, 0, 200), [lv(1024, 2)], sizes=np.array([8, 4, 100])))
    assert got == naive_simulate(configs, [60, 0, 200], [8, 4, 100])


# ------------------------------------------------------------------ chunking and inclusion

@pytest.mark.parametrize("chunk", [1, 7, 999])
def test_chunks_equal_one_pass(chunk):
    rng = np.random.default_rng(11)
    n = 4000
    trace = rng.integers(0, 1 << 15, n).astype(np.uint64)
    sizes = rng.integers(1, 100, n)
    writes = rng.random(n) < 0.3
    levels = [lv(1024, 4, 32, "random"), lv(4096, 4, 64, "plru"), lv(16384, 8, 64, "lru")]
    for inclusive in (False, True):
        one = simulate(trace, levels, sizes=sizes, writes=writes, inclusive=inclusive, seed=5)
        many = simulate(trace, levels, sizes=sizes, writes=writes, inclusive=inclusive, seed=5,
                        chunk=chunk)
        assert counts(one) == counts(many)


def test_lru_hits_never_decrease_as_ways_grow():
    # LRU inclusion (Mattson): with the set count fixed, a w-way set holds the w most recent
    # lines of that set, a subset of what w+1 ways hold, so every hit stays a hit.
    rng = np.random.default_rng(3)
    trace = (rng.zipf(1.3, 20000) * 64 % (1 << 20)).astype(np.uint64)
    sets = 16
    hits = [simulate(trace, [lv(sets * w * 64, w)])[0].hits for w in range(1, 17)]
    assert all(a <= b for a, b in zip(hits, hits[1:])), hits
    assert hits[0] < hits[-1]


def test_counts_are_consistent():
    rng = np.random.default_rng(5)
    trace = rng.integers(0, 1 << 18, 20000).astype(np.uint64)
    writes = rng.random(20000) < 0.2
    res = simulate(trace, [lv(4096, 4), lv(32768, 8), lv(131072, 16)], writes=writes)
    for r in res:
        assert r.hits + r.misses == r.accesses
        assert r.evictions <= r.misses
    # level i+1 serves level i's fetches and write-backs (write-back, write-allocate, equal lines)
    for inner, outer in zip(res, res[1:]):
        assert outer.accesses == inner.misses + inner.writebacks
        assert inner.bytes_from_next == 64 * inner.misses


# ------------------------------------------------------------------ errors

def test_level_spec_parsing():
    c = CacheLevelConfig.parse("32KiB,8,64,lru")
    assert (c.capacity_bytes, c.ways, c.line_bytes, c.policy, c.sets) == (32768, 8, 64, "lru", 64)
    c = CacheLevelConfig.parse("1MiB,full,128B,plru,wt,nwa")
    assert (c.ways, c.line_bytes, c.write_policy, c.write_allocate) == (8192, 128, "write-through",
                                                                        False)


@pytest.mark.parametrize("text, message", [
    ("32KiB,8,64", "level '32KiB,8,64': expected CAPACITY,WAYS,LINE,POLICY[,wb|wt[,wa|nwa]] "
                   "(e.g. 32KiB,8,64,lru)"),
    ("32KiB,8,64,lfu", "cache level: policy: expected one of lru, fifo, random, plru, "
                       "found 'lfu'"),
    ("24KiB,8,48,lru", "cache level: line_bytes: expected a power of two, found 48"),
    ("1000B,8,64,lru", "cache level: capacity_bytes: expected a multiple of ways x line_bytes = "
                       "512, found 1000"),
    ("32KiB,x,64,lru", "level '32KiB,x,64,lru': ways: expected an integer or 'full', found 'x' "
                       "(e.g. 32KiB,8,64,lru)"),
    ("24KiB,6,64,plru", "cache level: ways: tree-PLRU needs a power of two, found 6"),
])
def test_bad_level_specs(text, message):
    with pytest.raises(CacheConfigError) as e:
        CacheLevelConfig.parse(text)
    assert str(e.value) == message


def test_bad_traces():
    h = Hierarchy([lv(1024, 2)])
    with pytest.raises(CacheConfigError, match="expected integer byte addresses"):
        h.feed(np.zeros(3, np.float64))
    with pytest.raises(CacheConfigError, match="expected 3 flags"):
        h.feed(addrs(1, 2, 3), writes=np.zeros(2, bool))
    with pytest.raises(CacheConfigError, match="at least one level"):
        check_hierarchy([])
