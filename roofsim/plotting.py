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
  predicted_vs_measured(results) validated kernels: measured vs predicted time, by bound and category
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
       "xtick.labelsize": FONT, "ytick.labelsize": FONT, "svg.hashsalt": "roofsim", "axes.grid": False,
       "svg.fonttype": "none", "pdf.fonttype": 42}   # text stays text in SVG and PDF (searchable, editable)


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


def to_bytes(fig: Figure, fmt: str, dpi: int = DPI) -> bytes:
    """The figure as PNG, SVG or PDF bytes; the same figure gives the same bytes (no dates)."""
    if fmt not in FORMATS:
        raise RoofsimError(f"image format: expected one of {', '.join(FORMATS)}, found {fmt!r}")
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "Producer": None}}[fmt]
    buf = io.BytesIO()
    with _style():
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.15, metadata=metadata)
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

# a light background that keeps a label readable where it crosses a line
_HALO = dict(facecolor="white", alpha=0.75, edgecolor="none", pad=0.6)
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

    def _free(self, boxes) -> bool:
        inside = self.ax.bbox
        for bb in ([boxes] if isinstance(boxes, Bbox) else boxes):
            if bb.x0 < inside.x0 or bb.x1 > inside.x1 or bb.y0 < inside.y0 or bb.y1 > inside.y1:
                return False
            if any(bb.overlaps(t) for t in self.taken):
                return False
        return True

    def boxes_of(self, t) -> list[Bbox]:
        """The space a text takes: its box, or for rotated text a chain of squares along its
        baseline (the upright box of a 45-degree label would cover a large empty square)."""
        angle = t.get_rotation() % 360
        if min(angle, 360 - angle) < 1:
            return [t.get_window_extent(self.renderer).expanded(1.02, 1.1)]
        rot = t.get_rotation()
        t.set_rotation(0)
        flat = t.get_window_extent(self.renderer)
        t.set_rotation(rot)
        ax_, ay = self.ax.transData.transform(t.get_position())
        c, s_ = math.cos(math.radians(rot)), math.sin(math.radians(rot))
        h = flat.height
        n = max(2, math.ceil(flat.width / h))
        boxes = []
        for k in range(n + 1):   # points on the upright box's mid-line, turned about the anchor
            px = flat.x0 + flat.width * k / n - ax_
            py = (flat.y0 + flat.y1) / 2 - ay
            x, y = ax_ + px * c - py * s_, ay + px * s_ + py * c
            boxes.append(Bbox.from_extents(x - h / 2, y - h / 2, x + h / 2, y + h / 2))
        return boxes

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

    def text_on_line(self, text: str, points: Sequence[tuple], gid: str, **kw):
        """A label lying along a line: the first of ``points`` where it fits. A point is (x, y) or
        (x, y, va), the vertical alignment there (above a line: bottom; below it: top)."""
        for x, y, *va in points:
            t = self.ax.text(x, y, text, rotation_mode="anchor", zorder=5, gid=gid, **{**kw, **dict(zip(["va"], va))})
            boxes = self.boxes_of(t)
            if self._free(boxes):
                self.taken.extend(boxes)
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
    from .specs import DTYPES
    unknown = [d for d in (dtypes or ()) if d not in DTYPES]
    if unknown:
        raise SpecError(Problem(None, "dtypes", f"dtypes among {', '.join(DTYPES)}", ", ".join(map(repr, unknown))))
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
                xs_ = np.geomspace(x_lo * 1.3, x_end / 2, 16)
                spots = [(x, bw * x * 1.15, "bottom") for x in xs_] + [(x, bw * x / 1.15, "top") for x in xs_]
                later.append((placer.text_on_line, (f"{name} {fq(bw, 'bandwidth')}{suffix}", spots),
                               dict(gid=f"bandwidth-label:{h.id}:{name}", rotation=angle, color=colour,
                                    fontsize=FONT - 1, ha="left", va="bottom", bbox=_HALO)))
            innermost = max(bw for _, bw in levels) if levels else None
            main_bw = h.main_memory.bandwidth_bytes_per_s
            for peak, names in _merge_equal(ceilings):
                x_start = max(peak / innermost if innermost else x_lo, x_lo)
                ax.plot([x_start, x_hi], [peak, peak], ls=ls, color=COMPUTE, lw=1.6, zorder=2,
                        gid=f"ceiling:{h.id}:{names}")
                xs_ = np.geomspace(x_hi / 1.2, x_start * 2, 12)
                spots = [(x, peak * 1.08, "bottom") for x in xs_] + [(x, peak / 1.08, "top") for x in xs_]
                later.append((placer.text_on_line, (f"{names} {fq(peak, 'flop_rate')}{suffix}", spots),
                              dict(gid=f"ceiling-label:{h.id}:{names}", color=COMPUTE, fontsize=FONT - 1,
                                   ha="right", va="bottom", bbox=_HALO)))
                if main_bw:   # ridge point against main memory
                    ax.plot([peak / main_bw], [peak], marker="o", ms=6, mfc="white", mec=COMPUTE, mew=1.4, ls="none",
                            color=COMPUTE, zorder=4, gid=f"ridge:{h.id}:{names}")
                    placer.block_point((peak / main_bw, peak), 8)
            if ceilings and main_bw:
                peak = ceilings[0][2]
                later.append((placer.annotate, (f"ridge {peak / main_bw:.3g} FLOP/B{suffix}", (peak / main_bw, peak)),
                              dict(gid=f"ridge-label:{h.id}", fontsize=FONT - 1, color=COMPUTE, bbox=_HALO)))

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
            placer.annotate(f"{name} ({si:.0%})", (xi, yi), gid=f"label:{name}", fontsize=FONT - 1, bbox=_HALO)

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


