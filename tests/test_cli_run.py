"""`roofsim run`, `compare` and `workload`: outputs, JSON schema, error paths and exit codes."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofsim.cli import main

DATA = Path(__file__).parent / "data"
TOY = str(DATA / "engine" / "toy-chip.yaml")
TINY = str(DATA / "wl" / "tiny.yaml")


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_run_table_names_the_limiter():
    r = invoke("run", "--hw", "a100", "--workload", "dlrm")
    assert r.exit_code == 0, r.output
    assert "dlrm on NVIDIA A100 SXM4 80GB takes" in r.output and "is limited by" in r.output
    assert "Time by bound:" in r.output


def test_run_json_is_consistent():
    r = invoke("run", "--hw", TOY, "--workload", TINY, "--format", "json", "--ideal")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    for key in ("hardware", "workload", "total_time_s", "total_flops", "time_by_bound_s", "ops"):
        assert key in d
    assert d["hardware"] == "toy-chip" and d["workload"] == "tiny" and d["ideal"] is True
    assert [o["name"] for o in d["ops"]] == ["proj", "act", "sync"]
    assert sum(o["time_s"] for o in d["ops"]) == pytest.approx(d["total_time_s"])
    assert sum(d["time_by_bound_s"].values()) == pytest.approx(d["total_time_s"])
    proj = d["ops"][0]
    # count 3 x 2*8*1024*1024 FLOP, bf16 compute on 100 TFLOP/s vs bytes: A 8x1024, B 1024^2, C 8x1024
    # at 2 B: (8192 + 1048576 + 8192) * 2 = 2129920 B per execution over dram at 1e12 B/s = 2.13 us
    # vs compute 16777216 / 100e12 = 0.168 us -> memory:dram, 3 x 2.12992 us
    assert proj["flops"] == 3 * 2 * 8 * 1024 * 1024
    assert proj["bytes"]["dram"] == 3 * 2129920
    assert proj["time_s"] == pytest.approx(3 * 2129920 / 1e12)
    assert proj["bound"] == "memory:dram"
    # all-gather of 2048 B over 2: (2-1)/2 * 2048 = 1024 B / 100e9 = 10.24 ns
    assert d["ops"][2]["bound"] == "interconnect:link"
    assert d["ops"][2]["time_s"] == pytest.approx(1024 / 100e9)


def test_set_overrides_hardware_and_workload():
    base = json.loads(invoke("run", "--hw", TOY, "--workload", TINY, "--format", "json", "--ideal").output)
    r = invoke("run", "--hw", TOY, "--workload", TINY, "--format", "json", "--ideal",
               "--set", "hw.memory.dram.bandwidth=2 TB/s", "--set", "wl.batch=8")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    # batch 8 -> tokens 16: proj bytes (16*1024*2 + 1024^2) * 2 = 2162688 B at 2e12 B/s
    assert d["ops"][0]["time_s"] == pytest.approx(3 * 2162688 / 2e12)
    assert d["ops"][0]["time_s"] < base["ops"][0]["time_s"]


def test_output_file_is_written_and_not_left_behind_on_error(tmp_path):
    out = tmp_path / "res.json"
    r = invoke("run", "--hw", TOY, "--workload", TINY, "--format", "json", "--output", str(out))
    assert r.exit_code == 0 and json.loads(out.read_text())["workload"] == "tiny"
    bad = tmp_path / "bad.json"
    r = invoke("run", "--hw", TOY, "--workload", TINY, "--output", str(bad), "--set", "wl.nope=1")
    assert r.exit_code == 2 and not bad.exists()
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left either


@pytest.mark.parametrize("args,message", [
    (("run", "--hw", "nope", "--workload", "dlrm"), "error: unknown hardware 'nope'; run `roofsim hw list`"),
    (("run", "--hw", "a10O", "--workload", "dlrm"), "error: unknown hardware 'a10O'; did you mean a10, a100, v100?"),
    (("run", "--hw", "a100", "--workload", "dlmr"), "error: unknown workload 'dlmr'; did you mean dlrm?"),
    (("run", "--hw", "a100", "--workload", "dlrm", "--set", "batch=3"),
     "error: --set batch=3: expected a key starting with hw. or wl., found 'batch'"),
    (("run", "--hw", "a100", "--workload", "dlrm", "--set", "hw.memory.hmb.bandwidth=1 TB/s"),
     "error: --set hw.memory.hmb.bandwidth: expected one of the keys registers, smem, l2, hbm, host, found unknown key 'hmb' (did you mean 'hbm'?)"),
    (("run", "--hw", "a100", "--workload", "dlrm", "--set", "hw.memory.hbm.bandwidth=1 TB"),
     "error: --set hw.memory.hbm.bandwidth: expected a bandwidth, e.g. 2 TB/s, found '1 TB', which is a size"),
])
def test_errors_exit_2_with_one_clear_line(args, message):
    r = invoke(*args)
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == [message]
    assert "Traceback" not in r.output


def test_broken_workload_lists_every_problem():
    r = invoke("run", "--hw", "a100", "--workload", str(DATA / "wl" / "broken.yaml"))
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("error: ") and "broken.yaml: ops[" in line for line in lines)


def test_compare_speedups_against_the_first():
    r = invoke("compare", "--hw", f"a100,h100,{TOY}", "--workload", "dlrm", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    rows = d["hardware"]
    assert [x["hardware"] for x in rows] == ["a100-sxm4-80gb", "h100-sxm5", "toy-chip"]
    assert rows[0]["speedup"] == 1.0
    for x in rows[1:]:
        assert x["speedup"] == pytest.approx(rows[0]["total_time_s"] / x["total_time_s"])
    table = invoke("compare", "--hw", "a100,h100", "--workload", "dlrm")
    assert "Bound changes on h100-sxm5 vs a100-sxm4-80gb" in table.output


def test_workload_show_json():
    r = invoke("workload", "show", TINY, "--format", "json")
    d = json.loads(r.stdout)
    assert d["op_count"] == 3 and d["tokens"] == 8
    assert d["flops_per_token"] == pytest.approx((3 * 16777216 + 8192) / 8)
    r = invoke("workload", "show", "dlrm", "--format", "json")
    # MLPerf DLRM-DCNv2: 204,184,588 rows x 128 = 26.1e9 embedding parameters (tests/test_dlrm.py)
    assert 2.61e10 < json.loads(r.stdout)["parameters"] < 2.62e10


def _embedding_hbm_bytes(*extra):
    d = json.loads(invoke("run", "--hw", "a100", "--workload", "dlrm", "--format", "json", *extra).output)
    return next(o for o in d["ops"] if o["name"] == "emb_20")["bytes"]["hbm"]


def test_gathers_go_through_the_cache_model_by_default():
    compulsory = _embedding_hbm_bytes("--cache-model", "compulsory")
    # MLPerf table 20: 100 lookups per sample, 8192 samples per device -> 819200 rows of 128 fp32
    # = 512 B (four whole 128 B L2 lines), their int32 ids and 8192 + 1 bag offsets, and 8192
    # pooled output rows of 512 B
    ids_and_out = (819200 + 8192 + 1) * 4 + 8192 * 512
    assert compulsory == 819200 * 512 + ids_and_out
    default = _embedding_hbm_bytes()
    assert default == _embedding_hbm_bytes("--cache-model", "mrc")
    # Zipf-popular rows hit in the 40 MiB L2, so fewer bytes reach HBM than compulsory traffic;
    # never fewer than the ids and outputs that stream past the cache model
    assert ids_and_out < default < compulsory


def test_compare_reports_bound_changes_by_position_even_with_repeated_op_names():
    from roofsim.hw import derive, get_hardware
    from roofsim.ops import Workload, elementwise
    from roofsim.report import compare_json
    from roofsim.roofline import evaluate
    toy = get_hardware(TOY)
    no_floor = derive(toy, {"efficiency.latency": "0 s"}, id="toy-no-floor")
    # 1000 fp32 elements: 8000 B / 0.8e12 B/s = 10 ns, under the toy's 10 us floor -> latency;
    # without the floor the same op is dram-bound. Two ops share the name "x".
    wl = Workload("w", (elementwise("x", 1000, "fp32"), elementwise("x", 1000, "fp32")))
    doc = compare_json(evaluate([toy, no_floor], wl), [toy, no_floor], wl, ideal=False)
    assert doc["bound_changes"][0]["new_bounds"] == []
    assert doc["bound_changes"][1]["new_bounds"] == [{"op": "x", "bound": "memory:dram"}] * 2
    # 2 x 10 us against 2 x 10 ns: a speedup of 1000
    assert doc["hardware"][1]["speedup"] == pytest.approx(1000)
