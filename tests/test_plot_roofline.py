"""roofsim.plotting.roofline and `roofsim plot roofline`: the structure of the figure (log axes,
ceilings, slopes, ridge points, points, labels), that labels never overlap, and the files written.
Pixels are not compared; positions are checked in data coordinates against hand-derived values.

The toy chip (tests/data/engine/toy-chip.yaml) has round numbers: bf16 matrix 100 TFLOP/s, fp32
vector 10 TFLOP/s; l2 10 TB/s, dram (main) 1 TB/s, host 50 GB/s; smem has no bandwidth.
"""
import itertools
from pathlib import Path

import pytest
from matplotlib.colors import to_hex

from roofsim import plotting
from roofsim.errors import RoofsimError

from plot_helpers import TINY, TOY, gids, invoke


@pytest.fixture(scope="module")
def toy_fig():
    return plotting.roofline(TOY, TINY, ideal=True, cache_model="compulsory")


def test_axes_are_log_log_with_units(toy_fig):
    ax = toy_fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "FLOP per byte" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel()
    title = ax.get_title(loc="left")
    assert "tiny" in title and "Toy chip for hand-derived tests" in title and "forward" in title
    assert "ideal" in title


def test_ceilings_slopes_and_ridge(toy_fig):
    ax = toy_fig.axes[0]
    # both ops with FLOPs run in bf16 (the elementwise op falls back from vector to the matrix
    # units, the toy chip has no bf16 vector peak): one ceiling, at 100 TFLOP/s
    (ceiling,) = gids(ax, "ceiling:")
    assert ceiling.get_gid() == "ceiling:toy-chip:bf16 matrix"
    assert set(ceiling.get_ydata()) == {100e12}
    # a slope per level with a bandwidth: l2, dram, host (smem has none); y = bandwidth x intensity
    slopes = {a.get_gid().split(":")[-1]: a for a in gids(ax, "bandwidth:")}
    assert sorted(slopes) == ["dram", "host", "l2"]
    for name, bw in (("l2", 10e12), ("dram", 1e12), ("host", 50e9)):
        x, y = slopes[name].get_data()
        assert y[0] == pytest.approx(bw * x[0]) and y[1] == pytest.approx(bw * x[1])
    # each slope ends on the ceiling: dram at 100e12 / 1e12 = 100 FLOP/B
    assert slopes["dram"].get_xdata()[1] == pytest.approx(100.0)
    (ridge,) = gids(ax, "ridge:")
    assert ridge.get_xdata()[0] == pytest.approx(100.0) and ridge.get_ydata()[0] == pytest.approx(100e12)
    labels = {t.get_gid(): t.get_text() for t in ax.texts}
    assert labels["ceiling-label:toy-chip:bf16 matrix"] == "bf16 matrix 100 TFLOP/s"
    assert labels["bandwidth-label:toy-chip:dram"] == "dram 1 TB/s"


def test_points_sit_on_their_roof(toy_fig):
    ax = toy_fig.axes[0]
    points = [p for c in gids(ax, "ops:") for p in c.get_offsets()]
    # tiny has three ops; the all-gather has no FLOPs, so it cannot be placed on a log axis
    assert len(points) == 2
    assert "1 op(s) per device not drawn" in next(t.get_text() for t in toy_fig.texts if t.get_gid() == "footnote")
    # ideal roofline: proj moves (8x1024 + 1024^2 + 8x1024) x 2 B = 2129920 B of dram per run for
    # 2 x 8 x 1024^2 FLOP: intensity 7.877 FLOP/B, memory-bound, so it sits on the dram slope (1 TB/s)
    proj = min(points, key=lambda p: abs(p[0] - 16777216 / 2129920))
    assert proj[0] == pytest.approx(16777216 / 2129920)
    assert proj[1] == pytest.approx(proj[0] * 1e12)
    # both ops are dram-bound: both are drawn in the main-memory colour
    faces = {to_hex(f) for c in gids(ax, "ops:") for f in c.get_facecolors()}
    assert faces == {plotting.MAIN_MEMORY.lower()}


