"""The kernel model (roofsim/kernelmodel.py): each effect checked on hand-derived cases."""
import dataclasses

import pytest

from roofsim.hw import derive, get_hardware as _catalogue
from roofsim.kernelmodel import DEFAULT_MEMORY_LATENCY_S, gemm_work, row_passes
from roofsim.ops import elementwise, gemm, softmax
from roofsim.roofline import evaluate, evaluate_arrays

H100_BF16 = 989.4e12     # hardware/h100-sxm5.yaml, dense bf16 tensor peak
H100_HBM = 3.35e12       # B/s


def get_hardware(name):
    """A catalogue device with roofsim's documented default efficiencies (the catalogue's H100
    carries fitted ones, which these hand-derived cases must not depend on)."""
    from roofsim.specs import DEFAULT_LATENCY_S, Efficiency
    hw = _catalogue(name)
    return dataclasses.replace(hw, efficiency=Efficiency(latency_s=DEFAULT_LATENCY_S[hw.kind]))


@pytest.fixture(scope="module")
def h100():
    # 132 SMs; 128 x 128 tiles only (no halved tiles), one per SM; no tile overhead and no split-K
    # unless a test sets them
    return derive(get_hardware("h100"), {"efficiency.kernel.tile_overhead_depth": 0, "efficiency.kernel.split_k_depth": 0,
                                         "efficiency.kernel.residency": False, "efficiency.kernel.tile_halvings": 0})


def _compute(hw, op):
    return evaluate_arrays(hw, [op]).t_compute[0, 0]


def test_a_full_wave_costs_its_flops_and_one_more_row_costs_a_second_wave(h100):
    frac = h100.efficiency.compute_fraction("bf16")
    # 1408 x 1536 = 11 x 12 tiles of 128 x 128 = 132 tiles = one wave on 132 SMs: exactly the roofline
    full = gemm("g", 1408, 1536, 4096, "bf16")
    assert _compute(h100, full) == pytest.approx(2 * 1408 * 1536 * 4096 / (H100_BF16 * frac), rel=1e-9)
    # one more row: 12 x 12 = 144 tiles = 2 waves of 132 tile slots, each a full 128 x 128 x 4096 tile:
    # 2 * 132 * 2*128*128*4096 FLOPs of occupancy for 2*1409*1536*4096 useful -> 4,325,376 / 2,164,224 = 1.9986x
    spill = gemm("g", 1409, 1536, 4096, "bf16")
    assert _compute(h100, spill) == pytest.approx(2 * 132 * 2 * 128 * 128 * 4096 / (H100_BF16 * frac), rel=1e-9)
    assert _compute(h100, spill) / _compute(h100, full) == pytest.approx(264 / 132, rel=1e-9)


def test_batched_gemms_share_the_waves(h100):
    # 66 GEMMs of 256 x 128 = 66 x 2 tiles = 132 tiles: one wave, no loss; 67 of them: 134 tiles, 2 waves
    one = gemm("b", 256, 128, 1024, "bf16", batch=66)
    two = gemm("b", 256, 128, 1024, "bf16", batch=67)
    assert gemm_work(h100, 256, 128, 1024, 66, 2.0) == pytest.approx(1.0)
    assert gemm_work(h100, 256, 128, 1024, 67, 2.0) == pytest.approx(2 * 132 / 134)
    assert _compute(h100, two) / _compute(h100, one) == pytest.approx(2.0, rel=1e-9)


def test_tile_columns_scale_with_the_element_size(h100):
    # fp32 tiles are 128 x 64 (tile_n x 2 / 4 B): 1408 x 768 = 11 x 12 tiles = one wave, no loss;
    # as bf16 (128 x 128 tiles) the same shape is 11 x 6 = 66 tiles, half a wave: 132 / 66 = 2x
    assert gemm_work(h100, 1408, 768, 1024, 1, 4.0) == pytest.approx(1.0)
    assert gemm_work(h100, 1408, 768, 1024, 1, 2.0) == pytest.approx(2.0)


def test_skinny_gemms_use_narrow_tiles(h100):
    # m = 1 (a decode GEMV): the tile shrinks to one 16-row MMA, not 128 rows; n = 132 * 128 = 16896
    # -> 132 tiles of 16 x 128: occupancy 16 / 1 = 16x the useful FLOPs; a 16 x 128 tile re-uses an operand
    # byte for 2*16*128 / (144*2) = 14.22 FLOPs where the tensor cores need 64 (the 128 x 128 tile's):
    # rate 14.22 / 64 = 2/9 -> 16 * 4.5 = 72x, still far below the bytes' time
    assert gemm_work(h100, 1, 16896, 4096, 1, 2.0) == pytest.approx(72.0)
    df = evaluate(h100, [gemm("gemv", 1, 16896, 4096, "bf16")])
    assert df.bound.item() == "memory:hbm"


