"""The other figures of roofsim.plotting (compare, ops, memory, the study's memory figure, the
trend figures) and their `roofsim plot` commands: structure and values in data coordinates, not
pixels. The toy chip: dram 1 TB/s, l2 10 TB/s, bf16 100 TFLOP/s, link 100 GB/s (see
test_plot_roofline.py for the times of the tiny workload's ops)."""
from pathlib import Path

import pytest

from roofsim import plotting
from roofsim.errors import RoofsimError
from roofsim.hw import derive, get_hardware

from plot_helpers import TINY, TOY, gids, invoke


def bar_widths(ax):
    """gid 'bar:<row>:<bound>' -> width, summed over the rectangles of that segment."""
    out = {}
    for p in ax.patches:
        g = p.get_gid() or ""
        if g.startswith("bar:"):
            out[g] = out.get(g, 0.0) + p.get_width()
    return out


# ---- compare ---------------------------------------------------------------------------------

def test_compare_bars_totals_and_speedup():
    toy = get_hardware(TOY)
    fast = derive(toy, {"memory.dram.bandwidth": "2 TB/s"}, id="toy-2tb", kind="hypothetical")
    fig = plotting.compare([toy, fast], TINY, ideal=True, cache_model="compulsory")
    ax = fig.axes[0]
    widths = bar_widths(ax)
    # ideal times (us): toy: 3 x 2.12992 (proj, dram) + 0.032768 (act, dram) + 0.01024 (sync, link)
    # = 6.432768; at 2 TB/s the dram terms halve: 3.19488 + 0.016384 + 0.01024 = 3.221504
    assert widths["bar:toy-chip:memory:dram"] == pytest.approx(6.422528)
    assert widths["bar:toy-chip:interconnect:link"] == pytest.approx(0.01024)
    assert widths["bar:toy-2tb:memory:dram"] == pytest.approx(3.211264)
    totals = {t.get_gid(): t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("total:")}
    assert totals["total:toy-chip"].strip() == "6.43 us (1.00x)"
    assert totals["total:toy-2tb"].strip() == "3.22 us (2.00x)"          # 6.432768 / 3.221504 = 1.997
    assert ax.get_xlabel() == "Time (us)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["toy-chip", "toy-2tb"]


# ---- ops ---------------------------------------------------------------------------------------

def _layered_workload(tmp_path, layers=250):
    """A 500-op workload: a GEMM and an activation per layer, named layer<i>.mlp / layer<i>.act."""
    ops = []
    for i in range(layers):
        ops.append(f"  - {{name: layer{i}.mlp, op: gemm, m: 64, n: 1024, k: 1024, dtype: bf16}}")
        ops.append(f"  - {{name: layer{i}.act, op: elementwise, elements: 65536, dtype: bf16}}")
    path = tmp_path / "layered.yaml"
    path.write_text("schema_version: 1\nname: layered\ndescription: many layers\nsource: roofsim tests\n"
                    "params: {}\nops:\n" + "\n".join(ops) + "\n")
    return str(path)


def test_ops_merges_layers_into_families(tmp_path):
    fig = plotting.ops(TOY, _layered_workload(tmp_path), ideal=True, cache_model="compulsory")
    by_kind, by_family = fig.axes[:2]
    # 500 ops become 2 kinds and 2 families (per-layer copies merged), not 500 bars
    assert [t.get_text() for t in by_kind.get_yticklabels()] == ["forward / gemm", "forward / elementwise"]
    assert [t.get_text() for t in by_family.get_yticklabels()] == ["layer#.mlp (x250)", "layer#.act (x250)"]
    assert "500 ops" in fig._suptitle.get_text()
    # every layer's GEMM moves (64x1024 + 1024^2 + 64x1024) x 2 B = 2359296 B of dram: 2.359296 us at
    # 1 TB/s (compute: 2 x 64 x 1024^2 / 100e12 = 1.34 us) -> 250 x 2.359296 us = 589.824 us
    assert bar_widths(by_family)["bar:layer#.mlp (x250):memory:dram"] == pytest.approx(589.824)


def test_ops_top_keeps_the_rest_in_one_bar(tmp_path):
    fig = plotting.ops(TOY, TINY, ideal=True, cache_model="compulsory", top=1)
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels == ["proj (x3)", "2 other families"]


def test_ops_needs_one_device():
    with pytest.raises(RoofsimError, match="one device for an op breakdown"):
        plotting.ops([TOY, "a100"], TINY, cache_model="compulsory")


# ---- memory ------------------------------------------------------------------------------------

def test_memory_bars_match_the_footprint_and_capacity_lines():
    from roofsim.memory import footprint
    from roofsim.workloads import get_workload
    fig = plotting.memory(["bert-large", "gpt2-xl"], ["a100", TOY])
    ax = fig.axes[0]
    for i, name in enumerate(["bert-large", "gpt2-xl"]):
        fp = footprint(get_workload(name))
        heights = sum(p.get_height() for p in ax.patches if i - 0.4 < p.get_x() + p.get_width() / 2 < i + 0.4)
        assert heights == pytest.approx(fp.total / 1e9)
    caps = {l.get_gid(): l.get_ydata()[0] for l in gids(ax, "capacity:")}
    # A100 80GB: 80 GiB = 85.899 GB; toy chip: 16 GiB = 17.180 GB
    assert caps == {"capacity:a100-sxm4-80gb": pytest.approx(80 * 2 ** 30 / 1e9),
                    "capacity:toy-chip": pytest.approx(16 * 2 ** 30 / 1e9)}
    assert {t.get_text() for t in gids(ax, "capacity-label:")} == {"a100-sxm4-80gb: 85.9 GB", "toy-chip: 17.2 GB"}
    assert "GB" in ax.get_ylabel()


