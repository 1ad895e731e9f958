"""Regression tests for inputs that used to crash or hang (issue #14): each is now one line (CLI:
exit 2, no traceback) or a RoofsimError (Python), in bounded time."""
import json
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import roofsim
from roofsim.cli import main
from roofsim.errors import RoofsimError, SpecError
from roofsim.ops import kinds
from roofsim.ops.expr import ExprError, evaluate
from roofsim.workloads import get_workload, load_workload

DATA = Path(__file__).parent / "data"
TOY = str(DATA / "engine" / "toy-chip.yaml")
TINY = str(DATA / "wl" / "tiny.yaml")
LLAMA = DATA / "hf" / "llama-2-70b" / "config.json"


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def one_line_exit_2(r):
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and r.output.count("\n") == 1, r.output
    assert "Traceback" not in r.output


# ---- the expression evaluator ------------------------------------------------------------------
@pytest.mark.parametrize("text, found", [
    ("10**10**10", "10 ** 10000000000"),           # used to hang: 10**(10**10) as an exact int
    ("2**100000", "2 ** 100000"),
    ("9" * 400, "an integer of about 400 digits"),
    ("0.5 ** -2000", "0.5 ** -2000"),              # 2^2000, refused before it is computed
    ("1e200 * 1e200", "1e+200"),                  # a literal above 1e30
    ("(-8) ** 0.5", "a complex number"),
])
def test_expression_magnitude_is_bounded(text, found):
    t = time.perf_counter()
    with pytest.raises(ExprError) as info:
        evaluate(text, {})
    assert time.perf_counter() - t < 0.5
    assert info.value.expected == "a finite number of magnitude at most 1e+30"
    assert info.value.found.startswith(found)


@pytest.mark.parametrize("text, expected", [
    ("+".join(["1"] * 200_000), "an expression of at most 1000 characters"),   # 399,999 characters
    ("+".join(["1"] * 101), "an expression of at most 200 terms, 100 deep"),  # 201 nodes (101 constants + 100 BinOps)
    ("-" * 100 + "1", "an expression of at most 200 terms, 100 deep"),        # 101 levels, 101 nodes
    ("(" * 300 + "1" + ")" * 300, "an arithmetic expression"),                 # the parser's own nesting limit
])
def test_expression_size_and_depth_are_bounded(text, expected):
    with pytest.raises(ExprError) as info:
        evaluate(text, {})
    assert info.value.expected == expected and len(str(info.value)) < 200


def test_expressions_within_the_bounds_still_work():
    assert evaluate("2**99", {}) == 2**99                       # 6.3e29 < 1e30
    assert evaluate("+".join(["1"] * 100), {}) == 100           # 199 nodes
    assert evaluate("-" * 98 + "1", {}) == 1                    # 98 minus signs: even, depth 99
    assert evaluate("batch * 2", {"batch": 4}) == 8


def test_arithmetic_on_a_choice_is_refused():
    with pytest.raises(ExprError) as info:
        evaluate("dtype * 2", {"dtype": "fp32"})                # Python would give 'fp32fp32'
    assert str(info.value) == "expected numbers in 'dtype * 2', found 'fp32', which is not a number"


# ---- workload parameters -----------------------------------------------------------------------
def _workload_file(tmp_path, params: str, ops: str = "  - {name: g, op: gemm, m: batch, n: 8, k: 8}\n"):
    f = tmp_path / "w.yaml"
    f.write_text(f"schema_version: 1\nname: w\nparams:\n{params}ops:\n{ops}")
    return f


@pytest.mark.parametrize("value, found", [
    ("{a: 1}", "a mapping"),
    ("[[1, 2], [3]]", "a list holding a list"),
    (".inf", "inf"),
    ("1.0e+400", "inf"),             # a YAML float that overflows
    ("1e400", "inf in '1e400'"),     # YAML 1.1 reads this as text: an expression that overflows
])
def test_params_must_be_bounded_scalars(tmp_path, value, found):
    f = _workload_file(tmp_path, f"  batch: 4\n  bad: {value}\n")
    with pytest.raises(SpecError) as info:
        load_workload(f)
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"{f}: params.bad: expected ") and line.endswith(f"found {found}")


