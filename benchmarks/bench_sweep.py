"""Sweep speed: design points per second for one Transformer layer's ops.

    python benchmarks/bench_sweep.py [--points 1000000] [--hw h100] [--workload llama2-7b] [--repeats 3]

A random sweep (seeded) over four fields at once: HBM bandwidth, the bf16 peak, L2 capacity (it
moves the GEMM tiling, the gather's miss-ratio curve and the kernel model's residency) and
scratchpad bandwidth, on one layer of the workload (``layers=1``: 14 ops for Llama-2 7B
decode). Prints the wall time of roofsim.sweep.design_sweep (sampling, evaluation, cost, Pareto
front and the results DataFrame, not writing a file) and points/s, median of --repeats.
Goal: 1,000,000 points in under 30 s on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

VARY = ["memory.hbm.bandwidth=1TB/s:10TB/s:log", "compute.bf16=200TFLOP/s:4PFLOP/s:log",
        "memory.l2.capacity=8MiB:512MiB:log", "memory.smem.bandwidth=10TB/s:100TB/s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--hw", default="h100")
    ap.add_argument("--workload", default="llama2-7b")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from roofsim.sweep import design_sweep
    from roofsim.workloads import get_workload

    ops = len(get_workload(args.workload, overrides={"layers": 1}).ops)
    run = lambda n: design_sweep(args.hw, args.workload, VARY, method="random", samples=n, seed=1,  # noqa: E731
                                 wl_overrides={"layers": 1})
    run(1000)  # imports, catalogue fit, the JIT-loaded miss-ratio curve: not what is measured
    times, cpu = [], []
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        result = run(args.points)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    wall = statistics.median(times)
    print(f"{args.points:,} design points x {ops} ops of one {args.workload} layer on {args.hw} variants "
          f"({len(VARY)} fields, random): {wall:.2f} s = {args.points / wall:,.0f} points/s "
          f"(goal < 30 s); {int(result.frame['pareto'].sum())} on the Pareto front")
    # The first repeat builds the miss-ratio curves of the warm-ups the 1,000-point run did not
    # need; CPU time (all threads) shows the work apart from waiting for a shared machine's cores.
    print(f"  each repeat: {', '.join(f'{w:.2f} s' for w in times)} wall; "
          f"{', '.join(f'{c:.2f} s' for c in cpu)} CPU; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
