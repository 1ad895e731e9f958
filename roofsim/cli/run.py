"""`roofsim run` and `roofsim compare`: thin wrappers over roofsim.roofline.evaluate."""
from __future__ import annotations

import click

from ..errors import Problem, SpecError
from ..units import format_quantity as fq
from . import output
from .common import CACHE_MODEL, HW_PATH, IDEAL, OUTPUT, OVERHEAD, SET, WL_PATH, emit, parse_sets

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
    wl = get_workload(workload, wl_path, overrides=wl_over or None)
    return hws, wl


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
def run(hw_name, workload, top, fmt, output_path, ideal, overhead, sets, cache_model, hw_path, wl_path):
    """Time, bound and attainment of every op of WORKLOAD on one device."""
    from ..api import predictor
    from ..report import limiter_sentence, run_json, totals
    from ..roofline import evaluate
    (hw,), wl = _load([hw_name], workload, sets, hw_path, wl_path)
    df = evaluate(hw, wl, ideal=ideal, predictor=predictor(cache_model), overhead=overhead)
    if fmt == "json":
        emit(output.json_text(run_json(df, hw, wl)), output_path)
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
    parts = [f"{wl.name} on {hw.name}{mode}: {len(wl.ops)} ops, {fq(tot['total_flops'], 'flops')}",
             "", f"Ops by time (top {min(top, len(rows)) if top else len(rows)} of {len(df)}):", render(rows),
             "", "Time by bound:", render(bound_rows), "", "Time by phase:", render(phase_rows), "",
             f"Total: {fq(tot['total_time_s'], 'time')}, attained {fq(tot['attained_flop_per_s'], 'flop_rate')}",
             limiter_sentence(df, tot, hw.name, wl.name)]
    emit("\n".join(parts), output_path)


@click.command()
@click.option("--hw", "hw_names", required=True, help="Comma-separated hardware ids, aliases or files; the first is the baseline.")
@click.option("--workload", "-w", required=True, help="Workload name or file.")
@evaluation_options
def compare(hw_names, workload, fmt, output_path, ideal, overhead, sets, cache_model, hw_path, wl_path):
    """Totals of WORKLOAD side by side on several devices, speedup against the first."""
    from ..api import predictor
    from ..report import compare_json
    from ..roofline import evaluate
    hws, wl = _load(_device_names(hw_names), workload, sets, hw_path, wl_path)
    df = evaluate(hws, wl, ideal=ideal, predictor=predictor(cache_model), overhead=overhead)
    doc = compare_json(df, hws, wl, ideal)
    rows = doc["hardware"]
    if fmt == "json":
        emit(output.json_text(doc), output_path)
        return
    if fmt == "csv":
        emit(output.csv_text([{k: v for k, v in r.items() if k != "time_by_bound_s"} for r in rows]), output_path)
        return
    human = [{"hardware": r["hardware"], "time": fq(r["total_time_s"], "time"), "speedup": f"{r['speedup']:.2f}x",
              "limited by": f"{r['limiter']} ({r['limiter_share']:.0%})", "attained": fq(r["attained_flop_per_s"], "flop_rate")}
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
