"""The measurement CSV: rows -> standard ops, and one line per problem for bad files."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.measure.records import (COLUMNS, MAX_PROBLEMS, SHAPES, load_measurements, parse_rows, to_op,
                                     to_rows)

DATA = Path(__file__).parent / "data" / "measure"
HEADER = ["device", "kind", "dtype", "time_s", "source", "m", "n", "k", "rows", "cols"]


def problems(header, rows):
    with pytest.raises(SpecError) as e:
        parse_rows(header, rows, file="f.csv")
    return [str(p) for p in e.value.problems]


def test_good_file_loads_with_comments_blank_lines_and_aliases():
    ms = load_measurements(DATA / "good.csv")
    assert [m.name for m in ms] == ["square", "copy", "elsewhere"]
    sq = ms[0]
    assert sq.device == "round-cpu" and sq.category == "gemm" and sq.repeats == 7 and sq.spread == 0.05
    assert sq.time_s == 0.2 and sq.kind == "gemm"
    # 2 * m * n * k = 2 * 1000^3
    assert sq.ops[0].total_flops == 2e9


@pytest.mark.parametrize("row,flops,read_bytes", [
    # gemm 4 x 8 x 16 fp32, batch 2: 2*4*8*16*2 = 2048 FLOPs; reads A 4*16*2*4 B + B 16*8*2*4 B = 512 + 1024
    ({"kind": "gemm", "dtype": "fp32", "m": "4", "n": "8", "k": "16", "batch": "2"}, 2048, 1536),
    # softmax 10 x 100 fp64: 5 FLOPs per element = 5000; reads 1000 * 8 B
    ({"kind": "softmax", "dtype": "fp64", "rows": "10", "cols": "100"}, 5000, 8000),
    # elementwise 1e3 elements, 2 inputs, 2 FLOPs each (a triad): 2000 FLOPs; reads 2 * 1000 * 4 B
    ({"kind": "elementwise", "dtype": "fp32", "elements": "1e3", "inputs": "2", "flops_per_element": "2"}, 2000, 8000),
    # reduction of 1000 fp32 into 10: ~1000 additions; reads 4000 B
    ({"kind": "reduction", "dtype": "fp32", "elements": "1000", "outputs": "10"}, 1000, 4000),
    # rmsnorm 2 x 50 fp32: 4 FLOPs per element = 400; reads 100*4 B input + 50*4 B weight
    ({"kind": "rmsnorm", "dtype": "fp32", "rows": "2", "cols": "50"}, 400, 600),
    # gather: 100 lookups of 256 B rows, pooled by 4 (fp32: 64 values per row): (100 - 25) * 64 adds = 4800;
    # reads 100 * 256 B rows + 100 * 4 B ids
    ({"kind": "gather", "dtype": "fp32", "lookups": "100", "row_bytes": "256", "table_rows": "1000", "pooling": "4",
      "distribution": "zipf", "zipf_alpha": "1.2"}, 4800, 26000),
    # spmm: 2 * nnz * f = 2 * 500 * 16 = 16000; reads csr 500 * (4 + 4) + 101 * 4 and X 500 * 16 * 4
    ({"kind": "spmm", "dtype": "fp32", "rows": "100", "cols": "100", "nnz": "500", "feature_dim": "16"}, 16000,
     4000 + 404 + 32000),
])
def test_to_op_builds_the_standard_op(row, flops, read_bytes):
    op = to_op(row)
    assert op.kind == row["kind"]
    assert op.total_flops == pytest.approx(flops)
    assert op.read_bytes == pytest.approx(read_bytes)


def test_to_op_reports_every_bad_cell():
    with pytest.raises(SpecError) as e:
        to_op({"kind": "gemm", "dtype": "fp32", "m": "0", "n": "2.5", "rows": "3"})
    assert [str(p) for p in e.value.problems] == [
        "m: expected a whole number > 0, found '0'",
        "n: expected a whole number > 0, found '2.5'",
        "k: expected a value for a gemm (a whole number > 0), found nothing",
        "rows: expected an empty cell: rows is not a column of a gemm, found '3'",
    ]


def test_missing_and_unknown_columns_one_line_each():
    assert problems(["device", "kind", "dtype", "tme_s"], [["x", "gemm", "fp32", "1"]]) == [
        "f.csv: header: expected the columns device, kind, dtype, time_s, source, found no time_s, source",
        "f.csv: header.tme_s: expected a known column (" + ", ".join(COLUMNS) + "), found unknown column 'tme_s'"
        " (did you mean 'time_s'?)",
    ]


@pytest.mark.parametrize("time_text", ["0", "-1", "nan", "inf", "fast", ""])
def test_bad_times(time_text):
    assert problems(HEADER, [["d", "gemm", "fp32", time_text, "s", "1", "1", "1", "", ""]]) == [
        f"f.csv: row 2.time_s: expected a finite time in seconds > 0, found {time_text!r}"]


def test_unknown_kind_dtype_bad_shape_and_ragged_rows_all_reported():
    got = problems(HEADER, [
        ["d", "gem", "fp32", "1", "s", "1", "1", "1", "", ""],
        ["d", "softmax", "fp99", "1", "s", "", "", "", "4", "-3"],
        ["d", "gemm", "fp32", "1"],
        ["", "gemm", "fp32", "1", "", "1", "1", "1", "", ""],
    ])
    assert got == [
        "f.csv: row 2.kind: expected one of " + ", ".join(SHAPES) + ", found 'gem' (did you mean 'gemm'?)",
        "f.csv: row 3.dtype: expected one of fp64, fp32, tf32, fp16, bf16, fp8, fp6, fp4, int8, int4, found 'fp99'",
        "f.csv: row 3.cols: expected a whole number > 0, found '-3'",
        "f.csv: row 4: expected 10 cells like the header, found 4",
        "f.csv: row 5.device: expected a non-empty value, found nothing",
        "f.csv: row 5.source: expected a non-empty value, found nothing",
    ]


def test_problems_are_capped():
    rows = [["d", "gemm", "fp32", "-1", "s", "1", "1", "1", "", ""]] * (MAX_PROBLEMS + 7)
    got = problems(HEADER, rows)
    assert len(got) == MAX_PROBLEMS + 1 and got[-1] == "f.csv: <top>: expected fewer problems, found 7 more not shown"


def test_header_only_and_duplicate_columns():
    assert problems(HEADER, []) == ["f.csv: <top>: expected at least one measurement row, found a header only"]
    assert problems([*HEADER, "m"], [[]]) == ["f.csv: header: expected each column once, found repeated m"]


def test_file_problems(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path, found in ((empty, "an empty file"), (binary, "UnicodeDecodeError"), (tmp_path, "not a file"),
                        (tmp_path / "none.csv", "no such file")):
        with pytest.raises(SpecError) as e:
            load_measurements(path)
        assert str(e.value).endswith(f"found {found}")


def test_symlink_to_a_good_file_reads_like_the_file(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(DATA / "good.csv")
    assert [m.name for m in load_measurements(link)] == ["square", "copy", "elsewhere"]


def test_rows_round_trip():
    ms = load_measurements(DATA / "good.csv")
    rows = to_rows(ms)
    header = list(COLUMNS)
    again = parse_rows(header, [[str(r[c]) for c in header] for r in rows])
    assert again == ms


def test_cli_bad_file_exits_2_one_line_per_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("device,kind,dtype,time_s,source,m,n,k\nround-cpu,gemm,fp32,nan,s,1,1,\n")
    r = CliRunner().invoke(main, ["validate", "--hw", str(DATA / "round-cpu.yaml"), "--measurements", str(bad)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"error: {bad}: row 2.time_s: expected a finite time in seconds > 0, found 'nan'",
        f"error: {bad}: row 2.k: expected a value for a gemm (a whole number > 0), found nothing",
    ]


def test_warm_column():
    header = ["device", "kind", "dtype", "time_s", "source", "elements", "warm"]
    row = lambda w: ["d", "elementwise", "fp32", "1e-3", "s", "1000", w]
    ms = parse_rows(header, [row("true"), row("no"), row("")])
    assert [m.warm for m in ms] == [True, False, False]
    assert problems(header, [row("maybe")]) == ["f.csv: row 2.warm: expected true or false (or empty), found 'maybe'"]


def test_timing_column():
    header = ["device", "kind", "dtype", "time_s", "source", "elements", "timing"]
    row = lambda t: ["d", "elementwise", "fp32", "1e-3", "s", "1000", t]
    ms = parse_rows(header, [row("host"), row("kernel"), row(""), row("host-compiled")])
    assert [m.timing for m in ms] == ["host", "kernel", "kernel", "host-compiled"]
    assert problems(header, [row("wall"), row("HOST")]) == [
        "f.csv: row 2.timing: expected kernel, events, host or host-compiled (or empty: kernel), found 'wall'",
        "f.csv: row 3.timing: expected kernel, events, host or host-compiled (or empty: kernel), found 'HOST'"]
    again = parse_rows(list(COLUMNS), [[str(r[c]) for c in COLUMNS] for r in to_rows(ms)])
    assert [m.timing for m in again] == ["host", "kernel", "kernel", "host-compiled"]
