"""roofsim.specs: frozen dataclasses of SI floats, invariants on construction, dtype fallback,
derived quantities (ridge points) computed from catalogue values."""
import dataclasses

import pytest

from roofsim.errors import SpecError
from roofsim.hw import get_hardware
from roofsim.specs import (DEFAULT_COMPUTE_EFFICIENCY, DEFAULT_LINK_EFFICIENCY, DEFAULT_MEMORY_EFFICIENCY,
                           ComputeSpec, Efficiency, HardwareSpec, Link, MemoryLevel, emulation_passes)

COMPUTE = ComputeSpec(matrix=(("bf16", 100e12),), vector=(("fp32", 10e12),), source="t")


def hw(memory, **kw):
    return HardwareSpec(id="x", name="X", vendor="v", kind=kw.pop("kind", "gpu"), compute=COMPUTE,
                        memory=tuple(memory), source="t", **kw)


def level(name, type_, cap=None, bw=None, **kw):
    return MemoryLevel(name=name, type=type_, capacity_bytes=cap, bandwidth_bytes_per_s=bw, source="t", **kw)


def message(fn):
    with pytest.raises(SpecError) as info:
        fn()
    return str(info.value)


# ---- invariants ---------------------------------------------------------------------------
def test_exactly_one_main_level():
    sram, dram, hbm = level("sram", "scratchpad", 1e6), level("dram", "main", 1e9), level("hbm", "main", 2e9)
    assert hw([sram, dram]).main_memory is dram
    assert message(lambda: hw([sram])) == "memory: expected exactly one level of type main, found []"
    assert message(lambda: hw([dram, hbm])) == "memory: expected exactly one level of type main, found ['dram', 'hbm']"


def test_unique_level_and_link_names():
    dram = level("dram", "main", 1e9)
    assert message(lambda: hw([level("dram", "cache", 1e6), dram])) == (
        "memory: expected unique level names, found ['dram', 'dram']")
    link = Link(name="nvlink", scope="scale-up", bandwidth_bytes_per_s_per_direction=1e9, source="t")
    assert message(lambda: hw([dram], interconnect=(link, link))) == (
        "interconnect: expected unique link names, found ['nvlink', 'nvlink']")


def test_levels_outside_main_are_far():
    dram = level("dram", "main", 1e9)
    assert message(lambda: hw([dram, level("l3", "cache", 1e6)])) == (
        "memory: expected only far levels outside main memory, found ['main', 'cache']")


def test_inner_capacity_below_main():
    # 2 instances x 1e9 B = 2e9 B of SRAM is not less than 1e9 B of main memory
    assert message(lambda: hw([level("sram", "scratchpad", 1e9, instances=2), level("dram", "main", 1e9)])) == (
        "memory.sram.capacity: expected less than main memory dram, found 2000000000.0")


def test_level_and_link_field_checks():
    assert message(lambda: level("l1", "cash")) == (
        "memory.l1.type: expected one of ('register', 'scratchpad', 'cache', 'main', 'far'), found 'cash'")
    assert message(lambda: level("l1", "cache", cap=-1.0)) == "memory.l1.capacity_bytes: expected a positive number, found -1.0"
    assert message(lambda: level("l1", "cache", bw=0.0)) == "memory.l1.bandwidth_bytes_per_s: expected a positive number, found 0.0"
    assert message(lambda: level("l1", "cache", instances=0, ways=0)) == (
        "memory.l1.instances: expected an integer >= 1, found 0\nmemory.l1.ways: expected an integer >= 1, found 0")
    assert message(lambda: Link(name="x", scope="up", bandwidth_bytes_per_s_per_direction=0.0)) == (
        "interconnect.x.scope: expected one of ('scale-up', 'scale-out', 'host'), found 'up'\n"
        "interconnect.x.bandwidth_per_direction: expected a positive bandwidth, found 0.0")


def test_compute_needs_a_peak_and_known_dtypes():
    assert message(lambda: ComputeSpec()) == "compute: expected at least one peak, found none"
    assert message(lambda: ComputeSpec(matrix=(("bf17", 1e12),))) == (
        "compute.matrix: expected a dtype in ('fp64', 'fp32', 'tf32', 'fp16', 'bf16', 'fp8', 'fp6', 'fp4', 'int8', "
        "'int4'), found 'bf17'")
    assert message(lambda: ComputeSpec(vector=(("fp32", -1.0),))) == (
        "compute.vector.fp32: expected a positive compute rate, found -1.0")


@pytest.mark.parametrize("frac", [0.0, -0.1, 1.0001, 2.0])
def test_efficiency_fractions_outside_0_1_are_errors(frac):
    for section in ("compute", "memory", "interconnect"):
        assert message(lambda: Efficiency(**{section: (("default", frac),)})) == (
            f"efficiency.{section}.default: expected a fraction in (0, 1], found {frac!r}")


