"""Summaries of results: totals per bound and per phase, the limiting factor, and the stable JSON
documents of ``run``, ``compare`` and ``workload show`` (documented in the README)."""
from __future__ import annotations

import math
from typing import Any

from .units import format_quantity


def _bytes_columns(df) -> list[str]:
    return [c for c in df.columns if c.startswith("bytes_")]


def require_finite(df, workload: str) -> None:
    """Refuse, one line per device, a workload with an op that cannot run there (infinite time,
    e.g. a collective on a device with no link): a table of 'inf s' and NaN shares, with numpy
    warnings on the terminal, is no answer. Sweeps read the arrays and count such points instead."""
    import numpy as np
    from .errors import RoofsimError
    bad = df[~np.isfinite(df["time_s"].to_numpy(dtype=float))]
    if len(bad):
        lines = []
        for hw, rows in bad.groupby("hardware", sort=False):
            ops = ", ".join(f"{r.op} ({r.bound})" for r in rows.head(3).itertuples())
            more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
            lines.append(f"{workload} cannot run on {hw}: no finite time for {ops}{more}"
                         + (": the device has no link for the collective" if rows["bound"].str.startswith("interconnect").all() else ""))
        raise RoofsimError("\n".join(lines))


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


def run_json(df, hw, workload, memory=None, step=None, layout=None, tables=None) -> dict[str, Any]:
    """The stable JSON document of ``roofsim run`` for one device; ``memory`` (a roofsim.memory
    Footprint) adds the ``memory`` section (with ``tables``, the device's TablePlacement), ``step``
    (a roofsim.parallel StepTime) the ``parallel`` section with the layout."""
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
        **({"memory": memory_json(memory, tables, [op.count for op in workload.ops])} if memory is not None else {}),
        **({"parallel": {"layout": layout_json(layout), "step": step.as_json()}} if step is not None else {}),
    }


def with_plans(doc: dict[str, Any], plans, tables=(), counts=()) -> dict[str, Any]:
    """``compare``'s document with each device's memory (``tables``: each device's TablePlacement),
    and under a parallel layout its step time (which then replaces the sum of op times as
    ``total_time_s``, and the speedups follow)."""
    rows = doc["hardware"]
    for k, (r, p) in enumerate(zip(rows, plans)):
        r["memory"] = memory_json(p.footprint, tables[k] if tables else None, counts)
        if p.step is not None:
            r["total_time_s"] = p.step.total_s
            r["step"] = p.step.as_json()
    base = rows[0]["total_time_s"]
    for r in rows:
        r["speedup"] = base / r["total_time_s"] if r["total_time_s"] else None
    if plans and plans[0].step is not None:
        doc["layout"] = layout_json(plans[0].layout)
    return doc


def layout_json(layout) -> dict[str, Any]:
    from dataclasses import asdict
    return {**asdict(layout), "dp": layout.data_parallel}


def memory_lines(fp, hw, tables=None, counts=()) -> list[str]:
    """The footer of ``roofsim run``: the per-device footprint, whether it fits, and what the time
    assumes (``tables``: the device's roofsim.tiers.TablePlacement; ``counts``: executions per op)."""
    from .memory import excess_stream_time_s
    parts = ", ".join(f"{c} {format_quantity(b, 'bytes')}" for c, b in fp.by_component.items() if b > 0)
    lines = []
    if fp.capacity is None:
        lines.append(f"Memory per device: {format_quantity(fp.total, 'bytes')} ({parts}); "
                     f"{fp.memory or 'main memory'} has no capacity in the spec, so whether it fits is unknown.")
    else:
        verdict = "fits" if fp.fits else "DOES NOT FIT"
        lines.append(f"Memory per device: {format_quantity(fp.total, 'bytes')} of {format_quantity(fp.capacity, 'bytes', binary=True)} "
                     f"{fp.memory} ({fp.total / fp.capacity:.0%}): {verdict}. {parts[0].upper() + parts[1:] if parts else ''}.")
    if fp.offloaded:
        moved = ", ".join(f"{c} {format_quantity(b, 'bytes')}" for c, b in fp.offloaded)
        lines.append(f"Offloaded to {fp.offload_tier}: {moved}; {format_quantity(fp.offload_traffic, 'bytes')} per step "
                     f"cross its link, counted in the time above (op offload.*); only --overlap hides them behind compute.")
    lines += [f"Note: {n}." for n in fp.notes if not n.startswith("offloaded to")]
    if tables is not None and tables.spills:
        from .tiers import table_lines
        lines += table_lines(tables, hw, counts)
    excess = unplaced_bytes(fp, tables)
    if fp.fits is False and excess > 0:
        stream = excess_stream_time_s(fp, hw)
        extra = (f" Streaming the {format_quantity(fp.excess, 'bytes')} that do not fit from {stream[0]} once per step "
                 f"would add at least {format_quantity(stream[1], 'time')} (--offload), or spread it over devices "
                 f"(--devices N --tp N).") if stream else " Spread it over devices (--devices N --tp N)."
        what = (f"the other {format_quantity(excess, 'bytes')} that {fp.memory} cannot hold are resident in it"
                if tables is not None and tables.spills else f"everything is resident in {fp.memory}")
        lines.append(f"The time above assumes {what} (no offload): it is not a time this device can achieve." + extra)
    return lines


