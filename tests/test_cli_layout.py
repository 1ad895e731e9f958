"""`roofsim run` / `compare` with the memory footer, the JSON `memory` section and layout options."""
import json

import pytest
from click.testing import CliRunner

from roofsim.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_single_h100_says_llama2_70b_does_not_fit():
    r = invoke("run", "--hw", "h100", "--workload", "llama2-70b")
    assert r.exit_code == 0, r.output
    assert "DOES NOT FIT" in r.output and "assumes everything is resident in hbm (no offload)" in r.output
    # 68,976,648,192 x 2 B = 137.95 GB of weights
    assert "Weights 138 GB" in r.output


def test_run_json_memory_section():
    r = invoke("run", "--hw", "h100", "--workload", "llama2-70b", "--format", "json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)["memory"]
    assert set(m["per_device_bytes"]) == {"weights", "gradients", "optimizer", "activations", "kv_cache", "other"}
    assert m["per_device_bytes"]["weights"] == 137_953_296_384
    # 2 x 80 layers x 8 KV heads x 128 x 2 B x 4096 tokens
    assert m["per_device_bytes"]["kv_cache"] == 2 * 80 * 8 * 128 * 2 * 4096
    assert m["total_per_device_bytes"] == pytest.approx(sum(m["per_device_bytes"].values()))
    assert m["device_capacity_bytes"] == 80 * 2**30 and m["fits"] is False


def test_eight_h100s_with_tp8_fit_and_report_the_step():
    r = invoke("run", "--hw", "h100", "--workload", "llama2-70b", "--devices", "8", "--tp", "8", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["memory"]["fits"] is True and d["memory"]["per_device_bytes"]["weights"] == 137_953_296_384 / 8
    step = d["parallel"]["step"]
    assert d["parallel"]["layout"]["tp"] == 8 and step["devices"] == 8
    parts = step["compute_s"] + step["memory_s"] + step["communication_s"] + step["bubble_s"]
    assert parts == pytest.approx(step["total_s"])
    table = invoke("run", "--hw", "h100", "--workload", "llama2-70b", "--devices", "8", "--tp", "8")
    assert "Step on 8 devices" in table.output and "fits" in table.output


def test_offload_is_charged_to_the_host_link():
    r = invoke("run", "--hw", "h100", "--workload", "llama2-70b", "--offload", "weights", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    off = next(o for o in d["ops"] if o["name"].startswith("offload."))
    # 137.95 GB over PCIe 5 (64 GB/s x 0.85): ~2.54 s, bound by the host tier, plus the fixed
    # cost a non-GEMM kernel pays in series (efficiency.per_call.default; unset in the H100 SXM5 file,
    # whose measurements are all GEMMs: 0 us)
    from roofsim.hw import get_hardware
    fixed = get_hardware("h100").efficiency.call_seconds("default")
    assert off["bound"] == "memory:host"
    assert off["time_s"] == pytest.approx(137_953_296_384 / (64e9 * 0.85) + fixed, rel=1e-9)
    assert d["memory"]["fits"] is True and d["memory"]["offloaded_bytes"]["weights"] == 137_953_296_384


def test_checkpoint_option_rebuilds_the_recomputation():
    sel = json.loads(invoke("run", "--hw", "a100", "-w", "gpt3-175b", "--checkpoint", "selective", "--format", "json").output)
    full = json.loads(invoke("run", "--hw", "a100", "-w", "gpt3-175b", "--checkpoint", "full", "--format", "json").output)
    assert full["total_flops"] > sel["total_flops"]
    assert full["memory"]["per_device_bytes"]["activations"] < sel["memory"]["per_device_bytes"]["activations"]


def test_compare_in_a_layout():
    r = invoke("compare", "--hw", "h100,a100", "-w", "llama2-70b", "--devices", "8", "--tp", "8", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["layout"]["tp"] == 8 and all("step" in row and row["memory"]["fits"] for row in d["hardware"])
    assert d["hardware"][0]["total_time_s"] == d["hardware"][0]["step"]["total_s"]


@pytest.mark.parametrize("args, message", [
    (("--tp", "3"), "a divisor of the 64 attention heads"),
    (("--devices", "12", "--tp", "8"), "a multiple of tp x pp"),
    (("--offload", "disk"), "components among"),
    (("--devices", "8", "--global-batch", "3"), "a multiple of microbatch x dp"),
    (("--offload", "weights", "--offload-tier", "hbm"), "a far tier of h100-sxm5 (host)"),
])
def test_bad_layouts_are_one_line_and_exit_2(args, message):
    r = invoke("run", "--hw", "h100", "-w", "llama2-70b", *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("args", [("--tp", "0"), ("--devices", "-1"), ("--zero", "4"), ("--tp", "x"),
                                  ("--checkpoint", "half")])
def test_bad_option_values_exit_2(args):
    r = invoke("run", "--hw", "h100", "-w", "llama2-70b", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_checkpoint_needs_a_transformer():
    r = invoke("run", "--hw", "h100", "-w", "dlrm", "--checkpoint", "full")
    assert r.exit_code == 2 and "a workload with a recompute setting" in r.output


@pytest.mark.parametrize("command", [("memory", "--hw", "h100", "--no-catalogue"),
                                     ("scale", "--hw", "h100", "--devices", "8")])
def test_memory_and_scale_name_a_bad_override_as_the_flag(command):
    # as run does: the override is blamed in its own name, once, not the bundled file's key
    r = invoke(*command, "--workload", "llama2-70b", "--set", "wl.batch=0")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("--set wl.batch: expected an integer >= 1, found 0"), lines
