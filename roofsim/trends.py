"""The memory wall as numbers: growth rates fitted to dated series.

Every series is fitted the way the study fitted its lines (Gholami et al., "AI and Memory Wall",
IEEE Micro 2024): least squares of log10(value) against the date in years of 365.25 days; the
growth factor over ``y`` years is 10 ** (slope * y). Two sources of points:

- ``study``: the study's own data (digitised from its figures, shipped in ``roofsim/data``),
  the 2023-09 version of the figures; this reproduces the published rates.
- ``catalogue``: roofsim's hardware catalogue, one point per real device (hypothetical designs
  are left out); every point says which device and which dtype or link it is.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from .errors import Problem, SpecError

SOURCES = ("study", "catalogue")
STUDY_FOLDER = "ai_and_memory_wall"
STUDY_VERSION = "2023-09"          # the figures of the current post (PROVENANCE.md)
DAYS_PER_YEAR = 365.25             # the study's lines are per year of 365.25 days


@dataclass(frozen=True)
class Point:
    date: str                      # ISO date, "YYYY" or "YYYY-MM" (a partial date means its first day)
    value: float                   # SI, in the series' unit
    label: str = ""                # the model or device
    detail: str = ""               # what exactly was measured (dtype, link, memory level, ...)


@dataclass(frozen=True)
class Series:
    key: str                       # stable name (JSON ``name``)
    title: str                     # for people
    unit: str                      # of Point.value: FLOP/s, B/s, B, FLOP, parameters, bit/s per lane
    points: tuple[Point, ...]
    note: str = ""                 # how the points were chosen
    published: str = ""            # the study's printed rate for this series, if any


@dataclass(frozen=True)
class Fit:
    slope_log10_per_year: float
    intercept_log10: float         # log10(value) at year 0 of decimal_year
    r2: float
    n: int

    def factor(self, years: float) -> float:
        return 10.0 ** (self.slope_log10_per_year * years)

    @property
    def factor_per_2y(self) -> float:
        return self.factor(2.0)

    @property
    def factor_per_20y(self) -> float:
        return self.factor(20.0)

    def value_at(self, year: float) -> float:
        return 10.0 ** (self.intercept_log10 + self.slope_log10_per_year * year)


_EPOCH = _dt.date(1970, 1, 1)


def decimal_year(date: str) -> float:
    """'2020-05-14' -> 2020.366: 1970 plus days since 1970-01-01 over 365.25 (linear in time, so
    slopes are per year of 365.25 days). A partial date ('2020', '2020-11') means its first day,
    as the study placed its year-only points on 1 January."""
    parts = str(date).split("-")
    try:
        y, m, d = (int(p) for p in parts + ["1"] * (3 - len(parts))) if len(parts) <= 3 else (None,) * 3
        day = _dt.date(y, m, d)
    except (TypeError, ValueError) as e:
        raise SpecError(Problem(None, "date", "an ISO date YYYY[-MM[-DD]]", repr(date))) from e
    return 1970.0 + (day - _EPOCH).days / DAYS_PER_YEAR


def fit(points: Iterable[Point]) -> Optional[Fit]:
    """Least squares of log10(value) on decimal_year(date); None with fewer than two distinct dates."""
    pts = [p for p in points if p.value > 0 and math.isfinite(p.value)]
    xs = [decimal_year(p.date) for p in pts]
    ys = [math.log10(p.value) for p in pts]
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 1.0
    return Fit(slope, my - slope * mx, r2, n)


# ---- the study's data ----------------------------------------------------------------------

@dataclass(frozen=True)
class _StudySeries:
    """Where one series lives in the study's CSV files."""
    key: str
    title: str
    unit: str
    file: str
    where: dict                    # column -> required value (besides figure_version)
    value: str                     # column
    scale: float                   # to SI
    labels: tuple[str, ...]        # columns naming the point, first non-empty wins
    line: str = ""                 # the series' name in digitized_trend_lines.csv (its fitted line)
    fitted: bool = True            # False: drawn for context, no growth rate printed
    note: str = ""


_HW = "digitized_hw_scaling.csv"
_PARAMS = "digitized_model_params.csv"
_COMPUTE = "digitized_training_compute.csv"

