"""Plots. Every plot is one call that returns a matplotlib Figure (it shows in a notebook as it is);
``to_bytes`` renders one to PNG, SVG or PDF and the CLI only saves those bytes.

The only module that imports matplotlib. Figures are built with the object API on an Agg canvas:
no pyplot, no global backend or state is touched, so plotting is safe inside a notebook or a
server. Colours are the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies); a colour always means one resource: the compute units, a memory level (its
bandwidth slope and the ops bound by it), the interconnect, or the per-op latency floor.

Figures:
  roofline(hardware, workload)   ops on the hierarchical roofline of one or several devices
  compare(hardware, workload)    time per bound, stacked, one bar per device
  ops(hardware, workload)        where one device's step time goes: by kind and phase, by op family
  memory(workloads, hardware)    footprint components per model against device capacities
  memory_study()                 the study's training-memory figure, from its data
  trends(figure, source)         the study's three trend figures (hardware, models, compute)
  sweep(result)                  a design-space sweep: heatmap over two fields, else time vs cost
"""
from __future__ import annotations

import io
import math
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from .errors import Problem, RoofsimError, SpecError
from .units import format_quantity as fq

FORMATS = ("png", "svg", "pdf")
DPI = 110

# Okabe & Ito, "Color Universal Design" (2008): safe for protan-, deutan- and tritanopia.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}
GREY = "#8C8C8C"
COMPUTE, LATENCY, LINK = OKABE_ITO["blue"], OKABE_ITO["black"], OKABE_ITO["purple"]
MAIN_MEMORY = OKABE_ITO["vermillion"]
INNER_LEVELS = (OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["sky"])   # from main memory inward
FAR_LEVELS = GREY

# op kind -> marker; kinds added later get the spare markers in order
KIND_MARKERS = {"gemm": "o", "attention": "D", "elementwise": "s", "layernorm": "^", "softmax": "v",
                "reduction": "<", "gather": "P", "spmm": "X", "collective": "*", "custom": "h"}
SPARE_MARKERS = ("p", "H", ">", "d", "8")
DEVICE_LINESTYLES = ("-", "--", ":", "-.")
FONT = 10

_RC = {"font.size": FONT, "axes.titlesize": FONT + 2, "axes.labelsize": FONT + 1, "legend.fontsize": FONT - 1,
       "xtick.labelsize": FONT, "ytick.labelsize": FONT, "svg.hashsalt": "roofsim", "axes.grid": False}


# ---- figures and files --------------------------------------------------------------------

def _figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (no pyplot: nothing global)."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _style():
    """roofsim's fonts and settings; artists take them when they are made, so plots build inside it."""
    import matplotlib
    return matplotlib.rc_context(_RC)


def format_of(path: str) -> str:
    """The image format a path asks for, from its extension: png, svg or pdf."""
    ext = str(path).rsplit(".", 1)[-1].lower() if "." in str(path).rsplit("/", 1)[-1] else ""
    if ext not in FORMATS:
        raise RoofsimError(f"--output {path}: expected a file name ending in .png, .svg or .pdf, found "
                           f"{('.' + ext) if ext else 'no extension'}")
    return ext


