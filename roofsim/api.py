"""One-call Python entry points, mirroring the CLI (which is a thin layer over these)."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Mapping, Optional, Sequence, Union

from .specs import HardwareSpec

HardwareLike = Union[str, os.PathLike, HardwareSpec]


def _hardware(h: HardwareLike, overrides: Optional[Mapping[str, Any]]) -> HardwareSpec:
    from .hw import derive, get_hardware
    if isinstance(h, HardwareSpec):
        return derive(h, overrides, id=h.id, name=h.name, kind=h.kind, source=h.source) if overrides else h
    return get_hardware(h, overrides=overrides)


def run(hardware: Union[HardwareLike, Sequence[HardwareLike]], workload, *, ideal: bool = False,
        hw_overrides: Optional[Mapping[str, Any]] = None, wl_overrides: Optional[Mapping[str, Any]] = None,
        cache_model: str = "mrc", overhead: str = "kernel"):
    """``roofsim.run("a100", "dlrm")``: the per-op results DataFrame, as ``roofsim run`` prints it.

    ``hardware`` may be a name, a path, a spec, or a list of them (one DataFrame, a ``hardware``
    column tells them apart). ``workload`` may be a name, a path or a Workload.
    """
    from .roofline import to_frame
    return to_frame(query(hardware, workload, ideal=ideal, hw_overrides=hw_overrides,
                          wl_overrides=wl_overrides, cache_model=cache_model, overhead=overhead))


def query(hardware: Union[HardwareLike, Sequence[HardwareLike]], workload, *, ideal: bool = False,
          hw_overrides: Optional[Mapping[str, Any]] = None, wl_overrides: Optional[Mapping[str, Any]] = None,
          cache_model: str = "mrc", overhead: str = "kernel"):
    """The evaluation ``run`` tabulates, as arrays (a roofsim.roofline.Evaluation), without pandas:
    the fast path for many single queries. ``query("h100", "llama2-7b").total_time_s[0]`` is the
    sum of ``run``'s ``time_s`` column."""
    from .ops import Workload
    from .roofline import evaluate_arrays, require_distinct
    from .workloads import get_workload
    given = list(hardware) if isinstance(hardware, (list, tuple)) else [hardware]
    hws = [_hardware(h, hw_overrides) for h in given]
    require_distinct(hws, [h.id if isinstance(h, HardwareSpec) else str(h) for h in given])
    if isinstance(workload, Workload):
        wl = _rebuilt(workload, wl_overrides) if wl_overrides else workload
    else:
        wl = get_workload(workload, overrides=wl_overrides)
    return evaluate_arrays(hws, wl, ideal=ideal, predictor=predictor(cache_model), overhead=overhead)


def _rebuilt(workload, overrides: Mapping[str, Any]):
    """A built Workload with ``overrides`` applied: rebuilt from its file when it is exactly what
    that file builds (so no earlier override would be lost), else a clear error, never ignored."""
    from .errors import RoofsimError
    from .workloads import load_workload
    try:
        same = workload.file is not None and load_workload(workload.file) == workload
    except RoofsimError:  # the file changed or went away since
        same = False
    if same:
        return load_workload(workload.file, overrides)
    raise RoofsimError(
        f"wl_overrides: workload {workload.name!r} was built with other parameters or not from a file, so "
        f"{', '.join(map(str, overrides))} cannot be applied to it; pass its name or file, or build it with them")


def predictor(name: str):
    """None (compulsory traffic), or the cache model's MRC / simulation predictor.

    One predictor per model and process: its memo of (access, cache levels) -> misses then
    serves every later query, so a warm query does not rebuild the same trace and curve."""
    from .errors import RoofsimError
    if name == "compulsory":
        return None
    if name not in ("mrc", "simulate"):
        raise RoofsimError(f"cache model: expected compulsory, mrc or simulate, found {name!r}")
    return _shared_predictor(name)


@lru_cache(maxsize=None)
def _shared_predictor(name: str):
    from .cache.predictors import MRCPredictor, SimulationPredictor
    return MRCPredictor() if name == "mrc" else SimulationPredictor()
