"""`roofsim calibrate`: fit a device's efficiency parameters to measured kernels."""
from __future__ import annotations

import click

from . import output
from .common import HW_PATH, OUTPUT, emit


def _rows(cal, start: str) -> list[dict]:
    rows = []
    for label, s in ((f"before ({start})", cal.before), ("after (fitted)", cal.after),
                     (f"{cal.folds}-fold cross-validated", cal.cross_validated)):
        rows.append({"model": label, "kernels": s["kernels"], "mean |err|": f"{s['mean_abs_error']:.1%}",
                     "median |err|": f"{s['median_abs_error']:.1%}"})
    return rows


@click.command()
@click.option("--hw", "hw_name", required=True, help="Hardware id, alias or YAML file to calibrate.")
@click.option("--measurements", "measurements_paths", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="A CSV of measured kernels (format in the README); rows of other devices are ignored. "
                   "Repeat for several files.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 50), help="k of the k-fold cross-validation.")
@click.option("--from-prior", is_flag=True,
              help="Start from the device named by efficiency.prior (else roofsim's defaults), not the file's "
                   "current values: how the catalogue's entries are fitted.")
@click.option("--id", "new_id", default=None, help="Id of the derived hardware file (default: <hw>-calibrated).")
@OUTPUT
@HW_PATH
def calibrate(hw_name, measurements_paths, folds, from_prior, new_id, output_path, hw_path):
    """Fit efficiency parameters to measured kernel times; write a derived hardware file (-o)."""
    from ..hw import get_hardware
    from ..loader import dump_yaml
    from ..measure.calibrate import calibrate as fit, derived_document
    from ..measure.records import load_measurements
    hw = get_hardware(hw_name, hw_path)
    measurements = [m for path in measurements_paths for m in load_measurements(path)]
    cal = fit(hw, measurements, k=folds, from_prior=from_prior)
    doc = derived_document(cal, new_id, f"--hw {hw_name}" + "".join(f" --measurements {p}" for p in measurements_paths)
                           + (" --from-prior" if from_prior else ""))
    values = [{"parameter": p.path, "before": _fmt(p, p.get(cal.base)), "fitted": _fmt(p, cal.values[p.name]),
               "bounds": f"{_fmt(p, p.lo)} .. {_fmt(p, p.hi)}"} for p in cal.parameters]
    report = "\n".join([f"{cal.kernels} kernels of {hw.name} ({hw.id}) from {len(cal.sources)} source(s)", "",
                        output.table(values), "", output.table(_rows(cal, "efficiency.prior" if from_prior else "catalogue"), align_right=("kernels", "mean |err|", "median |err|"))])
    if output_path:
        output.write_output(output_path, dump_yaml(doc))
        click.echo(report + f"\n\nwrote {output_path} (extends {hw.id})")
    else:
        emit(report + "\n\n" + dump_yaml(doc), None)


def _fmt(p, v: float) -> str:
    return f"{v * 1e6:.3g} us" if p.unit == "time" else f"{v:.3g}"