def test_top_ops_are_labelled():
    fig = plotting.roofline(TOY, TINY, ideal=True, cache_model="compulsory", top=1)
    ax = fig.axes[0]
    labels = [t.get_text() for t in gids(ax, "label:")]
    # proj: 3 x 2.12992 us; act: 8192 x 2 x 2 B = 32768 B at 1 TB/s = 0.032768 us; sync: 1024 B at
    # 100 GB/s = 0.01024 us -> proj has 6.38976 / 6.432768 = 99.3% of the time
    assert labels == ["proj (99%)"]
    assert [t.get_text() for t in gids(plotting.roofline(TOY, TINY, ideal=True, cache_model="compulsory", top=0).axes[0],
                                        "label:")] == []


def test_explicit_dtypes_draw_their_ceilings():
    fig = plotting.roofline(TOY, TINY, ideal=True, cache_model="compulsory", dtypes=["fp32", "bf16", "fp8"])
    ceilings = {c.get_gid(): c.get_ydata()[0] for c in gids(fig.axes[0], "ceiling:")}
    # the toy chip has bf16 matrix 100 TFLOP/s and fp32 vector 10 TFLOP/s, and no fp8
    assert ceilings == {"ceiling:toy-chip:bf16 matrix": 100e12, "ceiling:toy-chip:fp32 vector": 10e12}


def _placed_boxes(fig):
    """gid -> the boxes a label takes (rotated labels: squares along their baseline)."""
    from matplotlib.text import Text
    placer = plotting.LabelPlacer(fig.axes[0])
    out = []
    for t in fig.axes[0].texts:
        if hasattr(t, "update_positions"):   # an annotation: its text, not its leader line
            t.update_positions(placer.renderer)
            out.append((t.get_gid(), [Text.get_window_extent(t, placer.renderer)]))
        else:
            out.append((t.get_gid(), [b.shrunk(0.97, 0.9) for b in placer.boxes_of(t)]))
    return out


@pytest.mark.parametrize("hws,wl", [(["a100", "h100", "mi300x"], "dlrm"), (["h100"], "gpt3-175b")])
def test_labels_do_not_overlap_and_stay_inside(hws, wl):
    fig = plotting.roofline(hws, wl, cache_model="compulsory", top=10)
    boxes = _placed_boxes(fig)
    assert len(boxes) >= 5
    inside = fig.axes[0].bbox
    for (g1, b1), (g2, b2) in itertools.combinations(boxes, 2):
        assert not any(x.overlaps(y) for x in b1 for y in b2), (g1, g2)
    for g, bs in boxes:
        for b in bs:
            assert inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1, g


def test_devices_differ_in_style_and_colours_are_okabe_ito():
    fig = plotting.roofline(["a100", "h100"], "dlrm", cache_model="compulsory")
    ax = fig.axes[0]
    styles = {c.get_gid().split(":")[1]: c.get_linestyle() for c in gids(ax, "ceiling:")}
    assert set(styles) == {"a100-sxm4-80gb", "h100-sxm5"} and len(set(styles.values())) == 2
    allowed = {c.lower() for c in plotting.OKABE_ITO.values()} | {plotting.GREY.lower()}
    used = {to_hex(l.get_color()) for l in ax.lines}
    used |= {to_hex(f) for c in gids(ax, "ops:") for f in c.get_facecolors() if f[3] > 0}
    assert used <= allowed
    legends = {l.get_title().get_text() for l in fig.legends}
    assert {"roof and bound (colour)", "op kind (shape)", "share of time (size)", "device (line, fill)"} <= legends


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_to_bytes_formats_and_determinism(toy_fig, fmt, magic):
    data = plotting.to_bytes(toy_fig, fmt)
    assert data.startswith(magic) and len(data) > 1000
    if fmt != "png":   # text formats carry no date: the same figure gives the same file
        assert plotting.to_bytes(toy_fig, fmt) == data


@pytest.mark.parametrize("name", ["x.gif", "x", "x.png.txt", "folder/"])
def test_format_of_refuses_other_extensions(name):
    with pytest.raises(RoofsimError, match="expected a file name ending in .png, .svg or .pdf"):
        plotting.format_of(name)
    assert plotting.format_of("a/b.SVG") == "svg"


# ---- the command -----------------------------------------------------------------------------