def test_split_k_fills_the_device_when_the_grid_is_small():
    hw = derive(get_hardware("h100"), {"efficiency.kernel.tile_overhead_depth": 0, "efficiency.kernel.tile_halvings": 0,
                                       "efficiency.kernel.split_k_depth": 1024})
    # one 128 x 128 tile with k = 8192: split into min(132 / 1, 8192 / 1024) = 8 slices of 1024, one wave;
    # occupancy 132 slots x 2*128*128*1024 against 2*128*128*8192 useful = 132 / 8 = 16.5x
    assert gemm_work(hw, 128, 128, 8192, 1, 2.0) == pytest.approx(16.5)
    # without split-K the one tile runs the whole k on one SM: 132 slots x k / k = 132x
    nosplit = derive(hw, {"efficiency.kernel.split_k_depth": 0})
    assert gemm_work(nosplit, 128, 128, 8192, 1, 2.0) == pytest.approx(132.0)


def test_a_half_wave_takes_halved_tiles_at_their_lower_operand_reuse(h100):
    hw = derive(h100, {"efficiency.kernel.tile_halvings": 2})
    # 1408 x 768 bf16 on 132 SMs; useful work 1408 x 768 = 1,081,344 tile-cells per k-step. The default
    # 16-bit tile is balanced: it needs reuse(128, 128, 2 B) = 2*128*128 / (256*2) = 64 FLOP/B.
    #  128 x 128: 11 x 6 = 66 tiles, one wave of 132 slots: 132*16384 / 1,081,344 = 2.0
    #   64 x 128: 22 x 6 = 132 tiles, one wave: 132*8192 / 1,081,344 = 1.0, at reuse
    #             2*64*128 / (192*2) = 42.67 of the 64 needed -> rate 2/3 -> 1.5 (128 x 64 the same)
    #   64 x 64:  264 tiles, two waves: 264*4096 / 1,081,344 = 1.0 at rate 32/64 -> 2.0
    #   32 x 128: 264 tiles, two waves: 1.0 at rate 25.6/64 -> 2.5; smaller ones are slower still
    assert gemm_work(hw, 1408, 768, 1024, 1, 2.0) == pytest.approx(1.5)
    assert gemm_work(h100, 1408, 768, 1024, 1, 2.0) == pytest.approx(2.0)    # the 128 x 128 tile only


def test_fp32_on_cuda_cores_needs_less_operand_reuse_so_small_tiles_fill_the_device():
    from roofsim.kernelmodel import operand_balance
    v100 = derive(get_hardware("v100-sxm2-32gb"), {"efficiency.kernel.tile_overhead_depth": 0,
                                                   "efficiency.kernel.split_k_depth": 0})
    # V100: 125 TFLOP/s fp16 tensor cores fed for a 128 x 128 tile (64 FLOP/B): feed = 125e12 / 64 B/s;
    # fp32 on the CUDA cores (15.7 TFLOP/s) needs 15.7e12 / (125e12 / 64) = 8.0384 FLOP/B
    assert operand_balance(v100, 15.7e12) == pytest.approx(8.0384)
    # DeepBench's 1760 x 64 x 1760 fp32 GEMM (80 SMs); useful 1760 x 64 = 112,640 cells per k-step:
    #  the default fp32 tile 128 x 64: 14 tiles, one wave of 80 slots: 80*8192 / 112,640 = 5.818
    #  64 x 32: 28 x 2 = 56 tiles, one wave: 80*2048 / 112,640 = 1.4545 at reuse 2*64*32/(96*4) = 10.67
    #           >= 8.04, full rate (32 x 64 the same); 32 x 32: 110 tiles, two waves, 1.4545 / 0.9952;
    #  x 16 columns: reuse 7.1 or less, slower. The library's choice: 1.4545, 4x faster than one tile shape
    op = gemm("g", 1760, 64, 1760, "fp32")
    frac = v100.efficiency.compute_fraction("fp32")
    assert _compute(v100, op) == pytest.approx(2 * 1760 * 64 * 1760 / (15.7e12 * frac) * 163840 / 112640, rel=1e-9)
    one_tile = derive(v100, {"efficiency.kernel.tile_halvings": 0})
    assert _compute(one_tile, op) / _compute(v100, op) == pytest.approx(655360 / 163840, rel=1e-9)


