"""Cache predictors on stand-in hardware: hand-derived streaming bytes, MRC vs simulation."""
from types import SimpleNamespace as NS

import pytest

from roofsim.cache.predictors import MRCPredictor, SimulationPredictor, cache_levels
from roofsim.cache.traces import SequentialAccess
from roofsim.errors import CacheConfigError
from roofsim.ops.access import GatherAccess, SparseAccess


def level(name, type, capacity=None, line=None, ways=None, instances=1):
    return NS(name=name, type=type, capacity_bytes=capacity, instances=instances,
              line_bytes=line, ways=ways)


HW = NS(memory=(
    level("regs", "register", 64 * 1024.0),
    level("l1", "cache", 32 * 1024.0, 64.0, 8),
    level("l2", "cache", 1024 * 1024.0, 128.0, 16),
    level("hbm", "main", 80 * 2.0**30),
    level("host", "far"),
))


@pytest.mark.parametrize("predictor", [MRCPredictor(), SimulationPredictor()])
def test_streaming_that_fits_costs_the_compulsory_lines(predictor):
    # 16 KiB read 3 times in 8-byte accesses; it fits in L1 (32 KiB) and in L2.
    # regs and L1 serve every byte: 3 x 16384 = 49152.
    # L2 serves L1's misses: only the first pass, 16384 / 64 = 256 lines x 64 B = 16384.
    # main serves L2's misses: 16384 / 128 = 128 lines x 128 B = 16384 (compulsory).
    # far memory: 0.
    op = NS(access=SequentialAccess(16384, passes=3, access_bytes=8))
    assert predictor.level_bytes(op, HW) == (49152.0, 49152.0, 16384.0, 16384.0, 0.0)


def test_streaming_that_does_not_fit_streams_every_pass():
    # 64 KiB x 2 passes through a 32 KiB LRU L1: LRU keeps the last 32 KiB, which the next pass
    # evicts before reusing, so L1 misses every line of both passes: 2 x 1024 lines x 64 B.
    # L2 (1 MiB) holds it all: main serves 65536 B once.
    op = NS(access=SequentialAccess(65536, passes=2, access_bytes=8))
    for p in (MRCPredictor(), SimulationPredictor()):
        assert p.level_bytes(op, HW)[1:4] == (131072.0, 131072.0, 65536.0)


def test_gathers_mrc_and_simulation_agree_roughly():
    # Different models (fully associative vs 8/16-way) of the same trace: close, not equal.
    op = NS(access=GatherAccess(lookups=50000, row_bytes=256, table_rows=20000,
                                distribution="zipf"))
    mrc = MRCPredictor().level_bytes(op, HW)
    sim = SimulationPredictor().level_bytes(op, HW)
    assert mrc[:2] == sim[:2] == (50000 * 256.0,) * 2
    for a, b in zip(mrc[2:4], sim[2:4]):
        assert abs(a - b) / b < 0.05


def test_memo_scaling_and_streamed_rest():
    p = SimulationPredictor(max_accesses=1000)
    acc = SparseAccess(rows=100, cols=4000, nnz=4000, feature_bytes=64)
    op = NS(access=acc, read_bytes=4000 * 64 + 1000.0, write_bytes=500.0)
    first = p.level_bytes(op, HW)
    assert p.level_bytes(op, HW) == first and len(p._memo) == 1
    # 1000 of 4000 nonzeros simulated, scaled x4: registers see all 4000 x 64 gathered bytes
    # plus the 1500 streamed bytes (indices, outputs) that the descriptor does not cover
    assert first[0] == 4000 * 64 + 1500.0 and first[4] == 0.0


def test_hierarchy_from_spec_defaults():
    hw = NS(memory=(level("l1", "cache", 96 * 1024.0, None, None, instances=2),
                    level("dram", "main", 1e9)))
    ((j, lv),) = cache_levels(hw)
    # total capacity 2 x 96 KiB; defaults 64 B lines, 16 ways: 192 sets
    assert (j, lv.capacity_bytes, lv.line_bytes, lv.ways, lv.sets) == (0, 196608, 64, 16, 192)


def test_op_without_trace_descriptor():
    with pytest.raises(CacheConfigError, match="cannot build a trace for a DenseAccess"):
        from roofsim.ops.access import DenseAccess
        MRCPredictor().level_bytes(NS(access=DenseAccess(8, 8, 8)), HW)