# ---- time per bound and per op -------------------------------------------------------------

def _time_unit(seconds: float) -> tuple[float, str]:
    """(multiplier, unit) that shows ``seconds`` as a number between 1 and 1000."""
    for mult, unit in ((1.0, "s"), (1e3, "ms"), (1e6, "us"), (1e9, "ns")):
        if seconds * mult >= 1:
            return mult, unit
    return 1e12, "ps"


def _stacked_bars(ax, rows, scale: float, colour_of, min_label_share: float = 0.08):
    """Horizontal bars, one per row ``(label, device, {bound: seconds})``, stacked in the order of
    the bounds' total time; segments wider than ``min_label_share`` of the widest bar say their share."""
    totals = [sum(parts.values()) for _, _, parts in rows]
    widest = max(totals, default=0.0) * scale
    order: dict[str, float] = {}
    for _, _, parts in rows:
        for b, t in parts.items():
            order[b] = order.get(b, 0.0) + t
    bounds = sorted(order, key=lambda b: -order[b])
    for i, (label, h, parts) in enumerate(rows):
        left = 0.0
        total = sum(parts.values())
        for b in bounds:
            t = parts.get(b, 0.0) * scale
            if t <= 0:
                continue
            ax.barh(i, t, left=left, color=colour_of(h, b), edgecolor="white", linewidth=0.8, height=0.7,
                    gid=f"bar:{label}:{b}")
            if widest and t / widest >= min_label_share and len(parts) > 1:
                dark = colour_of(h, b) in (COMPUTE, LATENCY, MAIN_MEMORY, OKABE_ITO["green"])
                ax.text(left + t / 2, i, f"{parts[b] / total:.0%}", ha="center", va="center", fontsize=FONT - 1,
                        color="white" if dark else "black")
            left += t
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    return bounds


def _bound_handles(hws, bounds_by_device) -> list:
    """Legend entries, one per role, naming the bounds it covers."""
    names: dict[str, list[str]] = {}
    for h in hws:
        roles = resource_roles(h)
        for b in bounds_by_device.get(h.id, ()):
            role = roles.get(b) or ("interconnect" if b.startswith("interconnect:") else "")
            short = b.split(":", 1)[-1] if ":" in b else ""
            names.setdefault(role, [])
            if short and short not in names[role]:
                names[role].append(short)
    return [Patch(facecolor=colour, edgecolor="black", lw=0.5,
                  label=role + (f": {', '.join(names[role])}" if names[role] else ""))
            for role, colour in ROLES if role in names]