@pytest.mark.parametrize("frac", [1e-9, 0.5, 1.0])
def test_efficiency_fractions_inside_0_1_are_fine(frac):
    e = Efficiency(compute=(("default", frac),), memory=(("default", frac),), interconnect=(("default", frac),))
    assert e.compute_fraction("bf16") == e.memory_fraction("hbm") == e.link_fraction("nvlink") == frac


def test_efficiency_by_size_table_must_increase():
    assert message(lambda: Efficiency(compute_by_size=((1e9, 0.5), (1e6, 0.1)))) == (
        "efficiency.compute_by_size: expected increasing FLOP counts, found [1000000000.0, 1000000.0]")


def test_efficiency_defaults_and_lookup():
    e = Efficiency(compute=(("default", 0.7), ("fp8", 0.6)))
    assert (e.compute_fraction("fp8"), e.compute_fraction("bf16")) == (0.6, 0.7)
    assert e.memory_fraction("hbm") == DEFAULT_MEMORY_EFFICIENCY == 0.85
    assert e.link_fraction("nvlink") == DEFAULT_LINK_EFFICIENCY == 0.80
    assert Efficiency().compute_fraction("bf16") == DEFAULT_COMPUTE_EFFICIENCY == 0.80


def test_efficiency_keys_must_name_levels_and_links():
    dram = level("dram", "main", 1e9)
    assert message(lambda: hw([dram], efficiency=Efficiency(memory=(("hbm", 0.9),)))) == (
        "efficiency.memory.hbm: expected a memory level name (dram) or default, found 'hbm'")
    assert message(lambda: hw([dram], efficiency=Efficiency(interconnect=(("nvlink", 0.9),)))) == (
        "efficiency.interconnect.nvlink: expected a link name (none defined) or default, found 'nvlink'")


def test_kind_is_checked():
    assert message(lambda: hw([level("dram", "main")], kind="npu")) == (
        "kind: expected one of ('cpu', 'gpu', 'tpu', 'accelerator', 'hypothetical', 'measured'), found 'npu'")


# ---- frozen ---------------------------------------------------------------------------------
def test_specs_are_frozen():
    h = get_hardware("h100")
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.tdp_w = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.main_memory.bandwidth_bytes_per_s = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.compute.matrix = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.interconnect[0].links = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.efficiency.latency_s = 0.0
    # and the containers are tuples, not lists or dicts that could be mutated in place
    assert isinstance(h.memory, tuple) and isinstance(h.interconnect, tuple)
    assert isinstance(h.compute.matrix, tuple) and isinstance(h.aliases, tuple)


def test_specs_hash_and_compare_by_value():
    assert get_hardware("h100") == get_hardware("h100-sxm5")
    assert hash(get_hardware("h100")) == hash(get_hardware("h100-sxm5"))


# ---- ComputeSpec.resolve: dtype fallback ----------------------------------------------------
def test_fp8_on_v100_runs_as_fp16_tensor():
    r = get_hardware("v100").compute.resolve("fp8")
    # V100 SXM2 has no fp8: nearest wider is fp16 on the tensor cores, 125 TFLOP/s (V100 datasheet)
    assert (r.dtype, r.unit, r.flop_per_s) == ("fp16", "matrix", 125e12)
    assert r.fell_back and not r.emulated
    assert r.note == "no fp8 peak: ran as the nearest wider dtype fp16 (matrix units)"


def test_bf16_on_v100_runs_as_fp32_vector_not_fp16():
    r = get_hardware("v100").compute.resolve("bf16")
    # fp16 cannot hold bf16's exponent range, so bf16 widens to fp32: vector 15.7 TFLOP/s (datasheet)
    assert (r.dtype, r.unit, r.flop_per_s) == ("fp32", "vector", 15.7e12)


def test_fp32_gemm_on_h100_runs_on_vector_units_not_tf32():
    r = get_hardware("h100").compute.resolve("fp32")
    # 132 SMs x 128 lanes x 2 FLOP x 1.98 GHz = 66.9 TFLOP/s; TF32 (494.7) only when tf32 is asked for
    assert (r.dtype, r.unit, r.flop_per_s) == ("fp32", "vector", 66.9e12)
    assert not r.fell_back and r.note == ""
    assert get_hardware("h100").compute.resolve("tf32").flop_per_s == 494.7e12


def test_matrix_op_prefers_matrix_units():
    c = get_hardware("h100").compute
    assert c.resolve("bf16").flop_per_s == 989.4e12                  # tensor cores
    assert c.resolve("bf16", unit="vector").flop_per_s == 133.8e12   # non-tensor bf16


