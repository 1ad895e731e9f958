"""`roofsim sweep` and `roofsim sensitivity`: design-space sweeps of one device
(roofsim.sweep.design_sweep) and the elasticity of runtime to its fields (roofsim.sensitivity)."""
from __future__ import annotations

import sys

import click

from ..units import format_quantity as fq
from . import output
from .common import CACHE_MODEL, HW_PATH, IDEAL, OUTPUT, SET, WL_PATH, _checked_output, emit, parse_sets


def _checked_plot(ctx, param, value):
    """A bad --plot name is one line before any work (the image format comes from its extension)."""
    if value:
        from ..plotting import format_of
        format_of(value)
        output.check_output_path(value)
    return value


@click.command()
@click.option("--hw", "hw_name", required=True, help="Base device: hardware id, alias or YAML file.")
@click.option("--workload", "-w", "workloads", required=True,
              help="Workload, or several with weights: llama2-70b=0.7,dlrm=0.3 (time = weighted sum).")
@click.option("--vary", multiple=True, metavar="PATH=SPEC", help="A spec field and its values: "
              "memory.hbm.bandwidth=2TB/s:8TB/s:7 (N points), ...:7:log (log-spaced), compute.bf16=500TFLOP/s,1PFLOP/s "
              "(a list), LO:HI without N for random/latin. Repeatable.")
@click.option("--method", type=click.Choice(["grid", "random", "latin"]), default="grid", show_default=True)
@click.option("--samples", type=int, default=None, help="Design points for --method random or latin.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random and latin sampling.")
@click.option("--cost", "cost_expr", default=None, metavar="EXPR",
              help="Cost of a design as arithmetic over its fields (e.g. 'memory_hbm_bandwidth / 1e12 * 100 + "
                   "peak_bf16 / 1e15 * 50'); default: a power proxy fitted to the catalogue's TDPs.")
@click.option("--output", "-o", "output_path", callback=_checked_output, metavar="FILE",
              help="Write every design point: .csv, or .parquet (needs pyarrow).")
@click.option("--plot", "plot_path", callback=_checked_plot, metavar="FILE",
              help="Also draw the sweep (.png, .svg or .pdf): a heatmap over two fields, else time against cost.")
@click.option("--top", type=int, default=10, show_default=True, help="Pareto-optimal points shown (0: all).")
@click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
              help="Evaluate on this Dask scheduler's workers (pip install 'roofsim[dask]'; same results as local).")
@click.option("--workers", type=int, default=None, metavar="N",
              help="Evaluate on a local Dask cluster of N worker processes (pip install 'roofsim[dask]').")
@click.option("--connect-timeout", type=float, default=None, metavar="SECONDS",
              help="Give up on an unreachable --scheduler after this long [default: 10].")
@IDEAL
@SET
@CACHE_MODEL
@HW_PATH
@WL_PATH
def sweep(hw_name, workloads, vary, method, samples, seed, cost_expr, output_path, plot_path, top, scheduler, workers,
          connect_timeout, ideal, sets, cache_model, hw_path, wl_path):
    """Evaluate design points of a hypothetical device: time, bound, fit, cost, Pareto front."""
    from ..sweep import design_sweep, table_bytes
    hw_over, wl_over = parse_sets(sets)
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="design points", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    show = sys.stderr.isatty()
    try:
        result = design_sweep(hw_name, workloads, vary, method=method, samples=samples, seed=seed, cost=cost_expr,
                              ideal=ideal, cache_model=cache_model, hw_overrides=hw_over, wl_overrides=wl_over,
                              hw_path=hw_path, wl_path=wl_path, progress=progress if show else None,
                              scheduler=scheduler, workers=workers, connect_timeout=connect_timeout)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if output_path:
        output.write_output(output_path, table_bytes(result, output_path))
    if plot_path:
        from ..plotting import format_of, sweep as draw, to_bytes
        output.write_output(plot_path, to_bytes(draw(result), format_of(plot_path)))
    click.echo(summary(result, top, output_path) + (f"\nPlot: {plot_path}" if plot_path else ""))