def compare(hardware, workload, *, results=None, ideal: bool = False, cache_model: str = "mrc",
            hw_overrides=None, wl_overrides=None, hw_path=(), wl_path=()) -> Figure:
    """Time of ``workload`` on each device, one bar per device stacked by bound, with the total and
    the speedup against the first device."""
    hws, wl, df = _evaluated(hardware, workload, results, ideal=ideal, cache_model=cache_model,
                             hw_overrides=hw_overrides, wl_overrides=wl_overrides, hw_path=hw_path, wl_path=wl_path)
    rows = []
    for h in hws:
        d = df[df["hardware"] == h.id]
        rows.append((h.id, h, {b: float(t) for b, t in d.groupby("bound")["time_s"].sum().items()}))
    totals = [sum(p.values()) for _, _, p in rows]
    scale, unit = _time_unit(max(totals))
    with _style():
        fig = _figure(11, 1.6 + 0.55 * len(rows))
        ax = fig.add_axes((0.17, 0.9 / (1.6 + 0.55 * len(rows)) + 0.02, 0.6, 1 - 1.55 / (1.6 + 0.55 * len(rows))))
        _stacked_bars(ax, rows, scale, bound_colour)
        for i, t in enumerate(totals):
            speed = totals[0] / t if t else float("nan")
            ax.text(t * scale, i, f"  {t * scale:.3g} {unit} ({speed:.2f}x)", va="center", fontsize=FONT,
                    gid=f"total:{rows[i][0]}")
        ax.set_xlim(0, max(totals) * scale * 1.3)
        ax.set_xlabel(f"Time ({unit})")
        ax.spines[["top", "right"]].set_visible(False)
        mode = ", ideal roofline" if ideal else ""
        ax.set_title(f"{wl.name}, {_phase(wl, df)}: time per bound (speedup against {hws[0].id}{mode})", loc="left")
        bounds = {h.id: list(df.loc[df["hardware"] == h.id, "bound"].unique()) for h in hws}
        _legend(fig, _bound_handles(hws, bounds), "bound", ax.get_position().x1 + 0.015, ax.get_position().y1)
    return fig


def op_family(name: str) -> str:
    """Ops that differ only in numbers (per-layer copies: layer12.attn.q_proj) are one family."""
    return re.sub(r"\d+", "#", name)


