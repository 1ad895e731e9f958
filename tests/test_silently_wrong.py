"""Regression tests for answers that used to be silently wrong (issue #14): a bare number taken
as SI on the command line, fp32 emulation at no cost, an alias taking over a catalogue name,
overrides ignored on a built Workload."""
from pathlib import Path

import pytest
from click.testing import CliRunner

import roofsim
from roofsim.cli import main
from roofsim.errors import NameConflictError, RoofsimError, SpecError
from roofsim.hw import derive, get_hardware
from roofsim.ops import Workload
from roofsim.ops.kinds import gemm
from roofsim.roofline import evaluate
from roofsim.workloads import get_workload

DATA = Path(__file__).parent / "data"
TOY = str(DATA / "engine" / "toy-chip.yaml")
TINY = str(DATA / "wl" / "tiny.yaml")


def invoke(*args):
    return CliRunner().invoke(main, list(args))


# ---- a bare number where a unit belongs -------------------------------------------------------
@pytest.mark.parametrize("value", ["4", "4e12", "4.0", "0x10"])
def test_cli_set_bare_number_is_refused(value):
    r = invoke("run", "--hw", "a100", "-w", "dlrm", "--set", f"hw.memory.hbm.bandwidth={value}")
    assert r.exit_code == 2
    assert r.output.startswith("error: --set hw.memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, "
                               "found a bare number ")
    assert r.output.count("\n") == 1 and "Traceback" not in r.output


def test_cli_set_with_unit_still_works():
    # 4 TB/s instead of the A100's 2.039 TB/s: only the bandwidth changes
    r = invoke("run", "--hw", "a100", "-w", "dlrm", "--set", "hw.memory.hbm.bandwidth=4 TB/s", "--format", "json")
    assert r.exit_code == 0, r.output
    assert get_hardware("a100", overrides={"memory.hbm.bandwidth": "4 TB/s"}).level("hbm").bandwidth_bytes_per_s == 4e12


def test_cli_set_of_a_plain_count_still_takes_a_number():
    # cores and fractions are plain numbers, not quantities
    r = invoke("run", "--hw", "a100", "-w", "dlrm", "--set", "hw.cores=100", "--set", "hw.efficiency.compute=0.5")
    assert r.exit_code == 0, r.output


def test_yaml_set_bare_number_is_refused(tmp_path):
    f = tmp_path / "fast.yaml"
    f.write_text("schema_version: 1\nid: fast\nname: Fast\nextends: h100-sxm5\nsource: test\n"
                 "set:\n  memory.hbm.bandwidth: 6\n")
    with pytest.raises(SpecError) as info:
        get_hardware(str(f))
    assert str(info.value) == (f"{f}: set.memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, "
                               "found a bare number 6 with no unit")


@pytest.mark.parametrize("call", [
    lambda: roofsim.run("a100", "dlrm", hw_overrides={"memory.hbm.bandwidth": 4}),
    lambda: derive(get_hardware("a100"), {"memory.hbm.bandwidth": 4}),
    lambda: derive(get_hardware("a100"), {"compute.matrix.bf16": 312}),      # 312 FLOP/s, meant TFLOP/s
    lambda: derive(get_hardware("a100"), {"clock": 1.41}),                   # 1.41 Hz, meant GHz
    lambda: derive(get_hardware("a100"), {"memory.hbm.latency": 500}),       # 500 s, meant ns
])
def test_python_unit_slip_is_refused_by_the_plausible_range(call):
    with pytest.raises(SpecError) as info:
        call()
    text = str(info.value)
    assert "implausibly" in text and "(a plain number is read in" in text and "\n" not in text


def test_python_si_number_in_range_is_accepted():
    # a plain number from Python is SI: 4e12 B/s == "4 TB/s"
    a = roofsim.run("a100", "dlrm", hw_overrides={"memory.hbm.bandwidth": 4e12})
    b = roofsim.run("a100", "dlrm", hw_overrides={"memory.hbm.bandwidth": "4 TB/s"})
    assert a["time_s"].sum() == b["time_s"].sum()


def test_implausible_values_in_a_file_are_refused(tmp_path):
    f = tmp_path / "huge.yaml"
    f.write_text("schema_version: 1\nid: huge\nname: Huge\nextends: toy-chip\nsource: test\n"
                 "set:\n  compute.matrix.bf16: 1e308 TFLOP/s\n  memory.dram.bandwidth: 1 B/s\n")
    with pytest.raises(SpecError) as info:
        get_hardware(str(f), hw_path=[str(DATA / "engine")])
    assert str(info.value).splitlines() == [
        # 1e308 TFLOP/s = 1e320 FLOP/s overflows a float; 1 B/s is below 1 MB/s
        f"{f}: set.compute.matrix.bf16: expected a compute rate, e.g. 312 TFLOP/s, found '1e308 TFLOP/s', which is not finite",
        f"{f}: set.memory.dram.bandwidth: expected a bandwidth from 1 MB/s to 1 EB/s, e.g. 2 TB/s, found '1 B/s', "
        "implausibly small",
    ]


# ---- emulation costs its passes ---------------------------------------------------------------
def _fp32_gemm():
    return Workload(name="g", ops=(gemm("g", 8192, 8192, 8192, dtype="fp32"),))


