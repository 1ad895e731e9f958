"""benchmarks/measure_gpu.py without a GPU: its kernel list, statistics and rows (torch is only
needed by its main, which runs on a lent GPU)."""
import importlib.util
import sys
from pathlib import Path

import pytest

from roofsim.measure.records import load_measurements

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "measure_gpu.py"


@pytest.fixture(scope="module")
def gpu():
    spec = importlib.util.spec_from_file_location("measure_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure_gpu"] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["measure_gpu"]


def test_the_statistics_are_the_median_and_the_interquartile_spread(gpu):
    # 1..9 us: median 5 us; quartiles (exclusive method) 2.5 and 7.5 us -> spread 5 / 5 = 1.0
    med, spread = gpu.summarise([i * 1e-6 for i in range(1, 10)])
    assert med == pytest.approx(5e-6) and spread == pytest.approx(1.0)
    assert gpu.summarise([3e-6]) == (3e-6, 0.0)
    with pytest.raises(ValueError):
        gpu.summarise([])


def test_every_kernel_becomes_a_row_that_roofsim_loads_with_its_shape(gpu, tmp_path):
    ks = gpu.kernels()
    assert len({k.name for k in ks}) == len(ks)                        # names are unique
    assert {k.category for k in ks} == {"gemm", "gemm-batched", "softmax", "layernorm", "rmsnorm", "add", "gelu",
                                        "embedding"}
    assert len(gpu.kernels(quick=True)) == (len(ks) + 3) // 4
    meta = dict(source="test", gpu="NVIDIA H100 80GB HBM3", date="2026-12-02", library="torch x")
    rows = [gpu.row(k, [2e-5, 1e-5, 3e-5], "h100-sxm5", meta) for k in ks]
    path = tmp_path / "g.csv"
    gpu.write(str(path), rows)
    ms = {m.name: m for m in load_measurements(path)}
    assert len(ms) == len(ks) and all(m.time_s == pytest.approx(2e-5) and m.timing == "kernel" for m in ms.values())
    # a 4096 x 12288 x 4096 bf16 GEMM: 2 x 4096 x 12288 x 4096 FLOPs
    g = ms["gemm/bf16/m4096xn12288xk4096"]
    assert g.ops[0].flops[0].flops == 2 * 4096 * 12288 * 4096
    # a batched 8 x (512 x 512 x 128) GEMM: 8 x 2 x 512 x 512 x 128 FLOPs
    b = ms["gemm-batched/bf16/m512xn512xk128xbatch8"]
    assert b.ops[0].flops[0].flops == 8 * 2 * 512 * 512 * 128
    # a 2^22-element bf16 add reads two 8 MiB inputs and writes one
    add = ms["add/bf16/elements4194304xinputs2xoutputs1xflops_per_element1"]
    assert sum(t.bytes for t in add.ops[0].reads) == 2 * 2 ** 22 * 2
    assert sum(t.bytes for t in add.ops[0].writes) == 2 ** 22 * 2
    # gathers stay within 8 GB tables: 1M rows x 4096 x 2 B = 8 GiB is in, nothing larger
    assert max(k.shape["table_rows"] * k.shape["row_bytes"] for k in ks if k.kind == "gather") <= 2 ** 33


def _exit(gpu, capsys, *argv):
    with pytest.raises(SystemExit) as e:
        gpu.main(list(argv))
    return e.value.code, capsys.readouterr().err.strip().splitlines()[-1]


def test_bad_arguments_are_refused_before_any_measuring(gpu, capsys, tmp_path):
    out = str(tmp_path / "g.csv")
    code, err = _exit(gpu, capsys, "--device-id", "h100-sxm5", "-o", out, "--repeats", "0")
    assert code == 2 and err.endswith("argument --repeats: expected a whole number from 1 to 10000, found '0'")
    code, err = _exit(gpu, capsys, "--device-id", "h100-sxm5", "-o", out, "--warmup", "1e9")
    assert code == 2 and err.endswith("argument --warmup: expected a whole number from 0 to 10000, found '1e9'")
    code, err = _exit(gpu, capsys, "--device-id", "no-such-gpu", "-o", out)
    assert code == 2 and err.endswith("--device-id 'no-such-gpu': not a catalogue device (roofsim hw list)")
    code, err = _exit(gpu, capsys, "--device-id", "h100", "-o", str(tmp_path))
    assert code == 2 and err.endswith(f"--output {tmp_path}: cannot write: a folder")
    code, err = _exit(gpu, capsys, "--device-id", "h100", "-o", str(tmp_path / "no" / "g.csv"))
    assert code == 2 and "cannot write: no such folder" in err


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_without_torch_it_says_what_to_install(gpu, capsys, tmp_path):
    code, err = _exit(gpu, capsys, "--device-id", "h100-sxm5", "-o", str(tmp_path / "g.csv"))
    assert code == 2 and err.endswith("needs PyTorch with CUDA: pip install -e '.[gpu]'")
    assert not (tmp_path / "g.csv").exists()


def test_rows_are_written_through_a_symlink_and_unknown_columns_refused(gpu, tmp_path):
    from roofsim.errors import RoofsimError
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    target.write_text("old\n")
    link.symlink_to(target)
    meta = dict(source="test", gpu="g", date="2026-12-02", library="torch x")
    k = gpu.kernels()[0]
    gpu.write(str(link), [gpu.row(k, [1e-5], "h100-sxm5", meta)])
    assert link.is_symlink() and len(load_measurements(target)) == 1     # the link stays a link
    with pytest.raises(RoofsimError, match="bogus not among the columns"):
        gpu.write(str(tmp_path / "x.csv"), [{**gpu.row(k, [1e-5], "h100-sxm5", meta), "bogus": 1}])
    assert not (tmp_path / "x.csv").exists()
