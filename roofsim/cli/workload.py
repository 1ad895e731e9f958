"""`roofsim workload list|show`."""
from __future__ import annotations

import click

from ..units import format_quantity as fq
from . import output
from .common import SET, WL_PATH, parse_sets

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)


@click.group()
def workload():
    """Workloads: list the catalogue, show one."""


@workload.command("list")
@FORMAT
@WL_PATH
def list_cmd(fmt, wl_path):
    """Every workload in the catalogue."""
    from ..errors import RoofsimError
    from ..workloads import list_workloads, load_workload
    rows = []
    for path in list_workloads(wl_path):
        try:
            wl = load_workload(path)
            rows.append({"name": path.stem, "ops": len(wl.ops), "flops": wl.total_flops, "parameters": wl.parameters,
                         "description": wl.description.split(". ")[0][:70]})
        except RoofsimError as e:
            rows.append({"name": path.stem, "ops": None, "flops": None, "parameters": None,
                         "description": f"INVALID: {str(e).splitlines()[0]}"})
    if fmt == "json":
        click.echo(output.json_text(rows))
    elif fmt == "csv":
        click.echo(output.csv_text(rows))
    else:
        click.echo(output.table([{**r, "flops": fq(r["flops"], "flops") if r["flops"] else "-",
                                  "parameters": f"{r['parameters']:.4g}" if r["parameters"] else "-"} for r in rows],
                                align_right=("ops", "flops", "parameters")))


@workload.command("show")
@click.argument("name")
@FORMAT
@SET
@WL_PATH
def show_cmd(name, fmt, sets, wl_path):
    """Parameters, op count, total FLOPs and bytes, parameter count, and the ops of a workload."""
    from ..report import workload_json
    from ..workloads import get_workload
    _, wl_over = parse_sets(sets)
    wl = get_workload(name, wl_path, overrides=wl_over or None, where="--set wl")
    doc = workload_json(wl)
    if fmt == "json":
        click.echo(output.json_text(doc))
        return
    if fmt == "csv":
        click.echo(output.csv_text(doc["ops"], ["name", "kind", "phase", "count", "dtype", "flops", "bytes"]))
        return
    click.echo(f"{wl.name}: {wl.description}")
    if wl.source:
        click.echo(f"source: {wl.source}")
    click.echo("params: " + ", ".join(f"{k}={v}" for k, v in wl.params))
    facts = [f"{len(wl.ops)} ops", f"{fq(wl.total_flops, 'flops')}", f"{fq(doc['total_bytes'], 'bytes')} read+written"]
    if wl.parameters:
        facts.append(f"{wl.parameters:.4g} parameters")
    if wl.flops_per_token:
        facts.append(f"{fq(wl.flops_per_token, 'flops')} per token")
    click.echo(", ".join(facts))
    click.echo("")
    click.echo(output.table([{"op": o["name"], "kind": o["kind"], "phase": o["phase"], "count": o["count"],
                              "dtype": o["dtype"], "FLOPs": fq(o["flops"], "flops"), "bytes": fq(o["bytes"], "bytes")}
                             for o in doc["ops"]], align_right=("count", "FLOPs", "bytes")))
