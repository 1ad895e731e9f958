"""`roofsim cache simulate` through the command line: the simulation's own rate, as its JSON
reports it (kernel load timed apart), against the in-process Hierarchy on the same trace, and
the peak memory of an HBM-sized outer level.

    python benchmarks/bench_cache_cli.py [--n 10000000] [--repeats 5] [--against DIR]
                                         [--write-results]

Trace: 8-byte accesses uniformly over 64 MiB (seeded), saved as .npy. Hierarchy: 32 KiB 8-way +
1 MiB 16-way + 32 MiB 16-way, 64 B LRU (issue 14's target: 30 M accesses/s through the CLI on
the 2-core machine); then the same plus an 80 GiB 16-way level (a dense layout would need
80 GiB / 64 B x 9 B = 11 GB of state). Each CLI run is a fresh process; figures are medians.

--against DIR: also run the code of another checkout (e.g. `git worktree add /tmp/old main`),
alternating with this one repeat by repeat, so that the ratio new / old of each figure comes
from one run on the shared, noisy machine. The in-process figure of each checkout is measured
in a child process of its own (median of 3 feeds, CPU time beside wall time). The load average
is printed beside the figures.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, ROOT)

from results_md import replace_section  # noqa: E402
from roofsim.cache import traces  # noqa: E402

THREE = ("32KiB,8,64,lru", "1MiB,16,64,lru", "32MiB,16,64,lru")
HBM = THREE + ("80GiB,16,64,lru",)
CHILD = ("import json, resource, sys\nfrom roofsim.cli import main\n"
         "try:\n    main(sys.argv[1:], standalone_mode=False)\nfinally:\n"
         "    print(json.dumps({'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}),"
         " file=sys.stderr)\n")
# In-process rate of one checkout: Hierarchy.feed of the whole trace, after a small feed that
# loads the kernel; wall and CPU seconds of each of 3 feeds (medians taken by the caller).
IN_PROCESS = """
import json, sys, time
import numpy as np
import roofsim
from roofsim.cache.config import CacheLevelConfig
from roofsim.cache.simulator import Hierarchy
addrs = np.load(sys.argv[1])
h = Hierarchy([CacheLevelConfig.parse(s) for s in sys.argv[2:]])
h.feed(addrs[:1000])
times = []
for _ in range(3):
    h.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    h.feed(addrs)
    times.append((time.perf_counter() - wall, time.process_time() - cpu))
print(json.dumps({"times": times, "module": roofsim.__file__}))
"""


def in_tree(tree: str) -> dict:
    """subprocess.run arguments that make a child import `tree`'s roofsim: its folder first on
    the path (python -c puts the working folder before PYTHONPATH, so that is set too)."""
    return {"cwd": tree, "env": dict(os.environ, PYTHONPATH=tree)}


def cli_run(tree: str, trace: str, levels) -> dict:
    args = ["cache", "simulate", "--trace", trace, "--format", "json"]
    for lv in levels:
        args += ["--level", lv]
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, *args], check=True, capture_output=True,
                         text=True, **in_tree(tree))
    doc = json.loads(out.stdout)
    doc["process_seconds"] = time.perf_counter() - t
    doc["maxrss_kib"] = json.loads(out.stderr.strip().splitlines()[-1])["maxrss_kib"]
    return doc


def in_process_rates(tree: str, trace: str, levels, n: int) -> tuple[float, float]:
    """(wall, CPU) accesses/s of Hierarchy.feed in a child process running `tree`'s code."""
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, trace, *levels], check=True,
                         capture_output=True, text=True, **in_tree(tree))
    doc = json.loads(out.stdout)
    if not doc["module"].startswith(tree + os.sep):  # the checkout really measured
        raise SystemExit(f"{tree}: the child imported {doc['module']}")
    times = doc["times"]
    return (n / statistics.median(t[0] for t in times),
            n / statistics.median(t[1] for t in times))


