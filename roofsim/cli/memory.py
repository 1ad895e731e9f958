"""`roofsim memory`: does a workload fit, what each technique buys, which devices can hold it."""
from __future__ import annotations

import click

from ..units import format_quantity as fq
from . import output
from .common import HW_PATH, OUTPUT, SET, WL_PATH, emit, parse_sets
from .layout import (LAYOUT_KEYS, TECHNIQUE_KEYS, build_layout, build_techniques, checkpoint_override, layout_options,
                     pop_options, technique_options)


@click.command()
@click.option("--hw", "hw_name", required=True, help="Hardware id, alias or YAML file.")
@click.option("--workload", "-w", required=True, help="Workload name or file.")
@click.option("--catalogue/--no-catalogue", default=True, show_default=True,
              help="Also list which devices of the catalogue can hold it, and how many of them.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@OUTPUT
@SET
@HW_PATH
@WL_PATH
@layout_options
@technique_options
def memory(hw_name, workload, catalogue, fmt, output_path, sets, hw_path, wl_path, **opts):
    """Per-device memory of WORKLOAD by component, the largest micro-batch that fits, the fewest
    devices under each technique, and the catalogue's devices that can train or serve it."""
    from ..capacity import memory_report
    from ..hw import get_hardware, list_hardware
    from ..workloads import get_workload
    hw_over, wl_over = parse_sets(sets)
    hw = get_hardware(hw_name, hw_path, overrides=hw_over or None)
    wl = get_workload(workload, wl_path, overrides=wl_over or None, where="--set wl")
    layout = build_layout(pop_options(opts, LAYOUT_KEYS))
    tech = build_techniques(pop_options(opts, TECHNIQUE_KEYS))
    wl_over = {**wl_over, **checkpoint_override(wl, tech)}
    wl = get_workload(workload, wl_path, overrides=wl_over or None, where="--set wl")
    build = (lambda b: get_workload(workload, wl_path, overrides={**wl_over, "batch": b}, where="--set wl")) \
        if "batch" in dict(wl.params) else None
    doc = memory_report(hw, wl, build, layout, list_hardware(hw_path) if catalogue else (), **tech)
    if fmt == "json":
        emit(output.json_text(doc), output_path)
        return
    emit("\n".join(_text(doc, hw)), output_path)


def _text(doc: dict, hw) -> list[str]:
    m, lay = doc["memory"], doc["layout"]
    cap = m["device_capacity_bytes"]
    kind = "training" if doc["training"] else "serving"
    tech = ", ".join(f"{k} {'+'.join(v) if isinstance(v, list) else v}" for k, v in doc["techniques"].items())
    head = (f"{doc['workload']} ({kind}) on {hw.name}: {lay['devices']} devices (tp {lay['tp']}, pp {lay['pp']}, "
            f"dp {lay['dp']}{', sp' if lay['sp'] else ''}{', ZeRO-' + str(lay['zero']) if lay['zero'] else ''})"
            + (f"; {tech}" if tech else ""))
    rows = [{"component": c, "per device": fq(b, "bytes"), "share": f"{b / m['total_per_device_bytes']:.0%}"
             if m["total_per_device_bytes"] else "-"} for c, b in m["per_device_bytes"].items()]
    rows.append({"component": "total", "per device": fq(m["total_per_device_bytes"], "bytes"), "share": "100%"})
    verdict = ("unknown (no capacity in the spec)" if m["fits"] is None else
               f"{'fits' if m['fits'] else 'DOES NOT FIT'} in {fq(cap, 'bytes', binary=True)} {m['memory_level']} "
               f"({m['total_per_device_bytes'] / cap:.0%})")
    lines = [head, output.table(rows, align_right=("per device", "share")), f"Per device: {verdict}."]
    lines += [f"Note: {n}." for n in m["notes"]]
    if doc["largest_microbatch"] is not None:
        lines.append(f"Largest micro-batch that fits: {doc['largest_microbatch']}"
                     + (" (not even 1)" if doc["largest_microbatch"] == 0 else ""))
    if doc["fewest_devices"]:
        lines += ["", f"Fewest {hw.id} devices under each technique (powers of two up to 65536, with the options above):",
                  output.table([{"technique": r["strategy"],
                                 "devices": r["devices"] or "never",
                                 "per device": fq(r["per_device_bytes"], "bytes") if r["per_device_bytes"] else "-"}
                                for r in doc["fewest_devices"]], align_right=("devices", "per device"))]
    if doc["catalogue"]:
        lines += ["", "Across the catalogue (the layout above; fewest devices with the best technique):",
                  output.table([{"hardware": r["hardware"], "kind": r["kind"],
                                 "memory": fq(r["capacity_bytes"], "bytes", binary=True) if r["capacity_bytes"] else "-",
                                 "fits as laid out": {True: "yes", False: "no", None: "?"}[r["fits"]],
                                 "fewest devices": r["fewest_devices"] or "-", "with": r["strategy"] or "-"}
                                for r in doc["catalogue"]], align_right=("memory", "fewest devices"))]
    return lines