def to_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as PNG, SVG or PDF bytes; the same figure gives the same bytes (no dates)."""
    if fmt not in FORMATS:
        raise RoofsimError(f"image format: expected one of {', '.join(FORMATS)}, found {fmt!r}")
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "Producer": None}}[fmt]
    buf = io.BytesIO()
    with _style():
        fig.savefig(buf, format=fmt, dpi=DPI, bbox_inches="tight", pad_inches=0.15, metadata=metadata)
    return buf.getvalue()


# ---- colours and markers --------------------------------------------------------------------

# A resource's role, in the order legends list them: (name, colour). Memory levels are named by
# their place relative to main memory, so an A100's l2 and an MI300X's infinity cache (each the
# first level inside main memory) share a colour, and the MI300X's l2 (two levels in) does not.
ROLES = (("compute", COMPUTE), ("main memory", MAIN_MEMORY), ("1 level in", INNER_LEVELS[0]),
         ("2 levels in", INNER_LEVELS[1]), ("3+ levels in", INNER_LEVELS[2]),
         ("far memory", FAR_LEVELS), ("interconnect", LINK), ("latency floor", LATENCY))
_ROLE_COLOUR = dict(ROLES)


def resource_roles(h) -> dict[str, str]:
    """bound name of one device -> role: compute, latency, interconnect:<link>, memory:<level>."""
    roles = {"compute": "compute", "latency": "latency floor"}
    main = h.main_index
    for j, m in enumerate(h.memory):
        if j < main:
            roles[f"memory:{m.name}"] = ROLES[2 + min(main - j - 1, 2)][0]
        else:
            roles[f"memory:{m.name}"] = "main memory" if j == main else "far memory"
    for link in h.interconnect:
        roles[f"interconnect:{link.name}"] = "interconnect"
    return roles


def bound_colour(h, bound: str) -> str:
    """The colour of a bound (or of the roof of that resource) on device ``h``."""
    role = resource_roles(h).get(bound) or ("interconnect" if bound.startswith("interconnect:") else "")
    return _ROLE_COLOUR.get(role, GREY)


def kind_markers(kinds: Iterable[str]) -> dict[str, str]:
    out, spare = {}, iter(SPARE_MARKERS * 4)
    for k in kinds:
        if k not in out:
            out[k] = KIND_MARKERS.get(k) or next(spare)
    return out


# ---- labels that do not overlap -------------------------------------------------------------

_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))


class LabelPlacer:
    """Greedy placement of annotations: each label takes the first candidate offset (growing
    rings around its anchor, in eight directions) whose box stays inside the axes and overlaps no
    box already taken; a label with no free place is dropped and counted (``dropped``)."""

    def __init__(self, ax, radii: Sequence[float] = (7, 16, 28, 44, 64, 90)):
        self.ax, self.radii = ax, radii
        self.renderer = ax.figure.canvas.get_renderer()
        self.taken: list[Bbox] = []
        self.dropped: list[str] = []

    def block(self, bbox: Bbox) -> None:
        self.taken.append(bbox)

    def block_point(self, xy, size_pt: float) -> None:
        x, y = self.ax.transData.transform(xy)
        r = size_pt * self.ax.figure.dpi / 72.0 / 2
        self.taken.append(Bbox.from_extents(x - r, y - r, x + r, y + r))

    def _free(self, bb: Bbox) -> bool:
        inside = self.ax.bbox
        if bb.x0 < inside.x0 or bb.x1 > inside.x1 or bb.y0 < inside.y0 or bb.y1 > inside.y1:
            return False
        return not any(bb.overlaps(t) for t in self.taken)

    def annotate(self, text: str, xy, gid: str = "", **kw):
        for r in self.radii:
            for dx, dy in _DIRECTIONS:
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
                arrow = dict(arrowstyle="-", color=GREY, lw=0.7, shrinkA=0, shrinkB=2) if r > 10 else None
                ann = self.ax.annotate(text, xy, xytext=(dx * r, dy * r), textcoords="offset points", ha=ha, va=va,
                                       arrowprops=arrow, zorder=6, **kw)
                ann.update_positions(self.renderer)
                bb = Text.get_window_extent(ann, self.renderer).expanded(1.04, 1.12)   # the text, not its leader
                if self._free(bb):
                    self.taken.append(bb)
                    ann.set_gid(gid or f"label:{text}")
                    return ann
                ann.remove()
        self.dropped.append(text)
        return None

    def text_on_line(self, text: str, points: Sequence[tuple[float, float]], gid: str, **kw):
        """A label lying on a straight line (in display space): the first of ``points`` where it fits."""
        for x, y in points:
            t = self.ax.text(x, y, text, rotation_mode="anchor", zorder=5, gid=gid, **kw)
            bb = t.get_window_extent(self.renderer).expanded(1.02, 1.1)
            if self._free(bb):
                self.taken.append(bb)
                return t
            t.remove()
        self.dropped.append(text)
        return None


# ---- evaluation shared by the roofline plots -----------------------------------------------

def _evaluated(hardware, workload, results=None, *, ideal=False, cache_model="mrc", hw_overrides=None,
               wl_overrides=None, hw_path=(), wl_path=()):
    """(hardware specs, workload, results DataFrame): names, paths or specs in; ``results`` reuses a
    DataFrame of roofsim.run for exactly these devices."""
    from .api import predictor
    from .hw import derive, get_hardware
    from .ops import Workload
    from .roofline import evaluate
    from .specs import HardwareSpec
    from .workloads import get_workload
    names = hardware if isinstance(hardware, (list, tuple)) else [hardware]
    if not names:
        raise SpecError(Problem(None, "hardware", "at least one device", "none"))
    hws = []
    for h in names:
        if isinstance(h, HardwareSpec):
            hws.append(derive(h, hw_overrides, id=h.id, name=h.name, kind=h.kind, source=h.source) if hw_overrides else h)
        else:
            hws.append(get_hardware(h, hw_path, overrides=hw_overrides or None))
    wl = workload if isinstance(workload, Workload) else get_workload(workload, wl_path, overrides=wl_overrides or None)
    if results is None:
        results = evaluate(hws, wl, ideal=ideal, predictor=predictor(cache_model))
    missing = [h.id for h in hws if not (results["hardware"] == h.id).any()]
    if missing:
        raise SpecError(Problem(None, "results", f"rows for every device plotted", f"none for {', '.join(missing)}"))
    return hws, wl, results


def _phase(wl, df) -> str:
    """'training step', 'decode', 'forward' ...: the workload's phase parameter, else its op phases."""
    phase = wl.param("phase") if hasattr(wl, "param") else None
    phases = list(dict.fromkeys(df["phase"]))
    if phase:
        return "training step" if phase == "training" else str(phase)
    if "backward" in phases:
        return "training step"
    return ", ".join(phases)


