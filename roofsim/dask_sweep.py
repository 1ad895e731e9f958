"""Sweeps on Dask: the chunks of roofsim.sweep.run_sweep evaluated by a Dask cluster.

A sweep too large for one machine's cores is cut into the same chunks the local path uses
(roofsim.sweep.chunks); the Sweep and its CostModel travel to every worker once (scattered,
broadcast), each chunk is one task, and the chunks come back in order, so the assembled table
(Pareto front, infeasible counts) equals the local one bit for bit. The cluster is an existing
scheduler (``tcp://HOST:PORT``; every worker needs the same roofsim installed) or a local one of
N worker processes (one thread each: the evaluation is numpy, which holds the GIL between calls).

Dask is an optional extra (``pip install 'roofsim[dask]'``), imported here only and only when a
sweep asks for it; this is the one module that imports dask or distributed
(tests/test_import_edges.py).
"""
from __future__ import annotations

import logging
import math
import re
from typing import Callable, Optional, Sequence

import numpy as np

from .errors import Problem, SpecError

# Schemes a Dask client can reach: tcp (plain), tls (needs a security config, which the client
# reads from dask's own configuration), inproc (a cluster inside this process: tests, notebooks).
SCHEMES = ("tcp", "tls", "inproc")
_ADDRESS = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:(?P<port>\d{1,5}))?(/[\w./-]*)?$")
MAX_WORKERS = 1024            # a local cluster's worker processes: far beyond any one machine's cores
DEFAULT_CONNECT_TIMEOUT_S = 10.0


def check_scheduler(address: str) -> str:
    """A scheduler address as Dask writes it (``tcp://10.0.0.5:8786``), checked without dask."""
    text = str(address).strip()
    m = _ADDRESS.match(text)
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    if not m or m.group("scheme") not in SCHEMES:
        raise SpecError(Problem(None, "--scheduler", "a Dask scheduler address SCHEME://HOST:PORT with SCHEME "
                                + " or ".join(SCHEMES) + ", e.g. tcp://10.0.0.5:8786", shown))
    port = m.group("port")
    if m.group("scheme") != "inproc" and (port is None or not 1 <= int(port) <= 65535):
        raise SpecError(Problem(None, "--scheduler", "a port from 1 to 65535, e.g. tcp://10.0.0.5:8786", shown))
    return text


def check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= MAX_WORKERS:
        raise SpecError(Problem(None, "--workers", f"a number of local Dask workers from 1 to {MAX_WORKERS}",
                                repr(workers)))
    return int(workers)


def check_timeout(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (0 < seconds <= 3600
                                                                                 and math.isfinite(seconds)):
        raise SpecError(Problem(None, "--connect-timeout", "seconds, more than 0 and at most 3600", repr(seconds)))
    return float(seconds)


def require_dask(where: str) -> None:
    """Dask's distributed scheduler importable, else one line that says how to install it."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise SpecError(Problem(None, where, "Dask installed for a distributed sweep: pip install 'roofsim[dask]'",
                                "no module distributed")) from None


def evaluate_chunks(sweep, cost, X: np.ndarray, bounds: Sequence[tuple[int, int]], *,
                    scheduler: Optional[str] = None, workers: Optional[int] = None,
                    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
                    progress: Optional[Callable[[int, int], None]] = None) -> list[dict]:
    """roofsim.sweep.evaluate_chunk of every chunk ``X[lo:hi]`` on a Dask cluster, in order."""
    where = "--scheduler" if scheduler is not None else "--workers"
    if (scheduler is None) == (workers is None):
        raise SpecError(Problem(None, "--scheduler/--workers", "one of them", "both" if scheduler else "neither"))
    if scheduler is not None:
        scheduler = check_scheduler(scheduler)
    else:
        workers = check_workers(workers)
    connect_timeout = check_timeout(connect_timeout)
    require_dask(where)
    from distributed import Client, LocalCluster, as_completed

    from .sweep import evaluate_chunk

    cluster = None
    try:
        if workers is not None:
            # the dashboard on any free port: 8787 may be taken by another cluster on this machine
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
            scheduler = cluster.scheduler_address
        try:
            client = Client(scheduler, timeout=f"{connect_timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as e:   # refused, unknown host, no answer within the timeout
            raise SpecError(Problem(None, "--scheduler", f"a Dask scheduler answering within {connect_timeout:g} s",
                                    _reason(e, scheduler))) from None
        with client:
            [model] = client.scatter([(sweep, cost)], broadcast=True, hash=False)
            futures = [client.submit(_evaluate, model, X[lo:hi], evaluate_chunk, pure=False) for lo, hi in bounds]
            size = {f.key: hi - lo for f, (lo, hi) in zip(futures, bounds)}   # a lookup, not futures.index: O(n)
            done = 0
            for future in as_completed(futures, loop=client.loop):
                if progress:
                    done += size[future.key]
                    progress(done, X.shape[0])
            return client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()


def _evaluate(model, X, evaluate_chunk):
    sweep, cost = model
    return evaluate_chunk(sweep, cost, X)


def _reason(e: BaseException, address: str) -> str:
    """What went wrong connecting, in one line (Dask's own message repeats the address)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, TimeoutError) or text.startswith("Timed out"):
        return f"no answer from {address}"
    return f"{address}: {text if len(text) <= 160 else text[:157] + '...'}"
