"""Public workload API: load by name or path (YAML, or a Hugging Face config.json), list them."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from . import catalog
from .filecache import StampedCache, freeze, stamp
from .loader import read_yaml
from .ops import Workload, build_workload

SUFFIXES = (".yaml", ".yml", ".json")


def get_workload(name: str | os.PathLike, wl_path: Sequence[os.PathLike | str] = (),
                 overrides: Optional[Mapping[str, Any]] = None, where: str = "wl") -> Workload:
    """A workload by name or path; ``overrides`` of its parameters are named ``{where}.KEY`` in
    errors (the CLI passes ``--set wl``)."""
    path = catalog.resolve(str(name), "workloads", wl_path, suffixes=SUFFIXES)
    return load_workload(path, overrides, where)


# Built workloads by (file, overrides); see roofsim/filecache.py.
_WORKLOADS = StampedCache()


def load_workload(path: os.PathLike | str, overrides: Optional[Mapping[str, Any]] = None,
                  where: str = "wl") -> Workload:
    try:
        key = (os.path.abspath(path), freeze(dict(overrides or {})))
    except TypeError:  # an override value that cannot be hashed: build without the cache
        key = None
    wl = _WORKLOADS.get(key) if key else None
    if wl is None:
        before = stamp(path)
        wl = _load_workload(Path(path), overrides, where)
        if key:
            _WORKLOADS.put(key, wl, [before])
    return wl


def _load_workload(p: Path, overrides: Optional[Mapping[str, Any]], where: str) -> Workload:
    if p.suffix == ".json":
        from .ops.hf_config import workload_from_hf_config  # provided by the transformer builder
        return workload_from_hf_config(p, overrides, where)
    return build_workload(read_yaml(p), file=str(p), overrides=overrides, where=where)


def list_workloads(wl_path: Sequence[os.PathLike | str] = ()) -> list[Path]:
    return catalog.list_files("workloads", wl_path, suffixes=(".yaml", ".yml"))
