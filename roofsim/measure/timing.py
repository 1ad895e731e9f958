"""Timing a call like an experimentalist: medians of repeats, the spread beside them, and BLAS
threads under control.

The machine roofsim runs on is usually shared: a median of at least 7 repeats resists the odd
slow one, and the relative interquartile range says how much to trust it. Short calls are
batched so that one sample lasts long enough for the clock (``min_sample_s``).

Single-threaded work is timed by default with the process's CPU time (``clock="cpu"``): on a
busy machine the wall clock also counts the time other processes held the core, which has
nothing to do with the kernel (they still evict its caches, which CPU time does pay for).
Multi-threaded work needs the wall clock (``clock="wall"``).
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


@dataclass(frozen=True)
class Timing:
    median_s: float      # per call
    spread: float        # (q75 - q25) / median of the per-call samples
    samples: int
    calls_per_sample: int


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def calls_per_sample(fn: Callable[[], object], min_sample_s: float, clock: str = "cpu") -> int:
    """Call ``fn`` once to warm it up (first-touch page faults, lazy loading, caches), then find
    how many back-to-back calls make a sample of at least ``min_sample_s``."""
    now = CLOCKS[clock]
    fn()
    calls = 1
    while True:
        t0 = now()
        for _ in range(calls):
            fn()
        dt = now() - t0
        if dt >= min_sample_s or calls >= 1 << 16:
            return calls
        calls = min(1 << 16, calls * max(2, int(min_sample_s / max(dt, 1e-9) * 1.2)))


def sample(fn: Callable[[], object], calls: int, clock: str = "cpu") -> float:
    """Seconds per call of ``calls`` back-to-back calls."""
    now = CLOCKS[clock]
    t0 = now()
    for _ in range(calls):
        fn()
    return (now() - t0) / calls


def summarise(samples, calls: int) -> Timing:
    """The median of per-call samples and their relative interquartile range."""
    import numpy as np  # not at import: pin_blas_env must be able to run before numpy loads
    s = np.asarray(samples, float)
    med = float(np.median(s))
    q25, q75 = np.percentile(s, [25, 75])
    return Timing(med, float((q75 - q25) / med) if med > 0 else 0.0, len(s), calls)


def time_call(fn: Callable[[], object], repeats: int = 7, min_sample_s: float = 2e-4,
              setup: Optional[Callable[[], object]] = None, clock: str = "cpu") -> Timing:
    """Median time of ``fn()`` over ``repeats`` samples; ``setup`` (untimed) runs before each sample."""
    if setup:
        setup()
    calls = calls_per_sample(fn, min_sample_s, clock)
    samples = []
    for _ in range(repeats):
        if setup:
            setup()
        samples.append(sample(fn, calls, clock))
    return summarise(samples, calls)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_controllable() -> bool:
    """True when the BLAS thread count can be set at run time (threadpoolctl is installed)."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def blas_threads(n: int):
    """Run the body with ``n`` BLAS threads (threadpoolctl when installed; else the thread count
    fixed when numpy loaded, which roofsim's CLI sets to 1 for measurements: see pin_blas_env)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield True


def pin_blas_env(n: int = 1) -> None:
    """Ask BLAS libraries for ``n`` threads through the environment. Effective only before numpy
    is first imported; the fallback when threadpoolctl is not installed."""
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, str(n))
