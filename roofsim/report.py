"""Summaries of results: totals per bound and per phase, the limiting factor, and the stable JSON
documents of ``run``, ``compare`` and ``workload show`` (documented in the README)."""
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


def limiter(tot: dict[str, Any]) -> tuple[str, float]:
    """The bound that accounts for most of the time, and its share, from ``totals(df)``."""
    if not tot["time_by_bound_s"] or tot["total_time_s"] <= 0:
        return "none", 0.0
    bound, t = next(iter(tot["time_by_bound_s"].items()))  # sorted, largest first
    return bound, t / tot["total_time_s"]


def dtype_notes(df) -> list[str]:
    """The distinct dtype fallback / emulation notes of a device's rows."""
    return sorted({n for n in df["note"] if n})


def limiter_sentence(df, tot: dict[str, Any], hw_name: str, workload: str) -> str:
    bound, share = limiter(tot)
    what = {"compute": "compute", "latency": "per-op latency (kernel launch)"}.get(bound, bound.replace(":", " "))
    if bound.startswith("memory:"):
        what = f"{bound.split(':', 1)[1]} bandwidth"
    elif bound.startswith("interconnect:"):
        what = f"{bound.split(':', 1)[1]} link bandwidth"
    notes = dtype_notes(df)
    tail = f" Note: {'; '.join(notes)}." if notes else ""
    return (f"{workload} on {hw_name} takes {format_quantity(tot['total_time_s'], 'time')} and is limited by "
            f"{what} ({share:.0%} of the time); it attains {format_quantity(tot['attained_flop_per_s'], 'flop_rate')}."
            + tail)


def run_json(df, hw, workload) -> dict[str, Any]:
    """The stable JSON document of ``roofsim run`` for one device."""
    tot = totals(df)
    bound, share = limiter(tot)
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


def compare_json(df, hws, workload, ideal: bool) -> dict[str, Any]:
    """The stable JSON document of ``roofsim compare``: totals per device, speedup against the
    first, and the ops whose bound differs from the first device's (compared by position: every
    device runs the same ops in the same order, and op names need not be unique)."""
    frames = [df[df["hardware"] == h.id] for h in hws]
    base_bounds = list(frames[0]["bound"])
    base_t = totals(frames[0])["total_time_s"]
    rows, changes = [], []
    for h, d in zip(hws, frames):
        tot = totals(d)
        bound, share = limiter(tot)
        moved = [(op, b) for op, b, b0 in zip(d["op"], d["bound"], base_bounds) if b != b0]
        changes.append({"hardware": h.id, "ops_whose_bound_changes": [op for op, _ in moved],
                        "new_bounds": [{"op": op, "bound": b} for op, b in moved]})
        rows.append({"hardware": h.id, "name": h.name, "total_time_s": tot["total_time_s"],
                     "speedup": base_t / tot["total_time_s"] if tot["total_time_s"] else None,
                     "limiter": bound, "limiter_share": share, "attained_flop_per_s": tot["attained_flop_per_s"],
                     "time_by_bound_s": tot["time_by_bound_s"], "notes": "; ".join(dtype_notes(d))})
    return {"workload": workload.name, "baseline": hws[0].id, "ideal": ideal, "hardware": rows,
            "bound_changes": changes}


def workload_json(wl) -> dict[str, Any]:
    """The stable JSON document of ``roofsim workload show``."""
    ops = [{"name": op.name, "kind": op.kind, "phase": op.phase, "count": op.count, "dtype": op.dtype,
            "flops": op.total_flops * op.count, "bytes": (op.read_bytes + op.write_bytes) * op.count,
            "shape": dict(op.shape)} for op in wl.ops]
    return {
        "name": wl.name, "description": wl.description, "source": wl.source, "params": dict(wl.params),
        "op_count": len(wl.ops), "total_flops": wl.total_flops,
        "total_bytes": sum(o["bytes"] for o in ops),
        "parameters": wl.parameters, "tokens": wl.tokens, "flops_per_token": wl.flops_per_token,
        "ops": ops,
    }
