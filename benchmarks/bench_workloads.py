"""Warm time of roofsim.run for the recommendation, graph and vision workloads (median of 3, CPU
seconds of this process and wall seconds), after one untimed run that loads numba and fills caches
of other workloads (not these: each timed run starts with a fresh cache predictor).

    python benchmarks/bench_workloads.py
"""
import statistics
import time

from roofsim.api import run
from roofsim.cache.predictors import MRCPredictor


def main():
    run("a100", "gnn-gcn-cora")   # JIT load
    for wl in ("dlrm", "dlrm-criteo-full", "gnn-sage-products", "gnn-gat-arxiv", "resnet50"):
        cpu, wall = [], []
        for _ in range(3):
            c, w = time.process_time(), time.perf_counter()
            from roofsim.roofline import evaluate
            from roofsim.hw import get_hardware
            from roofsim.workloads import get_workload
            evaluate(get_hardware("a100"), get_workload(wl), predictor=MRCPredictor())
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
        print(f"{wl:20s} cpu {statistics.median(cpu):6.2f} s   wall {statistics.median(wall):6.2f} s")


if __name__ == "__main__":
    main()