def ops(hardware, workload, *, results=None, ideal: bool = False, cache_model: str = "mrc", hw_overrides=None,
        wl_overrides=None, hw_path=(), wl_path=(), top: int = 15) -> Figure:
    """Where one device's time goes: left, by op kind within each phase; right, the ``top`` op
    families (per-layer copies merged) and the rest; bars stacked by bound."""
    if isinstance(hardware, (list, tuple)) and len(hardware) != 1:
        raise SpecError(Problem(None, "hardware", "one device for an op breakdown", f"{len(hardware)} devices"))
    hws, wl, df = _evaluated(hardware, workload, results, ideal=ideal, cache_model=cache_model,
                             hw_overrides=hw_overrides, wl_overrides=wl_overrides, hw_path=hw_path, wl_path=wl_path)
    h = hws[0]
    d = df[df["hardware"] == h.id].copy()
    total = float(d["time_s"].sum())
    scale, unit = _time_unit(total)

    def grouped(keys):
        g = d.groupby(keys + ["bound"], sort=False)["time_s"].sum()
        parts: dict[tuple, dict[str, float]] = {}
        for k, t in g.items():
            parts.setdefault(k[:-1], {})[k[-1]] = float(t)
        return sorted(parts.items(), key=lambda kv: -sum(kv[1].values()))

    by_kind = [(f"{p} / {k}", h, parts) for (p, k), parts in grouped(["phase", "kind"])]
    d["family"] = d["op"].map(op_family)
    fam = grouped(["family"])
    counts = d.groupby("family")["count"].sum()
    rows = [(f"{f} (x{int(counts[f])})" if counts[f] > 1 else f, h, parts) for (f,), parts in fam[:top]]
    rest = fam[top:]
    if rest:
        merged: dict[str, float] = {}
        for _, parts in rest:
            for b, t in parts.items():
                merged[b] = merged.get(b, 0.0) + t
        rows.append((f"{len(rest)} other families", h, merged))
    n = max(len(by_kind), len(rows))
    height = 1.8 + 0.32 * n
    with _style():
        fig = _figure(13, height)
        bottom, top_edge = 0.75 / height, 1 - 0.85 / height
        full = top_edge - bottom
        short = full * (len(by_kind) + 0.6) / (n + 0.6)        # same bar thickness in both panels
        left = fig.add_axes((0.15, top_edge - short, 0.27, short))
        right = fig.add_axes((0.62, top_edge - full * (len(rows) + 0.6) / (n + 0.6), 0.27,
                              full * (len(rows) + 0.6) / (n + 0.6)))
        for ax, bars, title in ((left, by_kind, "by phase / op kind"), (right, rows, "by op (layers merged)")):
            _stacked_bars(ax, bars, scale, bound_colour, min_label_share=0.12)
            ax.tick_params(axis="y", length=0)
            for i, (_, _, parts) in enumerate(bars):
                t = sum(parts.values())
                ax.text(t * scale, i, f" {t / total:.1%}", va="center", fontsize=FONT - 1)
            ax.set_xlim(0, max(sum(p.values()) for _, _, p in bars) * scale * 1.22)
            ax.set_ylim(len(bars) - 0.5 + 0.1, -0.5)
            ax.set_xlabel(f"Time ({unit})")
            ax.set_title(title, loc="left", fontsize=FONT + 1)
            ax.spines[["top", "right"]].set_visible(False)
        fig.suptitle(f"{wl.name}, {_phase(wl, df)}, on {h.name}: {len(d)} ops, "
                     f"{total * scale:.3g} {unit}" + (" (ideal roofline)" if ideal else ""),
                     x=0.02, ha="left", y=1 - 0.25 / height, fontsize=FONT + 2)
        _legend(fig, _bound_handles(hws, {h.id: list(d["bound"].unique())}), "bound",
                right.get_position().x1 + 0.01, right.get_position().y1)
    return fig


# ---- memory footprints ---------------------------------------------------------------------

# footprint component -> (label, colour); the components of roofsim.memory.COMPONENTS
COMPONENT_STYLE = {"weights": ("weights", OKABE_ITO["blue"]), "gradients": ("gradients", OKABE_ITO["sky"]),
                   "optimizer": ("optimizer states", OKABE_ITO["orange"]),
                   "activations": ("activations", OKABE_ITO["green"]), "kv_cache": ("KV cache", OKABE_ITO["purple"]),
                   "other": ("other (workspace)", GREY)}
CAPACITY_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))


def _memory_bars(ax, labels, stacks, components, gb: float = 1e9):
    """Stacked bars (GB) of ``stacks[i][component]`` for each label; totals written above."""
    bottoms = [0.0] * len(labels)
    for c in components:
        label, colour = COMPONENT_STYLE.get(c, (c, GREY))
        heights = [s.get(c, 0.0) / gb for s in stacks]
        if any(heights):
            ax.bar(range(len(labels)), heights, bottom=bottoms, color=colour, edgecolor="white", linewidth=0.6,
                   width=0.65, label=label, gid=f"component:{c}")
            bottoms = [b + h for b, h in zip(bottoms, heights)]
    for i, top in enumerate(bottoms):
        ax.text(i, top, f"{top:.3g}", ha="center", va="bottom", fontsize=FONT - 1, gid=f"total:{labels[i]}")
    ax.set_xticks(range(len(labels)), labels)
    ax.spines[["top", "right"]].set_visible(False)
    return bottoms