def _device_names(hws) -> str:
    return ", ".join(h.name for h in hws) if len(hws) <= 2 else ", ".join(h.id for h in hws)


def _bound_order(df) -> list[str]:
    """Bounds by total time, largest first (the legend and the stacking order)."""
    return list(df.groupby("bound")["time_s"].sum().sort_values(ascending=False).index)


# ---- roofline --------------------------------------------------------------------------------

def _ceilings(h, df_h, dtypes) -> list[tuple[str, str, float]]:
    """(dtype, unit, FLOP/s) drawn for one device: the (dtype, unit) pairs its ops ran on, or the
    device's peaks of ``dtypes``."""
    if dtypes:
        wanted = []
        for d in dtypes:
            for unit in ("matrix", "vector"):
                v = h.compute.get(unit, d)
                if v:
                    wanted.append((d, unit, v))
        return sorted(wanted, key=lambda c: -c[2])
    pairs = {(d, u) for d, u in zip(df_h["dtype_used"], df_h["unit_used"]) if d and u}
    return sorted(((d, u, h.compute.get(u, d)) for d, u in pairs if h.compute.get(u, d)), key=lambda c: -c[2])


def _merge_equal(ceilings) -> list[tuple[float, str]]:
    """One ceiling per distinct peak: [(FLOP/s, 'fp32 matrix, fp32 vector')], highest first."""
    merged: dict[float, list[str]] = {}
    for dtype, unit, peak in ceilings:
        merged.setdefault(peak, []).append(f"{dtype} {unit}")
    return sorted(((p, ", ".join(n)) for p, n in merged.items()), key=lambda c: -c[0])