def unplaced_bytes(fp, tables=None) -> float:
    """Bytes of the footprint that no tier holds in the model: beyond main memory's capacity and
    not placed in a far tier with the embedding tables (0 when it fits or the capacity is unknown)."""
    if fp.capacity is None:
        return 0.0
    return max(fp.total - (tables.far_held if tables is not None else 0.0) - fp.capacity, 0.0)


def assumption(fp, tables=None, counts=()) -> str:
    """What the time assumes about where the footprint lives, in one sentence (JSON ``memory.assumes``)."""
    spill = tables is not None and tables.spills
    head = ""
    if spill:
        head = (f"embedding tables spilled to {tables.far_tier}: {sum(t.far_bytes for t in tables.tables):.6g} B held "
                f"there, {tables.far_traffic(counts):.6g} B per step of lookups read from {tables.far_tier} in the time; ")
    if fp.capacity is None:
        return head + f"{fp.memory or 'main memory'} has no capacity in the spec: everything else is taken as resident"
    excess = unplaced_bytes(fp, tables)
    if excess > 0:
        return head + (f"{excess:.6g} B more than {fp.memory} holds are taken as resident in it: "
                       f"not a time this device can achieve")
    return head + f"everything {'else ' if spill else ''}is resident in {fp.memory}"


def memory_json(fp, tables=None, counts=()) -> dict[str, Any]:
    """The ``memory`` document: the footprint, what the time assumes (``assumes``; ``unplaced_bytes``
    that no tier holds yet are taken as resident), and with embedding tables their placement (``embedding_tables``: roofsim.tiers.TablePlacement.as_json)."""
    doc = {**fp.as_json(), "assumes": assumption(fp, tables, counts), "unplaced_bytes": unplaced_bytes(fp, tables)}
    if tables is not None and tables.tables:
        doc["embedding_tables"] = tables.as_json(counts)
    return doc


def step_lines(st) -> list[str]:
    """Step time by part for a parallel layout."""
    parts = [("compute", st.compute_s), ("memory", st.memory_s), ("exposed communication", st.communication_s),
             ("pipeline bubble", st.bubble_s)]
    body = ", ".join(f"{name} {format_quantity(t, 'time')} ({t / st.total_s:.0%})" for name, t in parts) if st.total_s else ""
    rate = f"{st.tokens_per_s:,.0f}" if st.tokens_per_s >= 100 else f"{st.tokens_per_s:.3g}"
    lines = [f"Step on {st.devices} devices: {format_quantity(st.total_s, 'time')} = {body}; "
             f"{st.microbatches} micro-batches of {format_quantity(st.microbatch_s, 'time')}; "
             f"{rate} tokens/s in all."]
    if st.hidden_communication_s:
        lines.append(f"Hidden behind compute (--overlap): {format_quantity(st.hidden_communication_s, 'time')} of "
                     f"pipeline sends, ZeRO-3 gathers, gradient synchronisation and offload traffic.")
    lines += [f"Note: {n}." for n in st.notes]
    return lines


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