def _capacity_lines(ax, capacities: Sequence[tuple[str, float]], gb: float = 1e9):
    """Dashed horizontal lines at device capacities, labelled at the right end (de-overlapped)."""
    placer = LabelPlacer(ax, radii=(3, 12, 22))
    x_lo, x_hi = ax.get_xlim()
    x_right = x_hi - 0.01 * (x_hi - x_lo)
    for i, (name, cap) in enumerate(sorted(capacities, key=lambda c: -c[1])):
        ax.axhline(cap / gb, color=OKABE_ITO["vermillion"], lw=1.3, ls=CAPACITY_STYLES[i % len(CAPACITY_STYLES)],
                   zorder=3, gid=f"capacity:{name}")
        placer.text_on_line(f"{name}: {cap / gb:.3g} GB", [(x_right, cap / gb * f) for f in (1.0, 0.93, 1.07, 0.86)],
                            gid=f"capacity-label:{name}", ha="right", va="bottom", fontsize=FONT - 1,
                            color=OKABE_ITO["vermillion"],
                            bbox=dict(facecolor="white", alpha=0.85, edgecolor="none", pad=1.0))


def memory(workloads, hardware=(), *, wl_overrides=None, hw_overrides=None, wl_path=(), hw_path=(),
           log: bool = False, **techniques) -> Figure:
    """Bytes one device holds for each workload (roofsim.memory.footprint, stacked by component)
    against the main-memory capacity of each device: the training-memory figure of the study,
    for any models. ``techniques`` go to ``footprint`` (optimizer, checkpoint, zero, ...)."""
    from .hw import get_hardware
    from .memory import COMPONENTS, footprint
    from .workloads import get_workload
    names = workloads if isinstance(workloads, (list, tuple)) else [workloads]
    if not names:
        raise SpecError(Problem(None, "workloads", "at least one workload", "none"))
    wls = [w if hasattr(w, "ops") else get_workload(w, wl_path, overrides=wl_overrides or None) for w in names]
    hws = [h if hasattr(h, "memory") else get_hardware(h, hw_path, overrides=hw_overrides or None)
           for h in (hardware if isinstance(hardware, (list, tuple)) else [hardware])]
    stacks = [footprint(w, **techniques).by_component for w in wls]
    labels = [f"{w.name}\n{_phase(w, _phases_frame(w))}" for w in wls]
    capacities = [(h.id, h.main_memory.total_capacity_bytes) for h in hws if h.main_memory.total_capacity_bytes]
    with _style():
        fig = _figure(max(7.5, 1.3 * len(wls) + 4), 5.6)
        ax = fig.add_axes((0.09, 0.16, 0.66, 0.72))
        totals = _memory_bars(ax, labels, stacks, COMPONENTS)
        if log:
            ax.set_yscale("log")
        top = max(totals + [c / 1e9 for _, c in capacities])
        if not log:
            ax.set_ylim(0, top * 1.12)
        _capacity_lines(ax, capacities)
        ax.set_ylabel("Memory per device (GB, 10^9 B)")
        ax.set_title("Memory one device holds, by component, against device capacity" +
                     (" (log scale: segment heights are not proportional)" if log else ""), loc="left")
        _legend(fig, ax.get_legend_handles_labels()[0][::-1], "component", ax.get_position().x1 + 0.015,
                ax.get_position().y1)
    return fig


def _phases_frame(wl):
    """The op phases of a workload in the shape _phase reads (a 'phase' column)."""
    return {"phase": [op.phase for op in wl.ops]}