def roofline(hardware, workload, *, results=None, ideal: bool = False, cache_model: str = "mrc",
             hw_overrides: Optional[Mapping[str, Any]] = None, wl_overrides: Optional[Mapping[str, Any]] = None,
             hw_path=(), wl_path=(), top: int = 8, dtypes: Optional[Sequence[str]] = None) -> Figure:
    """Ops of ``workload`` on the hierarchical roofline of each device (names, paths or specs).

    x: arithmetic intensity against main memory (FLOP per byte that main memory serves); y:
    attained FLOP/s. Per device: a compute ceiling per (dtype, unit) its ops ran on (or the peaks
    of ``dtypes``), a bandwidth slope per memory level, ridge points against main memory. Each op
    is a point: size by its share of the device's time, colour by its bound, shape by its kind; the
    ``top`` ops by time are labelled. Devices differ by line style and marker fill.
    """
    import numpy as np
    hws, wl, df = _evaluated(hardware, workload, results, ideal=ideal, cache_model=cache_model,
                             hw_overrides=hw_overrides, wl_overrides=wl_overrides, hw_path=hw_path, wl_path=wl_path)
    markers = kind_markers(df["kind"])
    with _style():
        fig = _figure(12.5, 7.2)
        ax = fig.add_axes((0.07, 0.1, 0.6, 0.78))
        ax.set_xscale("log")
        ax.set_yscale("log")

        # what is drawn, per device
        per_device, hidden = [], 0
        for h in hws:
            d = df[df["hardware"] == h.id]
            main = h.main_memory.name
            x = d[f"intensity_{main}"].to_numpy(float)
            y = d["attained_flop_per_s"].to_numpy(float)
            total = float(d["time_s"].sum())
            share = d["time_s"].to_numpy(float) / total if total > 0 else np.zeros(len(d))
            ok = np.isfinite(x) & (x > 0) & np.isfinite(y) & (y > 0)
            hidden = max(hidden, int((~ok).sum()))
            levels = [(m.name, m.bandwidth_bytes_per_s) for m in h.memory if m.bandwidth_bytes_per_s]
            per_device.append((h, d[ok], x[ok], y[ok], share[ok], _ceilings(h, d, dtypes), levels, main))

        peaks = [c[2] for p in per_device for c in p[5]]
        main_bw = [h.main_memory.bandwidth_bytes_per_s for h in hws if h.main_memory.bandwidth_bytes_per_s]
        ridges = [p / bw for p in peaks for bw in main_bw]
        xs = np.concatenate([p[2] for p in per_device] + [np.array(ridges, float)])
        ys = np.concatenate([p[3] for p in per_device] + [np.array(peaks, float)])
        if xs.size == 0 or ys.size == 0:
            raise SpecError(Problem(None, "workload", "ops with FLOPs and main-memory bytes to place", "none"))
        x_lo = 10 ** math.floor(math.log10(min(xs.min(), 0.1)) - 0.3)
        x_hi = 10 ** math.ceil(math.log10(xs.max()) + 0.6)
        y_hi = 10 ** (math.log10(ys.max()) + 0.5)
        y_lo = 10 ** math.floor(math.log10(max(min(ys.min(), min(main_bw, default=ys.min()) * x_lo * 3), y_hi * 1e-9)))
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo, y_hi)
        placer = LabelPlacer(ax)

        # roofs: bandwidth slopes up to the top ceiling, ceilings from the innermost level's ridge.
        # Their labels are placed after the ops are drawn, so that they avoid the markers.
        later = []
        for i, (h, d, x, y, share, ceilings, levels, main) in enumerate(per_device):
            ls = DEVICE_LINESTYLES[i % len(DEVICE_LINESTYLES)]
            suffix = f" ({h.id})" if len(hws) > 1 else ""
            top_peak = ceilings[0][2] if ceilings else max(h.compute.peaks().values())
            for name, bw in levels:
                x_end = min(top_peak / bw, x_hi)
                colour = bound_colour(h, f"memory:{name}")
                ax.plot([x_lo, x_end], [bw * x_lo, bw * x_end], ls=ls, color=colour, lw=1.6, zorder=2,
                        gid=f"bandwidth:{h.id}:{name}")
                p0, p1 = ax.transData.transform([(x_lo, bw * x_lo), (x_end, bw * x_end)])
                angle = math.degrees(math.atan2(p1[1] - p0[1], p1[0] - p0[0]))   # along the line on screen
                spots = [(x, bw * x * 1.15) for x in np.geomspace(x_lo * 1.3, x_end / 2, 16)]
                later.append((placer.text_on_line, (f"{name} {fq(bw, 'bandwidth')}{suffix}", spots),
                               dict(gid=f"bandwidth-label:{h.id}:{name}", rotation=angle, color=colour,
                                    fontsize=FONT - 1, ha="left", va="bottom")))
            innermost = max(bw for _, bw in levels) if levels else None
            main_bw = h.main_memory.bandwidth_bytes_per_s
            for peak, names in _merge_equal(ceilings):
                x_start = max(peak / innermost if innermost else x_lo, x_lo)
                ax.plot([x_start, x_hi], [peak, peak], ls=ls, color=COMPUTE, lw=1.6, zorder=2,
                        gid=f"ceiling:{h.id}:{names}")
                spots = [(x, peak * 1.08) for x in np.geomspace(x_hi / 1.2, x_start * 2, 12)]
                later.append((placer.text_on_line, (f"{names} {fq(peak, 'flop_rate')}{suffix}", spots),
                              dict(gid=f"ceiling-label:{h.id}:{names}", color=COMPUTE, fontsize=FONT - 1,
                                   ha="right", va="bottom")))
                if main_bw:   # ridge point against main memory
                    ax.plot([peak / main_bw], [peak], marker="o", ms=6, mfc="white", mec=COMPUTE, mew=1.4, ls="none",
                            color=COMPUTE, zorder=4, gid=f"ridge:{h.id}:{names}")
            if ceilings and main_bw:
                peak = ceilings[0][2]
                later.append((placer.annotate, (f"ridge {peak / main_bw:.3g} FLOP/B{suffix}", (peak / main_bw, peak)),
                              dict(gid=f"ridge-label:{h.id}", fontsize=FONT - 1, color=COMPUTE)))

        # ops
        def size(s):
            return 18 + 520 * s
        labelled: dict[str, tuple] = {}
        for i, (h, d, x, y, share, *_rest) in enumerate(per_device):
            for kind in dict.fromkeys(d["kind"]):
                sel = (d["kind"] == kind).to_numpy()
                face = [bound_colour(h, b) for b in d["bound"][sel]]
                style = i % 3
                ax.scatter(x[sel], y[sel], s=size(share[sel]), marker=markers[kind], zorder=4 + (i == 0),
                           facecolors=face if style == 0 else ("none" if style == 1 else face),
                           edgecolors="black" if style == 0 else face, linewidths=0.6 if style == 0 else 1.6,
                           alpha=0.35 if style == 2 else 0.9, gid=f"ops:{h.id}:{kind}")
            for name, xi, yi, si in zip(d["op"], x, y, share):
                placer.block_point((xi, yi), math.sqrt(size(si)))
                if name not in labelled or si > labelled[name][2]:
                    labelled[name] = (xi, yi, si)
        for place, args, kw in later:
            place(*args, **kw)
        chosen = sorted(labelled.items(), key=lambda kv: -kv[1][2])[:max(top, 0)]
        for name, (xi, yi, si) in chosen:
            placer.annotate(f"{name} ({si:.0%})", (xi, yi), gid=f"label:{name}", fontsize=FONT - 1)

        ax.set_xlabel("Arithmetic intensity (FLOP per byte of main-memory traffic)")
        ax.set_ylabel("Performance (FLOP/s)")
        mode = "ideal roofline (no efficiencies)" if ideal else "roofsim model with the devices' efficiencies"
        ax.set_title(f"{wl.name}, {_phase(wl, df)}, on {_device_names(hws)}\n"
                     f"each op at its intensity and attained FLOP/s ({mode})", loc="left")
        notes = []
        if hidden:
            notes.append(f"{hidden} op(s) per device not drawn: no FLOPs or no main-memory traffic (a log axis has no zero)")
        if placer.dropped:
            notes.append(f"{len(placer.dropped)} label(s) left out for lack of room")
        if notes:
            fig.text(0.075, 0.015, "; ".join(notes), fontsize=FONT - 1, color="#444444", gid="footnote")
        drawn = {k for p in per_device for k in p[1]["kind"]}
        _roofline_legends(fig, ax, df, hws, {k: m for k, m in markers.items() if k in drawn}, size)
    return fig