def test_fp32_on_a_tpu_is_emulated_in_bf16():
    r = get_hardware("tpu-v4").compute.resolve("fp32")
    # TPU v4 publishes only bf16 (275 T) and int8 peaks: fp32 matmuls run as bf16 passes on the MXU
    # in 6 passes per product (bf16x6: Henry et al., ARITH 2019; XLA ALG_DOT_BF16_BF16_F32_X6):
    # 275e12 / 6 = 45.83e12 FLOP/s of fp32 work, not the full bf16 peak
    assert (r.dtype, r.unit, r.flop_per_s, r.emulated, r.passes) == ("bf16", "matrix", 275e12 / 6, True, 6)
    assert r.note == "no fp32 peak: emulated in 6 bf16 passes (bf16x6, 1/6 of the bf16 peak, matrix units)"


@pytest.mark.parametrize("wide, narrow, passes", [
    ("fp32", "bf16", 6), ("fp32", "tf32", 3), ("fp32", "fp16", 3),   # the published schemes
    ("fp64", "fp32", 6),    # ceil(53 / 24) = 3 pieces, 3 * 4 / 2 = 6 significant products
    ("fp16", "fp8", 6),     # ceil(11 / 4) = 3 pieces -> 6
    ("int8", "int4", 4),    # 2 nibbles each, all 2 * 2 partial products for an exact integer
    ("fp32", "int8", None),  # a float is not emulated on integer units
])
def test_emulation_passes(wide, narrow, passes):
    assert emulation_passes(wide, narrow) == passes


def test_emulation_takes_the_fastest_narrow_type():
    # a device with fp16 at 100 T and bf16 at 150 T, no fp32: fp16x3 = 33.3 T beats bf16x6 = 25 T
    c = ComputeSpec(matrix=(("fp16", 100e12), ("bf16", 150e12)), source="toy")
    r = c.resolve("fp32")
    assert (r.dtype, r.passes, r.flop_per_s) == ("fp16", 3, 100e12 / 3)


def test_unknown_dtype():
    assert message(lambda: COMPUTE.resolve("fp7")) == (
        "dtype: expected one of ('fp64', 'fp32', 'tf32', 'fp16', 'bf16', 'fp8', 'fp6', 'fp4', 'int8', 'int4'), "
        "found 'fp7'")


def test_peaks_take_the_best_unit():
    c = ComputeSpec(matrix=(("fp16", 100e12),), vector=(("fp16", 10e12), ("fp32", 5e12)))
    assert c.peaks() == {"fp16": 100e12, "fp32": 5e12}


# ---- derived quantities ---------------------------------------------------------------------
def test_ridge_point_h100_bf16_against_hbm():
    h = get_hardware("h100")
    # catalogue values: bf16 dense 989.4 TFLOP/s, HBM3 3.35 TB/s -> 989.4e12 / 3.35e12 = 295.34 FLOP/B
    assert h.peak("bf16") == 989.4e12 and h.main_memory.bandwidth_bytes_per_s == 3.35e12
    assert h.ridge_point("bf16") == pytest.approx(295.34, abs=0.01)
    assert h.ridge_point("bf16", "hbm") == h.ridge_point("bf16")
    assert h.bytes_per_flop("bf16") == pytest.approx(3.35e12 / 989.4e12)       # 0.003386 B/FLOP
    # against shared memory: 989.4e12 / 33.45e12 = 29.58 FLOP/B
    assert h.ridge_point("bf16", "smem") == pytest.approx(29.58, abs=0.01)
    assert h.ridge_points()[("bf16", "hbm")] == h.ridge_point("bf16")


def test_ridge_point_a100_bf16():
    # 312e12 / 2.039e12 = 153.0 FLOP/B
    assert get_hardware("a100").ridge_point("bf16") == pytest.approx(153.02, abs=0.01)


def test_ridge_point_needs_a_bandwidth():
    h = get_hardware("h100")
    assert message(lambda: h.ridge_point("bf16", "registers")) == (
        f"{h.file}: memory.registers.bandwidth: expected a bandwidth, found none")
    assert message(lambda: h.level("hbmm")) == (
        f"{h.file}: memory: expected a level name in ['registers', 'smem', 'l2', 'hbm', 'host'], found 'hbmm'")


def test_totals_and_directions():
    h = get_hardware("h100")
    regs = h.level("registers")
    assert regs.total_capacity_bytes == 256 * 1024 * 132            # 256 KiB per SM x 132 SMs
    nvlink = h.link("nvlink")
    assert nvlink.bandwidth_bytes_per_s_per_direction == 450e9       # 18 links x 25 GB/s
    assert nvlink.bandwidth_bytes_per_s_bidirectional == 900e9
    assert h.year == 2022 and h.main_index == 3
