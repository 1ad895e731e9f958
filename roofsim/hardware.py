"""The hardware file schema, and documents <-> HardwareSpec.

Documents are plain dicts as read from YAML (quantities are strings with units). This module
validates them, builds frozen specs, writes specs back to documents (``to_doc``), merges derived
designs (``extends``) and applies dotted overrides (``memory.hbm.bandwidth=6 TB/s``). It does no
I/O; roofsim/loader.py reads files.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Optional

from . import schema as S
from .errors import Problem, SpecError
from .specs import (DEFAULT_COMPUTE_EFFICIENCY, DEFAULT_LATENCY_S, DEFAULT_LINK_EFFICIENCY,
                    DEFAULT_MEMORY_EFFICIENCY, DTYPES, KINDS, LEVEL_TYPES, LINK_SCOPES, MAX_COUNT, PLAUSIBLE,
                    ComputeSpec, Efficiency, HardwareSpec, KernelParams, Link, MemoryLevel)

SCHEMA_VERSION = 1
# op kinds with items (rows gathered, nonzeros, reduction runs, packed GEMM elements): traffic.op_items;
# broadcast: an element of an elementwise op against a row-broadcast operand (StreamAccess.broadcast);
# gathered_byte: a byte a gather copies out of its rows (beyond each row's fixed cost)
ITEM_KINDS = ("gather", "spmm", "reduction", "gemm", "broadcast", "gathered_byte")
CALL_KINDS = ("default", "elementwise", "reduction", "gemm", "gather", "spmm", "layernorm", "rmsnorm", "softmax")  # efficiency.per_call
ID_PATTERN = r"[a-z0-9][a-z0-9.-]*"


def _quantity(dimension: str, **kw) -> S.Quantity:
    """A hardware quantity, refused outside its plausible range (specs.PLAUSIBLE)."""
    return S.Quantity(dimension, bounds=PLAUSIBLE[dimension], **kw)


def _count(**kw) -> S.Int:
    return S.Int(minimum=1, maximum=MAX_COUNT, **kw)


_ID = S.Str(required=True, pattern=ID_PATTERN, what="an id in lowercase-with-dashes, e.g. h100-sxm5")
_PEAKS = S.Map(value=_quantity("flop_rate"), keys=DTYPES)
_FRACTIONS = S.OneOf((S.Fraction(), S.Map(value=S.Fraction())), selector=S.is_mapping)

MEMORY_LEVEL = S.Section({
    "name": S.Str(required=True, pattern=r"[a-z][a-z0-9_-]*", what="a lowercase level name, e.g. hbm"),
    "type": S.Enum(LEVEL_TYPES, required=True),
    "capacity": _quantity("bytes"),
    # what the OS or datasheet states, where `capacity` is the share one thread was measured to get
    "os_capacity": _quantity("bytes"),
    "instances": _count(),
    "shared_by": _count(),
    "bandwidth": _quantity("bandwidth"),
    "latency": _quantity("time", positive=False),
    "line_size": _quantity("bytes"),
    "ways": _count(),
    "source": S.Str(required=True),
    "notes": S.Str(),
})
LINK = S.Section({
    "name": S.Str(required=True, pattern=r"[a-z][a-z0-9_-]*", what="a lowercase link name, e.g. nvlink"),
    "scope": S.Enum(LINK_SCOPES, required=True),
    "bandwidth_per_direction": _quantity("bandwidth", required=True),
    "links": _count(),
    "latency": _quantity("time", positive=False),
    "domain_size": _count(),
    "source": S.Str(required=True),
    "notes": S.Str(),
})
KERNEL = S.Section({
    "tile_m": S.Int(minimum=1),
    "tile_n": S.Int(minimum=1),
    "tiles_per_core": S.Int(minimum=1),
    "tile_halvings": S.Int(minimum=0),
    "tile_overhead_depth": S.Number(),
    "split_k_depth": S.Number(),
    "memory_latency": S.Quantity("time", positive=False),
    "eager_overhead": S.Quantity("time", positive=False),
    "compiled_overhead": S.Quantity("time", positive=False),
    "feed_bandwidth": _quantity("bandwidth"),
    "residency": S.Bool(),
    "source": S.Str(),
    "notes": S.Str(),
})
EFFICIENCY = S.Section({
    "compute": _FRACTIONS,
    "memory": _FRACTIONS,
    "interconnect": _FRACTIONS,
    "latency": _quantity("time", positive=False),
    "compute_by_size": S.Table(),
    "compute_by_depth": S.Table(),
    "kernel": KERNEL,
    "per_item": S.Map(value=_quantity("time", positive=False), keys=ITEM_KINDS),
    "per_call": S.Map(value=_quantity("time", positive=False), keys=CALL_KINDS),
    "memory_parallelism": S.Number(minimum=1.0),
    "prior": S.Str(pattern=ID_PATTERN, what="a catalogue device id in lowercase-with-dashes, e.g. h200-sxm"),
    "first_touch": S.Section({"bandwidth": _quantity("bandwidth", required=True), "above": _quantity("bytes"),
                              "source": S.Str(), "notes": S.Str()}),
    "gemv_bandwidth": _quantity("bandwidth"),
    "source": S.Str(),
    "notes": S.Str(),
})
HARDWARE = S.Section({
    "schema_version": S.Int(minimum=1, maximum=MAX_COUNT, required=True),
    "id": _ID,
    "name": S.Str(required=True),
    "vendor": S.Str(required=True),
    "kind": S.Enum(KINDS, required=True),
    "aliases": S.StrList(item=S.Str(pattern=ID_PATTERN, what="an alias in lowercase-with-dashes")),
    "release_date": S.Date(),
    "process": S.Str(),
    "clock": _quantity("frequency"),
    "cores": _count(),
    "core_name": S.Str(),
    "tdp": _quantity("power"),
    "source": S.Str(required=True),
    "notes": S.Str(),
    "compute": S.Section({
        "matrix": _PEAKS, "vector": _PEAKS, "transcendental": _PEAKS, "fma": _PEAKS, "source": S.Str(required=True),
        "notes": S.Str(),
    }, required=True),
    "memory": S.NamedList(MEMORY_LEVEL, required=True, min_items=1),
    "interconnect": S.NamedList(LINK),
    "efficiency": EFFICIENCY,
    "provenance": S.Section({"date": S.Date(), "method": S.Str(), "tool": S.Str(), "notes": S.Str()}),
    "extends": S.Str(),
    "set": S.Map(value=S.Field()),  # checked by apply_overrides against the schema
})
# Keys of a base that a derived design does not inherit: they describe the base itself.
NOT_INHERITED = ("id", "name", "aliases", "source", "notes", "provenance", "extends", "set")
_BASE_UNIT = {"bytes": "B", "bandwidth": "B/s", "flop_rate": "FLOP/s", "flops": "FLOP",
              "time": "s", "frequency": "Hz", "power": "W"}


def _pairs(mapping: Optional[Mapping[str, float]]) -> tuple:
    return tuple((k, v) for k, v in (mapping or {}).items() if v is not None)


def _fractions(value, default: float) -> tuple:
    """A fraction or {name: fraction} -> pairs that always hold a ``default`` entry, so that
    ``{hbm: 0.9}`` and ``{default: 0.85, hbm: 0.9}`` build the same spec (and a derived design
    that sets one fraction differs from its base in that fraction only)."""
    if value is None:
        return (("default", default),)
    pairs = _pairs(value) if isinstance(value, dict) else (("default", value),)
    return pairs if any(k == "default" for k, _ in pairs) else (("default", default), *pairs)


_KERNEL_KEYS = {"memory_latency": "memory_latency_s", "eager_overhead": "eager_overhead_s",
                "compiled_overhead": "compiled_overhead_s",
                "feed_bandwidth": "feed_bandwidth_bytes_per_s"}


def _kernel_params(k: Mapping[str, Any]) -> KernelParams:
    return KernelParams(**{_KERNEL_KEYS.get(key, key): v for key, v in k.items()
                           if key not in ("source", "notes") and v is not None})


def _kernel_doc(k: KernelParams) -> Optional[dict]:
    """Only the fields that differ from the defaults, so an untouched file round-trips unchanged."""
    base = KernelParams()
    out = {}
    for name, key in (("tile_m", "tile_m"), ("tile_n", "tile_n"), ("tiles_per_core", "tiles_per_core"),
                      ("tile_halvings", "tile_halvings"),
                      ("tile_overhead_depth", "tile_overhead_depth"), ("split_k_depth", "split_k_depth"),
                      ("memory_latency_s", "memory_latency"), ("eager_overhead_s", "eager_overhead"),
                      ("compiled_overhead_s", "compiled_overhead"),
                      ("feed_bandwidth_bytes_per_s", "feed_bandwidth"), ("residency", "residency")):
        v = getattr(k, name)
        if v != getattr(base, name):
            out[key] = (_q(v, "bandwidth") if name.endswith("_per_s") else
                        _q(v, "time") if name.endswith("_s") else v)
    return out or None


def build_hardware(doc: Any, file: Optional[str] = None) -> HardwareSpec:
    """Validate a (merged, override-applied) document and build the spec. All problems at once."""
    ctx = S.Ctx(file)
    extended_from = None
    if isinstance(doc, dict) and "_extended_from" in doc:  # set by merge_derived, not a user key
        doc = dict(doc)
        extended_from = doc.pop("_extended_from")
    v = HARDWARE.check(doc, "", ctx)
    if v is not None and doc.get("schema_version") not in (None, SCHEMA_VERSION) and isinstance(doc.get("schema_version"), int):
        ctx.add("schema_version", f"{SCHEMA_VERSION} (the version this roofsim reads)", repr(doc["schema_version"]))
    if v is not None and "extends" in doc:
        ctx.add("extends", "extends to be resolved by the loader", repr(doc["extends"]))
    if ctx.problems and isinstance(doc.get("memory"), list):
        # The cross-field invariants of the specs only run on a valid document; this one is so
        # common (and independent of the rest) that it is reported with the other problems.
        levels = [m for m in doc["memory"] if isinstance(m, dict)]
        mains = [m.get("name") for m in levels if m.get("type") == "main"]
        types_ok = all(m.get("type") in LEVEL_TYPES for m in levels)  # a typo'd type says enough
        if types_ok and len(mains) != 1:
            ctx.add("memory", "exactly one level of type main", repr(mains))
    if ctx.problems:
        raise SpecError(ctx.problems)
    try:
        return _construct(v, file, extended_from)
    except SpecError as e:  # invariants across fields (one main level, capacities, ...)
        raise SpecError([Problem(file, p.path, p.expected, p.found, p.hint) for p in e.problems]) from None


def _construct(v: dict, file: Optional[str], extended_from: Optional[str]) -> HardwareSpec:
    c = v["compute"]
    compute = ComputeSpec(matrix=_pairs(c.get("matrix")), vector=_pairs(c.get("vector")),
                          transcendental=_pairs(c.get("transcendental")), fma=_pairs(c.get("fma")),
                          source=c["source"], notes=c.get("notes", ""))
    memory = tuple(MemoryLevel(
        name=m["name"], type=m["type"], capacity_bytes=m.get("capacity"), os_capacity_bytes=m.get("os_capacity"),
        instances=m.get("instances", 1),
        shared_by=m.get("shared_by"), bandwidth_bytes_per_s=m.get("bandwidth"), latency_s=m.get("latency"),
        line_bytes=m.get("line_size"), ways=m.get("ways"), source=m["source"], notes=m.get("notes", ""),
    ) for m in v["memory"])
    links = tuple(Link(
        name=l["name"], scope=l["scope"], bandwidth_bytes_per_s_per_direction=l["bandwidth_per_direction"],
        links=l.get("links"), latency_s=l.get("latency"), domain_size=l.get("domain_size"),
        source=l["source"], notes=l.get("notes", ""),
    ) for l in v.get("interconnect") or ())
    e = v.get("efficiency") or {}
    eff = Efficiency(
        compute=_fractions(e.get("compute"), DEFAULT_COMPUTE_EFFICIENCY),
        memory=_fractions(e.get("memory"), DEFAULT_MEMORY_EFFICIENCY),
        interconnect=_fractions(e.get("interconnect"), DEFAULT_LINK_EFFICIENCY),
        latency_s=e["latency"] if e.get("latency") is not None else DEFAULT_LATENCY_S[v["kind"]],
        compute_by_size=tuple(e.get("compute_by_size") or ()),
        compute_by_depth=tuple(e.get("compute_by_depth") or ()),
        kernel=_kernel_params(e.get("kernel") or {}),
        per_item_s=_pairs(e.get("per_item")), per_call_s=_pairs(e.get("per_call")),
        memory_parallelism=e.get("memory_parallelism"),
        first_touch_bytes_per_s=(e.get("first_touch") or {}).get("bandwidth"),
        gemv_bytes_per_s=e.get("gemv_bandwidth"),
        fresh_above_bytes=(e.get("first_touch") or {}).get("above") or 0.0,
        prior=e.get("prior"),
        source=e.get("source", Efficiency.source),
    )
    return HardwareSpec(
        id=v["id"], name=v["name"], vendor=v["vendor"], kind=v["kind"], compute=compute, memory=memory,
        source=v["source"], release_date=v.get("release_date", ""), aliases=tuple(v.get("aliases") or ()),
        process=v.get("process", ""), clock_hz=v.get("clock"), cores=v.get("cores"),
        core_name=v.get("core_name", ""), tdp_w=v.get("tdp"), interconnect=links, efficiency=eff,
        notes=v.get("notes", ""), extends=extended_from, file=file,
        provenance=tuple((k, str(x)) for k, x in (v.get("provenance") or {}).items() if x is not None),
    )


# ---- documents from specs (exact round trip: build_hardware(to_doc(hw)) == hw) ---------------
def _q(value: Optional[float], dimension: str) -> Optional[str]:
    return None if value is None else f"{value!r} {_BASE_UNIT[dimension]}"


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, "", ())}


def to_doc(hw: HardwareSpec) -> dict:
    """A hardware document (SI units spelled out) that rebuilds exactly ``hw``."""
    e = hw.efficiency
    doc = _drop_none({
        "schema_version": SCHEMA_VERSION, "id": hw.id, "name": hw.name, "vendor": hw.vendor, "kind": hw.kind,
        "aliases": list(hw.aliases) or None, "release_date": hw.release_date, "process": hw.process,
        "clock": _q(hw.clock_hz, "frequency"), "cores": hw.cores, "core_name": hw.core_name,
        "tdp": _q(hw.tdp_w, "power"), "source": hw.source, "notes": hw.notes,
        "compute": _drop_none({
            "matrix": {d: _q(f, "flop_rate") for d, f in hw.compute.matrix} or None,
            "vector": {d: _q(f, "flop_rate") for d, f in hw.compute.vector} or None,
            "transcendental": {d: _q(f, "flop_rate") for d, f in hw.compute.transcendental} or None,
            "fma": {d: _q(f, "flop_rate") for d, f in hw.compute.fma} or None,
            "source": hw.compute.source, "notes": hw.compute.notes}),
        "memory": [_drop_none({
            "name": m.name, "type": m.type, "capacity": _q(m.capacity_bytes, "bytes"),
            "os_capacity": _q(m.os_capacity_bytes, "bytes"),
            "instances": m.instances if m.instances != 1 else None, "shared_by": m.shared_by,
            "bandwidth": _q(m.bandwidth_bytes_per_s, "bandwidth"), "latency": _q(m.latency_s, "time"),
            "line_size": _q(m.line_bytes, "bytes"), "ways": m.ways, "source": m.source, "notes": m.notes,
        }) for m in hw.memory],
        "interconnect": [_drop_none({
            "name": l.name, "scope": l.scope,
            "bandwidth_per_direction": _q(l.bandwidth_bytes_per_s_per_direction, "bandwidth"),
            "links": l.links, "latency": _q(l.latency_s, "time"), "domain_size": l.domain_size,
            "source": l.source, "notes": l.notes,
        }) for l in hw.interconnect] or None,
        "efficiency": _drop_none({
            "compute": dict(e.compute), "memory": dict(e.memory), "interconnect": dict(e.interconnect),
            "latency": _q(e.latency_s, "time"),
            "compute_by_size": [list(p) for p in e.compute_by_size] or None,
            "compute_by_depth": [list(p) for p in e.compute_by_depth] or None,
            "kernel": _kernel_doc(e.kernel),
            "per_item": {k: _q(t, "time") for k, t in e.per_item_s} or None,
            "per_call": {k: _q(t, "time") for k, t in e.per_call_s} or None,
            "memory_parallelism": e.memory_parallelism,
            "first_touch": _drop_none({"bandwidth": _q(e.first_touch_bytes_per_s, "bandwidth"),
                                       "above": _q(e.fresh_above_bytes or None, "bytes")}) or None,
            "gemv_bandwidth": _q(e.gemv_bytes_per_s, "bandwidth"),
            "prior": e.prior,
            "source": e.source}),
        "provenance": dict(hw.provenance) or None,
    })
    if hw.extends:
        doc["_extended_from"] = hw.extends
    return doc


# ---- derived designs ---------------------------------------------------------------------
def merge_derived(base_doc: dict, derived_doc: dict, base_id: str) -> dict:
    """Base keys, minus its identity, replaced by the derived file's own top-level keys."""
    merged = {k: copy.deepcopy(v) for k, v in base_doc.items() if k not in NOT_INHERITED}
    merged.update({k: copy.deepcopy(v) for k, v in derived_doc.items() if k not in ("extends", "set")})
    merged["_extended_from"] = base_id
    return merged