def test_alias_bomb_params_are_refused_in_bounded_time(tmp_path):
    # 9 levels of 9-fold aliases: 9^9 = 387 M leaves if expanded; refused before anything prints
    lines = ["  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    f = _workload_file(tmp_path, "  batch: 4\n" + "\n".join(lines) + "\n")
    t = time.perf_counter()
    r = invoke("workload", "show", str(f))
    assert time.perf_counter() - t < 5
    one_line_exit_2(r)


# ---- --set wl and wl_overrides: checked once, in their own name -------------------------------
@pytest.mark.parametrize("value, found", [
    ("foo", "found 'foo'"),                      # a word where the file has a number
    (".inf", "found inf"),
    ("[1, 2]", "(null and lists are for builders), found a list"),
])
def test_cli_workload_override_is_one_line_in_its_own_name(value, found):
    r = invoke("run", "--hw", TOY, "-w", TINY, "--set", f"wl.batch={value}")
    one_line_exit_2(r)
    assert r.output.startswith(f"error: {TINY}: --set wl.batch: expected ") and found in r.output


def test_cli_override_that_breaks_the_ops_blames_the_override_once():
    # batch 0 makes proj.m = tokens_per = 0 and act.elements = 0: two op problems, one line
    r = invoke("run", "--hw", TOY, "-w", TINY, "--set", "wl.batch=0")
    one_line_exit_2(r)
    assert r.output == (f"error: {TINY}: --set wl.batch: expected a value with which tiny builds, found 0, which "
                        "gives ops[0] (proj).m: expected a whole number from 1 to 2^53, found 0 (and 1 more problem)\n")


def test_cli_override_on_a_builder_workload_names_the_override():
    r = invoke("run", "--hw", "a100", "-w", "llama2-7b", "--set", "wl.batch=foo")
    one_line_exit_2(r)
    assert "--set wl.batch: expected a number or an expression (the file has 1), found 'foo'" in r.output


@pytest.mark.parametrize("overrides", [{"batch": "foo"}, {"batch": float("inf")}, {"batch": 0}, {"batch": [1]},
                                       {"batch": {"a": 1}}, {"batch": 10**400}, {"nope": 1}])
def test_python_overrides_raise_project_errors(overrides):
    with pytest.raises(RoofsimError) as info:
        roofsim.run(TOY, TINY, wl_overrides=overrides)
    assert len(str(info.value).splitlines()) == 1 and f"wl.{next(iter(overrides))}" in str(info.value)


# ---- whole numbers -----------------------------------------------------------------------------
@pytest.mark.parametrize("ctor, kwargs, key", [
    (kinds.gemm, dict(m=0.5, n=8, k=8), "m"),
    (kinds.elementwise, dict(elements=10.5), "elements"),
    (kinds.reduction, dict(elements=8, outputs=1.5), "outputs"),
    (kinds.softmax, dict(rows=2, cols=2.5), "cols"),
    (kinds.layernorm, dict(rows=2.5, cols=2), "rows"),
    (kinds.gather, dict(lookups=8, row_bytes=512, table_rows=100.5), "table_rows"),
    (kinds.spmm, dict(rows=8, cols=8, nnz=10.5, feature_dim=4), "nnz"),
    (kinds.collective, dict(collective="all-reduce", bytes=1e6, participants=2.5), "participants"),
])
def test_shapes_must_be_whole(ctor, kwargs, key):
    with pytest.raises(SpecError) as info:
        ctor("op", **kwargs)
    assert str(info.value) == f"op.{key}: expected a whole number from 1 to 2^53, found {kwargs[key]!r}"


def test_whole_shape_from_a_file(tmp_path):
    f = _workload_file(tmp_path, "  batch: 4\n", "  - {name: g, op: gemm, m: batch / 8, n: 8, k: 8}\n")
    with pytest.raises(SpecError) as info:
        load_workload(f)   # 4 / 8 = 0.5 rows
    assert str(info.value) == f"{f}: ops[0] (g).m: expected a whole number from 1 to 2^53, found 0.5"
    f = _workload_file(tmp_path, "  batch: 4\n", "  - {name: e, op: elementwise, elements: 8, inputs: 1000000000}\n")
    with pytest.raises(SpecError, match=r"inputs: expected a whole number from 0 to 64, found 1000000000"):
        load_workload(f)


# ---- Hugging Face configs ----------------------------------------------------------------------
@pytest.mark.parametrize("field, value, found", [
    ("vocab_size", 10**60, "an integer of about 60 digits"),   # (the JSON reader refuses > 100 digits)
    ("vocab_size", 2**31, str(2**31)),
    ("hidden_size", -8192, "-8192"),
    ("num_hidden_layers", 80.5, "80.5"),
    ("torch_dtype", ["float16"], "['float16']"),
])
def test_absurd_hf_config_fields_are_one_line(tmp_path, field, value, found):
    doc = json.loads(LLAMA.read_text())
    doc[field] = value
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(doc))
    with pytest.raises(SpecError) as info:
        load_workload(d / "config.json")
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"{d / 'config.json'}: {field}: expected ") and line.endswith(f"found {found}")