def _role_handles(hws, df) -> list:
    """One legend entry per role drawn (a roof or a bound), naming the levels it covers."""
    names: dict[str, list[str]] = {}
    for h in hws:
        roles = resource_roles(h)
        roofs = ["compute"] + [f"memory:{m.name}" for m in h.memory if m.bandwidth_bytes_per_s]
        for b in roofs + list(df.loc[df["hardware"] == h.id, "bound"]):
            role = roles.get(b) or ("interconnect" if b.startswith("interconnect:") else "")
            if role:
                names.setdefault(role, [])
                short = b.split(":", 1)[-1]
                if b.startswith(("memory:", "interconnect:")) and short not in names[role]:
                    names[role].append(short)
    return [Patch(facecolor=colour, edgecolor="black", lw=0.5,
                  label=role + (f": {', '.join(names[role])}" if names[role] else ""))
            for role, colour in ROLES if role in names]


def _legend(fig, handles, title, x, y, **kw):
    return fig.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(x, y), frameon=False,
                      alignment="left", **kw)


def _roofline_legends(fig, ax, df, hws, markers, size):
    """Legends beside the axes (never over the data), in two columns and as many rows as needed:
    colours (roofs and bounds), kind shapes, sizes, devices."""
    x0 = ax.get_position().x1 + 0.015
    top = ax.get_position().y1
    renderer = fig.canvas.get_renderer()
    to_fig = fig.transFigure.inverted()
    first = [_legend(fig, _role_handles(hws, df), "roof and bound (colour)", x0, top)]
    x1 = max(x0 + 0.16, to_fig.transform(first[0].get_window_extent(renderer))[1][0] + 0.01)
    first.append(_legend(fig, [Line2D([], [], marker=m, ls="none", mfc="white", mec="black", ms=8, label=k)
                               for k, m in markers.items()], "op kind (shape)", x1, top))
    below = min(to_fig.transform(l.get_window_extent(renderer))[0][1] for l in first) - 0.03
    handles = [Line2D([], [], marker="o", ls="none", mfc="white", mec="black", ms=math.sqrt(size(s)), label=f"{s:.0%}")
               for s in (0.01, 0.1, 0.5)]
    handles.append(Line2D([], [], marker="o", ls="none", mfc="white", mec=COMPUTE, mew=1.4, ms=6,
                          label="ridge point\n(main memory)"))
    _legend(fig, handles, "share of time (size)", x0, below, labelspacing=1.1)
    if len(hws) > 1:
        handles = []
        for i, h in enumerate(hws):
            style = i % 3
            handles.append(Line2D([], [], color="black", ls=DEVICE_LINESTYLES[i % len(DEVICE_LINESTYLES)], marker="o",
                                  mfc={0: GREY, 1: "none", 2: "#D9D9D9"}[style], mec="black" if style != 1 else GREY,
                                  label=h.id))
        _legend(fig, handles, "device (line, fill)", x1, below)


