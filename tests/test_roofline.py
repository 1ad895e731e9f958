"""The roofline engine against hand-derived numbers, and its invariants over random ops and specs."""
import math
from pathlib import Path

import numpy as np
import pytest

from roofsim.hw import derive, get_hardware
from roofsim.ops import collective, custom, elementwise, gather, gemm
from roofsim.roofline import evaluate, evaluate_arrays

TOY = Path(__file__).parent / "data" / "engine" / "toy-chip.yaml"


@pytest.fixture(scope="module")
def a100():
    return get_hardware("a100")


@pytest.fixture(scope="module")
def toy():
    return get_hardware(str(TOY))


def test_a100_gemm_4096_fp16_ideal_is_compute_bound(a100):
    r = evaluate(a100, [gemm("g", 4096, 4096, 4096, "fp16")], ideal=True).iloc[0]
    # 2*4096^3 FLOP / 312e12 FLOP/s (A100 dense fp16 tensor peak) = 0.4405 ms
    assert r["time_s"] == pytest.approx(2 * 4096**3 / 312e12, rel=1e-12)
    assert r["bound"] == "compute"
    assert r["fraction_of_peak"] == pytest.approx(1.0)


def test_a100_fp32_add_2p28_is_dram_bound(a100):
    r = evaluate(a100, [elementwise("add", 2**28, "fp32", inputs=2, outputs=1)], ideal=True).iloc[0]
    # two 4-byte inputs read, one 4-byte output written: 3*4*2^28 = 3.22 GB / 2.039e12 B/s = 1.580 ms
    assert r["bytes_hbm"] == 3 * 4 * 2**28
    assert r["time_s"] == pytest.approx(3 * 4 * 2**28 / 2.039e12, rel=1e-12)
    assert r["bound"] == "memory:hbm"


def test_efficiencies_and_latency_floor(toy):
    big = gemm("big", 4096, 4096, 4096, "bf16")
    tiny = elementwise("tiny", 1000, "fp32")
    df = evaluate(toy, [big, tiny])
    # compute: 2*4096^3 / (100e12 * 0.5) = 2.749 ms; the tiles fit nowhere near that slowly elsewhere
    assert df.iloc[0]["time_s"] == pytest.approx(2 * 4096**3 / 50e12, rel=1e-12)
    assert df.iloc[0]["bound"] == "compute"
    # tiny: 8000 bytes / (1e12*0.8) = 10 ns << the 10 us floor
    assert df.iloc[1]["time_s"] == pytest.approx(10e-6)
    assert df.iloc[1]["bound"] == "latency"
    ideal = evaluate(toy, [tiny], ideal=True).iloc[0]
    # ideal: no floor, no efficiency: 8000 B / 1e12 B/s = 8 ns against l2 at 10 TB/s (0.8 ns)
    assert ideal["time_s"] == pytest.approx(8e-9)
    assert ideal["bound"] == "memory:dram"


def test_count_multiplies_totals(toy):
    one = evaluate(toy, [elementwise("e", 2**20, "fp32")]).iloc[0]
    many = evaluate(toy, [elementwise("e", 2**20, "fp32", count=7)]).iloc[0]
    assert many["time_s"] == pytest.approx(7 * one["time_s"])
    assert many["flops"] == 7 * one["flops"]
    assert many["bytes_dram"] == 7 * one["bytes_dram"]


def test_gemm_whose_operand_fits_moves_compulsory_bytes(toy):
    # l2 (4 MiB) lets a tile use 2 MiB; dram traffic is decided by l2's capacity.
    # m=n=k=512 bf16: each operand 512*512*2 = 0.5 MiB fits -> A + B + C once = 3 * 0.5 MiB
    r = evaluate(toy, [gemm("g", 512, 512, 512, "bf16")], ideal=True).iloc[0]
    assert r["bytes_dram"] == 3 * 512 * 512 * 2


def test_gemm_tiled_traffic_when_operands_do_not_fit(toy):
    # dram traffic tiles against l2: 4 MiB * 0.5 = 2 MiB per tile = 2^20 bf16 elements -> T = 1024.
    # m=n=k=8192: A (128 MiB) is read ceil(8192/1024) = 8 times: 8 * 2*8192^2 = 2^30 B; B likewise;
    # C written once: 2*8192^2 = 2^27 B. Total 2^31 + 2^27 = 2281701376 B.
    r = evaluate(toy, [gemm("g", 8192, 8192, 8192, "bf16")], ideal=True).iloc[0]
    assert r["bytes_dram"] == 2**31 + 2**27
    # l2 traffic tiles against smem (1 MiB -> 0.5 MiB = 2^18 elements -> T = 512): 16 re-reads each
    # of A and B: 2 * 16 * 2^27 + 2^27 = 2^32 + 2^27
    assert r["bytes_l2"] == 2**32 + 2**27
    # far levels serve nothing: operands live in main memory
    assert r["bytes_host"] == 0