def apply_overrides(doc: dict, overrides: Mapping[str, Any], file: Optional[str] = None,
                    where: str = "set", si_numbers: bool = False) -> dict:
    """Return a copy of ``doc`` with dotted-path overrides applied, checked against the schema.

    Paths name list items by their ``name`` (``memory.hbm.bandwidth``). Text (YAML ``set:``, the
    CLI's ``--set``) must give quantities with units: a bare number is refused as in a file.
    With ``si_numbers`` (Python callers) a plain number is read in SI base units (6e12 for a
    bandwidth is 6e12 B/s); the plausibility bounds still refuse a unit slip such as 4 (B/s).
    """
    doc = copy.deepcopy(doc)
    ctx = S.Ctx(file)
    for dotted, value in overrides.items():
        label = f"{where}.{dotted}" if where else str(dotted)
        _apply_one(doc, str(dotted), value, ctx, label, si_numbers)
    if ctx.problems:
        raise SpecError(ctx.problems)
    return doc


def _apply_one(doc: dict, dotted: str, value: Any, ctx: S.Ctx, label: str, si_numbers: bool) -> None:
    parts = dotted.split(".")
    node, field, node_parent = doc, HARDWARE, None
    for i, key in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(field, S.NamedList):
            items = node if isinstance(node, list) else []
            names = [it.get("name") for it in items if isinstance(it, dict)]
            if key not in names:
                S.unknown_key(ctx, ".".join(parts[:i]), key, tuple(names), at=label)
                return
            if last:
                ctx.add(label, "a field of the list item, e.g. " + f"{dotted}.bandwidth", "a whole item")
                return
            node, field = items[names.index(key)], field.item
            continue
        child = field.child(key)
        if child is None or key in ("set", "extends", "schema_version"):
            valid = tuple(k for k in getattr(field, "fields", getattr(field, "keys", None) or ()) if k not in ("set", "extends"))
            S.unknown_key(ctx, ".".join(parts[:i]), key, valid, at=label)
            return
        if isinstance(field, S.OneOf) and not isinstance(node, dict):
            node_parent[parts[i - 1]] = node = {"default": node} if node is not None else {}
        if last:
            number = si_numbers and isinstance(child, S.Quantity) and S.finite(value)
            if number:
                value = f"{float(value)!r} {_BASE_UNIT[child.dimension]}"
            if type(child) is not S.Field:  # check the value here, so the error names the override
                before = len(ctx.problems)
                child.check(value, label, ctx)
                if len(ctx.problems) > before:
                    if number:  # say how the plain number was read, so a unit slip is plain to see
                        p = ctx.problems[-1]
                        ctx.problems[-1] = Problem(p.file, p.path, p.expected, f"{p.found} (a plain number is "
                                                   f"read in {_BASE_UNIT[child.dimension]}; give a string with a unit)")
                    return
            node[key] = value
            return
        if key not in node or node[key] is None:
            node[key] = [] if isinstance(child, S.NamedList) else {}
        node_parent, node, field = node, node[key], child