STUDY_SERIES = (
    _StudySeries("peak_flops", "Peak FLOPS", "FLOP/s", _HW, {"series": "hw_peak_flops"}, "implied_value", 1e9,
                 ("figure_label", "inferred_identity"), "hw_peak_flops",
                 note="CPUs and accelerators; FP32 for older parts, FP16/BF16 tensor for V100/A100/H100, BF16 for TPUs"),
    _StudySeries("dram_bandwidth", "DRAM bandwidth", "B/s", _HW, {"series": "dram_bandwidth"}, "implied_value", 1e9,
                 ("figure_label", "inferred_identity"), "dram_bandwidth", note="GPU board memory bandwidth"),
    _StudySeries("interconnect_bandwidth", "Interconnect bandwidth", "bit/s per lane", _HW,
                 {"series": "interconnect_bandwidth"}, "implied_value", 1e9, ("figure_label", "inferred_identity"),
                 "interconnect_bandwidth", note="PCIe and NVLink signalling rate per lane"),
    _StudySeries("accelerator_memory", "Accelerator memory capacity", "B", _PARAMS, {"series": "ai_hw_memory"},
                 "memory_gb", 1e9, ("name",), "ai_hw_memory", note="GB as the study labels them"),
    _StudySeries("transformer_parameters", "Transformer parameters", "parameters", _PARAMS,
                 {"series": "transformer_params"}, "params_billions", 1e9, ("name",), "transformer_params"),
    _StudySeries("transformer_training_compute", "Transformer training compute", "FLOP", _COMPUTE,
                 {"in_transformer_fit": "yes"}, "training_pflops", 1e15, ("name",), "transformer_training_pflops"),
    # context drawn in the study's figures, not fitted there
    _StudySeries("cv_parameters", "CV model parameters", "parameters", _PARAMS, {"series": "cv_params"},
                 "params_billions", 1e9, ("name",), fitted=False),
    _StudySeries("recsys_parameters", "RecSys parameters", "parameters", _PARAMS, {"series": "recsys_params"},
                 "params_billions", 1e9, ("name",), fitted=False),
    _StudySeries("other_training_compute", "Other models' training compute (CV, speech, NLP)", "FLOP", _COMPUTE,
                 {"in_transformer_fit": "no"}, "training_pflops", 1e15, ("name",), fitted=False),
)


