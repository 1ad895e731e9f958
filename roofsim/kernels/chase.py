"""Pointer chasing: the load-to-use latency of a memory level (roofsim/measure/probe.py).

Each load's address is the value of the previous load, so no two loads overlap: the time per
step is the latency of wherever the chain's lines live. The chain is built outside (a random
cycle over cache lines, so hardware prefetchers cannot guess the next line).
"""
import numpy as np
from numba import njit

from .config import NJIT


@njit(**NJIT)
def chase(nxt: np.ndarray, start: int, steps: int) -> int:
    """Follow ``nxt`` from ``start`` for ``steps`` loads; returns the final index (so the loop
    cannot be optimised away)."""
    i = start
    for _ in range(steps):
        i = nxt[i]
    return i