def memory_study() -> Figure:
    """The study's figure 'the memory needed to train SOTA models' (Gholami et al. 2024), from its
    data: parameters, optimizer states and feature maps per model, and the GPU memory of the day."""
    from .trends import study_rows
    rows = study_rows("digitized_gpu_memory_wall.csv")
    stacks = [{"weights": float(r["params_gb"]), "optimizer": float(r["optimizer_gb"]),
               "activations": float(r["feature_map_gb"])} for r in rows]
    labels = [f"{r['model']}\n{r['year']}" for r in rows]
    with _style():
        fig = _figure(12, 5.4)
        ax = fig.add_axes((0.07, 0.16, 0.74, 0.72))
        _memory_bars(ax, labels, stacks, ("weights", "optimizer", "activations"), gb=1.0)
        ax.tick_params(axis="x", labelsize=FONT - 1)
        limit = [float(r["gpu_memory_limit_gb"]) for r in rows]
        xs = [i + d for i in range(len(rows)) for d in (-0.5, 0.5)]
        ax.plot(xs, [v for v in limit for _ in (0, 1)], color=OKABE_ITO["vermillion"], ls="--", lw=1.6,
                label="GPU memory of the day", gid="capacity:study")
        ax.set_ylim(0, max(max(limit), max(sum(s.values()) for s in stacks)) * 1.12)
        ax.set_ylabel("Memory to train (GB)")
        ax.set_title("Training memory of state-of-the-art models against GPU memory\n"
                     "(data of Gholami et al., 'AI and Memory Wall', 2024; weights = parameters, "
                     "activations = feature maps)", loc="left")
        handles, _ = ax.get_legend_handles_labels()
        _legend(fig, handles[::-1], "", ax.get_position().x1 + 0.015, ax.get_position().y1)
    return fig


# ---- the memory-wall trends ----------------------------------------------------------------

TREND_FIGURES = ("hardware", "models", "compute")
# series -> (colour, marker), after the study's figures (black FLOPS, green DRAM, blue interconnect)
TREND_STYLE = {"peak_flops": (OKABE_ITO["black"], "o"), "dram_bandwidth": (OKABE_ITO["green"], "s"),
               "interconnect_bandwidth": (OKABE_ITO["blue"], "^"),
               "transformer_parameters": (OKABE_ITO["vermillion"], "o"), "cv_parameters": (OKABE_ITO["sky"], "s"),
               "recsys_parameters": (OKABE_ITO["black"], "D"), "accelerator_memory": (OKABE_ITO["green"], "^"),
               "transformer_training_compute": (OKABE_ITO["vermillion"], "o"),
               "other_training_compute": (GREY, "s")}


def _dates(points) -> list[float]:
    """Matplotlib date numbers (days since 1970-01-01) of the points' dates."""
    from .trends import decimal_year
    return [(decimal_year(p.date) - 1970.0) * 365.25 for p in points]


def _trend_series(ax, placer, s, *, scale: float = 1.0, fit_line: bool = True, label_points: bool = True,
                  ax_for=None):
    """Points of one series (values x ``scale``), its least-squares line and growth; labels later."""
    from .trends import decimal_year, fit
    colour, marker = TREND_STYLE.get(s.key, (GREY, "o"))
    target = ax_for or ax
    xs = _dates(s.points)
    ys = [p.value * scale for p in s.points]
    f = fit(s.points) if fit_line else None
    growth = f" ({f.factor_per_2y:.3g}x / 2 yrs)" if f else ""
    target.scatter(xs, ys, color=colour, marker=marker, s=28, zorder=4, label=f"{s.title}{growth}",
                   gid=f"points:{s.key}")
    if f:
        first, last = min(s.points, key=lambda p: decimal_year(p.date)), max(s.points, key=lambda p: decimal_year(p.date))
        ends = _dates([first, last])
        target.plot(ends, [f.value_at(decimal_year(first.date)) * scale, f.value_at(decimal_year(last.date)) * scale],
                    color=colour, lw=1.4, ls="--", zorder=3, gid=f"fit:{s.key}")
    if label_points:   # long inferred names ("A100 80GB PCIe (HBM2e)") are cut at their parenthesis
        return [(p.label if len(p.label) <= 24 else p.label.split(" (")[0], x, y)
                for p, x, y in zip(s.points, xs, ys) if p.label]
    return []


def _place_trend_labels(ax, placer, pending, colour_of=None):
    for name, x, y in pending:
        placer.block_point((x, y), 8)
    for name, x, y in pending:
        placer.annotate(name, (x, y), gid=f"label:{name}", fontsize=FONT - 2, color="#333333")


