"""validate(): predictions beside measurements; error_summary(): the arithmetic of the figures."""
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.hw import get_hardware
from roofsim.measure.records import Measurement, load_measurements, to_op
from roofsim.measure.validate import error_summary, miss_label, overall, validate

DATA = Path(__file__).parent / "data" / "measure"
HW = str(DATA / "round-cpu.yaml")


def test_validate_prices_each_kernel_on_its_device():
    hw = get_hardware(HW)
    df = validate(hw, load_measurements(DATA / "good.csv"))
    # other-chip's row is not this device's; the alias 'round' is
    assert list(df["kernel"]) == ["square", "copy"]
    sq, copy = df.iloc[0], df.iloc[1]
    # square: 2e9 FLOPs / 20 GFLOP/s (efficiency 1) = 0.1 s; its bytes at dram are at most
    # (16 re-reads of A and B: 64-wide tiles in half of the 32 KiB L1) 132 MB / 10 GB/s = 13.2 ms
    assert sq["predicted_s"] == pytest.approx(0.1) and sq["bound"] == "compute"
    assert sq["ratio"] == pytest.approx(0.5) and sq["miss"] == "model too fast"
    # copy: 1e6 fp32 in + 1e6 out = 8 MB / 10 GB/s = 0.8 ms against 0.4 ms measured
    assert copy["predicted_s"] == pytest.approx(8e-4) and copy["bound"] == "memory:dram"
    assert copy["ratio"] == pytest.approx(2.0) and copy["miss"] == "model too slow"
    assert copy["bound_share"] == 1.0


def test_no_measurement_of_this_device_names_those_present():
    hw = get_hardware(HW)
    other = [m for m in load_measurements(DATA / "good.csv") if m.device == "other-chip"]
    with pytest.raises(SpecError) as e:
        validate(hw, other)
    assert str(e.value) == "device: expected measurements of round-cpu (or an alias of it), found only other-chip"


def test_multi_op_kernel_sums_its_ops():
    hw = get_hardware(HW)
    ops = (to_op({"kind": "elementwise", "dtype": "fp32", "elements": "1000000"}, "a"),
           to_op({"kind": "reduction", "dtype": "fp32", "elements": "1000000"}, "b"))
    df = validate(hw, [Measurement("two", "round-cpu", "pair", ops, 1.2e-3, "made up")])
    # 0.8 ms (8 MB) + 4 MB read + 4 B written / 10 GB/s = 0.4 ms: 1.2000004 ms
    assert df["predicted_s"].iloc[0] == pytest.approx(1.2e-3 + 4e-10)
    assert df["kind"].iloc[0] == "elementwise+reduction" and df["ops"].iloc[0] == 2
    assert df["bound_share"].iloc[0] == pytest.approx(1.0)


def test_measurement_refuses_bad_time():
    op = to_op({"kind": "reduction", "dtype": "fp32", "elements": "10"})
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(SpecError):
            Measurement("x", "d", "c", (op,), bad, "s")


@pytest.mark.parametrize("ratio,label", [(1.25, ""), (0.75, ""), (1.26, "model too slow"), (0.74, "model too fast")])
def test_miss_label_edges(ratio, label):
    assert miss_label(ratio) == label


def test_error_summary_arithmetic():
    df = pd.DataFrame({
        "kernel": ["a", "b", "c", "d", "e"],
        "category": ["x", "x", "x", "y", "y"],
        "bound": ["compute", "memory:dram", "memory:dram", "latency", "compute"],
        "ratio": [1.1, 0.5, 3.0, 1.0, 0.8],
    })
    s = error_summary(df)
    assert list(zip(s["group"], s["name"])) == [
        ("category", "x"), ("category", "y"), ("bound", "compute"), ("bound", "latency"), ("bound", "memory:dram"),
        ("overall", "all")]
    o = overall(s)
    # |ratio - 1| = 0.1, 0.5, 2.0, 0.0, 0.2: sorted 0, 0.1, 0.2, 0.5, 2.0 -> median 0.2, mean 2.8 / 5 = 0.56
    assert o["median_abs_error"] == pytest.approx(0.2) and o["mean_abs_error"] == pytest.approx(0.56)
    # within 25 %: a, d, e (0.1, 0, 0.2) = 3/5; within 2x: all but c (3.0) = 4/5 (b at exactly 0.5 counts)
    assert o["within_25pct"] == pytest.approx(0.6) and o["within_2x"] == pytest.approx(0.8)
    assert o["median_ratio"] == pytest.approx(1.0) and o["worst_kernel"] == "c" and o["worst_ratio"] == 3.0
    x = s.iloc[0]
    # x: 0.1, 0.5, 2.0 -> median 0.5, mean 2.6 / 3
    assert x["kernels"] == 3 and x["median_abs_error"] == pytest.approx(0.5)
    assert x["mean_abs_error"] == pytest.approx(2.6 / 3) and x["within_25pct"] == pytest.approx(1 / 3)
    dram = s[s["name"] == "memory:dram"].iloc[0]
    # the misses b (0.5) and c (3.0) both come from main-memory bandwidth
    assert dram["kernels"] == 2 and dram["within_25pct"] == 0.0 and dram["within_2x"] == 0.5


def test_error_summary_of_nothing_is_empty():
    s = error_summary(pd.DataFrame({"kernel": [], "category": [], "bound": [], "ratio": []}))
    assert s.empty and overall(s) is None


