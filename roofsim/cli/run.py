"""`roofsim run` and `roofsim compare`: thin wrappers over roofsim.roofline.evaluate."""
from __future__ import annotations

import click

from ..errors import Problem, SpecError
from ..units import format_quantity as fq
from . import output
from .common import CACHE_MODEL, HW_PATH, IDEAL, OUTPUT, OVERHEAD, SET, WL_PATH, emit, parse_sets
from .layout import (LAYOUT_KEYS, TECHNIQUE_KEYS, build_layout, build_techniques, checkpoint_override, layout_options,
                     pop_options, technique_options)

FORMAT = click.option("--format", "fmt", type=click.Choice(output.FORMATS), default="table", show_default=True)


def evaluation_options(command):
    """The options every evaluating command shares (run, compare)."""
    for option in reversed((FORMAT, OUTPUT, IDEAL, OVERHEAD, SET, CACHE_MODEL, HW_PATH, WL_PATH)):
        command = option(command)
    return command


def _device_names(text: str) -> list[str]:
    """``a100,h100`` -> names; an empty name (``--hw ,``, ``a100,,h100``) is an error, not skipped."""
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise SpecError(Problem(None, "--hw", "comma-separated hardware names, e.g. a100,h100",
                                f"an empty name in {text!r}"))
    return names


def _load(hw_names, workload, sets, hw_path, wl_path):
    from ..hw import get_hardware
    from ..roofline import require_distinct
    from ..workloads import get_workload
    hw_over, wl_over = parse_sets(sets)
    hws = [get_hardware(n, hw_path, overrides=hw_over or None, si_numbers=False) for n in hw_names]
    require_distinct(hws, hw_names, "--hw")
    wl = get_workload(workload, wl_path, overrides=wl_over or None, where="--set wl")
    return hws, wl


def _memory_setup(wl, opts: dict, sets, workload, hw_path, wl_path):
    """(layout or None, footprint techniques, the workload rebuilt for --checkpoint's recomputation)."""
    layout = build_layout(pop_options(opts, LAYOUT_KEYS))
    tech = build_techniques(pop_options(opts, TECHNIQUE_KEYS))
    over = checkpoint_override(wl, tech)
    if over:
        from ..workloads import get_workload
        wl = get_workload(workload, wl_path, overrides={**parse_sets(sets)[1], **over}, where="--set wl")
    return layout, tech, wl


def _op_rows(df, top: int, main: str) -> list[dict]:
    """The ``top`` slowest ops, in human units, with the bytes each moves at main memory."""
    d = df.sort_values("time_s", ascending=False)
    if top:
        d = d.head(top)
    total = df["time_s"].sum()
    return [{"op": r["op"], "phase": r["phase"], "count": r["count"], "dtype": r["dtype_used"],
             "FLOPs": fq(r["flops"], "flops"), f"{main} bytes": fq(r[f"bytes_{main}"], "bytes"),
             "time": fq(r["time_s"], "time"), "share": f"{r['time_s'] / total:.1%}" if total else "-",
             "bound": r["bound"], "attained": fq(r["attained_flop_per_s"], "flop_rate"),
             "of peak": f"{r['fraction_of_peak']:.0%}" if r["fraction_of_peak"] == r["fraction_of_peak"] else "-"}
            for _, r in d.iterrows()]


@click.command()
@click.option("--hw", "hw_name", required=True, help="Hardware id, alias or YAML file.")
@click.option("--workload", "-w", required=True, help="Workload name, YAML file or Hugging Face config.json.")
@click.option("--top", type=int, default=15, show_default=True, help="Ops shown in the table (0: all).")
@evaluation_options
@layout_options
@technique_options
def run(hw_name, workload, top, fmt, output_path, ideal, overhead, sets, cache_model, hw_path, wl_path, **opts):
    """Time, bound and attainment of every op of WORKLOAD on one device (of a parallel layout),
    with the memory it needs per device and whether it fits."""
    from ..api import predictor
    from ..parallel import plan
    from ..report import limiter_sentence, memory_lines, require_finite, run_json, step_lines, totals
    from ..tiers import place_tables
    (hw,), wl = _load([hw_name], workload, sets, hw_path, wl_path)
    layout, tech, wl = _memory_setup(wl, opts, sets, workload, hw_path, wl_path)
    p = plan(hw, wl, layout, ideal=ideal, predictor=predictor(cache_model), overhead=overhead, **tech)
    df = p.frame
    require_finite(df, wl.name)
    tables = place_tables(wl, hw)     # where the model put the embedding tables (for the footer)
    if fmt == "json":
        doc = run_json(df, hw, wl, memory=p.footprint, step=p.step, layout=p.layout, tables=tables)
        emit(output.json_text(doc), output_path)
        return
    if fmt == "csv":
        emit(output.csv_text(df.to_dict("records"), list(df.columns)), output_path)
        return
    tot = totals(df)
    main = hw.main_memory.name
    rows = _op_rows(df, top, main)
    bound_rows = [{"bound": b, "time": fq(t, "time"), "share": f"{t / tot['total_time_s']:.1%}"}
                  for b, t in tot["time_by_bound_s"].items()]
    phase_rows = [{"phase": p, "time": fq(t, "time"), "share": f"{t / tot['total_time_s']:.1%}"}
                  for p, t in tot["time_by_phase_s"].items()]
    render = output.markdown if fmt == "markdown" else (lambda r: output.table(r, align_right=("count", "FLOPs", f"{main} bytes", "time", "share", "attained", "of peak")))
    mode = " (ideal roofline)" if ideal else ""
    per = " per device, one micro-batch and the per-step ops" if p.step else ""
    parts = [f"{wl.name} on {hw.name}{mode}: {len(df)} ops{per}, {fq(tot['total_flops'], 'flops')}",
             "", f"Ops by time (top {min(top, len(rows)) if top else len(rows)} of {len(df)}):", render(rows),
             "", "Time by bound:", render(bound_rows), "", "Time by phase:", render(phase_rows), "",
             f"Total: {fq(tot['total_time_s'], 'time')}, attained {fq(tot['attained_flop_per_s'], 'flop_rate')}"]
    if p.step:
        parts[-1] = (f"Sum of the ops above (one micro-batch and the once-per-step ops): {fq(tot['total_time_s'], 'time')}; "
                     f"the step schedules them:")
        parts += step_lines(p.step)
    else:
        parts.append(limiter_sentence(df, tot, hw.name, wl.name))
    parts += memory_lines(p.footprint, hw, tables, [op.count for op in wl.ops])
    emit("\n".join(parts), output_path)


