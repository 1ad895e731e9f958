"""Engine speed figures (not a test): CLI wall times and vectorised evaluations per second.

    python benchmarks/bench_engine.py [--repeats 5]

Prints medians of repeats. Compare figures as ratios within one run: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def wall(cmd: list[str], repeats: int) -> float:
    return timed(cmd, repeats)[0]


def timed(cmd: list[str], repeats: int) -> tuple[float, float]:
    """Medians of (wall seconds, CPU seconds of the child: user + system). On a shared machine
    the CPU seconds are the figure to compare; the wall also counts other processes' turns."""
    times, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times), statistics.median(cpus)


def evaluations_per_second(n_ops: int, n_hw: int, repeats: int) -> tuple[float, float]:
    from roofsim.hw import derive, get_hardware
    from roofsim.ops import custom, elementwise, gemm
    from roofsim.roofline import evaluate_arrays
    rng = np.random.default_rng(0)
    base = [get_hardware(n) for n in ("a100", "h100", "mi300x", "tpu-v4")]
    t0 = time.perf_counter()
    hws = [derive(base[i % 4], {"memory.hbm.bandwidth": float(rng.uniform(1e12, 8e12))}, id=f"hyp-{i}")
           for i in range(n_hw)]
    setup = time.perf_counter() - t0
    ops = []
    for i in range(n_ops):
        k = i % 3
        if k == 0:
            m, n, kk = (int(x) for x in 2 ** rng.integers(0, 14, 3))
            ops.append(gemm(f"g{i}", m, n, kk, "bf16"))
        elif k == 1:
            ops.append(elementwise(f"e{i}", int(2 ** rng.integers(10, 28)), "bf16"))
        else:
            ops.append(custom(f"c{i}", flops=float(10 ** rng.uniform(6, 12)), dtype="bf16", bytes=float(10 ** rng.uniform(4, 10))))
    evaluate_arrays(hws[:2], ops[:2])  # warm imports
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate_arrays(hws, ops)
        times.append(time.perf_counter() - t0)
    return n_ops * n_hw / statistics.median(times), setup


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    exe = [sys.executable, "-m", "roofsim"]
    roofsim = os.path.join(os.path.dirname(sys.executable), "roofsim")
    if os.path.exists(roofsim):
        exe = [roofsim]
    print(f"roofsim --help (median of {args.repeats}): {wall(exe + ['--help'], args.repeats):.3f} s")
    w, c = timed(exe + ['run', '--hw', 'a100', '--workload', 'dlrm'], args.repeats)
    print(f"roofsim run --hw a100 --workload dlrm (default cache model mrc; median of {args.repeats}): "
          f"{w:.3f} s wall, {c:.3f} s CPU")
    w, c = timed(exe + ['run', '--hw', 'a100', '--workload', 'dlrm', '--cache-model', 'compulsory'], args.repeats)
    print(f"roofsim run ... --cache-model compulsory (no numba; median of {args.repeats}): {w:.3f} s wall, {c:.3f} s CPU")
    from roofsim.hw import list_hardware
    every = ",".join(h.id for h in list_hardware())
    w, c = timed(exe + ['compare', '--hw', every, '--workload', 'dlrm-kaggle'], max(1, args.repeats // 2))
    print(f"roofsim compare --hw <all {every.count(',') + 1} catalogue devices> --workload dlrm-kaggle "
          f"(median of {max(1, args.repeats // 2)}): {w:.2f} s wall, {c:.2f} s CPU")
    rate, setup = evaluations_per_second(1000, 1000, args.repeats)
    print(f"vectorised evaluation, 1000 ops x 1000 devices (median of {args.repeats}): {rate / 1e6:.2f} M evaluations/s "
          f"(building the 1000 derived specs took {setup:.2f} s, not counted)")


if __name__ == "__main__":
    main()
