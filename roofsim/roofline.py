"""The hierarchical roofline: time, bound and attainment of every op on every device.

Time of one execution of an op = the largest of
  compute:      sum over its FLOP counts of FLOPs / (peak of the unit and dtype it runs on x efficiency)
  memory:<lvl>: bytes served by that level / (its bandwidth x efficiency), for every level; for
                irregular ops at least lines x latency / memory parallelism where the spec gives one
  interconnect: link bytes / (link bandwidth per direction x efficiency) + steps x link latency
  latency:      the device's per-op floor (kernel launch); no op is faster
and the op's bound is the term that wins. Where a spec describes a library (a measured CPU),
the calling core's own work is ADDED to that: the call's cost and the library's time per item
(rows gathered, nonzeros, inner-loop runs, packed GEMM elements; traffic.library_seconds);
on a GPU the call's cost (efficiency.per_call) is each kernel's fixed cost on the device, also
added; when it exceeds the largest term the bound is reported as ``latency`` (fixed costs). On GPUs the kernel model (roofsim/kernelmodel.py)
refines the terms without adding new ones: GEMM compute pays for wave quantisation and tile
overheads, the main-memory term for one memory round trip (the bandwidth ramp), multi-pass
rows and cache residency move bytes, and ``overhead="eager"`` raises the floor.
``ideal=True`` drops efficiencies, latencies and kernel effects: a pure roofline, an upper
bound on speed. ``warm=True`` prices the steady state of the ops run back to back in a loop
(traffic.warm_bytes: a footprint that fits in a cache is served from it). Everything is
vectorised over ops x devices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from .errors import Problem, SpecError
from .kernelmodel import kernel_terms
from .memo import ByIdentity
from .ops.access import ExplicitAccess
from .ops.op import Op, Workload
from .specs import HardwareSpec, PeakResolution
from .tiers import charge_far_tier, table_ops
from .traffic import (analytic_bytes, comm_terms, explicit_bytes, level_arrays, library_seconds, op_arrays,
                      random_access_seconds, warm_bytes)


@dataclass(frozen=True)
class Evaluation:
    """Raw arrays of one evaluation (the fast path for sweeps); ``to_frame`` makes the DataFrame."""
    hws: list
    ops: list
    workload: Optional[Workload]
    ideal: bool
    keys: list                   # (dtype, unit) FLOP columns
    flops: np.ndarray            # [N, K] per execution
    resolutions: list            # [H][K] PeakResolution
    bytes: np.ndarray            # [H, N, L] per execution
    t_compute: np.ndarray        # [H, N]
    t_memory: np.ndarray         # [H, N, L]
    t_link: np.ndarray           # [H, N]
    links: list                  # [H][N] link names
    floor: np.ndarray            # [H]
    time: np.ndarray             # [H, N] per execution
    bound_code: np.ndarray       # [H, N]: 0 compute, 1 latency, 2 link, 3+j memory level j
    level_names: list

    @property
    def counts(self) -> np.ndarray:
        """[N] executions of each op."""
        return np.array([op.count for op in self.ops], dtype=np.int64)

    @property
    def total_time_s(self) -> np.ndarray:
        """[H] time of the whole workload on each device (the sum of to_frame's time_s)."""
        return (self.time * self.counts).sum(axis=1)


def _flop_matrix(ops: Sequence[Op]):
    keys: list = []
    for op in ops:
        for f in op.flops:
            if (f.dtype, f.unit) not in keys:
                keys.append((f.dtype, f.unit))
    F = np.zeros((len(ops), max(len(keys), 1)))
    for i, op in enumerate(ops):
        for f in op.flops:
            F[i, keys.index((f.dtype, f.unit))] += f.flops
    return keys, F


# Per-workload tables, reused while the same (frozen) Workload object is evaluated again: a
# warm query spends its time on the model, not on rebuilding them (roofsim/memo.py).
_TABLES = ByIdentity()


def _op_tables(workload: Optional[Workload], ops: list):
    def make():
        keys, F = _flop_matrix(ops)
        F.flags.writeable = False  # shared by every Evaluation of this workload
        return keys, F, op_arrays(ops)
    return make() if workload is None else _TABLES.get(workload, make)


# What one device and one workload's ops alone decide (the tiled bytes, the kernel model's
# terms), kept per (device, OpArrays) pair: a warm query asks for the same pair again.
_PAIRS = ByIdentity()


def _one_device(hws: list, oa, what: str, make):
    """``make()`` once per (device, ops, what) when ``hws`` is one device; read-only arrays."""
    if len(hws) != 1:
        return make()
    slot = _PAIRS.get(hws[0], ByIdentity).get(oa, dict)
    if what not in slot:
        slot[what] = _frozen(make())
    return slot[what]


def _frozen(value):
    for a in (value.__dict__.values() if hasattr(value, "__dict__") else (value,)):
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return value


def _compute_peaks(hws, keys, ideal) -> tuple[np.ndarray, np.ndarray, list]:
    """[H, K] peaks each (dtype, unit) key runs at, [H, K] achievable fractions, resolutions."""
    shape = (len(hws), max(len(keys), 1))
    peak, frac = np.full(shape, np.inf), np.ones(shape)
    res = []
    for i, h in enumerate(hws):
        row = [h.compute.resolve(dtype, unit) for dtype, unit in keys]
        for j, r in enumerate(row):
            peak[i, j] = r.flop_per_s
            frac[i, j] = 1.0 if ideal else h.efficiency.compute_fraction(r.dtype)
        res.append(row)
    return peak, frac, res


def _size_efficiency(h: HardwareSpec, flops: np.ndarray) -> Optional[np.ndarray]:
    table = h.efficiency.compute_by_size
    if not table:
        return None
    xs = np.log10([s for s, _ in table])
    ys = np.array([f for _, f in table])
    return np.interp(np.log10(np.maximum(flops, 1.0)), xs, ys)


def _depth_efficiency(h: HardwareSpec, oa) -> Optional[np.ndarray]:
    """[N] the compute_by_depth fraction of each dense op at its smallest dimension (1 for others)."""
    table = h.efficiency.compute_by_depth
    if not table:
        return None
    dense = oa.pattern == 0
    smallest = np.maximum(np.minimum(np.minimum(oa.m, oa.n), oa.k), 1.0)
    frac = np.interp(np.log2(smallest), np.log2([d for d, _ in table]), [f for _, f in table])
    return np.where(dense, frac, 1.0)


def gemv_ops(oa) -> np.ndarray:
    """[N] bool: matrix-vector products (dense ops with m or n = 1)."""
    return (oa.pattern == 0) & (np.minimum(oa.m, oa.n) <= 1)


def gemv_main_seconds(t_memory: np.ndarray, B: np.ndarray, gemv: np.ndarray, rate: Optional[float], main: int,
                      rows=slice(None)) -> None:
    """In place: the GEMVs' (``gemv`` [N] bool) main-memory time, at level ``main`` of the
    [.., N, L] arrays' ``rows``, is at least their bytes there / the library's GEMV ``rate``
    (efficiency.gemv_bandwidth: measured CPUs; None leaves it as it is)."""
    if rate and gemv.any():
        t_memory[rows, gemv, main] = np.maximum(t_memory[rows, gemv, main], B[rows, gemv, main] / rate)


def off_core_index(h: HardwareSpec) -> int:
    """The first level beyond a core's private caches: the first one shared by several CPUs, or
    main memory."""
    for j, m in enumerate(h.memory[:h.main_index]):
        if (m.shared_by or 1) > 1:
            return j
    return h.main_index


def evaluate_arrays(hardware: Union[HardwareSpec, Sequence[HardwareSpec]], ops: Union[Workload, Sequence[Op]],
                    ideal: bool = False, predictor=None, overhead: str = "kernel", warm: bool = False,
                    warm_each: bool = False) -> Evaluation:
    """The model's arrays for every (device, op). ``warm_each``: the ops are independent
    kernels, each timed warm in a loop of its own (a measurement table), not one loop."""
    hws = [hardware] if isinstance(hardware, HardwareSpec) else list(hardware)
    workload = ops if isinstance(ops, Workload) else None
    ops = list(ops.ops) if isinstance(ops, Workload) else list(ops)
    H, N = len(hws), len(ops)
    keys, F, oa = _op_tables(workload, ops)
    peak, frac, resolutions = _compute_peaks(hws, keys, ideal)
    t_compute = (F[None, :, :] / (peak * frac)[:, None, :]).sum(axis=2)   # [H, N]
    if not ideal:
        for i, h in enumerate(hws):
            eff = _size_efficiency(h, F.sum(axis=1))
            if eff is not None:  # the table replaces the per-dtype fraction
                t_compute[i] = (F / peak[i][None, :]).sum(axis=1) / eff
            depth = _depth_efficiency(h, oa)
            if depth is not None:
                t_compute[i] = t_compute[i] / depth

    lv = level_arrays(hws)
    B = _one_device(hws, oa, "bytes", lambda: analytic_bytes(oa, lv))   # [H, N, L]
    if not B.flags.writeable:   # the pair's kept copy: this evaluation fills in its own
        B = B.copy()
    link_t = np.zeros((H, N))
    links = [[""] * N for _ in range(H)]
    tables = table_ops(ops) if predictor is not None else []
    if tables:
        predictor.prepare_tables([op for _, op in tables], hws)
    for i, h in enumerate(hws):   # the embedding tables of a step share the caches
        for (j, _), served in zip(tables, predictor.table_level_bytes([op for _, op in tables], h) if tables else ()):
            B[i, j, :] = 0.0
            B[i, j, :len(h.memory)] = served
    shared = {j for j, _ in tables}
    for j, op in enumerate(ops):
        kind = op.access.kind
        if j in shared or not (kind == "comm" or (kind == "irregular" and predictor is not None)
                               or (kind == "explicit" and op.access.levels)):
            continue   # everything else is already vectorised in analytic_bytes
        for i, h in enumerate(hws):
            Lh = len(h.memory)
            if kind == "explicit":
                B[i, j, :] = 0.0
                B[i, j, :Lh] = explicit_bytes(op, h)
            elif kind == "irregular" and predictor is not None:
                B[i, j, :] = 0.0
                B[i, j, :Lh] = np.asarray(predictor.level_bytes(op, h), float)
            elif kind == "comm":
                link_t[i, j], links[i][j] = comm_terms(op, h, ideal)
    charge_far_tier(B, workload, hws)   # embedding tables beyond main memory: each device places its own
    if warm or warm_each:
        B = warm_bytes(B, ops, hws, each=warm_each)
    bw = lv.bandwidth * (1.0 if ideal else lv.efficiency)                  # [H, L]
    if ideal:
        t_memory = B / bw[:, None, :]
        floor = np.zeros(H)
        fixed = np.broadcast_to(floor[:, None], (H, N))
    else:
        kt = _one_device(hws, oa, overhead, lambda: kernel_terms(hws, ops, oa, overhead))
        t_compute = t_compute * kt.compute_factor
        rows = np.arange(H)
        B[rows, :, lv.main_index] = np.maximum(B[rows, :, lv.main_index] + kt.extra_main_bytes - kt.resident_bytes, 0.0)
        t_memory = B / bw[:, None, :]
        main_t = t_memory[rows, :, lv.main_index]
        t_memory[rows, :, lv.main_index] = np.where(main_t > 0, main_t + kt.latency_s, 0.0)
        gemv = gemv_ops(oa)
        for i, h in enumerate(hws):
            gemv_main_seconds(t_memory, B, gemv, h.efficiency.gemv_bytes_per_s, int(lv.main_index[i]), i)
        floor = kt.floor_s
        # latency-bound random misses (specs with a memory parallelism: measured CPUs). The core
        # that waits on random rows from beyond its private caches (a shared last cache, main
        # memory) does the op's arithmetic between them, not under them (the parallelism was
        # measured on a bare gather; an off-core round trip is more than the out-of-order window
        # hides): that time adds to those waits. A private cache's few ns per row overlap it
        ra = random_access_seconds(B, oa, hws)
        far = np.zeros((len(hws), 1, ra.shape[2]), bool)
        for i, h in enumerate(hws):
            far[i, 0, off_core_index(h):h.main_index + 1] = True
        ra = np.where(far & (ra > 0), ra + t_compute[:, :, None], ra)
        t_memory = np.maximum(t_memory, ra)
        fixed = np.broadcast_to(floor[:, None], (H, N))
    terms = np.concatenate([t_compute[:, :, None], fixed[:, :, None],
                            link_t[:, :, None], t_memory], axis=2)
    bound = np.argmax(terms, axis=2)
    time = np.take_along_axis(terms, bound[:, :, None], axis=2)[:, :, 0]
    if not ideal:  # the library's own call and per-item work run before and around the loop
        library = library_seconds(ops, hws)
        bound = np.where(library > time, 1, bound)   # reported as latency: fixed costs, not rates
        time = time + library
    return Evaluation(hws, ops, workload, ideal, keys, F, resolutions, B, t_compute, t_memory, link_t, links,
                      floor, time, bound, lv.names)


def bound_label(code: int, level_names: list, link: str) -> str:
    if code == 0:
        return "compute"
    if code == 1:
        return "latency"
    if code == 2:
        return f"interconnect:{link}"
    return f"memory:{level_names[code - 3]}"


def evaluate(hardware: Union[HardwareSpec, Sequence[HardwareSpec]], workload: Union[Workload, Sequence[Op]],
             ideal: bool = False, predictor=None, overhead: str = "kernel", warm: bool = False):
    """One row per (device, op): the DataFrame the CLI prints. See ``to_frame`` for the columns."""
    return to_frame(evaluate_arrays(hardware, workload, ideal=ideal, predictor=predictor, overhead=overhead,
                                    warm=warm))


def require_distinct(hws: Sequence[HardwareSpec], spellings: Optional[Sequence[str]] = None,
                     where: str = "hardware") -> None:
    """Rows are keyed by device id (the ``hardware`` column), so one id given twice would merge
    two devices' rows and every per-device total would double: refuse it, saying how each was
    written (``a100`` and ``a100-sxm4-80gb`` are one device)."""
    named: dict[str, list[str]] = {}
    for i, h in enumerate(hws):
        named.setdefault(h.id, []).append(spellings[i] if spellings else h.id)
    problems = [Problem(None, where, "each device once",
                        f"{' and '.join(repr(s) for s in names)}, {'all' if len(names) > 2 else 'both'} naming {hid}"
                        + ("" if spellings else " (give a derived design its own id)"))
                for hid, names in named.items() if len(names) > 1]
    if problems:
        raise SpecError(problems)


def to_frame(ev: Evaluation):
    """Columns (units in names; time, flops and bytes are totals over ``count`` executions):
    hardware, workload, op, kind, phase, count, dtype, dtype_used, unit_used, note, flops,
    bytes_<level>, intensity_<level> (FLOP/byte), time_compute_s, time_<level>_s, time_link_s,
    link, time_s, bound, attained_flop_per_s, peak_flop_per_s, fraction_of_peak."""
    import pandas as pd
    require_distinct(ev.hws)
    # Built column by column from the arrays (a row of dicts per op cost more than the model).
    frames = [_device_columns(ev, i) for i in range(len(ev.hws))]
    if len({tuple(f) for f in frames}) == 1:  # same columns on every device: one frame
        df = pd.DataFrame({k: _concat([f[k] for f in frames]) for k in frames[0]})
    else:  # devices with different levels: the union of columns, NaN where a device lacks one
        df = pd.concat([pd.DataFrame(f) for f in frames], ignore_index=True, sort=False)
    df.attrs.update(ideal=ev.ideal, hardware=[h.id for h in ev.hws],
                    workload=ev.workload.name if ev.workload else "")
    return df


def _concat(parts: list):
    if len(parts) == 1:
        return parts[0]
    return sum(parts, []) if isinstance(parts[0], list) else np.concatenate(parts)


def _device_columns(ev: Evaluation, i: int) -> dict:
    h, names, ops = ev.hws[i], ev.level_names[i], ev.ops
    count = ev.counts
    primary = [int(np.argmax(ev.flops[j])) if op.flops else 0 for j, op in enumerate(ops)]
    res = [ev.resolutions[i][k] if ev.keys else None for k in primary]
    flops = np.array([op.total_flops for op in ops], dtype=float) * count
    cols = {
        "hardware": [h.id] * len(ops), "workload": [ev.workload.name if ev.workload else ""] * len(ops),
        "op": [op.name for op in ops], "kind": [op.kind for op in ops], "phase": [op.phase for op in ops],
        "count": count, "dtype": [op.dtype for op in ops],
        "dtype_used": [r.dtype if r else "" for r in res], "unit_used": [r.unit if r else "" for r in res],
        "note": [r.note if r else "" for r in res], "flops": flops,
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        for l, name in enumerate(names):
            b = ev.bytes[i, :, l] * count
            cols[f"bytes_{name}"] = b
            cols[f"intensity_{name}"] = np.where(b > 0, flops / b, np.nan)
        cols["time_compute_s"] = ev.t_compute[i] * count
        for l, name in enumerate(names):
            cols[f"time_{name}_s"] = ev.t_memory[i, :, l] * count
        cols["time_link_s"] = ev.t_link[i] * count
        cols["link"] = list(ev.links[i])
        t = ev.time[i] * count
        cols["time_s"] = t
        cols["bound"] = [bound_label(int(b), names, link) for b, link in zip(ev.bound_code[i], ev.links[i])]
        attained = np.where(t > 0, flops / t, 0.0)
        peak = np.array([r.flop_per_s if r else np.nan for r in res], dtype=float)
        cols["attained_flop_per_s"] = attained
        cols["peak_flop_per_s"] = peak
        cols["fraction_of_peak"] = np.where(peak != 0, attained / peak, np.nan)
    return cols
