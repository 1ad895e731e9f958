"""Embedding tables that share one cache (roofsim/cache/shared.py): one steady-state trace of all
the tables' lookups, split by table; checked by hand, against the naive LRU twin and against
line-granular miss-ratio curves of the same trace."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

import roofsim
from naive import naive_fully_associative_lru_misses, naive_stack_distances
from roofsim.cache.mrc import mrc
from roofsim.cache.predictors import MRCPredictor, SimulationPredictor
from roofsim.cache.shared import SharedTables, layout, shared_curves, shared_trace
from roofsim.kernels.reuse import stack_distance_histogram, stack_distances
from roofsim.ops import kinds
from roofsim.ops.access import GatherAccess


def level(name, type, capacity=None, line=None, ways=None):
    return NS(name=name, type=type, capacity_bytes=capacity, instances=1, line_bytes=line, ways=ways)


def chip(cache_bytes, line=64, ways=16):
    return NS(memory=(level("l2", "cache", float(cache_bytes), float(line), ways), level("dram", "main", 2.0**34)))


@pytest.mark.parametrize("start", [0, 700, 1999, 2000])
def test_stack_distances_from_a_position_match_the_naive_twin(start):
    lines = np.random.default_rng(5).integers(0, 300, 2000).astype(np.int64)
    d, cold = stack_distances(lines, 4096, start)
    naive = [-1 if x is None else x for x in naive_stack_distances(lines.tolist())]
    assert d.tolist() == naive[start:]
    assert cold == stack_distance_histogram(lines, 4096)[1] == len(set(lines.tolist()))


def _two_tables(rows=1024, lookups=16384, row_bytes=64, pooling=1):
    return tuple(GatherAccess(lookups=lookups, row_bytes=row_bytes, table_rows=rows, distribution="uniform", seed=s,
                              pooling=pooling)
                 for s in (1, 2))


def test_two_tables_that_each_fill_the_cache_miss_once_per_row_and_step():
    # Two uniform tables of 2047 rows x 64 B (2047 lines each), 16,384 lookups per step each in one
    # bag (one 64 B output row per step, written after the bag), one after the other every step,
    # in a 128 KiB (2048-line) LRU cache.
    # Alone, a table fits: its rows and the output of a step, 2047 x (1 + 1/16384) lines <= 2048,
    # so in steady state nothing misses.
    # Shared: the other table's segment touches nearly all its 2047 rows (each with probability
    # 1 - (1 - 1/2047)^16384 = 0.99966) and writes its output, and the row's own table touched more
    # after its last use, so the first lookup of each row in a step has at least 2048 distinct
    # lines since its last use and misses; every later lookup of
    # it in the step has at most 2046 (the table's other rows; the outputs come after the bag)
    # and hits. Misses per step and table = the rows a step touches: 2047 (1 - (1 - 1/2047)^16384)
    # = 2046.3 lines from DRAM.
    first_touches = 2047 * (1 - (1 - 1 / 2047) ** 16384)
    accesses = _two_tables(rows=2047, pooling=16384)
    ops = [kinds.gather(f"t{i}", a.lookups, a.row_bytes, a.table_rows, seed=a.seed, pooling=a.pooling)
           for i, a in enumerate(accesses)]
    hw = chip(128 * 1024)
    streamed = 16384 * 4 + 64        # what DRAM serves besides the rows: an int32 id per lookup, one 64 B output
    for predictor in (MRCPredictor(), SimulationPredictor()):
        alone = [predictor.table_level_bytes([op], hw)[0] for op in ops]
        shared = predictor.table_level_bytes(ops, hw)
        for a, s in zip(alone, shared):
            assert a[1] == streamed                              # alone: every row resident
            assert s[0] == a[0] == 16384 * 64 + streamed         # every lookup reads its row from the cache
            assert s[1] - streamed == pytest.approx(first_touches * 64, rel=2e-3)


def test_one_table_shared_with_itself_is_the_naive_steady_state():
    # One Zipf table: the shared trace is step after step of its lookups, each (pooling 1) then
    # writing its row to a fresh output line; the measured step's table misses in a 256-line LRU
    # equal the naive twin's on the same rows and outputs (the warm-up fills the cache), less the
    # outputs' own misses (a fresh line misses once)
    a = GatherAccess(lookups=500, row_bytes=64, table_rows=20000, distribution="zipf", zipf_alpha=1.05, seed=3)
    curves = SharedTables(10**6).curves((a,), 64, 256 * 64)
    rows, order = shared_trace((a,), curves.segments, 10**6)
    lookups = np.concatenate([rows[t][s] for t, s in order]).tolist()
    fresh = 10**9 + np.arange(len(lookups))
    seq = [x for pair in zip(lookups, fresh.tolist()) for x in pair]
    warm = 2 * sum(rows[t][s].shape[0] for t, s in order if s > 0)
    naive = naive_fully_associative_lru_misses(seq, 256) - naive_fully_associative_lru_misses(seq[:warm], 256) - 500
    alone = naive_fully_associative_lru_misses(lookups, 256) - naive_fully_associative_lru_misses(lookups[:warm // 2], 256)
    assert curves.covered_lines >= 256
    assert curves.misses(0, 256 * 64, 64) == naive > alone     # the outputs evict hot rows


@pytest.mark.parametrize("row_bytes", [256, 96])   # rows of 4 whole lines (traced as rows), and not
def test_curves_equal_line_granular_mrcs_of_the_same_trace(row_bytes):
    acc = (GatherAccess(lookups=3000, row_bytes=row_bytes, table_rows=20000, distribution="zipf", seed=1),
           GatherAccess(lookups=5000, row_bytes=row_bytes, table_rows=50000, distribution="uniform", seed=2))
    c = shared_curves(acc, 64, 3, 10**6)
    rows, order = shared_trace(acc, 3, 10**6)
    bases = layout(acc)
    parts = [rows[t][s] for t, s in order]
    # each lookup (pooling 1) then writes its output row: whole lines (row_bytes rounded up to
    # 64 B: 256 and 128) at fresh, line-aligned addresses beyond both tables
    out_bytes = -(-row_bytes // 64) * 64
    fresh = np.uint64(1 << 40)
    addrs, sizes, ends, k_out = [], [], [], 0
    for t, s in order:
        rows_ts = np.uint64(bases[t]) + rows[t][s].astype(np.uint64) * np.uint64(row_bytes)
        outs = fresh + (np.uint64(k_out) + np.arange(rows_ts.shape[0], dtype=np.uint64)) * np.uint64(out_bytes)
        k_out += rows_ts.shape[0]
        addrs.append(np.stack([rows_ts, outs], 1).ravel())
        sizes.append(np.tile([row_bytes, out_bytes], rows_ts.shape[0]))
        ends.append(sum(a.shape[0] for a in addrs))
    addrs, sizes = np.concatenate(addrs), np.concatenate(sizes)
    for cap in (4096, 65536, 1 << 20):
        for t, k in ((0, len(parts) - 2), (1, len(parts) - 1)):   # the measured step's two segments
            lo, hi = ends[k - 1], ends[k]
            # LRU decisions on a prefix do not depend on what follows: misses of a segment =
            # misses(through it) - misses(before it), less its outputs' lines (each misses once)
            want = (mrc(addrs[:hi], 64, sizes[:hi]).misses(cap) - mrc(addrs[:lo], 64, sizes[:lo]).misses(cap)
                    - parts[k].shape[0] * out_bytes // 64)
            assert c.misses(t, cap, 64) == want


def test_a_longer_warm_up_changes_nothing_it_already_covered():
    acc = _two_tables(rows=50_000, lookups=3000, row_bytes=128)
    small, big = 16 * 1024, 4 * 2**20
    first = SharedTables(10**6)
    at_small = first.curves(acc, 64, small).misses(0, small, 64)
    grown = first.curves(acc, 64, big)          # needs more warm-up: rebuilt
    fresh = SharedTables(10**6).curves(acc, 64, big)
    assert grown.segments > 0 and grown.misses(0, small, 64) == at_small == fresh.misses(0, small, 64)


def _two_zipf_tables(lookups):
    from roofsim.ops import Workload
    # two Zipf tables of 10^6 rows x 256 B (256 MB each)
    return Workload("two-tables", tuple(kinds.gather(f"t{i}", lookups, 256, 10**6, distribution="zipf", seed=i)
                                        for i in range(2)))


def test_devices_do_not_change_each_others_answers():
    # one trace serves every device (its warm-up sized for the largest cache, the H100's 50 MiB
    # L2): evaluated together or alone (the T4's 4 MiB L2 alone needs a shorter one), the same
    from roofsim.hw import get_hardware
    from roofsim.roofline import evaluate
    wl = _two_zipf_tables(50_000)
    together = evaluate([get_hardware("h100"), get_hardware("t4")], wl, predictor=MRCPredictor())
    for hw in ("t4", "h100"):     # each with a fresh predictor: nothing built for the other
        alone = evaluate(get_hardware(hw), wl, predictor=MRCPredictor())
        mine = together[together["hardware"] == alone["hardware"].iloc[0]]
        for col in [c for c in alone.columns if c.startswith("bytes_")]:   # l2, main memory (hbm, gddr6), ...
            assert mine[col].tolist() == alone[col].tolist()
        assert mine["time_s"].tolist() == alone["time_s"].tolist()


def test_a_cache_capacity_sweep_reads_the_shared_curves_as_run_does():
    from roofsim.api import predictor
    from roofsim.hw import derive, get_hardware
    from roofsim.sweep import Sweep, param
    wl = _two_zipf_tables(200_000)     # HBM-bound gathers
    a100 = get_hardware("a100")
    sweep = Sweep(a100, [wl], [param("memory.l2.capacity", a100)], predictor=predictor("mrc"))
    caps = [8 * 2**20, 40 * 2**20, 160 * 2**20]
    got = sweep.evaluate(np.array([[c] for c in caps]))["time_s"]
    want = [roofsim.run(derive(a100, {"memory.l2.capacity": float(c)}, id=f"a100-l2-{c}"), wl)["time_s"].sum()
            for c in caps]
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    assert want[0] > want[1] > want[2]      # a larger L2 holds more of the hot rows


def test_an_spmm_builds_its_curves_once_for_every_device():
    # an SpMM's warm-up is its previous epoch whatever the caches: two chips with different L2s
    # read one pair of curves (64 B lines), and each gets what a fresh predictor computes
    from roofsim.cache.predictors import _TracePredictor, cache_levels
    from roofsim.ops.access import SparseAccess
    op = NS(access=SparseAccess(rows=3000, cols=3000, nnz=30000, feature_bytes=256))
    shared = MRCPredictor()
    for l2 in (64 * 1024, 256 * 1024):
        hw = chip(l2)
        configs = [lv for _, lv in cache_levels(hw)]
        want = _TracePredictor._measured(MRCPredictor(), op.access, configs)   # trace and curves made afresh
        assert shared._measured(op.access, configs) == want
    assert len(shared._curves) == 1
    # a hierarchy without a modelled cache still gets the bytes its trace reads: 30,000 x 256 B
    assert shared._measured(op.access, []) == ([], 30000 * 256.0)
