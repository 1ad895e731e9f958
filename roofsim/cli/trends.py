"""`roofsim trends`: growth rates of the memory-wall series (roofsim.trends)."""
from __future__ import annotations

import click

from . import output
from .common import HW_PATH, OUTPUT, emit

# unit of a series -> format_quantity dimension (the others print as plain numbers)
_DIMENSIONS = {"FLOP/s": "flop_rate", "B/s": "bandwidth", "B/s per direction": "bandwidth", "B": "bytes",
               "FLOP": "flops"}


def _value(v: float, unit: str) -> str:
    from ..units import format_quantity
    dim = _DIMENSIONS.get(unit)
    if dim:
        return format_quantity(v, dim) + unit[len(unit.split(" ")[0]):]
    return f"{v:.4g} {unit}"


def _factor(x) -> str:
    return "-" if x is None else (f"{x:.3g}x" if x < 1e5 else f"{x:.2e}x")


@click.command()
@click.option("--source", type=click.Choice(["study", "catalogue"]), default="study", show_default=True,
              help="The study's published data (shipped with roofsim) or roofsim's hardware catalogue.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--points/--no-points", default=None,
              help="List every point (device, dtype or link, date, value). Default: on for the catalogue, off for the study.")
@OUTPUT
@HW_PATH
def trends(source, fmt, points, output_path, hw_path):
    """Growth per two years and per 20 years of peak FLOPS, DRAM and interconnect bandwidth,
    accelerator memory, and Transformer size and training compute (least squares on log10)."""
    from ..trends import series_for, trends_json
    series = series_for(source, hw_path)
    doc = trends_json(series, source)
    if fmt == "json":
        emit(output.json_text(doc), output_path)
        return
    if fmt == "csv":  # plain numbers, units in the column names; one row per series
        emit(output.csv_text([{"series": d["name"], "unit": d["unit"], "points": d["n_points"],
                               "first_date": d["first_date"], "last_date": d["last_date"],
                               "factor_per_2y": d["factor_per_2y"], "factor_per_20y": d["factor_per_20y"],
                               "r2": d["r2"]} for d in doc["series"]]), output_path)
        return
    rows = [{"series": d["name"], "unit": d["unit"], "points": d["n_points"],
             "years": f"{d['first_date'][:4]}-{d['last_date'][:4]}" if d["n_points"] else "-",
             "per 2 years": _factor(d["factor_per_2y"]), "per 20 years": _factor(d["factor_per_20y"]),
             "r2": "-" if d["r2"] is None else f"{d['r2']:.2f}", "study's figure says": d["study_published"] or "-"}
            for d in doc["series"]]
    lines = [f"Growth rates from {'the AI and Memory Wall study (2023-09 figures)' if source == 'study' else 'the roofsim hardware catalogue'}: "
             f"{doc['method']}.",
             output.table(rows, align_right=("points", "per 2 years", "per 20 years", "r2")), ""]
    lines += [f"{s.key}: {s.note}" for s in series if s.note]
    if source == "catalogue":
        lines.append("transformer_parameters, transformer_training_compute: not in the catalogue (its workloads "
                     "are undated); see --source study")
    if points if points is not None else source == "catalogue":
        for s in series:
            lines += ["", f"{s.title} ({s.key}):",
                      output.table([{"date": p.date, "point": p.label, "value": _value(p.value, s.unit),
                                     "what": p.detail or "-"} for p in s.points], align_right=("value",))]
    emit("\n".join(lines), output_path)