def summary(result, top: int, output_path) -> str:
    df = result.frame
    feasible = int(df["feasible"].sum())
    mix = ", ".join(f"{n}" + (f" x {w:g}" if len(result.workloads) > 1 else "") for n, w in result.workloads)
    lines = [f"{len(df):,} design points on {mix}: {feasible:,} feasible"
             + "".join(f", {n:,} {why}" for why, n in result.infeasible.items()),
             f"cost: {result.cost_model}", ""]
    front = result.front
    shown = front if not top else front.head(top)
    dims = {p.column: p.dimension for p in result.params}
    rows = [{**{p.path: fq(r[p.column], dims[p.column]) for p in result.params},
             "time": fq(r["time_s"], "time"), "bound": r["bound"], "cost": f"{r['cost']:.4g}"}
            for _, r in shown.iterrows()]
    lines.append(f"Pareto front over time and cost ({len(shown)} of {len(front)} points, fastest first):")
    lines.append(output.table(rows, align_right=("time", "cost", *(p.path for p in result.params))))
    if output_path:
        lines += ["", f"Wrote {len(df):,} rows to {output_path}"]
    return "\n".join(lines)


@click.command()
@click.option("--hw", "hw_name", required=True, help="Device: hardware id, alias or YAML file.")
@click.option("--workload", "-w", "workloads", required=True,
              help="Workload, or several with weights: llama2-70b=0.7,dlrm=0.3 (time = weighted sum).")
@click.option("--step", type=float, default=0.01, show_default=True, help="Relative step of the central difference.")
@click.option("--all", "show_all", is_flag=True, help="Also list the fields that change nothing.")
@click.option("--format", "fmt", type=click.Choice(output.FORMATS), default="table", show_default=True)
@OUTPUT
@IDEAL
@SET
@CACHE_MODEL
@HW_PATH
@WL_PATH
def sensitivity(hw_name, workloads, step, show_all, fmt, output_path, ideal, sets, cache_model, hw_path, wl_path):
    """Elasticity of runtime to every spec field (d ln t / d ln p), ranked: what buys the most speed."""
    from ..sensitivity import sensitivity as analyse
    hw_over, wl_over = parse_sets(sets)
    df = analyse(hw_name, workloads, step=step, ideal=ideal, cache_model=cache_model, hw_overrides=hw_over,
                 wl_overrides=wl_over, hw_path=hw_path, wl_path=wl_path)
    if fmt in ("csv", "json"):
        records = df.to_dict("records")
        text = output.csv_text(records, list(df.columns)) if fmt == "csv" else output.json_text(
            {"hardware": df.attrs["hardware"], "time_s": df.attrs["time_s"], "step": step,
             "workloads": [{"name": n, "weight": w} for n, w in df.attrs["workloads"]], "fields": records})
        emit(text, output_path)
        return
    moves = df if show_all else df[(df["elasticity"] != 0) | (df["speedup_2x"] != 1)]
    rows = [{"field": r["field"], "value": fq(r["value"], r["dimension"]),
             "elasticity": f"{r['elasticity']:+.3f}" if round(r["elasticity"], 3) else "0",
             "speedup at 2x": "-" if r["speedup_2x"] != r["speedup_2x"] else f"{r['speedup_2x']:.3f}x",
             "note": r["note"]} for _, r in moves.iterrows()]
    render = output.markdown if fmt == "markdown" else (lambda r: output.table(r, align_right=("value", "elasticity", "speedup at 2x")))
    mix = ", ".join(n + (f" x {w:g}" if len(df.attrs["workloads"]) > 1 else "") for n, w in df.attrs["workloads"])
    lines = [f"{mix} on {df.attrs['hardware']}: {fq(df.attrs['time_s'], 'time')}; elasticity = d ln(time) / d ln(field) "
             f"(-1: time falls in proportion), speedup when the field doubles"]
    if not df.attrs["fits"]:
        lines.append(f"(the workload needs {fq(df.attrs['footprint_bytes'], 'bytes')}: more than main memory holds)")
    lines += ["", render(rows)]
    unmoved = len(df) - len(moves)
    if unmoved:
        lines += ["", f"{unmoved} other fields change nothing here (--all lists them)."]
    emit("\n".join(lines), output_path)
