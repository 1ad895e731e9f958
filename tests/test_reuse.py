"""Reuse distance and miss-ratio curves: naive twin, LRU simulation at every size, SHARDS error."""
import numpy as np
import pytest

from roofsim.cache.config import CacheLevelConfig
from roofsim.cache.mrc import line_accesses, mrc
from roofsim.cache.simulator import simulate
from roofsim.kernels.reuse import stack_distance_histogram

from naive import naive_fully_associative_lru_misses, naive_stack_distances


def naive_hist(lines):
    d = naive_stack_distances(list(lines))
    cold = sum(x is None for x in d)
    seen = [x for x in d if x is not None]
    hist = np.bincount(seen).astype(np.int64) if seen else np.zeros(0, np.int64)
    return hist, cold


@pytest.mark.parametrize("seed", range(12))
def test_histogram_matches_naive(seed):
    rng = np.random.default_rng(seed)
    lines = rng.integers(0, int(rng.integers(1, 400)), int(rng.integers(1, 2500))).astype(np.int64)
    hist, cold, _ = stack_distance_histogram(lines, 4096)
    want_hist, want_cold = naive_hist(lines)
    assert cold == want_cold
    assert np.array_equal(hist, want_hist)


def test_histogram_survives_compaction_and_growth():
    # 12,000 accesses with few repeats of the previous line: time wraps the 4096-step structure
    # twice (compaction), and 3,000 distinct lines force it to grow (2 x 3000 > 4096).
    rng = np.random.default_rng(1)
    lines = rng.integers(0, 3000, 12000).astype(np.int64)
    hist, cold, _ = stack_distance_histogram(lines, 4096)
    want_hist, want_cold = naive_hist(lines)
    assert (cold, hist.tolist()) == (want_cold, want_hist.tolist())


def test_compaction_changes_nothing_over_many_blocks():
    # 12,000 distinct lines (3 blocks of 4096 marks, partial last words) and 200,000 accesses:
    # capacity 4096 compacts and grows many times; capacity past the trace length never does
    # (that path is checked against the naive twin above).
    rng = np.random.default_rng(8)
    lines = np.concatenate([rng.integers(0, 12000, 150000), np.arange(50000) % 7001])
    lines = lines.astype(np.int64)
    hist, cold, _ = stack_distance_histogram(lines, 4096)
    want_hist, want_cold, _ = stack_distance_histogram(lines, lines.shape[0] + 1)
    assert cold == want_cold == 12000
    assert np.array_equal(hist, want_hist)


SPREAD = np.int64(1) << np.int64(40)  # line numbers this far apart take the hash-table path


@pytest.mark.parametrize("spread", [False, True], ids=["dense", "hash"])
@pytest.mark.parametrize("n", [4095, 4096, 4097, 8193])
def test_chunk_boundaries_match_naive(n, spread):
    # runs of one line straddling the 4096-access stages (a repeat of the previous line carries
    # over a chunk boundary), few distinct lines; both the direct-mapped and the hash-table path
    rng = np.random.default_rng(n)
    lines = np.repeat(rng.integers(0, 60, n), rng.integers(1, 4, n))[:n].astype(np.int64)
    lines[4094:4099] = lines[4093]
    if spread:
        lines = lines * SPREAD + 3
    hist, cold, _ = stack_distance_histogram(lines, 4096)
    want_hist, want_cold = naive_hist(lines)
    assert (cold, hist.tolist()) == (want_cold, want_hist.tolist())


def test_hash_path_survives_compaction_and_growth():
    # sparse line numbers (no direct-mapped array): 3,000 distinct lines, 12,000 accesses; the
    # hash table grows (rehash) and the counters compact and grow
    # (the trace of test_histogram_survives_compaction_and_growth, whose dense run the naive
    # twin checks: compare with that run rather than repeat the slow twin)
    rng = np.random.default_rng(1)
    dense = rng.integers(0, 3000, 12000).astype(np.int64)
    hist, cold, _ = stack_distance_histogram(dense * SPREAD + 5, 4096)
    want_hist, want_cold, _ = stack_distance_histogram(dense, 4096)
    assert cold == want_cold
    assert np.array_equal(hist, want_hist)


def test_counts_across_groups_of_2_18_time_steps():
    # capacity past the trace length: times run to 600,000, over three 2^18-step groups (the
    # group-level Fenwick tree); capacity 4096 compacts and stays within one group, a path the
    # naive twin checks above
    rng = np.random.default_rng(11)
    lines = rng.integers(0, 5000, 600000).astype(np.int64)
    hist, cold, _ = stack_distance_histogram(lines, lines.shape[0] + 1)
    want_hist, want_cold, _ = stack_distance_histogram(lines, 4096)
    assert cold == want_cold == 5000
    assert np.array_equal(hist, want_hist)


def test_hand_derived_distances():
    # lines a b c a b b: a,b,c cold; a at distance 2 (b, c between); b at 2 (c, a); b again at 0
    hist, cold, _ = stack_distance_histogram(np.array([0, 1, 2, 0, 1, 1], np.int64), 4096)
    assert cold == 3 and hist.tolist() == [1, 0, 2]
    curve = mrc(np.array([0, 64, 128, 0, 64, 64], np.uint64), 64)
    # 1 line: misses = 3 cold + 2 at distance 2 = 5; 2 lines: still 5; 3 lines: only the 3 cold
    assert curve.misses([64, 128, 192]).tolist() == [5, 5, 3]