def trends(figure: str = "hardware", source: str = "study", hw_path=()) -> Figure:
    """One of the study's three figures, from data: ``hardware`` (peak FLOPS, DRAM and interconnect
    bandwidth, each relative to its first point), ``models`` (Transformer parameters against
    accelerator memory), ``compute`` (training compute of models). ``source`` says where the
    hardware series come from: the study's data or roofsim's catalogue (model data are the study's)."""
    import matplotlib.dates as mdates
    from .trends import SOURCES, catalogue_series, study_series
    if figure not in TREND_FIGURES:
        raise SpecError(Problem(None, "figure", f"one of {', '.join(TREND_FIGURES)}", repr(figure)))
    if source not in SOURCES:
        raise SpecError(Problem(None, "source", f"one of {', '.join(SOURCES)}", repr(source)))
    if figure == "compute" and source != "study":
        raise SpecError(Problem(None, "source", "study for the compute figure (training compute comes only "
                                "from the study's data)", repr(source)))
    study = {s.key: s for s in study_series(include_context=True)}
    hw = study if source == "study" else {s.key: s for s in catalogue_series(hw_path=hw_path)}
    where = ("data of Gholami et al., 'AI and Memory Wall' (IEEE Micro 2024), 2023 figures" if source == "study"
             else "roofsim's hardware catalogue")
    with _style():
        fig = _figure(11, 6.2)
        ax = fig.add_axes((0.08, 0.11, 0.62, 0.76))
        ax.set_yscale("log")
        placer = LabelPlacer(ax, radii=(4, 10, 18, 28))
        pending = []
        if figure == "hardware":
            for key in ("peak_flops", "dram_bandwidth", "interconnect_bandwidth"):
                s = hw[key]
                first = min(s.points, key=lambda p: _dates([p])[0])
                pending += _trend_series(ax, placer, s, scale=1.0 / first.value,
                                         label_points=source == "study")
            ax.set_ylabel("Scaling relative to the series' first point")
            title = "Peak hardware FLOPS, memory bandwidth and interconnect bandwidth"
        elif figure == "models":
            for key in ("transformer_parameters", "cv_parameters", "recsys_parameters"):
                pending += _trend_series(ax, placer, study[key], scale=1e-9, fit_line=key == "transformer_parameters")
            # the study plots memory capacity / 6 on the parameter axis: GB = 6 x billions of parameters
            pending += _trend_series(ax, placer, hw["accelerator_memory"], scale=1e-9 / 6,
                                     label_points=source == "study")
            ax.set_ylabel("Parameters (billions)")
            sec = ax.secondary_yaxis("right", functions=(lambda b: b * 6, lambda g: g / 6))
            sec.set_ylabel("Accelerator memory (GB) = 6 B per parameter")
            title = "Transformer size against accelerator memory"
        else:
            pending += _trend_series(ax, placer, study["transformer_training_compute"], scale=1e-15)
            pending += _trend_series(ax, placer, study["other_training_compute"], scale=1e-15, fit_line=False)
            ax.set_ylabel("Training compute (PFLOP)")
            title = "Training compute of state-of-the-art models"
        ax.xaxis.set_major_locator(mdates.YearLocator(base=2 if figure != "hardware" else 4))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.set_xlabel("Date")
        ax.margins(x=0.06, y=0.12)
        ax.figure.canvas.draw_idle()
        _place_trend_labels(ax, placer, pending)
        ax.set_title(f"{title}\n(dashed: least-squares fit of log10(value) on date; {where})", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02 if figure != "models" else 1.12, 1.0), frameon=False,
                  title="series (growth per 2 years)", alignment="left")
        if placer.dropped:
            fig.text(0.08, 0.01, f"{len(placer.dropped)} point label(s) left out for lack of room", fontsize=FONT - 1,
                     color="#444444", gid="footnote")
    return fig


# ---- predicted vs measured ------------------------------------------------------------------
MAX_MISS_LABELS = 8      # labels beyond a handful hide the points they name

