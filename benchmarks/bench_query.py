"""Single-query speed: warm queries/s through the API, and the wall time of a cold `roofsim run`.

    python benchmarks/bench_query.py [--hw h100] [--workload llama2-7b] [--queries 300] [--repeats 5]

Warm: ``roofsim.run(hw, workload)`` (the per-op DataFrame) and ``roofsim.query(hw, workload)``
(the same evaluation as arrays, no pandas) in one process after a first call (medians of
--repeats batches of --queries calls). "Uncached" clears the spec/workload/name caches before every call,
i.e. what every query cost before they existed (re-reading and re-validating the YAML); the ratio
of the two, measured in the same run, is the figure to compare on a noisy machine.
Cold: a fresh `roofsim run` process, wall time (median of --repeats).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def clear_caches() -> None:
    from roofsim import catalog, hw, roofline, workloads
    for cache in (hw._SPECS, workloads._WORKLOADS, catalog._RESOLVED):
        cache.clear()
    roofline._TABLES.clear()


def per_query_s(fn, queries: int, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(queries):
            if before:
                before()
            fn()
        times.append((time.perf_counter() - t) / queries)
    return statistics.median(times)


def compile_bytecode() -> None:
    """Write roofsim's bytecode, as pip does when it installs a package: where
    PYTHONDONTWRITEBYTECODE is set (this machine) a source checkout would otherwise recompile
    every module in every cold process (~0.3 s), which no installed roofsim does."""
    import compileall
    import roofsim
    compileall.compile_dir(os.path.dirname(roofsim.__file__), quiet=1)


def cold_run_s(args, extra=()) -> float:
    cmd = [sys.executable, "-m", "roofsim", "run", "--hw", args.hw, "--workload", args.workload, *extra]
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", default="h100")
    ap.add_argument("--workload", default="llama2-7b")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import roofsim
    query = lambda: roofsim.run(args.hw, args.workload)  # noqa: E731
    query()  # load modules, warm every cache
    warm = per_query_s(query, args.queries, args.repeats)
    uncached = per_query_s(query, max(args.queries // 10, 10), args.repeats, before=clear_caches)
    print(f"{args.workload} on {args.hw}, roofsim.run (DataFrame result)")
    print(f"  warm:     {warm * 1e3:.3f} ms/query = {1 / warm:,.0f} queries/s (goal >= 1,000)")
    print(f"  uncached: {uncached * 1e3:.3f} ms/query = {1 / uncached:,.0f} queries/s "
          f"(caches cleared before each query; warm is {uncached / warm:.1f}x faster)")
    fast = per_query_s(lambda: roofsim.query(args.hw, args.workload), args.queries, args.repeats)
    print(f"{args.workload} on {args.hw}, roofsim.query (arrays, no pandas)")
    print(f"  warm:     {fast * 1e3:.3f} ms/query = {1 / fast:,.0f} queries/s (goal >= 1,000)")
    compile_bytecode()
    print(f"cold `roofsim run` (new process): {cold_run_s(args):.3f} s (goal < 0.7 s); "
          f"--cache-model compulsory: {cold_run_s(args, ['--cache-model', 'compulsory']):.3f} s")


if __name__ == "__main__":
    main()