def test_memory_study_figure_is_the_studys_data():
    fig = plotting.memory_study()
    ax = fig.axes[0]
    totals = {t.get_gid(): t.get_text() for t in gids(ax, "total:")}
    # GPT-2: parameters 5.86 + optimizer 11.72 + feature maps 8.63 = 26.21 GB, the README's total
    # (PROVENANCE.md: the README's 11.62 GB optimizer is a typo the figure corrects)
    assert totals["total:GPT-2\n2019"] == "26.2"
    (limit,) = gids(ax, "capacity:")
    # the GPU memory step: 3, 6, 12, 12, 12, 16, 32, 32 GB, each over one bar
    assert list(limit.get_ydata()[::2]) == [3, 6, 12, 12, 12, 16, 32, 32]


# ---- trends ------------------------------------------------------------------------------------

def test_trend_figure_hardware_structure():
    fig = plotting.trends("hardware")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    points = {c.get_gid(): len(c.get_offsets()) for c in gids(ax, "points:")}
    # the study's 2023 figure: 37 FLOPS, 12 DRAM and 10 interconnect points
    assert points == {"points:peak_flops": 37, "points:dram_bandwidth": 12, "points:interconnect_bandwidth": 10}
    assert len(gids(ax, "fit:")) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Peak FLOPS (3.03x / 2 yrs)", "DRAM bandwidth (1.59x / 2 yrs)",
                      "Interconnect bandwidth (1.42x / 2 yrs)"]
    # each series is relative to its first point: the R10000, the GDDR3 point, PCIe 1.0a are 1
    for c in gids(ax, "points:"):
        xs, ys = c.get_offsets()[:, 0], c.get_offsets()[:, 1]
        assert ys[xs.argmin()] == pytest.approx(1.0)
    # a fitted line rises by its factor per two years: 3.03 ** (span in years / 2)
    (flops,) = gids(ax, "fit:peak_flops")
    x, y = flops.get_data()
    from roofsim.trends import fit, study_series
    f = fit(study_series()[0].points)
    assert y[1] / y[0] == pytest.approx(f.factor_per_2y ** ((x[1] - x[0]) / 365.25 / 2))


def test_trend_figures_models_and_compute():
    models = plotting.trends("models").axes[0]
    assert {c.get_gid() for c in gids(models, "fit:")} == {"fit:transformer_parameters", "fit:accelerator_memory"}
    # memory (GB) / 6 on the parameter axis (billions): the H100's 80 GB sits at 13.33
    mem = next(c for c in gids(models, "points:") if c.get_gid() == "points:accelerator_memory")
    assert max(mem.get_offsets()[:, 1]) == pytest.approx(80 / 6)
    compute = plotting.trends("compute").axes[0]
    assert "PFLOP" in compute.get_ylabel()
    assert [c.get_gid() for c in gids(compute, "fit:")] == ["fit:transformer_training_compute"]


def test_trend_figures_refuse_bad_choices():
    with pytest.raises(RoofsimError, match="expected one of hardware, models, compute"):
        plotting.trends("weather")
    with pytest.raises(RoofsimError, match="training compute comes only"):
        plotting.trends("compute", "catalogue")


def test_trend_figure_from_the_catalogue():
    ax = plotting.trends("hardware", "catalogue").axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("Peak FLOPS (") and "catalogue" in ax.get_title(loc="left")


# ---- commands ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args,name", [
    (["memory", "--study"], "memory-study.png"),
    (["trends", "--figure", "compute"], "trends-compute-study.png"),
    (["compare", "--hw", f"{TOY}", "--workload", TINY, "--cache-model", "compulsory"], "compare-tiny-toy-chip.png"),
    (["ops", "--hw", TOY, "--workload", TINY, "--cache-model", "compulsory"], "ops-tiny-toy-chip.png"),
    (["memory", "--workload", TINY, "--hw", TOY], "memory-tiny.png"),
])
def test_commands_write_their_default_file(tmp_path, monkeypatch, args, name):
    monkeypatch.chdir(tmp_path)
    r = invoke("plot", *args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "plots" / name).read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args,message", [
    (["memory"], "expected either --workload NAMES or --study, found neither"),
    (["memory", "--study", "--workload", "bert-large"], "found both"),
    (["memory", "--workload", "no-such-model"], "no-such-model"),
    (["trends", "--figure", "weather"], "Invalid value for '--figure'"),
    (["trends", "--figure", "compute", "--source", "catalogue"], "training compute comes only"),
    (["trends", "-o", "t.bmp"], "expected a file name ending in .png, .svg or .pdf, found .bmp"),
    (["ops", "--hw", "no-such-chip", "--workload", TINY], "unknown hardware 'no-such-chip'"),
    (["compare", "--hw", TOY, "--workload", TINY, "-o", "missing/x.png"], "--output missing/x.png: cannot write"),
])
def test_commands_bad_input_one_line_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = invoke("plot", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "plots").exists() or not list((tmp_path / "plots").iterdir())
