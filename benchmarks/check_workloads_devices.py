"""Every recommendation, graph and vision workload of issue #8 on every catalogue device, through
``roofsim run`` as a user calls it (in one process, so the cache model's traces are shared): each
pair runs, or says in one line that it cannot and why. A traceback, a non-finite time or a time
printed without saying where the footprint lives is a failure. Not a test (minutes); prints one
line per pair that is not a plain fit and a summary.

    python benchmarks/check_workloads_devices.py [--workloads a,b] [--cache-model mrc|compulsory]
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import time

WORKLOADS = ("dlrm", "dlrm-kaggle", "dlrm-benchmark", "dlrm-criteo-full", "gnn-sage-products", "gnn-gcn-cora",
             "gnn-gat-arxiv", "resnet50", "mobilenet-v2")


def outcome(doc: dict) -> str:
    """What a successful run says about memory: fits, tables in the far tier, does not fit, unknown."""
    m = doc["memory"]
    if not math.isfinite(doc["total_time_s"]):
        return "FAIL: non-finite time"
    if m["fits"] is None:
        return "capacity unknown"
    if m["fits"]:
        return "fits"
    tables = m.get("embedding_tables") or {}
    if tables.get("far_bytes") and not m["unplaced_bytes"]:
        return f"tables in {tables['far_tier']}"
    if "not a time this device can achieve" not in m["assumes"]:
        return "FAIL: does not fit but the time does not say so"
    return "does not fit (time said unachievable)"


def main() -> None:
    from click.testing import CliRunner
    from roofsim.cli import main as cli
    from roofsim.hw import list_hardware
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--cache-model", default="mrc")
    args = ap.parse_args()
    devices = [h.id for h in list_hardware()]
    runner = CliRunner()
    summary: dict = collections.defaultdict(collections.Counter)
    t0 = time.perf_counter()
    for wl in args.workloads.split(","):
        t1 = time.perf_counter()
        for hw in devices:
            r = runner.invoke(cli, ["run", "--hw", hw, "--workload", wl, "--format", "json",
                                    "--cache-model", args.cache_model])
            if r.exit_code == 0:
                what = outcome(json.loads(r.output))
            elif r.exit_code == 2:   # the CLI's one-line refusal
                what = "cannot run: " + r.output.strip().splitlines()[-1]
            else:
                what = f"FAIL: exit {r.exit_code}: {r.exception!r}"
            summary[wl][what.split(":")[0]] += 1
            if what != "fits":
                print(f"{wl:18s} {hw:28s} {what}")
        print(f"-- {wl}: {dict(summary[wl])} ({time.perf_counter() - t1:.1f} s)")
    fails = sum(c["FAIL"] for c in summary.values())
    print(f"{len(devices)} devices x {len(summary)} workloads in {time.perf_counter() - t0:.0f} s: {fails} failures")


if __name__ == "__main__":
    main()