def test_decode_shaped_gemm_reads_weights_once(toy):
    # m=1 (one token), n=k=8192: B (128 MiB) streams once; the 1 x 8192 output tile fits.
    r = evaluate(toy, [gemm("g", 1, 8192, 8192, "bf16")], ideal=True).iloc[0]
    weights = 8192 * 8192 * 2
    assert r["bytes_dram"] == weights + 8192 * 2 + 8192 * 2  # B + A (1 x k) + C (1 x n)
    assert r["bound"] == "memory:dram"


def test_dtype_fallback_is_reported_never_silent():
    v100 = get_hardware("v100")
    r = evaluate(v100, [gemm("g", 4096, 4096, 4096, "fp8")], ideal=True).iloc[0]
    # V100 has no fp8: it runs as fp16 on tensor cores, 125e12 FLOP/s (V100 SXM2 datasheet)
    assert r["dtype_used"] == "fp16"
    assert "no fp8 peak" in r["note"]
    assert r["time_s"] == pytest.approx(2 * 4096**3 / v100.peak("fp16"), rel=1e-12)
    assert math.isfinite(r["time_s"])


def test_fp32_gemm_runs_on_vector_units_not_tf32():
    h100 = get_hardware("h100")
    r = evaluate(h100, [gemm("g", 4096, 4096, 4096, "fp32")], ideal=True).iloc[0]
    assert r["unit_used"] == "vector" and r["dtype_used"] == "fp32" and r["note"] == ""
    assert r["peak_flop_per_s"] == dict(h100.compute.vector)["fp32"]


def test_all_reduce_over_nvlink(toy):
    # ring all-reduce of 1 GB over 8 devices: each sends 2*(8-1)/8 * 1e9 = 1.75e9 B;
    # ideal: / 100e9 B/s = 17.5 ms, no latency
    r = evaluate(toy, [collective("ar", "all-reduce", 1e9, 8)], ideal=True).iloc[0]
    assert r["time_s"] == pytest.approx(1.75e9 / 100e9, rel=1e-12)
    assert r["bound"] == "interconnect:link"
    # real: bandwidth x 0.5 and 2*(8-1) = 14 steps of 1 us: 35 ms + 14 us
    real = evaluate(toy, [collective("ar", "all-reduce", 1e9, 8)]).iloc[0]
    assert real["time_s"] == pytest.approx(1.75e9 / 50e9 + 14e-6, rel=1e-12)


def test_gather_without_predictor_is_line_rounded_compulsory(toy):
    # 1000 lookups of 100-byte rows; no line size given -> 64 B lines: each row costs 2 lines = 128 B;
    # plus 4-byte ids (4000 B) and the pooled output (1000/1 bags * 100 B = 100000 B)
    r = evaluate(toy, [gather("emb", 1000, 100, 10**6, "fp32")], ideal=True).iloc[0]
    assert r["bytes_dram"] == 1000 * 128 + 4000 + 100000


def test_custom_op_bytes_per_level(toy):
    op = custom("c", flops=1e9, dtype="bf16", bytes=2e9, level_bytes={"l2": 5e9})
    r = evaluate(toy, [op], ideal=True).iloc[0]
    assert r["bytes_dram"] == 2e9 and r["bytes_l2"] == 5e9 and r["bytes_smem"] == 0
    # dram 2e9/1e12 = 2 ms beats l2 5e9/10e12 = 0.5 ms and compute 1e9/100e12 = 10 us
    assert r["time_s"] == pytest.approx(2e-3) and r["bound"] == "memory:dram"


def test_size_efficiency_table_is_log_interpolated(toy):
    fast = derive(toy, {"efficiency.compute_by_size": [[1e6, 0.1], [1e10, 0.9]]}, id="toy-table")
    op = custom("c", flops=1e8, dtype="bf16", bytes=1.0)
    r = evaluate(fast, [op]).iloc[0]
    # log10(1e8) = 8 sits half-way between 6 and 10: fraction 0.5 -> 1e8 / (100e12 * 0.5) = 2 us
    # (below the 10 us floor, so compare the compute term)
    assert r["time_compute_s"] == pytest.approx(1e8 / 50e12, rel=1e-12)


