"""Public hardware API: load by name, list the catalogue, derive hypothetical designs."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from . import catalog
from .errors import Problem, RoofsimError, SpecError
from .filecache import StampedCache, freeze, stamp
from .hardware import apply_overrides, build_hardware, to_doc
from .kernelmodel import memory_latency
from .loader import load_hardware
from .specs import HardwareSpec


def _resolver(extra: Sequence[os.PathLike | str]):
    return lambda name, rel: catalog.resolve(name, "hardware", extra, relative_to=rel)


# Validated specs by (file, search path, overrides); see roofsim/filecache.py.
_SPECS = StampedCache()


def get_hardware(name: str | os.PathLike, hw_path: Sequence[os.PathLike | str] = (),
                 overrides: Optional[Mapping[str, Any]] = None, si_numbers: bool = True) -> HardwareSpec:
    """A catalogue id, alias or file path -> validated spec, with optional dotted overrides.

    ``si_numbers=False`` (the CLI's text) refuses a bare number where a unit belongs."""
    path = catalog.resolve(str(name), "hardware", hw_path)
    try:
        key = (os.path.abspath(path), tuple(map(str, hw_path)), os.environ.get("ROOFSIM_PATH", ""),
               freeze(dict(overrides or {})), si_numbers)
    except TypeError:  # an override value that cannot be hashed: load without the cache
        key = None
    hw = _SPECS.get(key) if key else None
    if hw is not None:
        return hw
    # Stamps of the search folders too: a file added there may shadow a base of the chain.
    stamps = [stamp(path), *(stamp(d) for d in catalog.search_dirs("hardware", hw_path))]
    resolver = _resolver(hw_path)

    def recording_resolver(base, rel):
        p = resolver(base, rel)
        stamps.append(stamp(p))
        return p
    hw = load_hardware(path, recording_resolver)
    if overrides:
        hw = derive(hw, overrides, id=hw.id, name=hw.name, kind=hw.kind, source=hw.source, where="--set hw",
                    si_numbers=si_numbers)
    if key:
        _SPECS.put(key, hw, stamps)
    return hw


def list_hardware(hw_path: Sequence[os.PathLike | str] = ()) -> list[HardwareSpec]:
    return [get_hardware(str(p.resolve()), hw_path) for p in catalog.list_files("hardware", hw_path)]  # cached


def validate_files(paths: Sequence[os.PathLike | str], hw_path: Sequence[os.PathLike | str] = ()) -> dict[str, Optional[RoofsimError]]:
    """path -> None (valid) or the error, for ``roofsim hw validate``."""
    out: dict[str, Optional[RoofsimError]] = {}
    for p in paths:
        try:
            hw = load_hardware(Path(p), _resolver(hw_path))
            if Path(p).stem != hw.id:
                raise SpecError(Problem(str(p), "id", f"the file name's stem {Path(p).stem!r}", repr(hw.id)))
            out[str(p)] = None
        except RoofsimError as e:
            out[str(p)] = e
    return out


def derive(base: HardwareSpec, overrides: Optional[Mapping[str, Any]] = None, *, id: Optional[str] = None,
           name: Optional[str] = None, kind: str = "hypothetical", source: Optional[str] = None,
           where: str = "", si_numbers: bool = True) -> HardwareSpec:
    """A new design: ``base`` with dotted overrides (``{"memory.hbm.bandwidth": "6 TB/s"}``).

    Plain numbers for quantities are SI (6e12 means 6e12 B/s) and must be plausible (4 for a
    bandwidth, 4 B/s, is refused). Everything not overridden is exactly the base's.
    """
    doc = to_doc(base)
    doc.update(id=id or f"{base.id}-derived", name=name or f"{base.name} (derived)", kind=kind,
               source=source or f"derived from {base.id}")
    if doc["id"] != base.id:  # a new design: the base's aliases and notes stay with the base,
        doc.pop("aliases", None)  # as for `extends` in YAML (hardware.NOT_INHERITED)
        doc.pop("notes", None)
        doc["_extended_from"] = base.id
    doc = apply_overrides(doc, overrides or {}, file=None, where=where, si_numbers=si_numbers)
    return build_hardware(doc, file=None if overrides else base.file)


def hardware_json(hw: HardwareSpec) -> dict:
    """The stable JSON form of a device (SI floats), documented in the README."""
    return {
        "id": hw.id, "name": hw.name, "vendor": hw.vendor, "kind": hw.kind, "year": hw.year,
        "release_date": hw.release_date or None, "aliases": list(hw.aliases), "extends": hw.extends,
        "process": hw.process or None, "clock_hz": hw.clock_hz, "cores": hw.cores, "tdp_w": hw.tdp_w,
        "peak_flops": hw.compute.peaks(),
        "peak_flops_by_unit": {"matrix": dict(hw.compute.matrix), "vector": dict(hw.compute.vector)},
        "memory": [{
            "name": m.name, "type": m.type, "capacity_bytes": m.total_capacity_bytes,
            "capacity_bytes_per_instance": m.capacity_bytes, "instances": m.instances,
            "bandwidth_bytes_per_s": m.bandwidth_bytes_per_s, "latency_s": m.latency_s,
            "line_bytes": m.line_bytes, "ways": m.ways, "source": m.source,
        } for m in hw.memory],
        "interconnect": [{
            "name": l.name, "scope": l.scope, "bandwidth_bytes_per_s_per_direction": l.bandwidth_bytes_per_s_per_direction,
            "links": l.links, "latency_s": l.latency_s, "domain_size": l.domain_size, "source": l.source,
        } for l in hw.interconnect],
        "efficiency": {
            "compute": dict(hw.efficiency.compute), "memory": dict(hw.efficiency.memory),
            "interconnect": dict(hw.efficiency.interconnect), "latency_s": hw.efficiency.latency_s,
            "compute_by_size": [list(p) for p in hw.efficiency.compute_by_size],
            "kernel": _kernel_json(hw),
        },
        "ridge_points_flop_per_byte": {f"{d}@{lvl}": r for (d, lvl), r in hw.ridge_points().items()},
        "source": hw.source,
        "compute_source": hw.compute.source,
    }


def _kernel_json(hw: HardwareSpec) -> dict[str, Any]:
    """The kernel-model parameters (SI), with the memory round trip the model really uses."""
    k = dataclasses.asdict(hw.efficiency.kernel)
    k["memory_latency_s"] = memory_latency(hw)
    return k


def flatten(hw: HardwareSpec) -> dict[str, Any]:
    """Dotted path -> value over the document form (memory and links by name), for diffs."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(node, list) and node and all(isinstance(i, dict) and "name" in i for i in node):
            for item in node:
                walk(f"{prefix}.{item['name']}", {k: v for k, v in item.items() if k != "name"})
        else:
            out[prefix] = node
    doc = to_doc(hw)
    if "_extended_from" in doc:  # internal marker of to_doc; users know it as `extends`
        doc["extends"] = doc.pop("_extended_from")
    walk("", doc)
    return out