def predicted_vs_measured(results, hardware=None, *, title: str = "") -> Figure:
    """Each validated kernel (``roofsim.measure.validate``'s frame) at (measured, predicted) time.

    Log-log; the diagonal is a perfect prediction, the shaded bands are within 25 % and within a
    factor of 2. Colour: the bound that decided the prediction (the part of the model a miss
    comes from; on ``hardware``'s colours when given); shape: the kernel's category. The worst
    kernels outside 25 % (up to MAX_MISS_LABELS) are labelled where a label fits.
    """
    import numpy as np
    df = results
    if df is None or len(df) == 0:
        raise RoofsimError("predicted vs measured: no validated kernels to plot")
    x = df["measured_s"].to_numpy(float)
    y = df["predicted_s"].to_numpy(float)
    lo, hi = float(min(x.min(), y.min())) / 2.5, float(max(x.max(), y.max())) * 2.5
    categories = list(dict.fromkeys(df["category"]))
    spare = iter((*KIND_MARKERS.values(), *SPARE_MARKERS) * 3)
    markers = {c: next(spare) for c in categories}
    bounds = list(dict.fromkeys(df["bound"]))
    colour = {b: (bound_colour(hardware, b) if hardware is not None else None) for b in bounds}
    fallback = iter(OKABE_ITO.values())
    colour = {b: c if c and c != GREY else next(fallback) for b, c in colour.items()}
    with _style():
        fig = _figure(9.5, 7.0)
        ax = fig.add_axes((0.1, 0.1, 0.58, 0.8))
        ax.set_xscale("log")
        ax.set_yscale("log")
        line = np.array([lo, hi])
        ax.fill_between(line, line / 2.0, line * 2.0, color=GREY, alpha=0.12, lw=0, label="within 2x")
        ax.fill_between(line, line / 1.25, line * 1.25, color=GREY, alpha=0.25, lw=0, label="within 25 %")
        ax.plot(line, line, color=LATENCY, lw=1.0, label="predicted = measured")
        # one scatter call per (category, bound): a file of a thousand kernels draws in a blink
        for (cat, bound), g in df.groupby(["category", "bound"], sort=False):
            ax.scatter(g["measured_s"], g["predicted_s"], marker=markers[cat], s=46, color=colour[bound],
                       edgecolor="black", linewidth=0.5, zorder=3)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        # the worst misses outside 25 % get a label, worst first, each where it overlaps no point
        # or label already placed; the rest are counted in a footnote
        miss = np.abs(np.log(df["ratio"].to_numpy(float)))
        outside = [i for i in np.argsort(-miss) if abs(df["ratio"].iloc[i] - 1.0) > 0.25]
        placer = LabelPlacer(ax, radii=(4, 12, 24, 40))
        for xi, yi in zip(x, y):
            placer.block_point((xi, yi), 7)
        for i in outside[:MAX_MISS_LABELS]:
            placer.annotate(str(df["kernel"].iloc[i]), (x[i], y[i]), gid=f"label:{df['kernel'].iloc[i]}",
                            fontsize=FONT - 2, bbox=_HALO)
        unlabelled = len(outside) - (min(len(outside), MAX_MISS_LABELS) - len(placer.dropped))
        if unlabelled:
            fig.text(0.1, 0.02, f"{len(outside)} kernels outside 25 %: the {len(outside) - unlabelled} worst "
                                f"labelled", fontsize=FONT - 1, color="#444444", gid="footnote")
        ax.set_xlabel("measured time per call (s)")
        ax.set_ylabel("predicted time per call (s)")
        ape = np.abs(y / x - 1.0)
        ax.set_title(title or f"{len(df)} kernels: median |error| {np.median(ape):.0%}, "
                              f"{np.mean(ape <= 0.25):.0%} within 25 %, "
                              f"{np.mean((y / x >= 0.5) & (y / x <= 2.0)):.0%} within 2x")
        bands = ax.get_legend_handles_labels()
        _legend(fig, bands[0], "", 0.70, 0.9)
        _legend(fig, [Line2D([], [], marker="o", ls="", color=colour[b], markeredgecolor="black", label=b)
                      for b in bounds], "bound (where a miss comes from)", 0.70, 0.7)
        _legend(fig, [Line2D([], [], marker=markers[c], ls="", color=GREY, markeredgecolor="black", label=c)
                      for c in categories], "category", 0.70, 0.45)
    return fig