def test_fp32_on_a_bf16_only_device_pays_six_passes():
    tpu = get_hardware("tpu-v4")
    df = evaluate(tpu, _fp32_gemm(), ideal=True)
    # 2 * 8192^3 = 1.0995e12 FLOP at 275e12 / 6 FLOP/s (bf16x6) = 23.99 ms; at the full bf16 peak
    # it would have been 4.0 ms
    flops = 2 * 8192**3
    assert df["time_s"].iloc[0] == pytest.approx(flops / (275e12 / 6))
    assert df["peak_flop_per_s"].iloc[0] == pytest.approx(275e12 / 6)
    assert df["note"].iloc[0] == "no fp32 peak: emulated in 6 bf16 passes (bf16x6, 1/6 of the bf16 peak, matrix units)"


def test_bf16_only_device_is_not_faster_than_its_fp32_emulation_allows():
    # A100 runs fp32 GEMMs on its vector units at 19.5 TFLOP/s (no tf32 asked for); TPU v4 at
    # 275/6 = 45.8 TFLOP/s: ideal speedup 45.8 / 19.5 = 2.35x, not 275 / 19.5 = 14.1x
    df = evaluate([get_hardware("a100"), get_hardware("tpu-v4")], _fp32_gemm(), ideal=True)
    t_a100, t_tpu = df["time_s"]
    assert t_a100 / t_tpu == pytest.approx((275e12 / 6) / 19.5e12)


def test_compare_shows_the_emulation_like_run():
    r = invoke("compare", "--hw", "a100,tpu-v4", "-w", "dlrm")
    assert r.exit_code == 0, r.output
    assert ("Note on tpu-v4: no fp32 peak: emulated in 6 bf16 passes (bf16x6, 1/6 of the bf16 peak, "
            "matrix units).") in r.output
    assert "Note on a100" not in r.output
    r = invoke("compare", "--hw", "a100,tpu-v4", "-w", "dlrm", "--format", "json")
    import json
    notes = {d["hardware"]: d["notes"] for d in json.loads(r.stdout)["hardware"]}
    assert notes["a100-sxm4-80gb"] == "" and notes["tpu-v4"].startswith("no fp32 peak: emulated in 6 bf16")


# ---- an alias never takes over a name ---------------------------------------------------------
TAKEOVER = """schema_version: 1
id: mine
name: Mine
vendor: me
kind: hypothetical
aliases: [a100]
source: test
compute: {matrix: {bf16: 1 PFLOP/s}, source: t}
memory: [{name: hbm, type: main, capacity: 80 GB, bandwidth: 9 TB/s, source: t}]
"""


def test_alias_declared_twice_is_refused(tmp_path):
    (tmp_path / "mine.yaml").write_text(TAKEOVER)
    with pytest.raises(NameConflictError) as info:
        get_hardware("a100", hw_path=[str(tmp_path)])
    text = str(info.value)
    assert text.startswith(f"hardware alias 'a100' is declared by both {tmp_path / 'mine.yaml'} and ")
    assert text.endswith("a100-sxm4-80gb.yaml: name the device by its id or path, or remove one alias")
    # the ids stay reachable
    assert get_hardware("mine", hw_path=[str(tmp_path)]).id == "mine"
    assert get_hardware("a100-sxm4-80gb", hw_path=[str(tmp_path)]).id == "a100-sxm4-80gb"
    r = invoke("run", "--hw", "a100", "-w", "dlrm", "--hw-path", str(tmp_path))
    assert r.exit_code == 2 and r.output.count("\n") == 1


def test_alias_cannot_shadow_an_id(tmp_path):
    # a user alias equal to a catalogue id: the id wins (ids are matched before aliases)
    (tmp_path / "mine.yaml").write_text(TAKEOVER.replace("[a100]", "[h100-sxm5]"))
    assert get_hardware("h100-sxm5", hw_path=[str(tmp_path)]).id == "h100-sxm5"


# ---- overrides on a built Workload ------------------------------------------------------------
def test_wl_overrides_on_a_built_workload_are_applied():
    built = get_workload(TINY)
    for batch in (1, 8, 200):
        got = roofsim.run(TOY, built, wl_overrides={"batch": batch}, cache_model="compulsory")
        want = roofsim.run(TOY, TINY, wl_overrides={"batch": batch}, cache_model="compulsory")
        assert got["time_s"].tolist() == want["time_s"].tolist()
        # proj: m = tokens_per = 2 * batch, n = k = 1024, count 3 -> 3 * 2 * (2 * batch) * 1024^2 FLOPs
        assert got["flops"].iloc[0] == 3 * 2 * (2 * batch) * 1024**2


def test_wl_overrides_that_cannot_be_applied_are_an_error():
    already = get_workload(TINY, overrides={"hidden": 512})
    with pytest.raises(RoofsimError, match="^wl_overrides: workload 'tiny' was built with other parameters"):
        roofsim.run(TOY, already, wl_overrides={"batch": 200})
    handmade = _fp32_gemm()
    with pytest.raises(RoofsimError, match="batch cannot be applied"):
        roofsim.run("a100", handmade, wl_overrides={"batch": 200})
