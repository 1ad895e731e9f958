"""Embedding tables larger than device memory: the hottest rows stay in main memory (a
software-managed embedding cache sized to what the rest of the step leaves), the others live in
the next tier (host DRAM over PCIe or NVLink-C2C, or CXL: the first level after main memory), and
lookups of those rows are read from that tier at its bandwidth.

Part of the model, per device: ``roofline.evaluate_arrays`` places the tables of every device it
evaluates (``place_tables``) and moves the bytes of the far rows' lookups from main memory to the
far tier (``far_bytes``), so ``roofsim run``, ``compare``, ``roofsim.run``/``query`` and sweeps give
one answer for one device.

- Budget: main memory's capacity less everything else the step holds (roofsim.memory.footprint
  without techniques, less the tables). When the rest alone overflows main memory nothing is
  placed: the time then assumes everything resident, which run's memory footer calls unachievable.
- Tables get the budget in order of lookups per byte (the hottest rows of all tables first), so a
  table's resident rows are its most popular ones (``resident_rows``).
- A lookup of a non-resident row (the popularity mass beyond the resident rows) is served by the
  far tier instead of main memory: those rows are the least popular, so their lookups are taken
  to miss every cache. What the far tier cannot hold (its capacity, when the spec gives one) no
  tier holds: run's memory footer then calls the time unachievable.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .ops.access import GatherAccess
from .specs import HardwareSpec


@dataclass(frozen=True)
class TableShare:
    """One table (a forward gather op) on one device."""
    index: int               # the op's position in the workload
    table: str               # the op's name
    bytes: float             # the whole table
    resident_rows: int       # rows held in main memory (the most popular)
    main_bytes: float
    far_bytes: float         # rows held in the far tier
    far_lookup_bytes: float  # bytes per execution of the op read from the far tier


@dataclass(frozen=True)
class TablePlacement:
    """Where one device holds a workload's embedding tables."""
    main: str                # main memory's level name
    far_tier: str            # the level holding the rest ("" when there is none)
    budget: Optional[float]  # main-memory bytes left for the tables (None: no capacity known)
    tables: tuple[TableShare, ...] = ()
    far_capacity: Optional[float] = None   # the far tier's capacity (None: not in the spec)

    @property
    def far_held(self) -> float:
        """Table bytes the far tier holds (at most its capacity; the rest no tier holds)."""
        far = sum(t.far_bytes for t in self.tables) if self.spills else 0.0
        return far if self.far_capacity is None else min(far, self.far_capacity)

    @property
    def spills(self) -> bool:
        return any(t.far_bytes > 0 for t in self.tables) and bool(self.far_tier)

    def far_traffic(self, counts) -> float:
        """Bytes per step read from the far tier (``counts``: executions of each op)."""
        return float(sum(t.far_lookup_bytes * counts[t.index] for t in self.tables))

    def as_json(self, counts) -> dict:
        return {"main": self.main, "far_tier": self.far_tier or None, "budget_bytes": self.budget,
                "far_capacity_bytes": self.far_capacity,
                "main_bytes": sum(t.main_bytes for t in self.tables),
                "far_bytes": sum(t.far_bytes for t in self.tables),
                "far_traffic_bytes_per_step": self.far_traffic(counts),
                "tables": [{"table": t.table, "bytes": t.bytes, "resident_rows": t.resident_rows,
                            "main_bytes": t.main_bytes, "far_bytes": t.far_bytes,
                            "far_lookup_bytes": t.far_lookup_bytes * counts[t.index]} for t in self.tables]}


def table_ops(ops) -> list[tuple[int, object]]:
    """(index, op) of the embedding tables: forward row gathers (the backward update touches the
    same rows)."""
    return [(i, op) for i, op in enumerate(ops) if isinstance(op.access, GatherAccess) and op.phase == "forward"]


def table_bytes(access: GatherAccess) -> float:
    return float(access.table_rows) * float(access.row_bytes)


def main_budget(workload, hw: HardwareSpec) -> Optional[float]:
    """Bytes of main memory left for the tables after everything else the step holds (the
    memory model's footprint less the tables); None when main memory has no capacity."""
    from .memory import footprint
    cap = hw.main_memory.total_capacity_bytes
    if cap is None:
        return None
    rest = footprint(workload, hw).total - sum(table_bytes(op.access) for _, op in table_ops(workload.ops))
    return max(cap - rest, 0.0)


