"""Sensitivity: which spec field buys the most speed for a workload (or a weighted mix).

For every field of the device that a sweep can vary (roofsim.sweep.sweepable: compute peaks,
level bandwidths and capacities, link bandwidths, the latency floor), the elasticity of runtime

    e = d ln t / d ln p  ~  (ln t(p (1+h)) - ln t(p (1-h))) / (ln(1+h) - ln(1-h))

(a central difference, h = ``step``), and the speedup from doubling the field, t(p) / t(2p). All
points are evaluated together as one sweep (2 x fields + fields + 1 design points). e = -1: time
falls in proportion (a memory-bound decode step and its HBM bandwidth); 0: the field does not
matter here; a roofline is piecewise, so at a kink e is the mean of the two sides' slopes.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .errors import Problem, SpecError
from .specs import HardwareSpec


def sensitivity(hardware, workloads, *, step: float = 0.01, ideal: bool = False, cache_model: str = "mrc",
                hw_overrides=None, wl_overrides=None, hw_path=(), wl_path=()):
    """``workloads``: ``a,b=0.3`` or (Workload or name, weight) pairs. A DataFrame ranked by |elasticity|: field, value (SI), dimension, elasticity, speedup_2x,
    note (why a doubled design is not evaluated). ``df.attrs``: time_s (the base design's),
    fits and footprint_bytes (whether the largest workload fits in main memory)."""
    import pandas as pd
    from .api import predictor
    from .hw import derive, get_hardware
    from .sweep import Sweep, base_value, load_workloads, param, sweepable
    if not (isinstance(step, (int, float)) and not isinstance(step, bool) and 0 < step <= 0.5):
        raise SpecError(Problem(None, "--step", "a relative step in (0, 0.5], e.g. 0.01", repr(step)))
    if isinstance(hardware, HardwareSpec):
        hw = derive(hardware, hw_overrides, id=hardware.id, name=hardware.name, kind=hardware.kind,
                    source=hardware.source) if hw_overrides else hardware
    else:
        hw = get_hardware(hardware, hw_path, overrides=hw_overrides or None)
    params = [p for p in (param(path, hw) for path in sweepable(hw)) if base_value(p, hw)]
    wls, weights = load_workloads(workloads, wl_path, wl_overrides)
    sweep = Sweep(hw, wls, params, weights, ideal=ideal, predictor=predictor(cache_model))
    base = np.array([base_value(p, hw) for p in params], dtype=np.float64)
    A = len(params)
    X = np.repeat(base[None, :], 1 + 3 * A, axis=0)
    for i in range(A):
        X[1 + i, i] *= 1 + step
        X[1 + A + i, i] *= 1 - step
        X[1 + 2 * A + i, i] *= 2
    out = sweep.evaluate(X)
    t = out["time_s"]
    t0, up, down, doubled = t[0], t[1:1 + A], t[1 + A:1 + 2 * A], t[1 + 2 * A:]
    with np.errstate(divide="ignore", invalid="ignore"):
        elasticity = (np.log(up) - np.log(down)) / (math.log1p(step) - math.log1p(-step))
    # Whether the workload fits is the same question at every point; a doubled field that breaks
    # a spec invariant (an inner level as large as main memory) is not a design.
    invalid = np.char.startswith(out["reason"][1 + 2 * A:].astype(str), "invalid")
    rows = [{"field": p.path, "value": base[i], "dimension": p.dimension,
             "elasticity": float(elasticity[i]) if abs(elasticity[i]) > 1e-12 else 0.0,
             "speedup_2x": float(t0 / doubled[i]) if not invalid[i] else float("nan"),
             "note": f"doubled: {out['reason'][1 + 2 * A + i]}" if invalid[i] else ""}
            for i, p in enumerate(params)]
    df = pd.DataFrame(rows)
    df = df.iloc[np.argsort(-np.abs(df["elasticity"].to_numpy()), kind="stable")].reset_index(drop=True)
    df.attrs.update(time_s=float(t0), hardware=hw.id, workloads=[(w.name, x) for w, x in zip(wls, weights)], step=step, ideal=ideal,
                    fits=bool(out["fits"][0]), footprint_bytes=float(out["footprint_bytes"][0]))
    return df