def test_tile_overhead_charges_each_tile_a_fixed_depth(h100):
    hw = derive(h100, {"efficiency.kernel.tile_overhead_depth": 256})
    # one full wave (132 tiles) with k = 256: each tile costs 256 + 256 k-steps -> 2x the FLOPs' time
    assert gemm_work(hw, 1408, 1536, 256, 1, 2.0) == pytest.approx(2.0)
    # k = 4096: (4096 + 256) / 4096 = 1.0625
    assert gemm_work(hw, 1408, 1536, 4096, 1, 2.0) == pytest.approx(1.0625)


def test_the_bandwidth_ramp_adds_one_memory_round_trip():
    hw = derive(get_hardware("h100"), {"efficiency.kernel.memory_latency": "2 us", "efficiency.latency": "0 us"})
    eff = hw.efficiency.memory_fraction("hbm")   # 0.85 by default
    # 1 MB copied (1 MB read + 1 MB written): 2e6 / (3.35e12 x 0.85) = 0.7024 us of streaming + 2 us round trip
    df = evaluate(hw, [elementwise("copy", 1e6 / 2, "fp16")])
    assert df.time_hbm_s.item() == pytest.approx(2e6 / (H100_HBM * eff) + 2e-6, rel=1e-9)
    # achieved bandwidth 2e6 B / 2.7024 us = 0.74 TB/s, a fifth of peak; a 2 GB copy reaches
    # 1 / (1 + 2 us x 2.8475 TB/s / 2 GB) = 99.72 % of the achievable 2.8475 TB/s
    assert 2e6 / df.time_s.item() == pytest.approx(0.7401e12, rel=1e-3)
    big = evaluate(hw, [elementwise("copy", 1e9 / 2, "fp16")])
    assert 2e9 / big.time_s.item() / (H100_HBM * eff) == pytest.approx(1 / (1 + 2e-6 * H100_HBM * eff / 2e9), rel=1e-9)
    assert 2e9 / big.time_s.item() / (H100_HBM * eff) == pytest.approx(0.9972, abs=1e-4)


def test_memory_latency_defaults_to_the_level_then_a_documented_constant():
    from roofsim.kernelmodel import memory_latency
    h100 = get_hardware("h100")
    assert h100.main_memory.latency_s is None
    assert memory_latency(h100) == DEFAULT_MEMORY_LATENCY_S
    with_level = derive(h100, {"memory.hbm.latency": "600 ns"})
    assert memory_latency(with_level) == pytest.approx(600e-9)


def test_rows_longer_than_a_core_holds_take_a_second_pass(h100):
    # H100: the largest per-SM on-chip store is 256 KiB of registers = 262,144 B = 65,536 fp32 values
    assert row_passes(h100, 65536) == 1
    assert row_passes(h100, 65537) == 2
    short = evaluate(h100, [softmax("s", 64, 32768, "bf16")])
    long = evaluate(h100, [softmax("s", 16, 131072, "bf16")])
    # both move 2 Mi elements x 2 B; the long rows read the input twice: 3 x 4 MiB instead of 2 x 4 MiB
    n = 64 * 32768 * 2
    assert short.bytes_hbm.item() == pytest.approx(2 * n)
    assert long.bytes_hbm.item() == pytest.approx(3 * n)


def test_the_previous_ops_output_is_read_from_l2_while_it_fits():
    hw = get_hardware("h100")     # 50 MiB L2, residency on by default
    produce = elementwise("a", 4e6, "fp16")        # writes 8 MB
    consume = elementwise("b", 4e6, "fp16")        # reads 8 MB, writes 8 MB
    df = evaluate(hw, [produce, consume])
    # the consumer's 8 MB read comes from L2: HBM sees only its 8 MB write; L2 still serves all 16 MB
    assert df.bytes_hbm.tolist() == pytest.approx([16e6, 8e6])
    assert df.bytes_l2.tolist() == pytest.approx([16e6, 16e6])
    # an output larger than L2 (60 MB > 52.4 MB) is not resident
    big = evaluate(hw, [elementwise("a", 30e6, "fp16"), elementwise("b", 30e6, "fp16")])
    assert big.bytes_hbm.tolist() == pytest.approx([120e6, 120e6])


def test_eager_overhead_raises_the_floor():
    hw = get_hardware("h100")
    tiny = [elementwise("add", 1024, "fp16")]
    kernel = evaluate(hw, tiny)
    eager = evaluate(hw, tiny, overhead="eager")
    assert kernel.time_s.item() == pytest.approx(hw.efficiency.latency_s)
    assert eager.time_s.item() == pytest.approx(hw.efficiency.kernel.eager_overhead_s)
    assert eager.bound.item() == "latency"


