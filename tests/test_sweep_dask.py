"""Sweeps on Dask (roofsim.dask_sweep): the same table as the local path, bit for bit; bad or
unreachable schedulers are one line and exit 2 within the connect timeout; dask stays optional."""
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.dask_sweep import check_scheduler, check_timeout, check_workers
from roofsim.errors import SpecError
from roofsim.sweep import CHUNK_POINTS, design_sweep

distributed = pytest.importorskip("distributed")

# Random points over four fields that move every part of the array model: HBM bandwidth, the
# bf16 peak, L2 capacity (GEMM tiling, the embedding gather's miss-ratio curve, the kernel
# model's residency) and HBM capacity (below the 50 MiB L2 a design is invalid; below the
# layer's footprint the rest spills to host memory).
VARY = ["memory.hbm.bandwidth=1TB/s:10TB/s:log", "compute.bf16=200TFLOP/s:4PFLOP/s:log",
        "memory.l2.capacity=16MiB:64MiB", "memory.hbm.capacity=20MB:100GB:log"]
# More points than one chunk, so the cluster runs several tasks and their order matters.
POINTS = 2 * CHUNK_POINTS + 123


@pytest.fixture(scope="module")
def cluster():
    # Threads in this process (processes=False): starts in well under a second; the tasks
    # still pickle nothing but run the same chunking and assembly as a multi-process cluster.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c


def sweep(**kw):
    return design_sweep("h100", "llama2-7b", VARY, method="random", samples=POINTS, seed=3,
                        wl_overrides={"layers": 1}, **kw)


def test_dask_and_local_sweeps_are_identical(cluster):
    local, remote = sweep(), sweep(scheduler=cluster.scheduler_address)
    assert list(remote.frame.columns) == list(local.frame.columns)
    for col in local.frame.columns:   # bit for bit: equal arrays, NaN where NaN
        a, b = local.frame[col].to_numpy(), remote.frame[col].to_numpy()
        assert (a == b).all() or (a.dtype.kind == "f" and np.array_equal(a, b, equal_nan=True)), col
    assert remote.infeasible == local.infeasible
    # HBM from 20 MB: some random points hold less than their L2 (invalid), some spill to the host
    assert local.infeasible.get("invalid design: a level not smaller than main memory", 0) > 0
    assert (local.frame["spilled_bytes"] > 0).any()
    assert int(remote.frame["pareto"].sum()) == int(local.frame["pareto"].sum()) > 0


def test_progress_reaches_every_point_on_dask(cluster):
    seen = []
    sweep(scheduler=cluster.scheduler_address, progress=lambda done, total: seen.append((done, total)))
    # three chunks: 16,384 + 16,384 + 123 points, reported as each one finishes
    assert len(seen) == 3 and seen[-1] == (POINTS, POINTS)
    assert sorted(d for d, _ in seen) == [d for d, _ in seen]


def test_cli_on_a_scheduler_writes_the_local_table(cluster, tmp_path):
    args = ["sweep", "--hw", "h100", "-w", "llama2-7b", "--set", "wl.layers=1", "--vary",
            "memory.hbm.bandwidth=1TB/s:8TB/s:5", "--vary", "compute.bf16=250TFLOP/s:2PFLOP/s:4"]
    runner = CliRunner()
    a = runner.invoke(main, args + ["-o", str(tmp_path / "local.csv")])
    b = runner.invoke(main, args + ["-o", str(tmp_path / "dask.csv"), "--scheduler", cluster.scheduler_address])
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert a.output.replace("local.csv", "X") == b.output.replace("dask.csv", "X")


@pytest.mark.parametrize("address,found", [
    ("nonsense", "'nonsense'"),
    ("http://10.0.0.5:8786", "'http://10.0.0.5:8786'"),      # a dashboard URL, not the scheduler
    ("tcp://10.0.0.5", "'tcp://10.0.0.5'"),                  # no port
    ("tcp://10.0.0.5:0", "'tcp://10.0.0.5:0'"),
    ("tcp://10.0.0.5:70000", "'tcp://10.0.0.5:70000'"),
    ("tcp://host name:8786", "'tcp://host name:8786'"),
    ("", "''"),
])
def test_bad_scheduler_addresses_are_refused_before_any_work(address, found):
    with pytest.raises(SpecError) as e:
        check_scheduler(address)
    assert str(e.value).startswith("--scheduler: expected ") and str(e.value).endswith(f"found {found}")


