"""`roofsim probe`: measure this machine and write a hardware file that loads like any other."""
from __future__ import annotations

import sys

import click

from . import output
from .common import OUTPUT, emit


def progress_bar(what: str, fraction: float) -> None:
    """One updating line on stderr (only when stderr is a terminal; else one line per step)."""
    width = 24
    done = int(round(width * min(max(fraction, 0.0), 1.0)))
    line = f"[{'#' * done}{'.' * (width - done)}] {fraction:4.0%} {what}"
    if sys.stderr.isatty():
        click.echo(f"\r{line[:100]:<100}", err=True, nl=fraction >= 1.0)
    else:
        click.echo(line, err=True)


@click.command()
@click.option("--quick", is_flag=True, help="A few seconds instead of about a minute: fewer sizes and repeats (for tests).")
@click.option("--id", "hw_id", default="local", show_default=True, help="The id of the written hardware spec.")
@OUTPUT
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
def probe(quick, hw_id, output_path, no_progress):
    """Measure this machine (peaks, caches, bandwidths, latencies, call floors) and write its
    hardware YAML (kind `measured`), for `roofsim run --hw FILE` or `roofsim validate --hw FILE`."""
    from ..measure.timing import pin_blas_env
    pin_blas_env(1)  # before numpy loads: the fallback when threadpoolctl cannot set threads later
    from ..errors import Problem, SpecError
    from ..hardware import ID_PATTERN, build_hardware
    from ..loader import dump_yaml
    from ..measure.probe import NOISY_SPREAD, probe as run_probe, summary_rows, to_document
    import re
    if not re.fullmatch(ID_PATTERN, hw_id):
        raise SpecError(Problem(None, "--id", "an id in lowercase-with-dashes, e.g. my-laptop", repr(hw_id)))
    result = run_probe(quick=quick, progress=None if no_progress else progress_bar)
    doc = to_document(result, id=hw_id)
    build_hardware(doc, file=output_path)   # what is written loads back (a bug if not)
    click.echo(output.table(summary_rows(result)), err=True)
    if result.noisy:
        click.echo(f"warning: the repeats spread by {result.median_spread:.0%} (median; above "
                   f"{NOISY_SPREAD:.0%}): the machine looks busy, figures may be low; probe again when it is quieter",
                   err=True)
    emit(dump_yaml(doc, header=f"Written by `roofsim probe{' --quick' if quick else ''}`: figures measured on this "
                                "machine, see provenance."), output_path)
