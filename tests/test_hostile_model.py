"""Property-based hostile inputs for the model's inputs: hardware files (catalogue files with random
mutations), workload files, `--set hw.*` and `--set wl.*` values, Hugging Face configs,
expressions, and the same through the Python API.

For every generated input: a result (finite, positive times), or exit 2 with a few `error:` lines
naming the file or flag (a RoofsimError from Python), never a traceback or a numpy warning
(warnings are errors here), in bounded time. Valid inputs come from the catalogue and the test
data, so many examples succeed and the success path is checked too.
"""
import copy
import json
import math
import time
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofsim
from roofsim.catalog import bundled_dir
from roofsim.cli import main
from roofsim.errors import RoofsimError
from roofsim.ops.expr import MAX_MAGNITUDE, ExprError, evaluate, number_ok

DATA = Path(__file__).parent / "data"
TOY = str(DATA / "engine" / "toy-chip.yaml")
TINY = DATA / "wl" / "tiny.yaml"
LLAMA = DATA / "hf" / "llama-2-70b" / "config.json"
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 10   # per example; a hang (10**10**10 once ran for hours) fails here


def invoke(args, names=()):
    """Run the CLI with warnings as errors; exit 0, or exit 2 with 1-6 `error:` lines that name
    one of ``names`` (the file or the flag)."""
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = CliRunner().invoke(main, [str(a) for a in args])
    assert time.perf_counter() - t < SECONDS, args
    assert "Traceback" not in r.output
    assert r.exit_code in (0, 2), (args, r.exit_code, r.output, r.exception)
    if r.exit_code == 2:
        lines = r.output.splitlines()
        assert 1 <= len(lines) <= 6 and all(line.startswith("error: ") for line in lines), r.output
        assert all(len(line) < 600 for line in lines), r.output
        if names:
            assert all(any(str(n) in line for n in names) for line in lines), (names, r.output)
    return r


def finite_result(r):
    """A successful `run --format json`: every time finite and positive."""
    d = json.loads(r.stdout)
    assert math.isfinite(d["total_time_s"]) and d["total_time_s"] > 0, d["total_time_s"]
    assert all(math.isfinite(o["time_s"]) and o["time_s"] >= 0 for o in d["ops"])


def python_call(fn):
    """A result or a one-to-few-line RoofsimError, with warnings as errors, in bounded time."""
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = fn()
        except RoofsimError as e:
            assert 1 <= len(str(e).splitlines()) <= 4, str(e)
            out = None
    assert time.perf_counter() - t < SECONDS
    return out


# ---- values: plausible and hostile ---------------------------------------------------------------
QUANTITY_TEXT = st.one_of(
    st.builds(lambda x, u: f"{x:g} {u}", st.floats(allow_nan=True, allow_infinity=True, width=64),
              st.sampled_from(["TB/s", "GB/s", "B/s", "TFLOP/s", "FLOP/s", "GiB", "MiB", "B", "ns", "us", "s",
                               "GHz", "W", "KB", "furlongs", "Gb/s", ""])),
    st.sampled_from(["4", "4e12", "1e308 TFLOP/s", "1e-300 B/s", "-2 TB/s", "0 B", "nan TB/s", ".inf",
                     "0x10", "2 TB/s 3", "1" * 400 + " B", "1e99999 B", "TB/s"]),
)
HOSTILE = st.one_of(
    QUANTITY_TEXT,
    st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40), st.sampled_from([10**400, -1, 0, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.just("x" * 5000),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just([[1, [2, [3]]]]),
)


@st.composite
def expressions(draw, depth=0):
    """Arithmetic text over the tiny workload's parameters, valid or not."""
    leaf = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["batch", "hidden", "dtype", "nope",
                     "1e308", "9" * 40, "0", "0.5", "-3", "10**10**10", "2**100000", "(-8)**0.5"]))
    if depth > 3 or draw(st.booleans()):
        return draw(leaf)
    kind = draw(st.sampled_from(["bin", "unary", "call", "junk"]))
    if kind == "bin":
        op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]))
        return f"({draw(expressions(depth + 1))} {op} {draw(expressions(depth + 1))})"
    if kind == "unary":
        return f"-{draw(expressions(depth + 1))}"
    if kind == "call":
        fn = draw(st.sampled_from(["min", "max", "ceil", "floor", "sqrt", "log2", "abs", "__import__"]))
        return f"{fn}({draw(expressions(depth + 1))})"
    return draw(st.sampled_from(["x.y", "[1]", "lambda: 1", "1 if 1 else 2", "'a' * 9", "+".join(["1"] * 300),
                                 "-" * 500 + "1", "(" * 300 + "1" + ")" * 300, "", "1 +", "batch @ 2"]))


