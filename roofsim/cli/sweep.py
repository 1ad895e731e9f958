"""`roofsim sweep`: a design-space sweep of one device (roofsim.sweep.design_sweep)."""
from __future__ import annotations

import sys

import click

from ..units import format_quantity as fq
from . import output
from .common import CACHE_MODEL, HW_PATH, IDEAL, SET, WL_PATH, _checked_output, parse_sets


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
@click.option("--top", type=int, default=10, show_default=True, help="Pareto-optimal points shown (0: all).")
@IDEAL
@SET
@CACHE_MODEL
@HW_PATH
@WL_PATH
def sweep(hw_name, workloads, vary, method, samples, seed, cost_expr, output_path, top, ideal, sets,
          cache_model, hw_path, wl_path):
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
                              hw_path=hw_path, wl_path=wl_path, progress=progress if show else None)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if output_path:
        output.write_output(output_path, table_bytes(result, output_path))
    click.echo(summary(result, top, output_path))


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
