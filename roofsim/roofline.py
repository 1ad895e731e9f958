"""The hierarchical roofline: time, bound and attainment of every op on every device.

Time of one execution of an op = the largest of
  compute:      sum over its FLOP counts of FLOPs / (peak of the unit and dtype it runs on x efficiency)
  memory:<lvl>: bytes served by that level / (its bandwidth x efficiency), for every level
  interconnect: link bytes / (link bandwidth per direction x efficiency) + steps x link latency
  latency:      the device's per-op floor (kernel launch); no op is faster
and the op's bound is the term that wins. ``ideal=True`` drops efficiencies and latencies:
a pure roofline, an upper bound on speed. Everything is vectorised over ops x devices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from .errors import Problem, SpecError
from .ops.access import ExplicitAccess
from .ops.op import Op, Workload
from .specs import HardwareSpec, PeakResolution
from .traffic import analytic_bytes, comm_terms, explicit_bytes, level_arrays, op_arrays


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


def evaluate_arrays(hardware: Union[HardwareSpec, Sequence[HardwareSpec]], ops: Union[Workload, Sequence[Op]],
                    ideal: bool = False, predictor=None) -> Evaluation:
    hws = [hardware] if isinstance(hardware, HardwareSpec) else list(hardware)
    workload = ops if isinstance(ops, Workload) else None
    ops = list(ops.ops) if isinstance(ops, Workload) else list(ops)
    H, N = len(hws), len(ops)
    keys, F = _flop_matrix(ops)
    peak, frac, resolutions = _compute_peaks(hws, keys, ideal)
    t_compute = (F[None, :, :] / (peak * frac)[:, None, :]).sum(axis=2)   # [H, N]
    if not ideal:
        for i, h in enumerate(hws):
            eff = _size_efficiency(h, F.sum(axis=1))
            if eff is not None:  # the table replaces the per-dtype fraction
                t_compute[i] = (F / peak[i][None, :]).sum(axis=1) / eff

    lv = level_arrays(hws)
    oa = op_arrays(ops)
    B = analytic_bytes(oa, lv)                                             # [H, N, L]
    link_t = np.zeros((H, N))
    links = [[""] * N for _ in range(H)]
    for j, op in enumerate(ops):
        kind = op.access.kind
        if not (kind == "comm" or (kind == "irregular" and predictor is not None)
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
    bw = lv.bandwidth * (1.0 if ideal else lv.efficiency)                  # [H, L]
    t_memory = B / bw[:, None, :]
    floor = np.zeros(H) if ideal else np.array([h.efficiency.latency_s for h in hws])
    terms = np.concatenate([t_compute[:, :, None], np.broadcast_to(floor[:, None, None], (H, N, 1)),
                            link_t[:, :, None], t_memory], axis=2)
    bound = np.argmax(terms, axis=2)
    time = np.take_along_axis(terms, bound[:, :, None], axis=2)[:, :, 0]
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
             ideal: bool = False, predictor=None):
    """One row per (device, op): the DataFrame the CLI prints. See ``to_frame`` for the columns."""
    return to_frame(evaluate_arrays(hardware, workload, ideal=ideal, predictor=predictor))


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
    rows = []
    for i, h in enumerate(ev.hws):
        names = ev.level_names[i]
        for j, op in enumerate(ev.ops):
            c = op.count
            primary = max(range(len(ev.keys)), key=lambda k: ev.flops[j, k]) if op.flops else 0
            res: PeakResolution = ev.resolutions[i][primary] if ev.keys else None
            flops = op.total_flops * c
            t = ev.time[i, j] * c
            row = {
                "hardware": h.id, "workload": ev.workload.name if ev.workload else "", "op": op.name,
                "kind": op.kind, "phase": op.phase, "count": c, "dtype": op.dtype,
                "dtype_used": res.dtype if res else "", "unit_used": res.unit if res else "",
                "note": res.note if res else "", "flops": flops,
            }
            for l, name in enumerate(names):
                b = ev.bytes[i, j, l] * c
                row[f"bytes_{name}"] = b
                row[f"intensity_{name}"] = flops / b if b > 0 else np.nan
            row["time_compute_s"] = ev.t_compute[i, j] * c
            for l, name in enumerate(names):
                row[f"time_{name}_s"] = ev.t_memory[i, j, l] * c
            row["time_link_s"] = ev.t_link[i, j] * c
            row["link"] = ev.links[i][j]
            row["time_s"] = t
            row["bound"] = bound_label(int(ev.bound_code[i, j]), names, ev.links[i][j])
            row["attained_flop_per_s"] = flops / t if t > 0 else 0.0
            peak = res.flop_per_s if res else np.nan
            row["peak_flop_per_s"] = peak
            row["fraction_of_peak"] = row["attained_flop_per_s"] / peak if peak else np.nan
            rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs.update(ideal=ev.ideal, hardware=[h.id for h in ev.hws],
                    workload=ev.workload.name if ev.workload else "")
    return df