def test_cli_default_file_under_plots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("plot", "roofline", "--hw", TOY, "--workload", TINY, "--ideal", "--cache-model", "compulsory")
    assert r.exit_code == 0, r.output
    out = tmp_path / "plots" / "roofline-tiny-toy-chip.png"
    assert out.read_bytes().startswith(b"\x89PNG")
    assert r.output.strip().startswith(f"wrote {Path('plots') / 'roofline-tiny-toy-chip.png'}")


@pytest.mark.parametrize("ext,magic", [("svg", b"<?xml"), ("pdf", b"%PDF"), ("PNG", b"\x89PNG")])
def test_cli_format_by_extension(tmp_path, ext, magic):
    out = tmp_path / f"r.{ext}"
    r = invoke("plot", "roofline", "--hw", f"{TOY}", "--workload", TINY, "--cache-model", "compulsory", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(magic)


def test_cli_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real.png"
    real.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(real)
    r = invoke("plot", "roofline", "--hw", TOY, "--workload", TINY, "--cache-model", "compulsory", "-o", str(link))
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and real.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args,message", [
    (["-o", "{tmp}/r.gif"], "expected a file name ending in .png, .svg or .pdf, found .gif"),
    (["-o", "{tmp}/missing/r.png"], "no such folder"),
    (["-o", "{tmp}"], "expected a file name ending in .png, .svg or .pdf"),
    (["--hw", "no-such-chip"], "unknown hardware 'no-such-chip'"),
    (["--workload", "no-such-model"], "no-such-model"),
    (["--set", "wl.batch=-3"], "wl.batch: expected a value with which tiny builds, found -3"),
    (["--top", "-1"], "Invalid value for '--top'"),
    (["--dtypes", "fp32,fp99"], "dtypes: expected dtypes among"),
    (["--hw", ","], "hardware"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, message):
    base = {"--hw": TOY, "--workload": TINY}
    for flag in ("--hw", "--workload"):
        if flag in args:
            base.pop(flag)
    argv = ["plot", "roofline", "--cache-model", "compulsory"] + [x for kv in base.items() for x in kv]
    r = invoke(*argv, *[a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".*.tmp"))


# ---- properties --------------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=40))
def test_format_of_any_name_is_a_format_or_one_error(name):
    try:
        fmt = plotting.format_of(name)
    except RoofsimError as e:
        assert str(e).startswith(f"--output {name}: expected a file name ending in .png, .svg or .pdf")
    else:
        assert fmt in plotting.FORMATS and name.lower().endswith("." + fmt)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(-2, 4), st.floats(9, 15), st.text("abcdefgh_.", min_size=1, max_size=18)),
                min_size=1, max_size=25))
def test_label_placer_never_overlaps(anchors):
    """Any anchors on log axes: every label placed lies inside the axes and overlaps no other."""
    fig = plotting._figure(8, 5)
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1e-2, 1e4)
    ax.set_ylim(1e9, 1e15)
    placer = plotting.LabelPlacer(ax)
    placed = [placer.annotate(text, (10 ** x, 10 ** y)) for x, y, text in anchors]
    assert len([p for p in placed if p]) + len(placer.dropped) == len(anchors)
    from matplotlib.text import Text
    boxes = []
    for a in placed:
        if a is not None:
            a.update_positions(placer.renderer)
            boxes.append(Text.get_window_extent(a, placer.renderer))
    for i, b in enumerate(boxes):
        assert ax.bbox.x0 <= b.x0 and b.x1 <= ax.bbox.x1 and ax.bbox.y0 <= b.y0 and b.y1 <= ax.bbox.y1
        assert not any(b.overlaps(c) for c in boxes[i + 1:])


def test_a_results_frame_is_reused_and_must_cover_the_devices():
    import roofsim
    df = roofsim.run(TOY, TINY, ideal=True, cache_model="compulsory")
    fig = plotting.roofline(TOY, TINY, results=df, ideal=True)
    assert sum(len(c.get_offsets()) for c in gids(fig.axes[0], "ops:")) == 2     # proj and act, as above
    with pytest.raises(RoofsimError, match="results: expected rows for every device plotted, found none for a100"):
        plotting.roofline([TOY, "a100"], TINY, results=df)
