"""`roofsim validate`: the model's predictions held against measured kernels."""
from __future__ import annotations

import click

from ..units import format_quantity as fq
from . import output
from .common import CACHE_MODEL, HW_PATH, OUTPUT, emit


def _checked_plot_path(ctx, param, value):
    """Refuse a bad --plot (extension, folder) before any kernel runs: one line, exit 2."""
    if value:
        from ..errors import Problem, SpecError
        ext = value.rsplit(".", 1)[-1].lower() if "." in value.rsplit("/", 1)[-1] else ""
        if ext not in ("png", "svg", "pdf"):
            raise SpecError(Problem(None, f"--plot {value}", "a file name ending in .png, .svg or .pdf",
                                    f".{ext}" if ext else "no extension"))
        output.check_output_path(value)
    return value


def _pct(x: float) -> str:
    return "-" if x != x else f"{x:.0%}"


def kernel_rows(df) -> list[dict]:
    return [{"kernel": r["kernel"], "category": r["category"], "measured": fq(r["measured_s"], "time"),
             "predicted": fq(r["predicted_s"], "time"), "ratio": f"{r['ratio']:.2f}",
             "bound": r["bound"], "miss": r["miss"] or "-",
             "spread": _pct(r["spread"])} for _, r in df.iterrows()]


def summary_rows(summary) -> list[dict]:
    return [{"group": r["group"], "name": r["name"], "kernels": r["kernels"],
             "median |err|": _pct(r["median_abs_error"]), "mean |err|": _pct(r["mean_abs_error"]),
             "within 25%": _pct(r["within_25pct"]), "within 2x": _pct(r["within_2x"]),
             "median ratio": f"{r['median_ratio']:.2f}", "worst": f"{r['worst_kernel']} ({r['worst_ratio']:.2f})"}
            for _, r in summary.iterrows()]


@click.command()
@click.option("--hw", "hw_name", required=True, help="Hardware id, alias or YAML file (e.g. one written by `roofsim probe`).")
@click.option("--measurements", "measurements_path", type=click.Path(dir_okay=False),
              help="A CSV of measured kernels (format in the README).")
@click.option("--suite", "suite_name", type=click.Choice(["cpu"]),
              help="Measure roofsim's suite of real numpy/scipy kernels on this machine now (BLAS on 1 thread).")
@click.option("--repeats", type=click.IntRange(7, 101), default=7, show_default=True, help="Repeats per suite kernel (median).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@OUTPUT
@click.option("--plot", "plot_path", callback=_checked_plot_path, metavar="FILE",
              help="Also draw predicted vs measured time of every kernel (.png, .svg or .pdf).")
@CACHE_MODEL
@HW_PATH
def validate(hw_name, measurements_path, suite_name, repeats, fmt, output_path, plot_path, cache_model, hw_path):
    """Predicted vs measured time of every kernel, and the error per category and overall.

    Kernels come from a CSV (--measurements) or are measured now (--suite cpu; probe the machine
    first: roofsim probe -o local.yaml, then --hw local.yaml)."""
    from ..measure.timing import pin_blas_env
    pin_blas_env(1)  # before numpy loads: the fallback when threadpoolctl cannot set threads later
    from ..api import predictor
    from ..errors import Problem, SpecError
    from ..hw import get_hardware
    from ..measure.validate import error_summary, validate as run_validation
    if bool(measurements_path) == bool(suite_name):
        raise SpecError(Problem(None, "--measurements/--suite", "exactly one of them",
                                "both" if suite_name else "neither"))
    hw = get_hardware(hw_name, hw_path)
    if suite_name:
        from ..measure.suites import measure, suite
        from .probe import progress_bar
        measurements = measure(suite(suite_name, hw), hw, repeats=repeats, progress=progress_bar)
    else:
        from ..measure.records import load_measurements
        measurements = load_measurements(measurements_path)
    df = run_validation(hw, measurements, predictor=predictor(cache_model))
    summary = error_summary(df)
    if plot_path:
        from ..plotting import format_of, predicted_vs_measured, to_bytes
        data = to_bytes(predicted_vs_measured(df, hw), format_of(str(plot_path)))
        output.write_output(plot_path, data)
        click.echo(f"wrote {plot_path} ({len(data) / 1024:.0f} KiB)", err=True)
    if fmt == "json":
        emit(output.json_text({"hardware": hw.id, "kernels": df.to_dict("records"),
                               "summary": summary.to_dict("records")}), output_path)
        return
    if fmt == "csv":
        emit(output.csv_text(df.to_dict("records"), list(df.columns)), output_path)
        return
    text = [f"{len(df)} kernels on {hw.name} ({hw.id}); ratio = predicted / measured", "",
            output.table(kernel_rows(df), align_right=("measured", "predicted", "ratio", "spread")), "",
            "Error (|predicted / measured - 1|) by category, by the bound that decided each prediction, and overall:",
            output.table(summary_rows(summary), align_right=("kernels", "median |err|", "mean |err|", "within 25%",
                                                            "within 2x", "median ratio"))]
    spread = df["spread"].dropna()
    if suite_name and len(spread):
        from ..measure.probe import NOISY_SPREAD
        median = float(spread.median())
        text += ["", f"median spread of repeats {median:.0%}" + (
            f" (above {NOISY_SPREAD:.0%}: the machine was busy while measuring; the errors include its noise, "
            f"probe and validate again when it is quieter)" if median > NOISY_SPREAD else "")]
    emit("\n".join(text), output_path)
