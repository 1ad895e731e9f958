"""YAML workloads: derived FLOPs and bytes, parameter expressions and overrides, error reports."""
from pathlib import Path

import pytest

from roofsim.errors import SpecError
from roofsim.ops.expr import ExprError, evaluate as expr
from roofsim.workloads import get_workload, load_workload

DATA = Path(__file__).parent / "data" / "wl"


def test_tiny_workload_derives_flops_and_bytes():
    wl = load_workload(DATA / "tiny.yaml")
    proj, act, sync = wl.ops
    # tokens_per = batch*2 = 8; proj: 2 * 8 * 1024 * 1024 = 16777216 FLOP per execution, 3 executions
    assert proj.total_flops == 2 * 8 * 1024 * 1024 and proj.count == 3
    # reads A (8x1024) and B (1024x1024), writes C (8x1024), 2 bytes each (bf16)
    assert proj.read_bytes == (8 * 1024 + 1024 * 1024) * 2 and proj.write_bytes == 8 * 1024 * 2
    assert act.read_bytes == 8 * 1024 * 2
    assert sync.access.bytes == 2048.0
    # total = 3 * 16777216 + 8192 (elementwise, 1 FLOP each) + 0 (all-gather adds nothing)
    assert wl.total_flops == 3 * 16777216 + 8192
    assert wl.tokens == 8 and wl.flops_per_token == wl.total_flops / 8


def test_overrides_change_parameters_and_dependents():
    wl = load_workload(DATA / "tiny.yaml", overrides={"batch": 16})
    # tokens_per = 32 -> proj FLOPs 2*32*1024*1024
    assert wl.ops[0].total_flops == 2 * 32 * 1024**2
    assert wl.param("tokens_per") == 32


def test_unknown_override_suggests_the_parameter():
    with pytest.raises(SpecError) as e:
        load_workload(DATA / "tiny.yaml", overrides={"btch": 3})
    assert str(e.value) == (f"{DATA / 'tiny.yaml'}: wl.btch: expected a parameter of this workload "
                            "(batch, hidden, tokens_per, dtype), found unknown parameter 'btch' (did you mean 'batch'?)")


def test_every_problem_of_a_broken_file_at_once():
    f = DATA / "broken.yaml"
    with pytest.raises(SpecError) as e:
        load_workload(f)
    lines = str(e.value).splitlines()
    assert lines == [
        f"{f}: ops[0] (a).dtyp: expected one of the keys name, op, count, phase, notes, m, n, k, batch, dtype, "
        "out_dtype, weight, unit, found unknown key 'dtyp' (did you mean 'dtype'?)",
        f"{f}: ops[1] (b).m: expected a known parameter in 'btch', found unknown name 'btch' (did you mean 'batch'?)",
        f"{f}: ops[2] (c).op: expected one of gemm, elementwise, reduction, softmax, layernorm, gather, spmm, "
        "collective, custom, found 'elementwize' (did you mean 'elementwise'?)",
        f"{f}: ops[3] (d).bytes: expected a size, e.g. 80 GB or 40 MiB, found a bare number 1024 with no unit",
        f"{f}: ops[4] (e).cols: expected required key for a softmax op, found nothing",
    ]


@pytest.mark.parametrize("text,value", [("2 * (3 + 4)", 14), ("2 ** 10", 1024), ("ceil(7 / 2)", 4),
                                        ("max(3, a) - 1", 4), ("-a // 2", -3), ("log2(1024)", 10.0)])
def test_expressions(text, value):
    assert expr(text, {"a": 5}) == value


@pytest.mark.parametrize("text", ["__import__('os')", "a.b", "[1, 2]", "lambda: 1", "open('x')", "1 if a else 2"])
def test_expressions_reject_everything_but_arithmetic(text):
    with pytest.raises(ExprError):
        expr(text, {"a": 5})


def test_working_set_counts_each_tensor_once():
    from roofsim.ops import elementwise, gemm
    # a 64x32 @ 32x16 fp16 GEMM touches A (64*32*2 = 4096 B), B (32*16*2 = 1024 B) and C (64*16*2 = 2048 B)
    assert gemm("g", 64, 16, 32, "fp16").working_set_bytes == 4096 + 1024 + 2048
    # an in-place style op that reads and writes 1000 fp32 elements through two named tensors: 8000 B
    assert elementwise("e", 1000, "fp32").working_set_bytes == 8000