# ---- design-space sweeps ----------------------------------------------------------------------

def sweep(result) -> Figure:
    """A roofsim.sweep.SweepResult: for a full grid over two fields a heatmap of step time (each
    cell one design, infeasible ones hatched, Pareto-optimal ones ringed); otherwise step time
    against cost, every feasible design a dot, the Pareto front a line, infeasible designs left
    out and counted in the title."""
    df, params = result.frame, result.params
    cols = [p.column for p in params]
    grid2 = len(params) == 2 and len(df) == df[cols[0]].nunique() * df[cols[1]].nunique()
    with _style():
        fig = _figure(6.4, 4.8)
        ax = fig.add_subplot()
        mix = ", ".join(n + (f" x {w:g}" if len(result.workloads) > 1 else "") for n, w in result.workloads)
        bad = int((~df["feasible"]).sum())
        title = f"{mix}: {len(df):,} designs" + (f" ({bad:,} infeasible)" if bad else "")
        if grid2:
            _sweep_heatmap(fig, ax, df, params)
        else:
            _sweep_scatter(ax, df, result.cost_model)
        ax.set_title(title, fontsize=10)
    return fig


def _sweep_heatmap(fig, ax, df, params):
    import numpy as np
    from matplotlib.colors import LogNorm
    (px, py), (cx, cy) = params, (params[0].column, params[1].column)
    xs, ys = np.sort(df[cx].unique()), np.sort(df[cy].unique())
    t = df.pivot_table(index=cy, columns=cx, values="time_s").reindex(index=ys, columns=xs).to_numpy()
    feasible = df.pivot_table(index=cy, columns=cx, values="feasible", aggfunc="all").reindex(index=ys, columns=xs)
    pareto = df.pivot_table(index=cy, columns=cx, values="pareto", aggfunc="any").reindex(index=ys, columns=xs)
    finite = t[np.isfinite(t)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if finite.size and finite.max() > finite.min() else None
    im = ax.imshow(np.where(np.isfinite(t), t, np.nan), origin="lower", aspect="auto", cmap="viridis_r", norm=norm)
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("step time (s)")
    for (i, j), ok in np.ndenumerate(feasible.to_numpy()):
        if not ok:
            ax.add_patch(_hatched_cell(j, i))
        elif pareto.to_numpy()[i, j]:
            ax.plot(j, i, marker="o", markersize=9, markerfacecolor="none", markeredgecolor=OKABE_ITO["vermillion"],
                    markeredgewidth=1.6)
        if len(xs) * len(ys) <= 64 and ok and np.isfinite(t[i, j]):
            ax.text(j, i - 0.3, fq(t[i, j], "time"), ha="center", va="center", fontsize=6.5,
                    color=OKABE_ITO["black"] if norm is None or norm(t[i, j]) < 0.6 else "white")
    ax.set_xticks(range(len(xs)), [fq(x, px.dimension) for x in xs], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(ys)), [fq(y, py.dimension) for y in ys], fontsize=8)
    ax.set_xlabel(f"{px.path}   (rings: Pareto-optimal in time and cost; hatched: infeasible)", fontsize=8)
    ax.set_ylabel(py.path)


def _hatched_cell(j, i):
    from matplotlib.patches import Rectangle
    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor=OKABE_ITO["black"], linewidth=0)


def _sweep_scatter(ax, df, cost_model: str):
    ok = df[df["feasible"]]
    front = ok[ok["pareto"]].sort_values("time_s")
    dots = ok if len(ok) <= 200_000 else ok.sample(200_000, random_state=0)  # enough to see the cloud
    ax.scatter(dots["time_s"], dots["cost"], s=4, color=OKABE_ITO["sky"], alpha=0.35, linewidths=0,
               label=f"feasible designs ({len(ok):,}" + (", 200,000 drawn)" if len(dots) < len(ok) else ")"),
               rasterized=len(dots) > 5000)
    ax.step(front["time_s"], front["cost"], where="post", color=OKABE_ITO["vermillion"], linewidth=1.4,
            marker="o", markersize=3.5, label=f"Pareto front ({len(front)})")
    ax.set_xscale("log")
    ax.set_xlabel("step time (s)")
    ax.set_ylabel("cost (W, catalogue power proxy)" if cost_model.startswith("power proxy") else "cost (user expression)")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