def test_mrc_equals_fully_associative_lru_simulation_at_every_size():
    rng = np.random.default_rng(4)
    trace = (rng.zipf(1.2, 20000) % 3000 * 64 + rng.integers(0, 64, 20000)).astype(np.uint64)
    curve = mrc(trace, 64)
    for lines in list(range(1, 65)) + [100, 257, 1000, 2999, 3000]:
        (r,) = simulate(trace, [CacheLevelConfig(lines * 64, lines, 64, "lru")])
        assert curve.misses(lines * 64) == r.misses, lines
    # and the naive recency list agrees at a few sizes
    short = (trace[:3000] >> np.uint64(6)).tolist()
    small = mrc(trace[:3000], 64)
    for lines in (1, 5, 50, 500):
        assert small.misses(lines * 64) == naive_fully_associative_lru_misses(short, lines)


def test_line_accesses_split_spanning_accesses():
    # 60+8 spans lines 0 and 1; 130+2 is inside line 2; 0+200 covers lines 0..3
    lines = line_accesses(np.array([60, 130, 0], np.uint64), 64, np.array([8, 2, 200]))
    assert lines.tolist() == [0, 1, 2, 0, 1, 2, 3]


def test_shards_error_within_stated_bound():
    # Stated in roofsim/cache/mrc.py: R = 0.1, sizes >= 1/R lines, ~2,000 sampled lines:
    # uniform max error <= 0.07 and mean <= 0.06; Zipf(1.1) with hot lines: max <= 0.25.
    rng = np.random.default_rng(2024)
    uniform = rng.integers(0, 20000 * 64, 200000).astype(np.uint64)
    zipf = (rng.zipf(1.1, 200000) % 50000 * 64).astype(np.uint64)
    for trace, max_bound, mean_bound in ((uniform, 0.07, 0.06), (zipf, 0.25, 0.07)):
        exact = mrc(trace, 64)
        sampled = mrc(trace, 64, sample_rate=0.1, seed=0)
        assert 0.09 < sampled.sampled / exact.accesses < 0.11 or trace is zipf
        sizes = exact.default_sizes()
        sizes = sizes[sizes >= 10 * 64]
        err = np.abs(exact.miss_ratio(sizes) - sampled.miss_ratio(sizes))
        assert err.max() <= max_bound and err.mean() <= mean_bound, (err.max(), err.mean())


# ---- the measured part after a warm-up (mrc.measured_curve) --------------------------------------
def test_measured_curve_hand_derived():
    # lines a b c | a d b: the measured part is "a d b" after the warm-up "a b c".
    # a: distance 2 (b, c since its use); d: cold; b: distance 3 (c, a, d since its use)
    from roofsim.cache.mrc import measured_curve
    curve = measured_curve(np.array([0, 64, 128, 0, 192, 64], np.uint64), 3, 64)
    assert (curve.cold, curve.hist.tolist(), curve.accesses) == (1, [0, 0, 1, 1], 3)
    # 2 lines: all 3 miss; 3 lines: a hits, d and b miss; 4 lines: only d (cold) misses
    assert curve.misses([128, 192, 256]).tolist() == [3, 2, 1]


@pytest.mark.parametrize("seed", range(16))
def test_measured_curve_matches_the_naive_distances_of_the_measured_part(seed):
    # Line numbers dense (the table path) or 2^40 apart (the np.unique path); measured parts
    # short (counted directly) or beyond SMALL_MEASURED (the difference of two kernel curves).
    from roofsim.cache.mrc import SMALL_MEASURED, measured_curve
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 2500)) if seed % 4 else SMALL_MEASURED + 600
    start = int(rng.integers(0, n + 1)) if seed % 4 else 100
    lines = rng.integers(0, int(rng.integers(1, 300)), n).astype(np.int64)
    if seed % 2:
        lines = lines * SPREAD
    curve = measured_curve(lines.astype(np.uint64), start, 1)   # 1-byte lines: addresses are lines
    d = naive_stack_distances(lines.tolist())[start:]
    seen = [x for x in d if x is not None]
    assert curve.cold == sum(x is None for x in d)
    assert curve.hist[:len(np.bincount(seen)) if seen else 0].tolist() == (np.bincount(seen).tolist() if seen else [])
    assert not curve.hist[len(np.bincount(seen)) if seen else 0:].any()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("layout", ["rows", "ragged", "far-apart"])
def test_measured_curve_is_the_whole_curve_less_the_warm_up_curve(seed, layout):
    # Accesses spanning several lines, at every capacity: rows of one size (a table's), ragged
    # sizes that overlap each other's lines, and addresses up to 2^61 (the sorting paths).
    from roofsim.cache.mrc import measured_curve
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(50, 3000))
    start = int(rng.integers(0, n))
    if layout == "rows":
        addrs = (rng.integers(0, int(rng.integers(1, 300)), n) * 256).astype(np.uint64)
        sizes = np.full(n, 256)
    else:
        top = 1 << 61 if layout == "far-apart" else int(rng.integers(1, 300)) * 64
        addrs = rng.integers(0, top, n).astype(np.uint64)
        sizes = rng.integers(1, 300, n)
        if layout == "far-apart":   # a measured part short enough to be counted directly
            start = n - int(rng.integers(1, 12))
    line = 1 if layout == "far-apart" else 64   # 1-byte lines 2^61 apart: (line, span) keys overflow a product
    caps = np.arange(0, 700 * 64, 37.0)
    whole, warm = mrc(addrs, line, sizes), mrc(addrs[:start], line, sizes[:start])
    got = measured_curve(addrs, start, line, sizes)
    assert np.array_equal(got.misses(caps), whole.misses(caps) - (warm.misses(caps) if start else 0))
    assert got.accesses == whole.accesses - (warm.accesses if start else 0)