def resident_rows(accesses, budget):
    """Rows of each table to keep so that the kept rows are the globally most accessed per byte:
    a threshold rate r such that every row accessed more often than r per byte stays. Under Zipf(a)
    the k-th row of a table with L lookups is read L k^-a / H times, so k(r) = (L / (H b r))^(1/a);
    a uniform table's rows all share the rate L / (R b). The threshold is bisected (in log space)
    until the kept rows fill the budget. ``budget``: a number (-> list of rows per table) or an
    array of P budgets (-> [P, tables] array, a sweep over main-memory capacities)."""
    from .ops.popularity import _zipf_weight
    b = np.asarray(budget, dtype=np.float64).reshape(-1)
    rows = np.array([float(a.table_rows) for a in accesses])
    size = np.array([float(a.row_bytes) for a in accesses])
    zipf = np.array([a.distribution == "zipf" for a in accesses])
    alpha = np.array([a.zipf_alpha if a.distribution == "zipf" else 1.0 for a in accesses])
    h = np.array([_zipf_weight(a.table_rows, a.zipf_alpha) if a.distribution == "zipf" else 1.0 for a in accesses])
    lookups = np.array([float(a.lookups) for a in accesses])

    def kept(rate):   # rate [P] -> rows kept [P, T]
        r = rate[:, None]
        with np.errstate(over="ignore", divide="ignore"):
            k = np.where(zipf, (lookups / (h * size * r)) ** (1.0 / alpha),
                         np.where(lookups / (rows * size) >= r, rows, 0.0))   # uniform, or a user's ids
        return np.floor(np.minimum(rows, k))

    lo, hi = np.full(b.shape, -69.0), np.full(b.shape, 69.0)    # log of the rate: 1e-30 .. 1e30
    for _ in range(200):
        mid = (lo + hi) / 2
        over = (kept(np.exp(mid)) * size).sum(axis=1) > b
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    k = kept(np.exp(hi))
    # What the threshold leaves (a uniform table is kept whole or not at all at any one rate) goes
    # to the tables whose next row is read most per byte, as many whole rows as fit.
    left = b - (k * size).sum(axis=1)
    with np.errstate(over="ignore", divide="ignore"):
        nxt = np.where(zipf, lookups * (k + 1) ** -alpha / (h * size), lookups / (rows * size))
    order = np.argsort(-np.where(k < rows, nxt, -np.inf), axis=1, kind="stable")
    at = np.arange(b.shape[0])
    for r in range(order.shape[1]):
        t = order[:, r]
        add = np.maximum(np.minimum(rows[t] - k[at, t], np.floor(left / size[t])), 0.0)
        k[at, t] += add
        left = left - add * size[t]
    out = k.astype(np.int64)
    return [int(x) for x in out[0]] if np.ndim(budget) == 0 else out


def far_share(access: GatherAccess, resident):
    """Share of the lookups that fall on rows beyond the ``resident`` most popular (a number, or an
    array of them: a sweep over main-memory capacities)."""
    from .ops.popularity import HEAD, _zipf_weight
    k = np.clip(np.asarray(resident, dtype=np.float64), 0.0, float(access.table_rows))
    rows = float(access.table_rows)
    if access.distribution == "uniform":
        top = k / rows
    elif access.distribution == "zipf":   # sum_{j<=k} j^-a, as popularity._zipf_weight, on arrays
        a = access.zipf_alpha
        head = np.concatenate([[0.0], np.cumsum(np.arange(1, min(rows, HEAD) + 1, dtype=np.float64) ** -a)])
        lo, hi = HEAD + 0.5, k + 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.log(hi / lo) if a == 1 else (hi ** (1 - a) - lo ** (1 - a)) / (1 - a)
        top = np.where(k > HEAD, head[-1] + tail, head[np.minimum(k, HEAD).astype(np.int64)]) / _zipf_weight(rows, a)
    else:   # a user's ids: the counts of the most read rows
        counts = np.sort(np.bincount(np.asarray(access.ids.ids, dtype=np.int64)))[::-1]
        cum = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
        top = cum[np.minimum(k, counts.shape[0]).astype(np.int64)] / cum[-1]
    out = np.where(k >= rows, 0.0, np.clip(1.0 - top, 0.0, 1.0))
    return float(out) if out.ndim == 0 else out


def far_tier_of(hw: HardwareSpec) -> str:
    """The level after main memory ("" when the device has none)."""
    return hw.memory[hw.main_index + 1].name if len(hw.memory) > hw.main_index + 1 else ""


# Per (workload, device): placing runs the footprint model; keyed by id() and checked with weak
# references (hashing a Workload walks every op), as roofline's per-workload tables are.
_PLACED: dict = {}