def measure(trees: dict[str, str], path: str, n: int, repeats: int) -> dict[str, dict]:
    """Every figure of every checkout, repeat by repeat in alternation."""
    runs = {name: {"cli": [], "hbm": [], "wall": [], "cpu": []} for name in trees}
    for i in range(repeats):
        for name, tree in trees.items():
            r = runs[name]
            r["cli"].append(cli_run(tree, path, THREE))
            wall, cpu = in_process_rates(tree, path, THREE, n)
            r["wall"].append(wall)
            r["cpu"].append(cpu)
            if i < max(1, repeats // 2):
                r["hbm"].append(cli_run(tree, path, HBM))
    out = {}
    for name, r in runs.items():
        out[name] = {
            "cli": statistics.median(d["accesses_per_s"] for d in r["cli"]),
            "cli_all": [d["accesses_per_s"] for d in r["cli"]],
            # the CLI's CPU-time rate, where its JSON has cpu_seconds (older checkouts do not)
            "cli_cpu": (statistics.median(d["accesses"] / d["cpu_seconds"] for d in r["cli"])
                        if all("cpu_seconds" in d for d in r["cli"]) else None),
            "load": statistics.median(d["kernel_load_seconds"] for d in r["cli"]),
            "process": statistics.median(d["process_seconds"] for d in r["cli"]),
            "rss": max(d["maxrss_kib"] for d in r["cli"]) / 1024,
            "wall": statistics.median(r["wall"]),
            "cpu": statistics.median(r["cpu"]),
            "hbm": statistics.median(d["accesses_per_s"] for d in r["hbm"]),
            "hbm_rss": max(d["maxrss_kib"] for d in r["hbm"]) / 1024,
        }
    return out


def describe(name: str, f: dict, repeats: int) -> list[str]:
    every = ", ".join(f"{x / 1e6:.1f}" for x in f["cli_all"])
    cpu = f", {f['cli_cpu'] / 1e6:.1f} M/s CPU time" if f["cli_cpu"] else ""
    return [
        f"{name}: 3 levels through the CLI {f['cli'] / 1e6:.1f} M accesses/s wall{cpu} "
        f"(simulation only; median of {repeats} processes: {every}), kernel load "
        f"{f['load']:.2f} s apart, whole process {f['process']:.2f} s, peak RSS "
        f"{f['rss']:.0f} MiB",
        f"{name}: 3 levels in-process (Hierarchy.feed of the whole array) {f['wall'] / 1e6:.1f} "
        f"M/s wall, {f['cpu'] / 1e6:.1f} M/s CPU time (CLI / in-process wall = "
        f"{f['cli'] / f['wall']:.2f})",
        f"{name}: + 80 GiB 16-way level through the CLI {f['hbm'] / 1e6:.1f} M/s, peak RSS "
        f"{f['hbm_rss']:.0f} MiB",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--against", metavar="DIR", help="another checkout to compare with (A/B)")
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    trees = {"this": ROOT}
    if args.against:
        trees["against"] = os.path.abspath(args.against)
    load_before = os.getloadavg()[0]
    addrs = traces.uniform(args.n, 64 << 20, 8, seed=0).addrs
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "uniform.npy")
        np.save(path, addrs)
        figures = measure(trees, path, args.n, args.repeats)
    load_after = os.getloadavg()[0]
    lines = []
    for name, f in figures.items():
        lines += describe(name if args.against else "3 levels", f, args.repeats)
    if args.against:
        new, old = figures["this"], figures["against"]
        lines.append("this / against: CLI " + ", in-process wall ".join(
            f"{new[k] / old[k]:.2f}x" for k in ("cli", "wall")) +
            f", in-process CPU {new['cpu'] / old['cpu']:.2f}x, 80 GiB level "
            f"{new['hbm'] / old['hbm']:.2f}x")
    lines.append(f"load average {load_before:.1f} before, {load_after:.1f} after (2 cores)")
    print("\n".join(lines))
    if args.write_results:
        write_results(lines, args, figures["this"]["cli"], max(load_before, load_after))


def write_results(lines, args, cli: float, load: float) -> None:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:15]
    verdict = ("meets" if cli >= 30e6 else "does NOT meet") + " the 30 M accesses/s target"
    if load > 2:  # more runnable processes than the 2 cores: the figures say little
        verdict += (f", but the machine was shared (load average {load:.1f} on 2 cores), so this "
                    "run does not show what the code reaches: rerun on an idle machine")
    against = f" --against {args.against}" if args.against else ""
    section = "\n".join([
        "## Cache simulation through the CLI (issue 14)", "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC with "
        f"`python benchmarks/bench_cache_cli.py --n {args.n} --repeats {args.repeats}{against} "
        f"--write-results` ({args.n:,} uniform accesses over 64 MiB; 32 KiB/8 + 1 MiB/16 + "
        f"32 MiB/16, 64 B LRU). The CLI {verdict}.", "",
        *[f"- {line}" for line in lines], "", "```", os.uname().sysname + " " + os.uname().release
        + " " + os.uname().machine, *lscpu, "```", ""])
    replace_section("## Cache simulation through the CLI", section)


if __name__ == "__main__":
    main()
