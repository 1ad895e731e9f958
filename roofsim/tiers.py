"""Embedding tables larger than device memory: the hottest rows stay in main memory (a
software-managed embedding cache sized to what the rest of the step leaves), the others live in
the next tier (host DRAM over PCIe or NVLink-C2C, or CXL: the first level after main memory), and
lookups of those rows are served by that tier at its bandwidth.

``place_tables(workload, hw)`` returns the workload with each table's ``resident_rows`` and
``far_tier`` set, and one row per table: its bytes in main memory and in the far tier. Tables get
main memory in order of lookups per byte (the hottest first); a table's resident rows are its most
popular ones. The cache model then charges each lookup of a non-resident row to the far tier
(roofsim.cache.predictors.far_split).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from .ops.access import GatherAccess
from .ops.op import Workload
from .specs import HardwareSpec


def _table_ops(workload: Workload):
    return [(i, op) for i, op in enumerate(workload.ops)
            if isinstance(op.access, GatherAccess) and op.phase == "forward"]


def main_budget(workload: Workload, hw: HardwareSpec) -> Optional[float]:
    """Bytes of main memory left for the tables after everything else the step holds (the
    memory model's footprint less the tables); None when main memory has no capacity."""
    from .memory import footprint
    cap = hw.main_memory.total_capacity_bytes
    if cap is None:
        return None
    tables = sum(op.access.table_rows * op.access.row_bytes for _, op in _table_ops(workload))
    rest = footprint(workload, hw).total - tables
    return max(cap - rest, 0.0)


def resident_rows(accesses, budget: float) -> list[int]:
    """Rows of each table to keep so that the kept rows are the globally most accessed per byte:
    a threshold rate r such that every row accessed more often than r per byte stays. Under Zipf(a)
    the k-th row of a table with L lookups is read L k^-a / H times, so k(r) = (L / (H b r))^(1/a);
    a uniform table's rows all share the rate L / (R b). The threshold is bisected (in log space)
    until the kept rows fill the budget."""
    from .ops.popularity import _zipf_weight

    def kept(rate: float) -> list[int]:
        out = []
        for a in accesses:
            if a.distribution == "zipf":
                h = _zipf_weight(a.table_rows, a.zipf_alpha)
                k = (a.lookups / (h * a.row_bytes * rate)) ** (1.0 / a.zipf_alpha)
            else:   # uniform, or a user's ids taken as uniform over the table
                k = a.table_rows if a.lookups / (a.table_rows * a.row_bytes) >= rate else 0
            out.append(int(min(a.table_rows, k)))
        return out

    lo, hi = 1e-30, 1e30
    for _ in range(200):
        mid = (lo * hi) ** 0.5
        if sum(k * a.row_bytes for k, a in zip(kept(mid), accesses)) > budget:
            lo = mid
        else:
            hi = mid
    return kept(hi)


def place_tables(workload: Workload, hw: HardwareSpec) -> tuple[Workload, list[dict]]:
    ops = _table_ops(workload)
    budget = main_budget(workload, hw)
    far = hw.memory[hw.main_index + 1].name if len(hw.memory) > hw.main_index + 1 else ""
    if not ops or budget is None:
        return workload, []
    total = sum(op.access.table_rows * op.access.row_bytes for _, op in ops)
    if total <= budget or not far:
        return workload, [{"table": op.name, "bytes": op.access.table_rows * op.access.row_bytes,
                           hw.main_memory.name: op.access.table_rows * op.access.row_bytes, "far_tier": far,
                           "far_bytes": 0.0} for _, op in ops]
    new = list(workload.ops)
    rows = []
    keep = resident_rows([op.access for _, op in ops], budget)
    for (i, op), k in zip(ops, keep):
        a = op.access
        new[i] = replace(op, access=replace(a, resident_rows=k, far_tier=far))
        rows.append({"index": i, "table": op.name, "bytes": a.table_rows * a.row_bytes,
                     hw.main_memory.name: k * a.row_bytes, "far_tier": far, "far_bytes": (a.table_rows - k) * a.row_bytes})
    rows.sort(key=lambda r: r.pop("index"))
    return replace(workload, ops=tuple(new)), rows


def table_lines(tables: list[dict], hw: HardwareSpec) -> list[str]:
    """The footer of ``roofsim run`` when tables spill beyond main memory: bytes per tier."""
    if not any(t["far_bytes"] for t in tables):
        return []
    from .units import format_quantity as fq
    main = hw.main_memory.name
    far = tables[0]["far_tier"]
    spilled = [t for t in tables if t["far_bytes"]]
    return [f"Embedding tables beyond {main}: the hottest rows ({fq(sum(t[main] for t in tables), 'bytes')}) stay "
            f"in {main}, {fq(sum(t['far_bytes'] for t in tables), 'bytes')} live in {far}; lookups of those rows "
            f"are read from {far} in the time above (the ops' bytes_{far}; for the tables, the assumption above that "
            f"everything is resident does not apply). Split: "
            + ", ".join(f"{t['table']} {fq(t[main], 'bytes')} + {fq(t['far_bytes'], 'bytes')}" for t in spilled) + "."]