def place_tables(workload, hw: HardwareSpec) -> TablePlacement:
    """Where ``hw`` holds ``workload``'s tables (see the module docstring)."""
    key = (id(workload), id(hw))
    hit = _PLACED.get(key)
    if hit is not None and hit[0]() is workload and hit[1]() is hw:
        return hit[2]
    out = _place(workload, hw)
    if len(_PLACED) >= 256:
        _PLACED.clear()
    _PLACED[key] = (weakref.ref(workload), weakref.ref(hw), out)
    return out


def _place(workload, hw: HardwareSpec) -> TablePlacement:
    ops = table_ops(workload.ops)
    main, far = hw.main_memory.name, far_tier_of(hw)
    if not ops:
        return TablePlacement(main, far, None)
    cap = hw.main_memory.total_capacity_bytes
    budget = main_budget(workload, hw)
    keep, far_lookups, _ = placements_at(workload, hw, np.array([np.nan if cap is None else cap]))
    shares = tuple(TableShare(i, op.name, table_bytes(op.access), int(k), k * float(op.access.row_bytes),
                              (op.access.table_rows - k) * float(op.access.row_bytes), float(f))
                   for (i, op), k, f in zip(ops, keep[0], far_lookups[0]))
    spilled = any(s.far_bytes for s in shares)
    return TablePlacement(main, far if spilled else "", budget, shares,
                          hw.level(far).total_capacity_bytes if spilled else None)


def placements_at(workload, hw: HardwareSpec, main_total: np.ndarray):
    """The placement at P main-memory capacities (``main_total`` [P] bytes, nan: unknown; a sweep):
    ([P, T] resident rows, [P, T] bytes per execution read from the far tier, [P] table bytes held
    in the far tier), T over ``table_ops``. Nothing spills without a far tier."""
    ops = table_ops(workload.ops)
    P = main_total.shape[0]
    accesses = [op.access for _, op in ops]
    rows = np.array([float(a.table_rows) for a in accesses])
    size = np.array([float(a.row_bytes) for a in accesses])
    keep = np.tile(rows, (P, 1))
    far_lookups = np.zeros((P, len(ops)))
    if not ops or not far_tier_of(hw):
        return keep, far_lookups, np.zeros(P)
    from .memory import footprint
    total = float((rows * size).sum())
    budget = main_total - (footprint(workload, hw).total - total)
    # when the rest of the step alone overflows main memory the time is not achievable anyway:
    # the tables are left resident with it (and the memory footer says so)
    spill = ~np.isnan(main_total) & (total > budget) & (budget >= 0)
    if spill.any():
        keep[spill] = resident_rows(accesses, budget[spill])
        for t, a in enumerate(accesses):
            share = far_share(a, keep[:, t])
            far_lookups[:, t] = np.where(keep[:, t] < rows[t], float(a.lookups) * share * size[t], 0.0)
    return keep, far_lookups, ((rows - keep) * size).sum(axis=1)


def charge_far_tier(B: np.ndarray, workload, hws) -> np.ndarray:
    """[H, N, L] bytes per level with each device's far-row lookups moved from main memory to its
    far tier (at most what main memory served for the op). ``B`` is changed in place."""
    if workload is None or not table_ops(workload.ops):
        return B
    for i, h in enumerate(hws):
        tp = place_tables(workload, h)
        if not tp.spills:
            continue
        main, far = h.main_index, [m.name for m in h.memory].index(tp.far_tier)
        for t in tp.tables:
            moved = min(t.far_lookup_bytes, B[i, t.index, main])
            B[i, t.index, main] -= moved
            B[i, t.index, far] += moved
    return B


def table_lines(tp: TablePlacement, hw: HardwareSpec, counts) -> list[str]:
    """What the time assumes about the tables when they spill beyond main memory (run's footer)."""
    if not tp.spills:
        return []
    from .units import format_quantity as fq
    far = hw.level(tp.far_tier)
    bw = f" at {fq(far.bandwidth_bytes_per_s, 'bandwidth')}" if far.bandwidth_bytes_per_s else ""
    spilled = [t for t in tp.tables if t.far_bytes]
    return [f"Embedding tables beyond {tp.main}: the time above keeps the hottest rows "
            f"({fq(sum(t.main_bytes for t in tp.tables), 'bytes')}) in {tp.main} and "
            f"{fq(sum(t.far_bytes for t in tp.tables), 'bytes')} in {tp.far_tier}; the lookups of those rows, "
            f"{fq(tp.far_traffic(counts), 'bytes')} per step, are read from {tp.far_tier}{bw} (the ops' bytes_{tp.far_tier}). "
            f"Split: " + ", ".join(f"{t.table} {fq(t.main_bytes, 'bytes')} + {fq(t.far_bytes, 'bytes')}"
                                   for t in spilled) + "."]