@pytest.mark.parametrize("path", __import__("roofsim.workloads", fromlist=["list_workloads"]).list_workloads(),
                         ids=lambda p: p.stem)
def test_every_bundled_workload_loads_with_a_source(path):
    wl = load_workload(path)
    assert wl.name == path.stem
    assert wl.source.strip() and wl.description.strip()
    assert wl.ops and wl.total_flops > 0


@pytest.mark.parametrize("text,message", [
    ("a.b", "expected only numbers, parameter names, + - * / // % ** and min, max, ceil, floor, sqrt, log2, "
            "found 'a.b' in 'a.b'"),
    ("sqrt(-a)", "expected a computable expression, found 'sqrt(-a)' (sqrt cannot take -5)"),
    ("1 +", "expected an arithmetic expression, found '1 +'"),
    ("btch * 2", "expected a known parameter in 'btch * 2', found unknown name 'btch'"),
])
def test_expression_errors_say_what_was_found(text, message):
    with pytest.raises(ExprError) as e:
        expr(text, {"a": 5})
    assert str(e.value) == message


def test_a_bad_shape_expression_in_a_file_names_the_op_and_key(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text("schema_version: 1\nname: w\nparams: {n: 4}\nops:\n  - {name: g, op: gemm, m: n.x, n: 4, k: 'ceil(1, 2)'}\n")
    with pytest.raises(SpecError) as e:
        load_workload(f)
    assert str(e.value).splitlines() == [
        f"{f}: ops[0] (g).m: expected only numbers, parameter names, + - * / // % ** and min, max, ceil, floor, "
        "sqrt, log2, found 'n.x' in 'n.x'",
        f"{f}: ops[0] (g).k: expected a computable expression, found 'ceil(1, 2)' "
        "(ceil cannot take 1, 2)",
    ]


def test_gather_table_role_from_a_file(tmp_path):
    from roofsim.memory import footprint
    f = tmp_path / "w.yaml"
    doc = ("schema_version: 1\nname: w\nparams: {role: input}\nops:\n"
           "  - {name: g, op: gather, lookups: 10, row_bytes: 64 B, table_rows: 1000, table_role: ROLE}\n")
    f.write_text(doc.replace("ROLE", "input"))
    # an input table (features) is stored but holds no parameters: 1000 rows x 64 B = 64 kB of 'other'
    fp = footprint(load_workload(f))
    assert (fp.weights, fp.other) == (0.0, 64_000.0)
    f.write_text(doc.replace("ROLE", "weight"))
    assert footprint(load_workload(f)).weights == 64_000.0   # a trained table: the same bytes as weights


@pytest.mark.parametrize("bad, found", [("features", "'features'"), ("3", "3"), ("[weight]", "a list"),
                                        ("{a: 1}", "a mapping"), ("''", "''")])
def test_gather_table_role_hostile(tmp_path, bad, found):
    f = tmp_path / "w.yaml"
    f.write_text("schema_version: 1\nname: w\nops:\n  - {name: g, op: gather, lookups: 10, row_bytes: 64 B, "
                 f"table_rows: 1000, table_role: {bad}}}\n")
    with pytest.raises(SpecError) as e:
        load_workload(f)
    assert str(e.value).splitlines() == [
        f"{f}: ops[0] (g).table_role: expected one of weight, input, found {found}"]


def test_elementwise_broadcast_from_a_file(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text("schema_version: 1\nname: w\nops:\n  - {name: sub, op: elementwise, elements: 4096, dtype: fp32, "
                 "broadcast: true}\n  - {name: add, op: elementwise, elements: 4096, dtype: fp32}\n")
    sub, add = load_workload(f).ops
    # x - row_max: its 4096 elements run numpy's broadcast loop; a plain add has none
    assert (sub.access.broadcast, add.access.broadcast) == (4096.0, 0.0)


@pytest.mark.parametrize("bad", ["3", "'yes'", "[true]", "{a: 1}"])
def test_elementwise_broadcast_hostile(tmp_path, bad):
    f = tmp_path / "w.yaml"
    f.write_text("schema_version: 1\nname: w\nops:\n  - {name: sub, op: elementwise, elements: 4096, "
                 f"broadcast: {bad}}}\n")
    with pytest.raises(SpecError) as e:
        load_workload(f)
    lines = str(e.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{f}: ops[0] (sub).broadcast: expected ")
