"""roofsim.trends and `roofsim trends`: the least-squares growth fits, the study's published
rates reproduced from its shipped data, the catalogue's series, and the command's error paths.

Published rates: Gholami et al., "AI and Memory Wall", IEEE Micro 2024 (arXiv:2403.14123) and the
RiseLab post (2023-09 figures): peak FLOPS 3.0x / 2 yrs (60000x / 20 yrs), DRAM bandwidth 1.6x
(100x), interconnect 1.4x (30x), Transformer parameters 410x / 2 yrs, Transformer training compute
750x / 2 yrs, accelerator memory 2x / 2 yrs.
"""
import json
import math

import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.errors import RoofsimError
from roofsim.hw import derive, get_hardware
from roofsim.trends import (TRAINING_DTYPES, Point, catalogue_series, decimal_year, fit, series_for,
                            study_rows, study_series)


def invoke(*args):
    return CliRunner().invoke(main, list(args))


# ---- the fit ---------------------------------------------------------------------------------

def test_decimal_year_is_linear_in_days():
    # 1970-01-01 -> 2020-05-14 is 18396 days (50 x 365 + 12 leap days to 2019 + 31+29+31+30+13 in 2020)
    assert decimal_year("2020-05-14") == pytest.approx(1970 + 18396 / 365.25)
    # partial dates mean their first day
    assert decimal_year("2020") == decimal_year("2020-01-01")
    assert decimal_year("2020-11") == decimal_year("2020-11-01")


@pytest.mark.parametrize("bad", ["2020-13-01", "2021-02-30", "twenty", "", "2020-01-01-01"])
def test_decimal_year_rejects_bad_dates(bad):
    with pytest.raises(RoofsimError, match="expected an ISO date"):
        decimal_year(bad)


def test_fit_of_an_exact_exponential():
    # 2000-01-01 -> 2004-01-01 is 1461 days = 4 years of 365.25 days; 1 -> 16 is 4x per 2 years,
    # 4^10 = 1048576x per 20 years; a third point on the same line keeps r2 = 1
    f = fit([Point("2000-01-01", 1.0), Point("2002-01-01", 4.0 ** (731 / 730.5)), Point("2004-01-01", 16.0)])
    assert f.factor_per_2y == pytest.approx(4.0)
    assert f.factor_per_20y == pytest.approx(4.0 ** 10)
    assert f.r2 == pytest.approx(1.0)
    assert f.value_at(decimal_year("2004-01-01")) == pytest.approx(16.0)


def test_fit_needs_two_dates_and_positive_values():
    assert fit([Point("2000", 1.0)]) is None
    assert fit([Point("2000", 1.0), Point("2000", 2.0)]) is None         # one date: no slope
    # zero, negative and non-finite values cannot be on a log scale: they are left out
    f = fit([Point("2000-01-01", 1.0), Point("2001", 0.0), Point("2001", -3.0), Point("2001", math.inf),
             Point("2001", math.nan), Point("2004-01-01", 100.0)])
    assert f.n == 2 and f.factor_per_2y == pytest.approx(10.0)            # 100x in 4 years


# ---- the study's data reproduce its published rates ---------------------------------------

# series -> (published factor per 2 years, its rounding step, per 20 years, its rounding step)
PUBLISHED = {
    "peak_flops": (3.0, 0.1, 60000, 10000),
    "dram_bandwidth": (1.6, 0.1, 100, 100),
    "interconnect_bandwidth": (1.4, 0.1, 30, 10),
    "transformer_parameters": (410, 10, None, None),
    "transformer_training_compute": (750, 10, None, None),
    "accelerator_memory": (2, 1, None, None),
}


def _within_rounding(value, published, step):
    """The study prints rounded numbers: accept half a rounding step plus 1% for the digitising."""
    return abs(value - published) <= step / 2 + 0.01 * published


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_study_data_reproduce_the_published_rates(name):
    per2, step2, per20, step20 = PUBLISHED[name]
    s = {s.key: s for s in study_series()}[name]
    f = fit(s.points)
    print(f"{name}: fitted {f.factor_per_2y:.4g}x / 2 yrs, {f.factor_per_20y:.4g}x / 20 yrs; published {per2}x, {per20}x")
    assert _within_rounding(f.factor_per_2y, per2, step2)
    if per20:
        assert _within_rounding(f.factor_per_20y, per20, step20)


