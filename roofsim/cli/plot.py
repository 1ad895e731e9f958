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
