"""roofsim.capacity and the `memory` / `scale` commands."""
import json

import pytest
from click.testing import CliRunner

from roofsim.capacity import catalogue_fit, fewest_devices, largest_batch, scaling
from roofsim.cli import main
from roofsim.hw import get_hardware
from roofsim.parallel import Layout
from roofsim.workloads import get_workload

GIB80 = 80 * 2**30


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_llama2_70b_serving_fewest_devices():
    rows = {r["strategy"]: r for r in fewest_devices(get_workload("llama2-70b"), GIB80, 8)}
    # bf16: 137.95 GB of weights + 1.34 GB of KV cache; halved over 2 devices: 69.65 GB < 85.9 GB
    assert rows["tensor parallel (in the domain)"]["devices"] == 2
    assert rows["tensor parallel (in the domain)"]["per_device_bytes"] == pytest.approx(
        (137_953_296_384 + 327_680 * 4096) / 2 + 172_032 / 2)
    # int4 with fp16 group scales (0.515625 B per weight): 35.6 GB fits on one
    assert rows["tensor + pipeline, int4 weights"]["devices"] == 1
    assert rows["replicated (plain data parallel)"]["devices"] is None


def test_zero_stages_need_fewer_devices_in_order():
    rows = {r["strategy"]: r["devices"] for r in fewest_devices(get_workload("gpt3-175b"), GIB80, 8, checkpoint="full")}
    # 16 B x 174.6e9 = 2.79 TB of model states: ZeRO-3 divides all of it by the device count
    assert rows["ZeRO-3"] is not None and rows["ZeRO-1"] is None      # ZeRO-1 leaves 4 B/param: 698 GB
    assert rows["ZeRO-3 + optimizer offload"] <= rows["ZeRO-3"]


def test_largest_batch_by_hand():
    # Llama-2 7B decode on an H100, bf16: weights 6,738,415,616 x 2 = 13.48 GB; KV cache per sequence of
    # 4096 tokens: 2 x 32 layers x 32 KV heads x 128 x 2 B x 4096 = 2,147,483,648 B; activations are tiny.
    # (85,899,345,920 - 13,476,831,232) / 2,147,483,648 = 33.7 -> 33 sequences
    h100 = get_hardware("h100")
    build = lambda b: get_workload("llama2-7b", overrides={"phase": "decode", "batch": b, "context": 4096})
    assert largest_batch(build, h100) == 33


def test_catalogue_fit_sorts_by_fewest_devices():
    hws = [get_hardware(n) for n in ("h100", "mi300x", "a100-sxm4-40gb")]
    rows = catalogue_fit(get_workload("llama2-70b"), hws)
    # 139.3 GB as given: only the MI300X (192 GiB) holds it; quantised, one device of each does:
    # int8 (1 + 2/128 B per weight) 71.4 GB fits 80 GiB, int4 36.9 GB fits 40 GiB
    by = {r["hardware"]: r for r in rows}
    assert [r["hardware"] for r in rows] == ["mi300x", "a100-sxm4-40gb", "h100-sxm5"]
    assert by["mi300x"]["fits"] is True and by["mi300x"]["fewest_devices"] == 1
    assert by["h100-sxm5"]["fits"] is False and by["h100-sxm5"]["strategy"] == "tensor + pipeline, int8 weights"
    assert by["a100-sxm4-40gb"]["strategy"] == "tensor + pipeline, int4 weights"


def test_scaling_shrinks_a_layout_that_needs_more_devices():
    pts = scaling(get_hardware("h100"), get_workload("llama3-70b"), [8, 64], tp=8, pp=4)
    assert (pts[0].layout.tp, pts[0].layout.pp) == (8, 1) and "shrunk" in pts[0].note
    assert pts[0].efficiency == 1.0 and pts[1].layout.data_parallel == 2
    # one global batch for both: micro-batch 1 x the largest data-parallel size (2)
    assert pts[0].layout.global_batch == pts[1].layout.global_batch == 2


def test_memory_command_table_and_json():
    args = ("memory", "--hw", "h100", "--workload", "gpt3-175b", "--optimizer", "adam", "--zero", "3",
            "--devices", "1024", "--checkpoint", "full")
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "Largest micro-batch that fits" in r.output and "Across the catalogue" in r.output
    d = json.loads(invoke(*args, "--format", "json", "--no-catalogue").output)
    m = d["memory"]["per_device_bytes"]
    # ZeRO-3 over 1024: (2 + 2 + 12) B x 174,604,259,328 / 1024 = 2,728,191,552 B of model states
    assert m["weights"] + m["gradients"] + m["optimizer"] == pytest.approx(16 * 174_604_259_328 / 1024)
    assert d["memory"]["fits"] is True and d["largest_microbatch"] >= 1 and d["catalogue"] == []


def test_scale_command():
    r = invoke("scale", "--hw", "h100", "--workload", "llama3-70b", "--devices", "8,64,512,4096", "--tp", "8",
               "--pp", "4", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [x["devices"] for x in rows] == [8, 64, 512, 4096]
    for x in rows:
        assert x["compute_s"] + x["memory_s"] + x["communication_s"] + x["bubble_s"] == pytest.approx(x["step_s"])
    assert "strong scaling" in invoke("scale", "--hw", "h100", "-w", "llama3-70b", "--devices", "8,16", "--tp", "8").output


@pytest.mark.parametrize("devices", ["", "8,,16", "x", "0", "-8", "99999999999", ",".join(["8"] * 65)])
def test_scale_rejects_bad_device_lists(devices):
    r = invoke("scale", "--hw", "h100", "-w", "llama3-70b", "--devices", devices)
    assert r.exit_code == 2 and "--devices" in r.output and "Traceback" not in r.output
