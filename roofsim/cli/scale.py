"""`roofsim scale`: step time, its parts and scaling efficiency as the device count grows."""
from __future__ import annotations

import click

from ..errors import Problem, SpecError
from ..units import format_quantity as fq
from . import output
from .common import CACHE_MODEL, HW_PATH, IDEAL, OUTPUT, SET, WL_PATH, emit, parse_sets
from .layout import OVERLAP_HELP, TECHNIQUE_KEYS, build_techniques, checkpoint_override, pop_options, technique_options

MAX_COUNTS = 64


def _counts(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    try:
        counts = [int(p) for p in parts]
    except ValueError:
        counts = []
    if not counts or len(counts) > MAX_COUNTS or any(c < 1 or c > 2**24 for c in counts):
        raise SpecError(Problem(None, "--devices", f"up to {MAX_COUNTS} comma-separated counts in 1..16777216, "
                                "e.g. 8,64,512", repr(text)))
    return counts


@click.command()
@click.option("--hw", "hw_name", required=True, help="Hardware id, alias or YAML file.")
@click.option("--workload", "-w", required=True, help="Workload name or file.")
@click.option("--devices", "devices_text", required=True, help="Comma-separated device counts, e.g. 8,64,512,4096.")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--sp", is_flag=True, help="Sequence parallelism with tensor parallelism.")
@click.option("--zero", type=click.IntRange(0, 3), default=0, show_default=True)
@click.option("--microbatch", type=click.IntRange(min=1), default=None)
@click.option("--global-batch", type=click.IntRange(min=1), default=None,
              help="Sequences per step at every count (default: micro-batch x the largest data-parallel size).")
@click.option("--interleave", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--overlap", is_flag=True, help=OVERLAP_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@OUTPUT
@IDEAL
@SET
@CACHE_MODEL
@HW_PATH
@WL_PATH
@technique_options
def scale(hw_name, workload, devices_text, tp, pp, sp, zero, microbatch, global_batch, interleave, overlap, fmt,
          output_path, ideal, sets, cache_model, hw_path, wl_path, **opts):
    """Strong scaling of WORKLOAD on HW: tp x pp model parallelism, data parallelism for the rest."""
    from ..api import predictor
    from ..capacity import scaling
    from ..hw import get_hardware
    from ..workloads import get_workload
    counts = _counts(devices_text)
    hw_over, wl_over = parse_sets(sets)
    hw = get_hardware(hw_name, hw_path, overrides=hw_over or None)
    wl = get_workload(workload, wl_path, overrides=wl_over or None, where="--set wl")
    tech = build_techniques(pop_options(opts, TECHNIQUE_KEYS))
    over = checkpoint_override(wl, tech)
    if over:
        wl = get_workload(workload, wl_path, overrides={**wl_over, **over}, where="--set wl")
    points = scaling(hw, wl, counts, tp=tp, pp=pp, sp=sp, zero=zero, microbatch=microbatch, global_batch=global_batch,
                     overlap=overlap, interleave=interleave, ideal=ideal, predictor=predictor(cache_model), **tech)
    rows = [{"devices": p.layout.devices, "tp": p.layout.tp, "pp": p.layout.pp, "dp": p.layout.data_parallel,
             "microbatches": p.step.microbatches, "step_s": p.step.total_s, "compute_s": p.step.compute_s,
             "memory_s": p.step.memory_s, "communication_s": p.step.communication_s, "bubble_s": p.step.bubble_s,
             "tokens_per_s": p.step.tokens_per_s, "tokens_per_s_per_device": p.step.tokens_per_s / p.layout.devices,
             "scaling_efficiency": p.efficiency, "memory_per_device_bytes": p.per_device_bytes, "fits": p.fits,
             "note": p.note} for p in points]
    if fmt == "json":
        emit(output.json_text({"hardware": hw.id, "workload": wl.name, "rows": rows}), output_path)
        return
    if fmt == "csv":
        emit(output.csv_text(rows), output_path)
        return
    human = [{"devices": r["devices"], "tp x pp x dp": f"{r['tp']}x{r['pp']}x{r['dp']}", "step": fq(r["step_s"], "time"),
              "compute": fq(r["compute_s"], "time"), "memory": fq(r["memory_s"], "time"),
              "exposed comm": fq(r["communication_s"], "time"), "bubble": fq(r["bubble_s"], "time"),
              "tokens/s/device": f"{r['tokens_per_s_per_device']:,.0f}", "efficiency": f"{r['scaling_efficiency']:.0%}",
              "memory/device": fq(r["memory_per_device_bytes"], "bytes"),
              "fits": {True: "yes", False: "NO", None: "?"}[r["fits"]]} for r in rows]
    gbs = points[0].layout.global_batch
    lines = [f"{wl.name} on {hw.name}: strong scaling, {gbs} sequences per step",
             output.table(human, align_right=("devices", "step", "compute", "memory", "exposed comm", "bubble",
                                              "tokens/s/device", "efficiency", "memory/device"))]
    lines += [f"Note at {r['devices']} devices: {r['note']}." for r in rows if r["note"]]
    if any(r["fits"] is False for r in rows):
        lines.append("Rows marked NO do not fit in device memory: their times assume they do "
                     "(see roofsim memory for what would make them fit).")
    emit("\n".join(lines), output_path)
