"""Sparse cache levels: a level larger than DENSE_SLOTS keeps only the sets the trace touches.
Results equal the naive twin's and the dense representation's, in any chunks and through any
number of growths; memory follows the trace's lines, not the capacity."""
import numpy as np
import pytest

from roofsim.cache import simulator
from roofsim.cache.config import CacheLevelConfig
from roofsim.cache.simulator import Hierarchy

from naive import naive_simulate
from test_cachesim import _lru_case, _random_case, counts


@pytest.fixture
def grow_often(monkeypatch):
    # start every sparse level with room for one set, so the arrays grow (and the hash tables
    # are rebuilt) many times within one trace
    monkeypatch.setattr(simulator, "FIRST_SPARSE_SETS", 1)


def naive(configs, trace, sizes, writes, inclusive=False, seed=0):
    return naive_simulate(configs, trace.tolist(), None if sizes is None else sizes.tolist(),
                          None if writes is None else writes.tolist(), inclusive=inclusive,
                          seed=seed)


@pytest.mark.parametrize("case", range(24))
def test_sparse_general_kernel_matches_naive(case, grow_often):
    rng = np.random.default_rng(1000 + case)  # the cases of test_cachesim's naive comparison
    configs, levels, trace, sizes, writes = _random_case(rng)
    inclusive = bool(case % 3 == 0)
    h = Hierarchy(levels, inclusive=inclusive, seed=case, dense_slots=0)
    h._fast = False
    step = int(rng.choice([1, 7, 1500]))
    for i in range(0, len(trace), step):
        h.feed(trace[i:i + step], None if sizes is None else sizes[i:i + step],
               None if writes is None else writes[i:i + step])
    assert counts(h.results()) == naive(configs, trace, sizes, writes, inclusive, case)


@pytest.mark.parametrize("case", range(12))
def test_sparse_lru_kernel_matches_naive(case, grow_often):
    rng = np.random.default_rng(5000 + case)
    configs, levels, trace, sizes, writes = _lru_case(rng, 12000, int(rng.choice([4096, 1 << 16])))
    h = Hierarchy(levels, dense_slots=0)
    assert h._fast
    h.feed(trace, sizes=sizes, writes=writes)
    assert counts(h.results()) == naive(configs, trace, sizes, writes)


@pytest.mark.parametrize("fast", [True, False])
def test_sparse_equals_dense_on_a_large_level(fast, grow_often):
    # 64 MiB 16-way = 65,536 sets; 60,000 accesses over 256 MiB touch ~60,000 of them, so the
    # sparse level grows from 1 set through 2^16 (17 doublings) and must end where dense does
    levels = [CacheLevelConfig.parse(s) for s in ("32KiB,8,64,lru", "1MiB,16,64,lru", "64MiB,16,64,lru")]
    rng = np.random.default_rng(3)
    trace = rng.integers(0, 256 << 20, 60000).astype(np.uint64)
    writes = rng.random(60000) < 0.3
    dense, sparse = Hierarchy(levels), Hierarchy(levels, dense_slots=0)
    dense._fast = sparse._fast = fast
    dense.feed(trace, writes=writes)
    sparse.feed(trace, writes=writes)
    assert counts(sparse.results()) == counts(dense.results())


@pytest.mark.parametrize("fast", [True, False])
def test_dense_sparse_boundary(fast):
    # 64 KiB 4-way 64 B = 256 sets x 4 ways = 1024 slots: dense when dense_slots is 1024 (ways x
    # sets not above it), sparse at 1023; both equal the naive twin on a trace over 1 MiB that
    # touches every one of the 256 sets (12,000 accesses, 16,384 lines)
    from roofsim.kernels.cachesim_layout import P_DIR_MASK

    configs = [(4096, 2, 64, "lru", True, True), (65536, 4, 64, "lru", True, True)]
    levels = [CacheLevelConfig(4096, 2), CacheLevelConfig(65536, 4)]
    rng = np.random.default_rng(17)
    trace = rng.integers(0, 1 << 20, 12000).astype(np.uint64)
    writes = rng.random(12000) < 0.3
    expected = naive(configs, trace, None, writes)
    for slots, sparse in ((1024, False), (1023, True)):
        h = Hierarchy(levels, dense_slots=slots)
        h._fast = fast
        assert (h._params[1, P_DIR_MASK] >= 0) == sparse
        assert counts(h.feed(trace, writes=writes).results()) == expected


@pytest.mark.parametrize("level", ["16GiB,16,64,lru", "1TiB,16,64,lru", "1TiB,16,64,fifo",
                                   "1TiB,4,64,plru,wt,nwa"])
def test_hbm_sized_level_on_a_small_trace(level):
    # 2 MiB footprint = at most 32,768 lines of 64 B; consecutive lines fall in distinct sets of
    # the huge level, so nothing is evicted there and its misses are exactly the distinct lines
    # of the trace (all reads: the 1 MiB L2 misses each of them at least once)
    levels = [CacheLevelConfig.parse(s) for s in ("32KiB,8,64,lru", "1MiB,16,64,lru", level)]
    rng = np.random.default_rng(0)
    trace = rng.integers(0, 2 << 20, 200_000).astype(np.uint64)
    h = Hierarchy(levels).feed(trace)
    distinct = len(np.unique(trace >> np.uint64(6)))
    assert 32000 < distinct <= 32768  # 200,000 draws miss ~32768 x e^-6.1 = 73 lines
    big = h.results()[2]
    assert big.misses == distinct and big.evictions == 0
    # state: the sets in use x ways x 9 B (tag + PLRU byte) plus tables, far below the
    # 16 GiB / 64 x 9 B = 2.4 GB a dense level needs: allow 64 MiB
    assert h.allocated_bytes < 64 << 20


def test_reset_empties_a_sparse_level(grow_often):
    levels = [CacheLevelConfig.parse("64MiB,16,64,lru")]
    trace = np.arange(0, 64 * 5000, 64, dtype=np.uint64)
    h = Hierarchy(levels, dense_slots=0).feed(trace)
    h.reset()
    h.feed(trace)
    # after reset, the same 5,000 distinct lines miss again, each once
    assert h.results()[0].misses == 5000 and h.results()[0].hits == 0
