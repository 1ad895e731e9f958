"""Predictions held against measured kernels: per-kernel ratios and an error summary.

``validate`` prices every measured kernel with the same model a user's workload goes through
(roofsim.roofline.evaluate over the kernel's standard ops) and puts prediction and measurement
side by side. ``error_summary`` gives, per category, per bound and overall, the median and mean
absolute percentage error, the share of kernels within 25 % and within a factor of 2, and the
median ratio (its bias: below 1 the model is too optimistic, above 1 too pessimistic). A miss is
attributed to the bound of the op that dominates the kernel's predicted time: the part of the
model (compute, a memory level, the latency floor) whose figure was wrong.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import Problem, SpecError
from ..kernelmodel import host_overhead
from ..ops.op import Workload
from ..specs import HardwareSpec
from .records import Measurement

WITHIN = 0.25      # "within 25 %": |predicted / measured - 1| <= 0.25
FACTOR = 2.0       # "within 2x": 1/2 <= predicted / measured <= 2
KERNEL_COLUMNS = ("kernel", "category", "kind", "device", "hardware", "ops", "measured_s", "predicted_s", "ratio",
                  "error", "abs_error", "bound", "bound_share", "miss", "spread", "repeats", "flops", "source")


def matches(hw: HardwareSpec, device: str) -> bool:
    """``device`` names ``hw``, or the catalogue device it extends (a calibrated or what-if copy)."""
    if device == hw.id or device in hw.aliases:
        return True
    return hw.extends is not None and _catalogue_id(device) == hw.extends


@functools.lru_cache(maxsize=256)
def _catalogue_id(device: str) -> Optional[str]:
    """The catalogue id an id or alias names (None if it names nothing)."""
    from ..catalog import looks_like_path, resolve
    from ..errors import RoofsimError
    if not device or looks_like_path(device):
        return None
    try:
        return resolve(device, "hardware").stem   # catalogue files are named after their id
    except RoofsimError:
        return None


def select(hw: HardwareSpec, measurements: Sequence[Measurement]) -> list[Measurement]:
    """The measurements taken on ``hw`` (by id or alias); an error naming the devices present if none."""
    mine = [m for m in measurements if matches(hw, m.device)]
    if measurements and not mine:
        present = sorted({m.device for m in measurements})
        raise SpecError(Problem(None, "device", f"measurements of {hw.id} (or an alias of it)",
                                "only " + ", ".join(present)))
    if not mine:
        raise SpecError(Problem(None, "measurements", "at least one measurement", "none"))
    return mine


def miss_label(ratio: float) -> str:
    """'' within 25 %; else which way the model errs (too fast: it predicts less time than measured)."""
    if abs(ratio - 1.0) <= WITHIN:
        return ""
    return "model too fast" if ratio < 1.0 else "model too slow"


def predict(hw: HardwareSpec, measurements: Sequence[Measurement], predictor=None) -> np.ndarray:
    """Predicted seconds per measured kernel: the one pricing that validate reports and calibrate fits.

    A kernel's ops are priced together as one workload, in order (residency across them), in the
    steady state of a loop when it was timed warm; a host-timed kernel also pays the eager
    dispatch in series. Single-op kernels (every CSV row) go through one vectorised call per
    warm/cold group, each op its own loop (residency needs a predecessor, so it is off), except
    embedding gathers: the cache model lets the tables of one call share the caches (a step's
    tables do), so each measured gather, which ran alone, is priced in a call of its own.
    """
    from ..roofline import evaluate_arrays
    from ..tiers import table_ops
    out = np.empty(len(measurements))
    quiet = hw if not hw.efficiency.kernel.residency else dataclasses.replace(
        hw, efficiency=dataclasses.replace(hw.efficiency, kernel=dataclasses.replace(hw.efficiency.kernel,
                                                                                       residency=False)))
    single = [i for i, m in enumerate(measurements) if len(m.ops) == 1]
    alone = {single[j] for j, _ in table_ops([measurements[i].ops[0] for i in single])} if predictor else set()
    groups = [[i for i in single if i not in alone and measurements[i].warm == warm] for warm in (False, True)]
    for group in (*groups, *([i] for i in sorted(alone))):
        if group:
            warm = measurements[group[0]].warm
            ev = evaluate_arrays(quiet, [measurements[i].ops[0] for i in group], predictor=predictor,
                                 warm_each=warm)
            out[group] = ev.time[0] * np.array([measurements[i].ops[0].count for i in group])
    for i, m in enumerate(measurements):
        if len(m.ops) > 1:
            ev = evaluate_arrays(hw, Workload(m.name, m.ops), predictor=predictor, warm=m.warm)
            out[i] = float((ev.time[0] * np.array([op.count for op in m.ops])).sum())
        if m.timing in ("host", "host-compiled"):
            out[i] += host_overhead(hw, m.ops, "compiled" if m.timing == "host-compiled" else "eager")
    return out


def validate(hw: HardwareSpec, measurements: Sequence[Measurement], predictor=None, match_device: bool = True):
    """One row per measured kernel on ``hw``; columns in KERNEL_COLUMNS (ratio = predicted / measured).

    Each kernel's ops are evaluated together as one workload, in order, so that any effect
    across consecutive ops of one kernel applies as it would in a user's workload; a kernel
    timed warm (back to back, caches not flushed) is priced in the steady state of that loop.
    """
    import pandas as pd
    from ..roofline import evaluate
    chosen = select(hw, measurements) if match_device else list(measurements)
    rows = []
    times = predict(hw, chosen, predictor)     # the fit's own pricing; the frame below names the bound
    for i, m in enumerate(chosen):
        df = evaluate(hw, Workload(m.name, m.ops), predictor=predictor, warm=m.warm)
        predicted = float(times[i])
        top = df.loc[df["time_s"].idxmax()]
        by_bound = df.groupby("bound")["time_s"].sum()
        ratio = predicted / m.time_s
        rows.append({
            "kernel": m.name, "category": m.category, "kind": m.kind, "device": m.device, "hardware": hw.id,
            "ops": len(m.ops), "measured_s": m.time_s, "predicted_s": predicted, "ratio": ratio,
            "error": ratio - 1.0, "abs_error": abs(ratio - 1.0), "bound": top["bound"],
            "bound_share": float(by_bound[top["bound"]] / predicted) if predicted > 0 else np.nan,
            "miss": miss_label(ratio), "spread": np.nan if m.spread is None else m.spread,
            "repeats": m.repeats, "flops": float(df["flops"].sum()), "source": m.source,
        })
    out = pd.DataFrame(rows, columns=list(KERNEL_COLUMNS))
    out.attrs.update(hardware=hw.id)
    return out


def _stats(g) -> dict:
    ratio = g["ratio"].to_numpy(float)
    ape = np.abs(ratio - 1.0)
    return {
        "kernels": int(len(g)),
        "median_abs_error": float(np.median(ape)),
        "mean_abs_error": float(np.mean(ape)),
        "within_25pct": float(np.mean(ape <= WITHIN)),
        "within_2x": float(np.mean((ratio >= 1.0 / FACTOR) & (ratio <= FACTOR))),
        "median_ratio": float(np.median(ratio)),
        "worst_kernel": str(g["kernel"].iloc[int(np.argmax(ape))]),
        "worst_ratio": float(ratio[int(np.argmax(ape))]),
    }


SUMMARY_COLUMNS = ("group", "name", "kernels", "median_abs_error", "mean_abs_error", "within_25pct", "within_2x",
                   "median_ratio", "worst_kernel", "worst_ratio")


def error_summary(df):
    """Rows of (group, name): one per category, one per bound (where the misses come from), then
    ``overall``; errors are fractions (0.15 = 15 %)."""
    import pandas as pd
    rows = []
    for group in ("category", "bound"):
        for name, g in df.groupby(group, sort=True):
            rows.append({"group": group, "name": name, **_stats(g)})
    if len(df):
        rows.append({"group": "overall", "name": "all", **_stats(df)})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def overall(summary) -> Optional[dict]:
    """The ``overall`` row of an error summary as a dict (None for an empty summary)."""
    o = summary[summary["group"] == "overall"]
    return None if o.empty else o.iloc[0].to_dict()