# ---- expressions ---------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.one_of(expressions(), st.text(max_size=60)))
def test_any_expression(text):
    t = time.perf_counter()
    try:
        v = evaluate(text, {"batch": 4, "hidden": 1024, "dtype": "bf16"})
    except ExprError as e:
        assert len(str(e)) < 400 and "\n" not in str(e)
    else:
        assert v == "bf16" or number_ok(v), v     # a lone choice name, or a bounded real number
        assert v == "bf16" or abs(v) <= MAX_MAGNITUDE
    assert time.perf_counter() - t < 1.0, text


# ---- hardware files: catalogue files with random mutations ------------------------------------
CATALOGUE = sorted(p for p in bundled_dir("hardware").glob("*.yaml"))


def _paths(node, prefix=()):
    """Every (path, value) of a document; list items are addressed by index."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k), v
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i), v
            yield from _paths(v, (*prefix, i))


def _set(doc, path, value):
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()


@st.composite
def hardware_docs(draw):
    src = draw(st.sampled_from(CATALOGUE))
    doc = yaml.safe_load(src.read_text())
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p, _ in _paths(doc)]
        path = draw(st.sampled_from(paths))
        value = draw(st.one_of(HOSTILE, st.just(_DELETE)) if draw(st.booleans()) else QUANTITY_TEXT)
        try:
            _set(doc, path, value)
        except (KeyError, IndexError, TypeError):  # a parent already replaced by a scalar
            pass
    if draw(st.integers(0, 5)) == 0:
        doc[draw(st.sampled_from(["bandwdith", "set", "extends", "aliases"]))] = draw(HOSTILE)
    return src.name, doc


@SETTINGS
@given(case=hardware_docs())
def test_any_hardware_file(tmp_path, case):
    name, doc = case
    f = tmp_path / name
    f.write_text(yaml.safe_dump(doc, allow_unicode=True))
    # an error names the file, or the device (a workload that cannot run on it)
    r = invoke(["run", "--hw", f, "-w", TINY, "--format", "json", "--cache-model", "compulsory"],
               names=[f, f"on {doc.get('id')}:"])
    if r.exit_code == 0:
        finite_result(r)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(src=st.sampled_from(CATALOGUE))
def test_unmutated_catalogue_files_still_run(src):
    # the success path of the test above: every bundled file runs and gives finite times, or
    # (a device without any link: the tiny workload has a 2-way all-gather) says it cannot
    r = invoke(["run", "--hw", src, "-w", TINY, "--format", "json", "--cache-model", "compulsory"])
    if r.exit_code == 0:
        finite_result(r)
    else:
        assert r.output.endswith("the device has no link for the collective\n"), r.output
        assert not yaml.safe_load(src.read_text()).get("interconnect")


# ---- --set hw.* and Python hw_overrides ----------------------------------------------------------
HW_KEYS = st.sampled_from([
    "compute.matrix.bf16", "compute.matrix.fp8", "compute.vector.fp32", "memory.dram.bandwidth",
    "memory.dram.capacity", "memory.l2.capacity", "memory.l2.latency", "memory.dram.instances", "cores",
    "clock", "tdp", "interconnect.link.bandwidth_per_direction", "interconnect.link.links",
    "efficiency.compute", "efficiency.memory.dram", "efficiency.latency", "efficiency.compute_by_size",
    "memory.nope.bandwidth", "nope", "memory", "memory.dram", "id", "kind", "extends", "",
])
SET_TEXT = st.one_of(QUANTITY_TEXT, st.text(max_size=20), st.sampled_from(["", "[1, 2]", "{a: 1}", "null",
                                                                           "true", "0.5", "1e3", "-1"]))


@SETTINGS
@given(sets=st.lists(st.tuples(HW_KEYS, SET_TEXT), min_size=1, max_size=3))
def test_any_hw_set(sets):
    run_with_sets(TINY, [(f"hw.{k}", v) for k, v in sets])


def run_with_sets(workload, sets):
    """`run` on the toy chip with ``--set KEY=VALUE`` for each pair: a finite result or a refusal
    naming the flag."""
    args = ["run", "--hw", TOY, "-w", workload, "--format", "json", "--cache-model", "compulsory"]
    for key, value in sets:
        args += ["--set", f"{key}={value}"]
    r = invoke(args, names=["--set"])
    if r.exit_code == 0:
        finite_result(r)


@SETTINGS
@given(overrides=st.dictionaries(HW_KEYS, HOSTILE, min_size=1, max_size=3))
def test_any_python_hw_overrides(overrides):
    df = python_call(lambda: roofsim.run(TOY, str(TINY), hw_overrides=overrides, cache_model="compulsory"))
    if df is not None:
        assert df["time_s"].map(math.isfinite).all() and df["time_s"].sum() > 0


# ---- workload files and --set wl.* -----------------------------------------------------------
TINY_DOC = yaml.safe_load(TINY.read_text())
WL_KEYS = st.sampled_from(["batch", "hidden", "tokens_per", "dtype", "nope"])
WL_VALUES = st.one_of(HOSTILE, expressions())


@st.composite
def workload_docs(draw):
    doc = copy.deepcopy(TINY_DOC)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["params", "op", "top"]))
        if where == "params" and isinstance(doc["params"], dict):
            doc["params"][draw(WL_KEYS)] = draw(WL_VALUES)
        elif where == "op":
            if not isinstance(doc["ops"], list):
                continue
            op = draw(st.sampled_from(doc["ops"]))
            op[draw(st.sampled_from(["m", "n", "k", "elements", "bytes", "participants", "count", "dtype",
                                     "batch", "inputs", "op", "nope"]))] = draw(WL_VALUES)
        else:
            doc[draw(st.sampled_from(["tokens", "params", "ops", "name", "schema_version"]))] = draw(WL_VALUES)
    return doc


@SETTINGS
@given(doc=workload_docs())
def test_any_workload_file(tmp_path, doc):
    f = tmp_path / "w.yaml"
    f.write_text(yaml.safe_dump(doc, allow_unicode=True))
    r = invoke(["run", "--hw", TOY, "-w", f, "--format", "json", "--cache-model", "compulsory"], names=[f])
    if r.exit_code == 0:
        finite_result(r)
    invoke(["workload", "show", f, "--format", "json"], names=[f])


@SETTINGS
@given(sets=st.lists(st.tuples(WL_KEYS, st.one_of(SET_TEXT, expressions())), min_size=1, max_size=3),
       builder=st.booleans())
def test_any_wl_set(sets, builder):
    run_with_sets("llama2-7b" if builder else TINY, [(f"wl.{k}", v) for k, v in sets])


@SETTINGS
@given(overrides=st.dictionaries(WL_KEYS, WL_VALUES, min_size=1, max_size=3))
def test_any_python_wl_overrides(overrides):
    python_call(lambda: roofsim.run(TOY, str(TINY), wl_overrides=overrides, cache_model="compulsory"))


# ---- Hugging Face configs ----------------------------------------------------------------------
LLAMA_DOC = json.loads(LLAMA.read_text())
HF_KEYS = st.sampled_from(["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                           "num_key_value_heads", "intermediate_size", "max_position_embeddings", "model_type",
                           "torch_dtype", "tie_word_embeddings", "head_dim", "num_local_experts",
                           "num_experts_per_tok"])
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, 2**31, 2**31 - 1, 0, 1, 3, 7]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@SETTINGS
@given(changes=st.dictionaries(HF_KEYS, JSON_VALUES, min_size=1, max_size=3))
def test_any_hf_config(tmp_path, changes):
    doc = {**LLAMA_DOC, **changes}
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    f = d / "config.json"
    f.write_text(json.dumps(doc))
    r = invoke(["run", "--hw", TOY, "-w", f, "--format", "json", "--cache-model", "compulsory"], names=[f])
    if r.exit_code == 0:
        finite_result(r)