def test_study_fits_match_the_lines_drawn_in_its_figures():
    """digitized_trend_lines.csv holds the slope of every line the figures draw (read back from the
    PDFs) and its vertex count, which is the number of points the authors fitted."""
    lines = {r["series"]: r for r in study_rows("digitized_trend_lines.csv") if r["figure_version"] == "2023-09"}
    names = {"peak_flops": "hw_peak_flops", "dram_bandwidth": "dram_bandwidth",
             "interconnect_bandwidth": "interconnect_bandwidth", "accelerator_memory": "ai_hw_memory",
             "transformer_parameters": "transformer_params", "transformer_training_compute": "transformer_training_pflops"}
    series = study_series()
    assert sorted(s.key for s in series) == sorted(names)
    for s in series:
        line = lines[names[s.key]]
        f = fit(s.points)
        assert len(s.points) == int(line["n_vertices"]), s.key
        assert f.slope_log10_per_year == pytest.approx(float(line["log10_slope_per_year"]), rel=1e-4), s.key


def test_study_points_are_si_values():
    pts = {s.key: {p.label: p.value for p in s.points} for s in study_series()}
    assert pts["peak_flops"]["A100"] == pytest.approx(312e12)             # 312,000 GFLOPS (PROVENANCE.md)
    assert pts["dram_bandwidth"]["HBM2E"] == pytest.approx(2039e9)        # 2039 GB/s
    assert pts["interconnect_bandwidth"]["PCIe 1.0a"] == pytest.approx(2.5e9)   # 2.5 Gb/s per lane
    assert pts["accelerator_memory"]["H100 (80GB)"] == pytest.approx(80e9, rel=1e-6)
    assert pts["transformer_parameters"]["GPT-3"] == pytest.approx(175e9, rel=1e-6)
    assert pts["transformer_training_compute"]["GPT-3"] == pytest.approx(3.14e23, rel=1e-5)  # 3.14e8 PFLOP


def test_study_context_series_are_not_fitted_by_default():
    keys = [s.key for s in study_series(include_context=True)]
    assert {"cv_parameters", "recsys_parameters", "other_training_compute"} <= set(keys)
    assert "cv_parameters" not in [s.key for s in study_series()]


# ---- the catalogue -------------------------------------------------------------------------

def test_catalogue_series_from_given_specs():
    a100 = get_hardware("a100")
    # two made-up accelerators 4 years apart (1461 days): bandwidth 1 -> 4 TB/s is 2x per 2 years
    old = derive(a100, {"release_date": "2000-01-01", "memory.hbm.bandwidth": "1 TB/s"}, id="old", kind="gpu")
    new = derive(a100, {"release_date": "2004-01-01", "memory.hbm.bandwidth": "4 TB/s"}, id="new", kind="gpu")
    hyp = derive(a100, {"release_date": "2002-01-01"}, id="what-if")       # kind hypothetical: left out
    series = {s.key: s for s in catalogue_series([new, hyp, old])}
    dram = series["dram_bandwidth"]
    assert [p.label for p in dram.points] == ["old", "new"]                 # oldest first
    assert fit(dram.points).factor_per_2y == pytest.approx(2.0)
    # A100 peaks: bf16 312 TFLOP/s matrix beats fp32 19.5 and tf32 156; fp8/int8 are not training dtypes
    assert series["peak_flops"].points[0].value == pytest.approx(312e12)
    assert series["peak_flops"].points[0].detail in ("bf16 matrix", "fp16 matrix")
    # fastest link: NVLink 300 GB/s per direction (vs PCIe 4.0 32 GB/s)
    assert series["interconnect_bandwidth"].points[0].value == pytest.approx(300e9)
    assert series["accelerator_memory"].points[0].value == pytest.approx(80 * 2 ** 30)


def test_whole_catalogue_points_say_device_and_dtype():
    series = {s.key: s for s in series_for("catalogue")}
    ids = {h for s in series.values() for h in (p.label for p in s.points)}
    assert not any("hypothetical" in i for i in ids)
    for p in series["peak_flops"].points:
        dtype, unit = p.detail.split()
        assert dtype in TRAINING_DTYPES and unit in ("matrix", "vector")
    # on-chip-SRAM chips (Groq: 220 MiB main memory) have FLOPS points but no DRAM points
    assert "groq-lpu" in [p.label for p in series["peak_flops"].points]
    assert "groq-lpu" not in [p.label for p in series["dram_bandwidth"].points]
    # CPUs count for FLOPS (as in the study) but not for accelerator memory
    assert "mips-r10000" in [p.label for p in series["peak_flops"].points]
    assert "mips-r10000" not in [p.label for p in series["accelerator_memory"].points]