def _fits(memory: dict) -> str:
    """yes; NO; or where the tables that main memory cannot hold went (then the rest fits)."""
    tables = memory.get("embedding_tables") or {}
    if memory["fits"] is False and tables.get("far_bytes") and not memory["unplaced_bytes"]:
        return f"tables in {tables['far_tier']}"
    return {True: "yes", False: "NO", None: "?"}[memory["fits"]]


@click.command()
@click.option("--hw", "hw_names", required=True, help="Comma-separated hardware ids, aliases or files; the first is the baseline.")
@click.option("--workload", "-w", required=True, help="Workload name or file.")
@evaluation_options
@layout_options
@technique_options
def compare(hw_names, workload, fmt, output_path, ideal, overhead, sets, cache_model, hw_path, wl_path, **opts):
    """Totals of WORKLOAD side by side on several devices, speedup against the first; with a
    parallel layout, the step time of each device type in that layout."""
    from ..api import predictor
    from ..parallel import plan
    from ..report import compare_json, require_finite, with_plans
    from ..roofline import evaluate
    from ..tiers import place_tables
    hws, wl = _load(_device_names(hw_names), workload, sets, hw_path, wl_path)
    layout, tech, wl = _memory_setup(wl, opts, sets, workload, hw_path, wl_path)
    df = evaluate(hws, wl, ideal=ideal, predictor=predictor(cache_model), overhead=overhead)
    require_finite(df, wl.name)
    if layout is None and "offload" not in tech:   # the frame above is the time: only the memory is missing
        from ..memory import footprint
        from ..parallel import Layout, Plan
        plans = [Plan(None, None, footprint(wl, h, **tech), Layout()) for h in hws]
    else:
        plans = [plan(h, wl, layout, ideal=ideal, predictor=predictor(cache_model), overhead=overhead, **tech)
                 for h in hws]
    doc = with_plans(compare_json(df, hws, wl, ideal), plans, [place_tables(wl, h) for h in hws],
                     [op.count for op in wl.ops])
    rows = doc["hardware"]
    if fmt == "json":
        emit(output.json_text(doc), output_path)
        return
    if fmt == "csv":
        emit(output.csv_text([{k: v for k, v in r.items() if k not in ("time_by_bound_s", "memory", "step")}
                              for r in rows]), output_path)
        return
    human = [{"hardware": r["hardware"], "time": fq(r["total_time_s"], "time"), "speedup": f"{r['speedup']:.2f}x",
              "limited by": f"{r['limiter']} ({r['limiter_share']:.0%})", "attained": fq(r["attained_flop_per_s"], "flop_rate"),
              "memory/device": fq(r["memory"]["total_per_device_bytes"], "bytes"),
              "fits": _fits(r["memory"])}
             for r in rows]
    render = output.markdown if fmt == "markdown" else (lambda r: output.table(r, align_right=("time", "speedup", "attained")))
    lines = [f"{wl.name}: speedup against {hws[0].id}" + (" (ideal roofline)" if ideal else ""), render(human), ""]
    for c in doc["bound_changes"][1:]:
        if c["new_bounds"]:
            moved = ", ".join(f"{m['op']} -> {m['bound']}" for m in c["new_bounds"])
            lines.append(f"Bound changes on {c['hardware']} vs {hws[0].id}: {moved}")
        else:
            lines.append(f"Bound changes on {c['hardware']} vs {hws[0].id}: none")
    lines += [f"Note on {r['hardware']}: {r['notes']}." for r in rows if r["notes"]]
    emit("\n".join(lines), output_path)
