"""Pruning from the command line: --sparsity and --sparse-format on memory, run and compare (the
footprint; the kernels stay dense), with the index overhead of each format (roofsim.memory.pruned_bytes)."""
import json

import pytest
from click.testing import CliRunner

from roofsim.cli import main

P = 6_738_415_616          # llama2-7b's parameters (bf16: 2 B each, 13,476,831,232 B dense)


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def weights(*flags):
    r = invoke("memory", "--hw", "h100", "-w", "llama2-7b", "--no-catalogue", "--format", "json", *flags)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["memory"]["per_device_bytes"]["weights"]


@pytest.mark.parametrize("flags,bytes_per_param", [
    ((), 2.0),                                                        # dense bf16
    (("--sparsity", "0"), 2.0),                                       # nothing pruned, no index
    (("--sparsity", "0.5", "--sparse-format", "structured"), 1.0),    # half the rows gone, no index: 0.5 x 2
    (("--sparsity", "50%", "--sparse-format", "structured"), 1.0),    # the same, as a percentage
    (("--sparsity", "0.5"), 3.0),                                     # csr (default): 0.5 x (2 B + 4 B int32 index)
    (("--sparsity", "0.25", "--sparse-format", "bitmask"), 1.625),    # 0.75 x 2 + 1 bit per dense weight
    (("--sparse-format", "2:4"), 1.125),                              # 2 of 4 kept, 2-bit index each: 0.5 x (2 + 0.25)
    (("--sparsity", "0.5", "--sparse-format", "2:4"), 1.125),
])
def test_memory_weights_under_each_format(flags, bytes_per_param):
    assert weights(*flags) == pytest.approx(P * bytes_per_param)


def test_csr_at_low_sparsity_costs_more_than_dense():
    # 0.2 pruned in CSR: 0.8 x 6 B = 4.8 B per weight, 2.4x dense: the index outweighs the values saved
    assert weights("--sparsity", "0.2", "--sparse-format", "csr") == pytest.approx(P * 4.8)


def test_run_and_compare_show_the_pruned_footprint():
    r = invoke("run", "--hw", "h100", "-w", "llama2-7b", "--sparsity", "0.5", "--sparse-format", "structured",
               "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["memory"]["per_device_bytes"]["weights"] == pytest.approx(P * 1.0)
    dense = json.loads(invoke("run", "--hw", "h100", "-w", "llama2-7b", "--format", "json").output)
    assert doc["total_time_s"] == dense["total_time_s"]        # the footprint changes, not the (dense) kernels
    r = invoke("compare", "--hw", "h100,a100", "-w", "llama2-7b", "--sparsity", "0.5", "--sparse-format", "structured",
               "--format", "json")
    assert r.exit_code == 0, r.output
    assert all(h["memory"]["per_device_bytes"]["weights"] == pytest.approx(P) for h in json.loads(r.stdout)["hardware"])


@pytest.mark.parametrize("value", ["", " ", "abc", "nan", "NaN", "inf", "-inf", "-0.1", "1", "1.0", "1.5", "100%",
                                   "-5%", "%", "1e400", "9" * 5000, "0x1p-1", "0.5.5", "1_0", "None", "[0.5]"])
def test_bad_sparsity_is_one_line(value):
    r = invoke("memory", "--hw", "h100", "-w", "llama2-7b", "--no-catalogue", "--sparsity", value)
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --sparsity: expected a fraction in [0, 1)"), r.output


@pytest.mark.parametrize("flags,message", [
    (("--sparse-format", "coo", "--sparsity", "0.5"),
     "error: sparse_format: expected one of structured, 2:4, csr, bitmask, found 'coo'"),
    (("--sparse-format", "", "--sparsity", "0.5"),
     "error: sparse_format: expected one of structured, 2:4, csr, bitmask, found ''"),
    (("--sparse-format", "csr"), "error: --sparsity: expected a fraction in [0, 1) with --sparse-format csr, found none"),
    (("--sparse-format", "2:4", "--sparsity", "0.3"),
     "error: sparsity: expected 0.5 with the 2:4 format (it keeps exactly 2 of every 4 weights), found 0.3"),
])
def test_bad_format_combinations_are_one_line(flags, message):
    for command in (("memory", "--no-catalogue"), ("run",), ("scale", "--devices", "1,2")):
        r = invoke(command[0], "--hw", "h100", "-w", "llama2-7b", *command[1:], *flags)
        assert r.exit_code == 2 and r.output.strip() == message, (command, r.output)


def test_python_refuses_the_same():
    from roofsim.errors import SpecError
    from roofsim.memory import footprint
    from roofsim.workloads import get_workload
    wl = get_workload("llama2-7b")
    for kwargs in ({"sparsity": float("nan")}, {"sparsity": True}, {"sparsity": "0.5"}, {"sparsity": 1.0},
                   {"sparsity": 0.3, "sparse_format": "2:4"}, {"sparsity": 0.5, "sparse_format": None}):
        with pytest.raises(SpecError):
            footprint(wl, **kwargs)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=40), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.floats(min_value=-2, max_value=200).map(lambda x: f"{x}%")),
       st.one_of(st.none(), st.sampled_from(["structured", "2:4", "csr", "bitmask"])))
def test_any_sparsity_text_is_a_valid_fraction_or_one_problem(text, fmt):
    """The parser behind --sparsity: any text gives a fraction in [0, 1) that footprint accepts,
    or a SpecError of exactly one problem that names --sparsity (or 2:4's rule)."""
    from roofsim.cli.layout import _pruning
    from roofsim.errors import SpecError
    from roofsim.memory import techniques_of
    try:
        out = _pruning(text, fmt)
        techniques_of(out)
    except SpecError as e:
        assert len(e.problems) == 1 and e.problems[0].path in ("--sparsity", "sparsity")
        return
    assert 0 <= out["sparsity"] < 1 and out["sparse_format"] == (fmt or "csr")
