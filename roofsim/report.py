"""Summaries of a results DataFrame: totals per bound and per phase, the limiting factor, and the
stable JSON form of ``roofsim run`` (documented in the README). Reads the DataFrame only."""
from __future__ import annotations

import math
from typing import Any

from .units import format_quantity


def _bytes_columns(df) -> list[str]:
    return [c for c in df.columns if c.startswith("bytes_")]


def totals(df) -> dict[str, Any]:
    """Totals of one device's rows."""
    t = float(df["time_s"].sum())
    flops = float(df["flops"].sum())
    by_bound = df.groupby("bound", sort=False)["time_s"].sum().sort_values(ascending=False)
    by_phase = df.groupby("phase", sort=False)["time_s"].sum()
    return {
        "total_time_s": t,
        "total_flops": flops,
        "attained_flop_per_s": flops / t if t > 0 else 0.0,
        "time_by_bound_s": {k: float(v) for k, v in by_bound.items()},
        "time_by_phase_s": {k: float(v) for k, v in by_phase.items()},
        "bytes": {c[len("bytes_"):]: float(df[c].sum()) for c in _bytes_columns(df) if df[c].notna().any()},
    }


def limiter(df) -> tuple[str, float]:
    """The bound that accounts for most of the time, and its share."""
    tot = totals(df)
    if not tot["time_by_bound_s"] or tot["total_time_s"] <= 0:
        return "none", 0.0
    bound, t = next(iter(tot["time_by_bound_s"].items()))
    return bound, t / tot["total_time_s"]


def limiter_sentence(df, hw_name: str, workload: str) -> str:
    tot = totals(df)
    bound, share = limiter(df)
    what = {"compute": "compute", "latency": "per-op latency (kernel launch)"}.get(bound, bound.replace(":", " "))
    if bound.startswith("memory:"):
        what = f"{bound.split(':', 1)[1]} bandwidth"
    elif bound.startswith("interconnect:"):
        what = f"{bound.split(':', 1)[1]} link bandwidth"
    notes = sorted({n for n in df["note"] if n})
    tail = f" Note: {'; '.join(notes)}." if notes else ""
    return (f"{workload} on {hw_name} takes {format_quantity(tot['total_time_s'], 'time')} and is limited by "
            f"{what} ({share:.0%} of the time); it attains {format_quantity(tot['attained_flop_per_s'], 'flop_rate')}."
            + tail)


def run_json(df, hw, workload) -> dict[str, Any]:
    """The stable JSON document of ``roofsim run`` for one device."""
    tot = totals(df)
    bound, share = limiter(df)
    ops = []
    for _, r in df.iterrows():
        ops.append({
            "name": r["op"], "kind": r["kind"], "phase": r["phase"], "count": int(r["count"]),
            "dtype": r["dtype"], "dtype_used": r["dtype_used"], "flops": float(r["flops"]),
            "bytes": {c[len("bytes_"):]: float(r[c]) for c in _bytes_columns(df) if not math.isnan(r[c])},
            "time_s": float(r["time_s"]), "bound": r["bound"],
            "attained_flop_per_s": float(r["attained_flop_per_s"]),
            "fraction_of_peak": None if math.isnan(r["fraction_of_peak"]) else float(r["fraction_of_peak"]),
            "note": r["note"] or None,
        })
    return {
        "hardware": hw.id, "hardware_name": hw.name, "workload": workload.name,
        "ideal": bool(df.attrs.get("ideal", False)),
        **{k: tot[k] for k in ("total_time_s", "total_flops", "attained_flop_per_s", "time_by_bound_s", "time_by_phase_s")},
        "limiter": {"bound": bound, "share": share},
        "ops": ops,
    }