# ---- the command ---------------------------------------------------------------------------

def test_trends_json_document():
    r = invoke("trends", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["source"] == "study"
    by = {s["name"]: s for s in d["series"]}
    assert set(by) == set(PUBLISHED)
    for s in d["series"]:
        assert {"name", "points", "factor_per_2y", "factor_per_20y"} <= set(s)
        assert len(s["points"]) == s["n_points"] >= 7
        # per 20 years is per 2 years to the tenth power
        assert s["factor_per_20y"] == pytest.approx(s["factor_per_2y"] ** 10, rel=1e-9)
    assert by["peak_flops"]["study_published"] == "60000x / 20 yrs (3.0x/2yrs)"


def test_trends_csv_is_plain_numbers_one_row_per_series():
    import csv
    import io
    r = invoke("trends", "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = {row["series"]: row for row in csv.DictReader(io.StringIO(r.output))}
    assert set(rows) == set(PUBLISHED)
    for name, (per2, step2, _, _) in PUBLISHED.items():
        # the same published rates as above, read back from plain-number cells
        assert _within_rounding(float(rows[name]["factor_per_2y"]), per2, step2)
    # per 20 years is per 2 years to the tenth power
    assert float(rows["dram_bandwidth"]["factor_per_20y"]) == pytest.approx(
        float(rows["dram_bandwidth"]["factor_per_2y"]) ** 10, rel=1e-9)


def test_trends_table_catalogue_lists_devices():
    r = invoke("trends", "--source", "catalogue")
    assert r.exit_code == 0, r.output
    assert "peak_flops" in r.output and "h100-sxm5" in r.output and "bf16 matrix" in r.output
    assert "not in the catalogue" in r.output                 # the model series are absent, and it says so
    study = invoke("trends")
    assert "h100-sxm5" not in study.output and "3.03x" in study.output


@pytest.mark.parametrize("args,message", [
    (["--source", "astrology"], "Invalid value for '--source'"),
    (["--format", "yaml"], "Invalid value for '--format'"),
    (["-o", "{tmp}/missing/t.json"], "no such folder"),
    (["-o", "{tmp}"], "a folder"),
])
def test_trends_bad_input_is_one_line_exit_2(args, message, tmp_path):
    r = invoke("trends", *[a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_trends_output_file(tmp_path):
    out = tmp_path / "t.json"
    r = invoke("trends", "--format", "json", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["series"][0]["name"] == "peak_flops"


def test_study_data_ships_as_package_data():
    """A non-editable install carries only what setup.cfg's package_data names: every file the
    trends and plots read must match one of its patterns for roofsim.data."""
    import configparser
    from pathlib import Path

    import roofsim
    cfg = configparser.ConfigParser()
    cfg.read(Path(roofsim.__file__).parent.parent / "setup.cfg")
    assert "roofsim.data" in cfg["options"]["packages"].split()
    patterns = [p.strip() for p in cfg["options.package_data"]["roofsim.data"].split(",")]
    folder = Path(roofsim.__file__).parent / "data"
    shipped = {f for pat in patterns for f in folder.glob(pat)}
    needed = {folder / "ai_and_memory_wall" / n for n in ("PROVENANCE.md", "digitized_hw_scaling.csv",
              "digitized_model_params.csv", "digitized_training_compute.csv", "digitized_trend_lines.csv")}
    assert needed <= shipped


def test_the_readme_table_is_what_the_command_prints():
    """The README shows `roofsim trends` output: every line of that table must be printed as is."""
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(series +unit +points[^`]*?study's figure says.*?)```", readme, re.S).group(1)
    printed = invoke("trends").output.splitlines()
    for line in block.strip().splitlines():
        assert line in printed, line


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=14), st.dates().map(str), st.integers(1, 9999).map(str)))
def test_decimal_year_of_any_text_is_a_year_or_one_error(text):
    try:
        y = decimal_year(text)
    except RoofsimError as e:
        assert "expected an ISO date" in str(e)
    else:
        assert 0 < y < 10001 and math.isfinite(y)