def test_a_compiled_calls_host_cost_is_not_a_per_op_floor():
    # it is paid once per call of a compiled function (a whole forward), so run offers no such
    # per-op floor; set or not, it leaves run's ops alone
    hw = derive(get_hardware("h100"), {"efficiency.kernel.compiled_overhead": "45 us"})
    tiny = [elementwise("add", 1024, "fp16")]
    assert evaluate(hw, tiny).time_s.item() == pytest.approx(evaluate(get_hardware("h100"), tiny).time_s.item())
    from roofsim.errors import SpecError
    with pytest.raises(SpecError, match="overhead"):
        evaluate(hw, tiny, overhead="compiled")
    # unset, a compiled call costs an eager op's 10 us + PyTorch 2.0's ~20 us more per compiled call
    plain = derive(get_hardware("h100"), {"efficiency.kernel.eager_overhead": "10 us"})
    assert plain.efficiency.kernel.host_overhead_s("compiled") == pytest.approx(30e-6)
    assert hw.efficiency.kernel.host_overhead_s("compiled") == pytest.approx(45e-6)


def test_an_unknown_overhead_is_refused():
    from roofsim.errors import SpecError
    with pytest.raises(SpecError, match="overhead"):
        evaluate(get_hardware("h100"), [elementwise("x", 10, "fp16")], overhead="lazy")


def test_ideal_and_cpus_are_untouched():
    op = gemm("g", 1409, 1536, 4096, "bf16")
    h100 = get_hardware("h100")
    ideal = evaluate(h100, [op], ideal=True)
    assert ideal.time_compute_s.item() == pytest.approx(2 * 1409 * 1536 * 4096 / H100_BF16, rel=1e-9)
    xeon = get_hardware("xeon-8480")
    t = evaluate(xeon, [op]).time_compute_s.item()
    peak = xeon.compute.resolve("bf16").flop_per_s
    assert t == pytest.approx(2 * 1409 * 1536 * 4096 / (peak * xeon.efficiency.compute_fraction("bf16")), rel=1e-9)


@pytest.mark.parametrize("key,value,expected", [
    ("efficiency.kernel.tile_m", 0, "an integer >= 1"),
    ("efficiency.kernel.tile_n", "big", "an integer >= 1"),
    ("efficiency.kernel.tiles_per_core", -3, "an integer >= 1"),
    ("efficiency.kernel.tile_overhead_depth", -1, "a number >= 0"),
    ("efficiency.kernel.memory_latency", "fast", "a time"),
    ("efficiency.kernel.residency", "yes", "true or false"),
    ("efficiency.kernel.eager_overhead", float("nan"), "a time"),
    ("efficiency.kernel.compiled_overhead", "-3 us", "a non-negative time"),
    ("efficiency.kernel.compiled_overhead", "soon", "a time"),
    ("efficiency.kernel.tile_m", 10 ** 9, "an integer in 1..4096"),
])
def test_bad_kernel_parameters_are_refused(key, value, expected):
    from roofsim.errors import SpecError
    with pytest.raises(SpecError) as e:
        derive(get_hardware("h100"), {key: value})
    assert expected in str(e.value)


def test_kernel_parameters_round_trip_through_a_document():
    from roofsim.hardware import build_hardware, to_doc
    hw = derive(get_hardware("h100"), {"efficiency.kernel.memory_latency": "1.5 us", "efficiency.kernel.tile_n": 256,
                                       "efficiency.kernel.residency": False})
    doc = to_doc(hw)
    assert doc["efficiency"]["kernel"] == {"tile_n": 256, "memory_latency": "1.5e-06 s", "residency": False}
    assert build_hardware(doc) == hw


@pytest.mark.parametrize("value,expected", [
    (-1, "an integer >= 0, found -1"), ("two", "an integer >= 0, found 'two'"), (2.5, "an integer >= 0, found 2.5"),
    (True, "an integer >= 0, found True"), (None, "an integer >= 0, found None"),
    (7, "an integer in 0..6, found 7"), (10 ** 30, f"an integer in 0..6, found {10 ** 30}"),
])
def test_a_bad_tile_halvings_is_one_line_naming_the_key(value, expected):
    from roofsim.errors import SpecError
    with pytest.raises(SpecError) as e:
        derive(get_hardware("h100"), {"efficiency.kernel.tile_halvings": value})
    assert [str(p) for p in e.value.problems] == [f"efficiency.kernel.tile_halvings: expected {expected}"]