def test_cli_table_and_json():
    r = CliRunner().invoke(main, ["validate", "--hw", HW, "--measurements", str(DATA / "good.csv"),
                                  "--format", "json", "--cache-model", "compulsory"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["hardware"] == "round-cpu" and [k["kernel"] for k in d["kernels"]] == ["square", "copy"]
    o = [s for s in d["summary"] if s["group"] == "overall"][0]
    # ratios 0.5 and 2.0: both 50 % / 100 % off; median (0.5 + 1.0) / 2
    assert o["median_abs_error"] == pytest.approx(0.75) and o["within_2x"] == 1.0
    r = CliRunner().invoke(main, ["validate", "--hw", HW, "--measurements", str(DATA / "good.csv")])
    assert r.exit_code == 0, r.output
    assert "2 kernels on Round-number CPU for measurement tests (round-cpu)" in r.output
    assert "overall   all" in r.output


def test_cli_needs_measurements():
    r = CliRunner().invoke(main, ["validate", "--hw", HW])
    assert r.exit_code == 2 and r.output == "error: --measurements/--suite: expected exactly one of them, found neither\n"


def test_plot_predicted_vs_measured(tmp_path):
    from roofsim.plotting import predicted_vs_measured
    hw = get_hardware(HW)
    fig = predicted_vs_measured(validate(hw, load_measurements(DATA / "good.csv")), hw)
    # ratios 0.5 and 2.0: |error| 50 % and 100 % (median 75 %), none within 25 %, both within 2x
    assert fig.axes[0].get_title() == "2 kernels: median |error| 75%, 0% within 25 %, 100% within 2x"
    png = tmp_path / "v.png"
    r = CliRunner().invoke(main, ["validate", "--hw", HW, "--measurements", str(DATA / "good.csv"), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_plot_labels_only_the_worst_misses_where_they_fit():
    # 20 kernels, predicted/measured 1.3, 1.4, ... 3.2 (each outside 25 %): only the 8 worst
    # (MAX_MISS_LABELS) may be labelled, worst (3.2) first; the footnote counts the rest
    import pandas as pd
    from roofsim.plotting import MAX_MISS_LABELS, predicted_vs_measured
    from plot_helpers import gids
    ratios = [1.2 + 0.1 * i for i in range(1, 21)]
    df = pd.DataFrame(dict(kernel=[f"k{i}" for i in range(20)], category="gemm", bound="compute",
                           measured_s=[1e-5 * 2 ** i for i in range(20)], ratio=ratios))
    df["predicted_s"] = df["measured_s"] * df["ratio"]
    fig = predicted_vs_measured(df)
    labels = [t.get_text() for t in gids(fig.axes[0], "label:")]
    assert MAX_MISS_LABELS == 8 and 0 < len(labels) <= 8
    assert labels[0] == "k19" and set(labels) <= {f"k{i}" for i in range(12, 20)}
    foot = [t.get_text() for t in fig.texts if t.get_gid() == "footnote"]
    assert foot == [f"20 kernels outside 25 %: the {len(labels)} worst labelled"]


def test_plot_path_checked_before_work(tmp_path):
    r = CliRunner().invoke(main, ["validate", "--hw", HW, "--suite", "cpu", "--plot", str(tmp_path / "v.txt")])
    assert r.exit_code == 2
    assert r.output == f"error: --plot {tmp_path / 'v.txt'}: expected a file name ending in .png, .svg or .pdf, found .txt\n"


def test_a_host_timed_kernel_also_pays_the_eager_dispatch_in_series():
    from roofsim.hw import derive
    hw = derive(get_hardware(HW), {"efficiency.kernel.eager_overhead": "30 us"})
    op = to_op({"kind": "elementwise", "dtype": "fp32", "elements": 1e6})
    kernel = Measurement("copy", hw.id, "copy", (op,), 1e-3, "s")
    host = Measurement("copy", hw.id, "copy", (op,), 1e-3, "s", timing="host")
    df = validate(hw, [kernel, host])
    # the copy alone: 8 MB / 10 GB/s = 0.8 ms; host-timed with a synchronise after each call: + 30 us
    assert list(df["predicted_s"]) == pytest.approx([8e-4, 8e-4 + 30e-6])


@pytest.mark.parametrize("spreads,line", [
    # median of 0.05, 0.3, 0.4 = 30 % > 10 %: the machine was busy
    ((0.05, 0.3, 0.4), "median spread of repeats 30% (above 10%: the machine was busy while measuring"),
    # median of 0.01, 0.02, 0.5 = 2 %: quiet, no warning
    ((0.01, 0.02, 0.5), "median spread of repeats 2%")])
def test_the_suite_says_how_noisy_its_measurements_were(monkeypatch, spreads, line):
    from roofsim.measure import suites
    op = to_op({"kind": "elementwise", "dtype": "fp32", "elements": 1e6})
    monkeypatch.setattr(suites, "suite", lambda name, hw: [])
    monkeypatch.setattr(suites, "measure", lambda kernels, hw, repeats, progress: [
        Measurement(f"k{i}", hw.id, "copy", (op,), 1e-3, "s", spread=s) for i, s in enumerate(spreads)])
    r = CliRunner().invoke(main, ["validate", "--hw", HW, "--suite", "cpu"])
    assert r.exit_code == 0, r.output
    last = r.output.rstrip("\n").splitlines()[-1]
    assert last.startswith(line) and (("busy" in last) == (spreads[1] > 0.1))