def test_bound_switches_exactly_at_the_ridge_point(toy):
    # ideal: bf16 ridge against dram = 100e12 / 1e12 = 100 FLOP/byte; l2 gets no bytes here
    bytes_ = 1e9
    below = custom("below", flops=100 * bytes_ * (1 - 1e-9), dtype="bf16", bytes=bytes_)
    above = custom("above", flops=100 * bytes_ * (1 + 1e-9), dtype="bf16", bytes=bytes_)
    df = evaluate(toy, [below, above], ideal=True)
    assert toy.ridge_point("bf16", "dram") == 100.0
    assert list(df["bound"]) == ["memory:dram", "compute"]


def _random_ops(rng, n):
    ops = []
    for i in range(n):
        kind = rng.integers(0, 4)
        if kind == 0:
            m, nn, k = (int(x) for x in 2 ** rng.integers(0, 14, 3))
            ops.append(gemm(f"g{i}", m, nn, k, str(rng.choice(["bf16", "fp16", "fp32"]))))
        elif kind == 1:
            ops.append(elementwise(f"e{i}", int(2 ** rng.integers(4, 30)), "fp32", inputs=int(rng.integers(1, 4))))
        elif kind == 2:
            ops.append(custom(f"c{i}", flops=float(10 ** rng.uniform(3, 13)), dtype="bf16", bytes=float(10 ** rng.uniform(3, 11))))
        else:
            ops.append(collective(f"a{i}", "all-reduce", float(10 ** rng.uniform(3, 10)), int(rng.integers(2, 9))))
    return ops


@pytest.mark.parametrize("seed", range(5))
def test_time_never_falls_when_a_peak_or_bandwidth_is_reduced(toy, seed):
    rng = np.random.default_rng(seed)
    ops = _random_ops(rng, 40)
    f = float(rng.uniform(0.1, 0.99))
    slower = [
        derive(toy, {"compute.matrix.bf16": toy.peak("bf16") * f}, id="s1"),
        derive(toy, {"memory.dram.bandwidth": 1e12 * f}, id="s2"),
        derive(toy, {"memory.l2.bandwidth": 10e12 * f}, id="s3"),
        derive(toy, {"interconnect.link.bandwidth_per_direction": 100e9 * f}, id="s4"),
        derive(toy, {"compute.vector.fp32": 10e12 * f}, id="s5"),
    ]
    for ideal in (False, True):
        base = evaluate_arrays(toy, ops, ideal=ideal).time[0]
        for hw in slower:
            t = evaluate_arrays(hw, ops, ideal=ideal).time[0]
            assert np.all(t >= base * (1 - 1e-12)), hw.id


@pytest.mark.parametrize("seed", range(5))
def test_attained_never_exceeds_the_roofline(toy, seed):
    rng = np.random.default_rng(100 + seed)
    ops = [op for op in _random_ops(rng, 60) if op.kind != "collective"]
    df = evaluate(toy, ops, ideal=True)
    for _, r in df.iterrows():
        roof = r["peak_flop_per_s"]
        for level, bw in (("l2", 10e12), ("dram", 1e12)):
            if r[f"bytes_{level}"] > 0:
                roof = min(roof, r[f"intensity_{level}"] * bw)
        assert r["attained_flop_per_s"] <= roof * (1 + 1e-9)


def test_vectorised_equals_one_at_a_time():
    rng = np.random.default_rng(7)
    ops = _random_ops(rng, 30)
    # residency serves an op's reads from what the op before it wrote: a property of the sequence,
    # not of the vectorisation, so it is off here (test_kernelmodel.py checks it)
    hws = [derive(get_hardware(n), {"efficiency.kernel.residency": False})
           for n in ("a100", "h100", "mi300x", "tpu-v4", "xeon-8480", str(TOY))]
    together = evaluate_arrays(hws, ops)
    for i, h in enumerate(hws):
        for j, op in enumerate(ops):
            alone = evaluate_arrays(h, [op])
            assert alone.time[0, 0] == pytest.approx(together.time[i, j], rel=1e-12)
            assert alone.bound_code[0, 0] == together.bound_code[i, j]