# ---- an explicit operand feed (efficiency.kernel.feed_bandwidth) --------------------------------
def test_feed_bandwidth_set_or_derived():
    from roofsim.kernelmodel import operand_balance
    h100 = get_hardware("h100")
    # derived: 989.4e12 FLOP/s / 64 FLOP/B (128 x 128 bf16 tile: 2*128*128 / (256*2 B)) = 15.459375 TB/s,
    # so the bf16 unit needs 989.4e12 / 15.459375e12 = 64 FLOP/B and a 33.45e12 fp32 unit 2.1638
    assert operand_balance(h100, H100_BF16) == pytest.approx(64.0)
    assert operand_balance(h100, 33.45e12) == pytest.approx(33.45e12 / 15.459375e12)
    # the same feed written out gives the same balance; a design that halves the peaks keeps it:
    # 494.7e12 / 15.459375e12 = 32 FLOP/B (derived from the halved peak it would stay 64)
    same = derive(h100, {"efficiency.kernel.feed_bandwidth": "15.459375 TB/s"})
    assert operand_balance(same, H100_BF16) == pytest.approx(64.0)
    half = {f"compute.matrix.{d}": "494.7 TFLOP/s" for d in ("bf16", "fp16")}
    assert operand_balance(derive(h100, half), 494.7e12) == pytest.approx(64.0)
    kept = derive(h100, {**half, "efficiency.kernel.feed_bandwidth": "15.459375 TB/s"})
    assert operand_balance(kept, 494.7e12) == pytest.approx(32.0)


def test_the_half_flops_design_keeps_a_batch_one_gemv_on_hbm():
    # hardware/hypothetical/h100-half-flops-2x-bw.yaml keeps H100's feed (15.46 TB/s). A batch-1
    # GEMV's 16-row tiles re-use each operand byte ~14 times, below the 32 FLOP/B the halved bf16
    # unit needs from that feed, so its compute term is feed-limited: with the feed derived from
    # the halved peak (494.7e12 / 64 = 7.73 TB/s) it would need 64 FLOP/B and take exactly twice
    # as long. With the kept feed, compute stays below the HBM term: bound by HBM (the HBM term:
    # 8192 x 8192 x 2 B = 134.2 MB at 2 x 3.35 TB/s x the H100 fit's 0.924 = 6.19 TB/s, 21.7 us;
    # the compute term ~12.5 us).
    hw = _catalogue("h100-half-flops-2x-bw")
    assert hw.efficiency.kernel.feed_bandwidth_bytes_per_s == 15.459375e12
    op = [gemm("q_proj", 1, 8192, 8192, "bf16")]
    kept = evaluate(hw, op).iloc[0]
    halved = evaluate(derive(hw, {"efficiency.kernel.feed_bandwidth": "7.7296875 TB/s"}), op).iloc[0]
    assert halved["time_compute_s"] / kept["time_compute_s"] == pytest.approx(2.0)
    assert kept["time_hbm_s"] == pytest.approx(8192 * 8192 * 2 / (2 * 3.35e12 * hw.efficiency.memory_fraction("hbm")),
                                               rel=0.01)
    assert kept["bound"] == "memory:hbm" and kept["time_compute_s"] < 0.7 * kept["time_hbm_s"]


PLAUSIBLE_BW = "a bandwidth from 1 MB/s to 1 EB/s, e.g. 2 TB/s"   # specs.PLAUSIBLE["bandwidth"]


@pytest.mark.parametrize("value, expected", [
    ("0 B/s", "a positive bandwidth, e.g. 2 TB/s, found '0 B/s'"),
    ("-1 TB/s", "a positive bandwidth, e.g. 2 TB/s, found '-1 TB/s'"),
    ("1e30 TB/s", f"{PLAUSIBLE_BW}, found '1e30 TB/s', implausibly large"),
    ("fast", "a bandwidth, e.g. 2 TB/s, found 'fast'"),
    # a Python override is an SI number: 4 is 4 B/s, refused as implausible, not taken as 4 TB/s
    (4, f"{PLAUSIBLE_BW}, found '4.0 B/s', implausibly small (a plain number is read in B/s; give a string with a unit)"),
])
def test_a_bad_feed_bandwidth_is_one_line_naming_the_key(value, expected):
    from roofsim.errors import SpecError
    with pytest.raises(SpecError) as e:
        derive(get_hardware("h100"), {"efficiency.kernel.feed_bandwidth": value})
    assert [str(p) for p in e.value.problems] == [f"efficiency.kernel.feed_bandwidth: expected {expected}"]
