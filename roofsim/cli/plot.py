"""`roofsim plot ...`: each command makes one Figure with roofsim.plotting and saves it (PNG, SVG
or PDF by the file's extension) through the safe output writer; nothing else happens here."""
from __future__ import annotations

import re
from pathlib import Path

import click

from . import output
from .common import CACHE_MODEL, HW_PATH, IDEAL, SET, WL_PATH, parse_sets

DEFAULT_FOLDER = "plots"


def _checked_image_path(ctx, param, value):
    """Refuse a bad --output (extension, folder) before the work starts: one line, exit 2."""
    if value:
        from ..plotting import format_of
        format_of(value)
        output.check_output_path(value)
    return value


IMAGE = click.option("--output", "-o", "output_path", callback=_checked_image_path, metavar="FILE",
                     help=f"Image file: .png, .svg or .pdf. Default: a name saying what is drawn, under {DEFAULT_FOLDER}/.")


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _default_path(*parts: str) -> Path:
    stem = "-".join(re.sub(r"[^A-Za-z0-9._]+", "-", Path(p).stem if p.endswith((".yaml", ".yml", ".json")) else p).strip("-")
                    for p in parts if p)
    return Path(DEFAULT_FOLDER) / f"{stem[:150] or 'plot'}.png"


def save(fig, output_path, *default_parts: str) -> None:
    """Render in memory, then hand the bytes to the output writer; say where it went."""
    from ..plotting import format_of, to_bytes
    path = Path(output_path) if output_path else _default_path(*default_parts)
    if not output_path:
        path.parent.mkdir(exist_ok=True)      # the default folder only; a named folder must exist
        output.check_output_path(path)
    data = to_bytes(fig, format_of(str(path)))
    output.write_output(path, data)
    click.echo(f"wrote {path} ({len(data) / 1024:.0f} KiB)")


@click.group()
def plot():
    """Plots: rooflines, time per bound and per op, memory footprints, the memory-wall trends."""


def _run_options(command):
    for option in reversed((IDEAL, SET, CACHE_MODEL, HW_PATH, WL_PATH, IMAGE)):
        command = option(command)
    return command


@plot.command()
@click.option("--hw", "hw_names", required=True, help="Comma-separated hardware ids, aliases or files (overlaid).")
@click.option("--workload", "-w", required=True, help="Workload name, YAML file or Hugging Face config.json.")
@click.option("--top", type=click.IntRange(0, 50), default=8, show_default=True, help="Ops labelled, by share of time.")
@click.option("--dtypes", default="", help="Comma-separated dtypes whose peaks to draw (default: those the ops run on).")
@_run_options
def roofline(hw_names, workload, top, dtypes, ideal, sets, cache_model, hw_path, wl_path, output_path):
    """Ops of WORKLOAD on the roofline of one or several devices (log-log)."""
    from ..plotting import roofline as draw
    hw_over, wl_over = parse_sets(sets)
    names = _names(hw_names)
    fig = draw(names, workload, ideal=ideal, cache_model=cache_model, hw_overrides=hw_over, wl_overrides=wl_over,
               hw_path=hw_path, wl_path=wl_path, top=top, dtypes=_names(dtypes) or None)
    save(fig, output_path, "roofline", workload, *names)


@plot.command()
@click.option("--hw", "hw_names", required=True, help="Comma-separated hardware ids, aliases or files; the first is the baseline.")
@click.option("--workload", "-w", required=True, help="Workload name, YAML file or Hugging Face config.json.")
@_run_options
def compare(hw_names, workload, ideal, sets, cache_model, hw_path, wl_path, output_path):
    """Time of WORKLOAD on several devices, stacked by bound."""
    from ..plotting import compare as draw
    hw_over, wl_over = parse_sets(sets)
    names = _names(hw_names)
    fig = draw(names, workload, ideal=ideal, cache_model=cache_model, hw_overrides=hw_over, wl_overrides=wl_over,
               hw_path=hw_path, wl_path=wl_path)
    save(fig, output_path, "compare", workload, *names)


@plot.command()
@click.option("--hw", "hw_name", required=True, help="Hardware id, alias or YAML file (one device).")
@click.option("--workload", "-w", required=True, help="Workload name, YAML file or Hugging Face config.json.")
@click.option("--top", type=click.IntRange(1, 60), default=15, show_default=True,
              help="Op families shown (per-layer copies merged); the rest are one bar.")
@_run_options
def ops(hw_name, workload, top, ideal, sets, cache_model, hw_path, wl_path, output_path):
    """Where one device's time goes: by op kind and phase, and by op (layers merged), stacked by bound."""
    from ..plotting import ops as draw
    hw_over, wl_over = parse_sets(sets)
    fig = draw(hw_name, workload, ideal=ideal, cache_model=cache_model, hw_overrides=hw_over, wl_overrides=wl_over,
               hw_path=hw_path, wl_path=wl_path, top=top)
    save(fig, output_path, "ops", workload, hw_name)


@plot.command()
@click.option("--workload", "-w", "workloads", default="", help="Comma-separated workloads (one bar each).")
@click.option("--hw", "hw_names", default="", help="Comma-separated devices whose memory capacity is drawn.")
@click.option("--study", is_flag=True, help="The study's figure from its data (instead of --workload).")
@click.option("--log", is_flag=True, help="Log scale (for models of very different sizes).")
@click.option("--optimizer", default=None, help="Optimizer of training steps (default: the workload's).")
@click.option("--checkpoint", type=click.Choice(["none", "selective", "full", "every-k", "sqrt"]), default=None,
              help="Activation checkpointing of training steps.")
@_run_options
def memory(workloads, hw_names, study, log, optimizer, checkpoint, ideal, sets, cache_model, hw_path, wl_path,
           output_path):
    """Memory one device holds per workload, by component, against device capacities."""
    from ..errors import Problem, SpecError
    from ..plotting import memory as draw, memory_study
    if study == bool(workloads):
        raise SpecError(Problem(None, "plot memory", "either --workload NAMES or --study",
                                "both" if study else "neither"))
    if study:
        save(memory_study(), output_path, "memory", "study")
        return
    hw_over, wl_over = parse_sets(sets)
    techniques = {k: v for k, v in (("optimizer", optimizer), ("checkpoint", checkpoint)) if v is not None}
    names = _names(workloads)
    fig = draw(names, _names(hw_names), wl_overrides=wl_over, hw_overrides=hw_over, wl_path=wl_path, hw_path=hw_path,
               log=log, **techniques)
    save(fig, output_path, "memory", *names)


@plot.command()
@click.option("--figure", "which", type=click.Choice(["hardware", "models", "compute"]), default="hardware",
              show_default=True, help="Peak FLOPS and bandwidths; Transformer size vs accelerator memory; training compute.")
@click.option("--source", type=click.Choice(["study", "catalogue"]), default="study", show_default=True,
              help="Hardware points from the study's data or from roofsim's catalogue (model data are the study's).")
@HW_PATH
@IMAGE
def trends(which, source, hw_path, output_path):
    """The memory-wall trend figures, with their least-squares growth rates."""
    from ..plotting import trends as draw
    save(draw(which, source, hw_path=hw_path), output_path, "trends", which, source)