def test_good_scheduler_addresses():
    for a in ("tcp://10.0.0.5:8786", "tls://scheduler.example.org:8786", "tcp://[::1]:8786", "inproc://10.0.0.5/1/2"):
        assert check_scheduler(a) == a


@pytest.mark.parametrize("value", [0, -1, 1025, 2.5, True, "4"])
def test_bad_worker_counts(value):
    with pytest.raises(SpecError, match=r"^--workers: expected a number of local Dask workers from 1 to 1024"):
        check_workers(value)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), 1e9, True])
def test_bad_connect_timeouts(value):
    with pytest.raises(SpecError, match=r"^--connect-timeout: expected seconds"):
        check_timeout(value)


def run_cli(*extra):
    return CliRunner().invoke(main, ["sweep", "--hw", "h100", "-w", "llama2-7b", "--vary",
                                     "memory.hbm.bandwidth=1TB/s:8TB/s:3", *extra])


def test_an_unreachable_scheduler_is_one_line_within_the_timeout():
    # port 1 on this machine: nothing listens there; Dask retries until the timeout
    t = time.perf_counter()
    r = run_cli("--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1")
    took = time.perf_counter() - t
    assert r.exit_code == 2
    assert r.output == ("error: --scheduler: expected a Dask scheduler answering within 1 s, "
                        "found no answer from tcp://127.0.0.1:1\n")
    assert took < 1 + 10   # the timeout, plus building the sweep on a loaded machine


def test_scheduler_and_workers_together_are_refused():
    r = run_cli("--scheduler", "tcp://127.0.0.1:8786", "--workers", "2")
    assert r.exit_code == 2
    assert r.output == ("error: --scheduler/--workers: expected one of them: an existing scheduler, or a local "
                        "cluster of N workers, found --scheduler tcp://127.0.0.1:8786 and --workers 2\n")


def test_a_bad_scheduler_on_the_command_line_is_one_line():
    r = run_cli("--scheduler", "localhost")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "Traceback" not in r.output
    assert r.output.startswith("error: --scheduler: expected a Dask scheduler address")


def test_without_dask_the_options_say_how_to_install_it():
    # a fresh interpreter where importing distributed fails, as when the extra is not installed
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from roofsim.sweep import design_sweep\n"
            "from roofsim.errors import SpecError\n"
            "try:\n"
            "    design_sweep('h100', 'llama2-7b', ['memory.hbm.bandwidth=1TB/s:8TB/s:3'], workers=2)\n"
            "except SpecError as e:\n"
            "    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("--workers: expected Dask installed for a distributed sweep: pip install 'roofsim[dask]', "
                        "found no module distributed\n")


def test_importing_the_sweep_does_not_import_dask():
    code = "import sys, roofsim.sweep, roofsim.dask_sweep, roofsim.cli.sweep; print('dask' in sys.modules, 'distributed' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False False", r.stderr


def test_a_pickled_sweep_evaluates_the_same_points():
    # what a multi-process cluster does to the model: pickle it to every worker
    import pickle

    from roofsim.api import predictor
    from roofsim.hw import get_hardware
    from roofsim.sweep import CostModel, Sweep, parse_vary
    from roofsim.workloads import get_workload
    hw = get_hardware("h100")
    parsed = [parse_vary(v, hw) for v in VARY]
    X = np.array([[2e12, 5e14, 20 * 2**20, 1e11], [8e12, 2e15, 60 * 2**20, 3e8]])
    sw = Sweep(hw, [get_workload("llama2-7b", overrides={"layers": 1})], [p for p, _ in parsed],
               predictor=predictor("mrc"), first=X[0])
    cost = CostModel(sw, "memory_hbm_bandwidth / 1e12 + peak_bf16 / 1e15")
    sw2, cost2 = pickle.loads(pickle.dumps((sw, cost)))
    a, b = sw.evaluate(X), sw2.evaluate(X)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    # the user's cost expression at the first point: 2 TB/s / 1e12 + 0.5 PFLOP/s / 1e15 = 2.5
    assert cost2(X)[0] == cost(X)[0] == 2.5


def test_a_local_cluster_of_worker_processes(tmp_path):
    # --workers N starts N worker processes here (each imports roofsim), evaluates, stops them
    args = ["sweep", "--hw", "h100", "-w", "llama2-7b", "--set", "wl.layers=1",
            "--vary", "memory.hbm.bandwidth=1TB/s:8TB/s:3", "-o"]
    a = CliRunner().invoke(main, args + [str(tmp_path / "local.csv")])
    b = CliRunner().invoke(main, args + [str(tmp_path / "dask.csv"), "--workers", "1"])
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
