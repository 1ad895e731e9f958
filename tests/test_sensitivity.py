"""Sensitivity: elasticities of runtime with the signs and sizes a roofline implies."""
import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.hw import get_hardware
from roofsim.ops import Workload, elementwise, gemm
from roofsim.sensitivity import sensitivity

# 1e9 bf16 elements in, 1e9 out: 4 GB through HBM, 1e9 vector FLOPs. On an H100 (ideal roofline)
# memory 4e9 / 3.35e12 = 1.19 ms against compute 1e9 / 133.8e12 = 7.5 us: memory-bound.
STREAM = Workload("stream", (elementwise("copy", 1e9, "bf16"),))
# 2 x 8192^3 = 1.1e12 bf16 FLOPs: 1.11 ms at 989.4 TFLOP/s, against 3 x 8192^2 x 2 B = 0.4 GB of
# compulsory HBM traffic (0.12 ms): compute-bound.
GEMM = Workload("gemm", (gemm("mm", 8192, 8192, 8192, "bf16"),))


def by_field(df):
    return df.set_index("field")


@pytest.fixture(scope="module")
def h100():
    return get_hardware("h100")


def _sens(h100, wl, ideal):
    return sensitivity(h100, [(wl, 1.0)], ideal=ideal)


def test_a_memory_bound_op_gains_from_bandwidth_not_flops(h100):
    df = by_field(_sens(h100, STREAM, ideal=True))
    # ideal roofline: t = bytes / bandwidth, so d ln t / d ln bw = -1 exactly and doubling halves t
    assert df.loc["memory.hbm.bandwidth", "elasticity"] == pytest.approx(-1.0, abs=1e-9)
    assert df.loc["memory.hbm.bandwidth", "speedup_2x"] == pytest.approx(2.0)
    assert df.loc["compute.vector.bf16", "elasticity"] == 0.0
    assert df.loc["compute.matrix.bf16", "elasticity"] == 0.0
    assert df.index[0] == "memory.hbm.bandwidth"   # ranked first


def test_a_compute_bound_gemm_gains_from_flops_not_bandwidth(h100):
    df = by_field(_sens(h100, GEMM, ideal=True))
    assert df.loc["compute.matrix.bf16", "elasticity"] == pytest.approx(-1.0, abs=1e-9)
    assert df.loc["memory.hbm.bandwidth", "elasticity"] == 0.0
    assert df.loc["compute.matrix.bf16", "speedup_2x"] == pytest.approx(2.0)


def test_with_the_kernel_model_the_round_trip_keeps_the_elasticity_just_above_minus_one(h100):
    # t = B / (bw x eff) + 1 us of memory latency: e = -(B / (bw x eff)) / t, a ~1.4 ms stream
    df = by_field(_sens(h100, STREAM, ideal=False))
    e = df.loc["memory.hbm.bandwidth", "elasticity"]
    assert -1.0 < e < -0.99


@pytest.mark.parametrize("step", ["0", "-0.1", "0.9", "nan", "inf"])
def test_bad_step_is_one_line(step):
    r = CliRunner().invoke(main, ["sensitivity", "--hw", "h100", "--workload", "llama2-7b", "--step", step])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output


def test_cli_ranks_hbm_first_for_a_decode_step():
    r = CliRunner().invoke(main, ["sensitivity", "--hw", "h100", "--workload", "llama2-7b"])
    assert r.exit_code == 0, r.output
    table = r.output.split("\n\n")[1].splitlines()
    assert table[2].startswith("memory.hbm.bandwidth")