# ---- implausible hardware values: refused, never inf/NaN with numpy warnings --------------------
@pytest.mark.parametrize("override", [
    "hw.compute.matrix.bf16=1e308 FLOP/s", "hw.compute.matrix.bf16=1e-3 FLOP/s",
    "hw.memory.dram.bandwidth=1e-300 B/s", "hw.memory.dram.bandwidth=1e300 B/s",
    "hw.memory.dram.capacity=1e300 B", "hw.memory.dram.latency=1e30 s", "hw.cores=10000000000000",
    "hw.efficiency.latency=1e99 s",
])
def test_implausible_hardware_values_are_one_line_without_warnings(override):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a numpy RuntimeWarning would fail the test
        r = invoke("run", "--hw", TOY, "-w", TINY, "--set", override)
    one_line_exit_2(r)
    assert f"--set {override.split('=')[0]}: expected " in r.output


# ---- names longer than the file system allows (ENAMETOOLONG raised from pathlib) ------------
LONG = "c" * 300   # NAME_MAX is 255 bytes on Linux file systems


@pytest.mark.parametrize("args, message", [
    (("run", "--hw", LONG, "--workload", TINY), f"error: unknown hardware '{LONG}'"),
    (("run", "--hw", TOY, "--workload", LONG), f"error: unknown workload '{LONG}'"),
    (("run", "--hw", LONG + ".yaml", "--workload", TINY), f"error: hardware file '{LONG}.yaml': no such file"),
    (("run", "--hw", TOY, "--workload", TINY, "--hw-path", "/tmp/" + LONG),
     f"error: --hw-path: expected an existing folder, found '/tmp/{LONG}' (no such folder)"),
])
def test_names_too_long_for_the_file_system_are_one_line(args, message):
    r = invoke(*args)
    one_line_exit_2(r)
    assert r.output.startswith(message), r.output


def test_output_in_a_folder_too_long_for_the_file_system_is_one_line(tmp_path):
    r = invoke("run", "--hw", TOY, "--workload", TINY, "--output", str(tmp_path / LONG / "x.json"))
    one_line_exit_2(r)
    assert r.output.startswith(f"error: --output {tmp_path / LONG / 'x.json'}"), r.output
    assert list(tmp_path.iterdir()) == []   # nothing written, nothing half-written