def study_rows(name: str) -> list[dict]:
    """The rows of one of the study's CSV files shipped in roofsim/data/ai_and_memory_wall."""
    from .data import data_file
    text = data_file(STUDY_FOLDER, name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _published() -> dict[str, str]:
    return {r["series"]: r["figure_text"] for r in study_rows("digitized_trend_lines.csv")
            if r["figure_version"] == STUDY_VERSION}


def study_series(include_context: bool = False) -> list[Series]:
    """The study's series (2023-09 figures); ``include_context`` adds the unfitted ones its figures draw."""
    published = _published()
    out = []
    for s in STUDY_SERIES:
        if not s.fitted and not include_context:
            continue
        points = []
        for r in study_rows(s.file):
            if r["figure_version"] != STUDY_VERSION or any(r.get(k) != v for k, v in s.where.items()):
                continue
            label = next((r[c] for c in s.labels if r.get(c)), "")
            points.append(Point(r["date"], float(r[s.value]) * s.scale, label))
        out.append(Series(s.key, s.title, s.unit, tuple(points), s.note, published.get(s.line, "")))
    return out


# ---- roofsim's catalogue -------------------------------------------------------------------

ACCELERATOR_KINDS = ("gpu", "tpu", "accelerator")
# The study compares formats used for training: widest of these that has the best peak.
TRAINING_DTYPES = ("fp32", "tf32", "fp16", "bf16")
# A "main" memory smaller than this is on-chip SRAM (Groq, Graphcore: hundreds of MiB), not
# DRAM; every DRAM-based accelerator in the catalogue has more than 1 GiB.
ON_CHIP_LIMIT_BYTES = 2.0 ** 30


def _has_dram(hw) -> bool:
    cap = hw.main_memory.total_capacity_bytes
    return cap is None or cap >= ON_CHIP_LIMIT_BYTES


def _peak_flops(hw) -> Optional[tuple[float, str]]:
    best = None
    for unit in ("matrix", "vector"):
        for dtype, value in getattr(hw.compute, unit):
            if dtype in TRAINING_DTYPES and (best is None or value > best[0]):
                best = (value, f"{dtype} {unit}")
    return best


def _dram_bandwidth(hw) -> Optional[tuple[float, str]]:
    m = hw.main_memory
    if hw.kind not in ACCELERATOR_KINDS or not _has_dram(hw) or not m.bandwidth_bytes_per_s:
        return None
    return m.bandwidth_bytes_per_s, f"{m.name}"


def _interconnect(hw) -> Optional[tuple[float, str]]:
    if hw.kind not in ACCELERATOR_KINDS or not hw.interconnect:
        return None
    link = max(hw.interconnect, key=lambda l: l.bandwidth_bytes_per_s_per_direction)
    return link.bandwidth_bytes_per_s_per_direction, f"{link.name} ({link.scope}), per direction"


def _memory_capacity(hw) -> Optional[tuple[float, str]]:
    m = hw.main_memory
    if hw.kind not in ACCELERATOR_KINDS or not _has_dram(hw) or not m.total_capacity_bytes:
        return None
    return m.total_capacity_bytes, m.name


@dataclass(frozen=True)
class _CatalogueSeries:
    key: str
    title: str
    unit: str
    value: Callable            # hw -> (SI value, detail) or None when the device has no such point
    note: str


CATALOGUE_SERIES = (
    _CatalogueSeries("peak_flops", "Peak FLOPS", "FLOP/s", _peak_flops,
                     f"every device; best dense peak in {'/'.join(TRAINING_DTYPES)} over matrix and vector units"),
    _CatalogueSeries("dram_bandwidth", "DRAM bandwidth", "B/s", _dram_bandwidth,
                     "accelerators (gpu, tpu, accelerator) with DRAM: main-memory bandwidth"),
    _CatalogueSeries("interconnect_bandwidth", "Interconnect bandwidth", "B/s per direction", _interconnect,
                     "accelerators: their fastest link, bandwidth per direction over all its lanes"),
    _CatalogueSeries("accelerator_memory", "Accelerator memory capacity", "B", _memory_capacity,
                     "accelerators with DRAM: main-memory capacity"),
)


def catalogue_series(hardware: Optional[Sequence] = None, hw_path: Sequence = ()) -> list[Series]:
    """The hardware series from specs (default: the whole catalogue plus ``hw_path`` folders).

    Model series (Transformer parameters and training compute) need dated models, which the
    workload catalogue does not have: they come only from the study."""
    if hardware is None:
        from .hw import list_hardware
        hardware = list_hardware(hw_path)
    real = sorted((h for h in hardware if h.kind != "hypothetical" and h.release_date),
                  key=lambda h: (decimal_year(h.release_date), h.id))
    published = _published()
    lines = {s.key: s.line for s in STUDY_SERIES}
    out = []
    for s in CATALOGUE_SERIES:
        points = []
        for h in real:
            got = s.value(h)
            if got is not None:
                points.append(Point(h.release_date, float(got[0]), h.id, got[1]))
        out.append(Series(s.key, s.title, s.unit, tuple(points), s.note, published.get(lines[s.key], "")))
    return out


def series_for(source: str, hw_path: Sequence = ()) -> list[Series]:
    if source == "study":
        return study_series()
    if source == "catalogue":
        return catalogue_series(hw_path=hw_path)
    raise SpecError(Problem(None, "source", f"one of {', '.join(SOURCES)}", repr(source)))


def trends_json(series: Sequence[Series], source: str) -> dict:
    """The stable JSON document of ``roofsim trends``."""
    docs = []
    for s in series:
        f = fit(s.points)
        docs.append({
            "name": s.key, "title": s.title, "unit": s.unit, "note": s.note,
            "points": [{"date": p.date, "value": p.value, "label": p.label, "detail": p.detail} for p in s.points],
            "n_points": len(s.points),
            "first_date": min(s.points, key=lambda p: decimal_year(p.date)).date if s.points else None,
            "last_date": max(s.points, key=lambda p: decimal_year(p.date)).date if s.points else None,
            "slope_log10_per_year": f.slope_log10_per_year if f else None,
            "r2": f.r2 if f else None,
            "factor_per_2y": f.factor_per_2y if f else None,
            "factor_per_20y": f.factor_per_20y if f else None,
            "study_published": s.published or None,
        })
    return {"source": source, "method": "least squares of log10(value) on the date (years of 365.25 days)",
            "series": docs}
