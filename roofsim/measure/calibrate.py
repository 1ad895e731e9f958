"""Fit a device's efficiency parameters to measured kernel times (``roofsim calibrate``).

A handful of bounded, physically meaningful parameters (fit_parameters) are fitted by robust
least squares on log time: residual r = log(predicted / measured), Huber loss (quadratic within
HUBER_DELTA = 10 %, linear beyond, so a few odd kernels cannot drag the fit), minimised by
Levenberg-Marquardt with iteratively reweighted residuals. Each parameter lives in (lo, hi) via
a logistic map, so every step stays physical. A weak pull towards the starting value keeps a
parameter that the data cannot see (no memory-bound kernels, say) where it was: at the file's
own value, or (``from_prior``, ``start``) at the fitted value of the covered device its
``efficiency.prior`` names, so what a source leaves unseen falls back to a measured device of the
same or an adjacent generation rather than to generic defaults.

The result carries the error before and after the fit and a k-fold cross-validated error
(each fold fitted without its kernels, scored on them), so a user can trust the fit on shapes
outside the file. numpy only: six parameters and a few hundred kernels need no scipy.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import Problem, RoofsimError, SpecError
from ..specs import DEFAULT_LATENCY_S, Efficiency, HardwareSpec
from .records import Measurement
from .validate import predict as _predict, select

HUBER_DELTA = 0.10
MAX_ITERATIONS = 60
PRIOR_WEIGHT = 1e-4     # pull (in logit units) towards the start, against one kernel's squared log residual
MIN_KERNELS = 3


@dataclass(frozen=True)
class FitParameter:
    """One fitted quantity: how to read it from a spec, how to set it, its bounds, its file path."""
    name: str
    path: str                 # dotted override path in a hardware file (``set:`` of the derived file)
    lo: float
    hi: float
    get: Callable[[HardwareSpec], float]
    put: Callable[[HardwareSpec, float], HardwareSpec]
    unit: str = ""            # "time" for quantities written with a unit


def _eff(hw: HardwareSpec, **changes) -> HardwareSpec:
    return dataclasses.replace(hw, efficiency=dataclasses.replace(hw.efficiency, **changes))


def _kernel(hw: HardwareSpec, **changes) -> HardwareSpec:
    return _eff(hw, kernel=dataclasses.replace(hw.efficiency.kernel, **changes))


def _with_fraction(table: tuple, key: str, value: float) -> tuple:
    d = dict(table)
    d[key] = value
    return tuple(d.items())


def _main_fraction_get(hw: HardwareSpec) -> float:
    return hw.efficiency.memory_fraction(hw.main_memory.name)


def _memory_latency_get(hw: HardwareSpec) -> float:
    from ..kernelmodel import memory_latency
    return memory_latency(hw)


def _compute_fraction(dtype: str) -> FitParameter:
    key = "default" if dtype == "default" else dtype
    return FitParameter(f"compute" if key == "default" else f"compute.{key}", f"efficiency.compute.{key}", 0.3, 1.0,
                        lambda h: h.efficiency.compute_fraction(key),
                        lambda h, v: _eff(h, compute=_with_fraction(h.efficiency.compute, key, v)))


def _matrix_dtypes(hw: HardwareSpec, measurements: Sequence[Measurement]) -> list[str]:
    """Dtypes (as the device runs them) of the matrix FLOPs in ``measurements``, most kernels first."""
    counts: dict[str, int] = {}
    for m in measurements:
        for op in m.ops:
            for f in op.flops:
                if f.unit == "matrix" and f.flops > 0:
                    d = hw.compute.resolve(f.dtype, f.unit).dtype
                    counts[d] = counts.get(d, 0) + 1
    return sorted(counts, key=lambda d: -counts[d])


def fit_parameters(hw: HardwareSpec, measurements: Sequence[Measurement] = ()) -> list[FitParameter]:
    """The fitted parameters of ``hw``: the five of the module docstring, plus one compute
    fraction for every further matrix dtype with at least MIN_KERNELS kernels (TF32 GEMMs reach
    a smaller share of their peak than bf16 ones; the commonest dtype sets ``default``), plus
    the eager framework's per-op dispatch when at least MIN_KERNELS kernels were host-timed,
    and the fixed cost per kernel of each kernel class (fixed_cost_keys).

    The device's own fixed costs (launch floor, memory latency, fixed cost per kernel) are
    fitted only when at least MIN_KERNELS kernels were timed on the device (``timing`` kernel):
    a host clock adds the framework's dispatch in series with them, which host-timed kernels
    cannot tell apart from them (a fit of PyTorch-timed kernels alone would otherwise put 10-40
    us of Python into a per-kernel cost that every kernel of ``roofsim run`` then pays). Given
    no measurements, every parameter is listed (what ``start`` copies from the prior)."""
    device_timed = [m for m in measurements if m.timing == "kernel"]   # not "events": see records.py
    device_terms = not measurements or len(device_timed) >= MIN_KERNELS
    main = hw.main_memory.name
    dtypes = _matrix_dtypes(hw, measurements)
    counts = {d: sum(1 for m in measurements for op in m.ops for f in op.flops
                     if f.unit == "matrix" and f.flops > 0 and hw.compute.resolve(f.dtype, f.unit).dtype == d)
              for d in dtypes}
    # a dtype with a fraction of its own in hw (a prior's) is fitted under its own key, so that
    # the fit moves what its kernels are priced with
    own = {k for k, _ in hw.efficiency.compute}
    extra = [_compute_fraction(d) for i, d in enumerate(dtypes)
             if (i > 0 and counts[d] >= MIN_KERNELS) or (i == 0 and d in own)]
    return [
        _compute_fraction("default"),
        *extra,
        FitParameter("memory", f"efficiency.memory.{main}", 0.3, 1.0, _main_fraction_get,
                     lambda h, v: _eff(h, memory=_with_fraction(h.efficiency.memory, main, v))),
        *((_LATENCY, _MEMORY_LATENCY, *(_fixed_cost(key) for key in fixed_cost_keys(hw, device_timed)))
          if device_terms else ()),
        FitParameter("tile_overhead_depth", "efficiency.kernel.tile_overhead_depth", 1.0, 2048.0,
                     lambda h: h.efficiency.kernel.tile_overhead_depth,
                     lambda h, v: _kernel(h, tile_overhead_depth=v)),
        *([_EAGER] if sum(m.timing == "host" for m in measurements) >= MIN_KERNELS else []),
        *([_COMPILED] if sum(m.timing == "host-compiled" for m in measurements) >= MIN_KERNELS else []),
    ]


# Every kernel's fixed cost in series with its roofline time (grid launch, first wave's ramp,
# tail drain, as a profiler times a kernel), kept apart from memory_latency (a term of the memory
# side only): without it, a GEMM source's few-us fixed cost lands in memory_latency and turns
# its small GEMMs memory-bound, which pulls the memory fraction away from what streaming
# kernels need. efficiency.per_call (an op's call cost, added to its time) is that term.
#
# Tiled kernels (the ops the kernel model runs as grids of output tiles: DenseAccess, e.g. GEMMs)
# pay a larger one than streaming kernels, measured on four generations and two timing methods:
# 5.4-5.5 us for XLA's bf16 dots on H100 and B200 (CUPTI kernel activity: device start to end,
# no host time), 6.7-7.6 us for DeepBench's cuBLAS GEMMs on V100 and T4 (CUDA events around
# back-to-back calls), against 1.4-1.8 us for the fused add+RMSNorm kernels on B200 and H200.
# A tiled kernel sets up a deep shared-memory pipeline (barriers, tensor-memory descriptors,
# the k-stages of the prologue) and drains its C tiles through shared memory before it ends;
# a streaming kernel does neither. Row reductions (LayerNorm, RMSNorm, softmax: one block per row
# reduces it across the block, waits at a barrier, then makes its second, normalising pass) run
# two dependent phases where an elementwise kernel runs one: ATen's LayerNorm of a few rows takes
# 7 us on the A100 of Vidur's profiles, ATen's add of a few rows 2 us. So each of these op kinds
# (FITTED_CALL_KINDS) has its own fixed cost, fitted where its kernels are and otherwise kept
# from the prior device.
FITTED_CALL_KINDS = ("gemm", "layernorm", "rmsnorm", "softmax")


def fixed_cost_keys(hw: HardwareSpec, measurements: Sequence[Measurement] = ()) -> list[str]:
    """The efficiency.per_call keys a fit of ``measurements`` on ``hw`` sets: ``default`` (every
    kernel without a key of its own) when at least MIN_KERNELS kernels are priced by it or no
    other kind is, and one per kind of FITTED_CALL_KINDS with at least MIN_KERNELS kernels; the
    other keys ``hw`` sets (a prior device's) are not fitted and keep their values."""
    counts: dict[str, int] = {}
    for m in measurements:
        key = m.kind if m.kind in FITTED_CALL_KINDS and all(op.kind == m.kind for op in m.ops) else "default"
        counts[key] = counts.get(key, 0) + 1
    tiled = [k for k, n in sorted(counts.items()) if k != "default" and n >= MIN_KERNELS]
    default = ["default"] if counts.get("default", 0) >= MIN_KERNELS or not tiled else []
    # a class without device-timed kernels keeps the start's value (a prior's): fitted from
    # host-timed kernels, its fixed cost would take in the host's dispatch (LLMCompass's
    # host-timed GEMMs put 12.6 us into per_call.gemm once Liger's device-timed norms were in)
    return [*default, *tiled]


def _fixed_cost(key: str) -> FitParameter:
    return FitParameter("fixed_cost" if key == "default" else f"fixed_cost.{key}", f"efficiency.per_call.{key}",
                        0.0, 20e-6, lambda h: h.efficiency.call_seconds(key),
                        lambda h, v: _eff(h, per_call_s=_with_fraction(h.efficiency.per_call_s, key, v)),
                        unit="time")

_LATENCY = FitParameter("latency", "efficiency.latency", 0.5e-6, 50e-6, lambda h: h.efficiency.latency_s,
                        lambda h, v: _eff(h, latency_s=v), unit="time")
_MEMORY_LATENCY = FitParameter("memory_latency", "efficiency.kernel.memory_latency", 0.05e-6, 20e-6,
                               _memory_latency_get, lambda h, v: _kernel(h, memory_latency_s=v), unit="time")

_EAGER = FitParameter("eager_overhead", "efficiency.kernel.eager_overhead", 1e-6, 100e-6,
                      lambda h: h.efficiency.kernel.eager_overhead_s,
                      lambda h, v: _kernel(h, eager_overhead_s=v), unit="time")
# A torch.compile'd call's host cost (guards, wrapper) apart from an eager op's: LLMCompass times
# eager softmax calls (~10 us of dispatch at the smallest sizes) and compiled LayerNorm and GELU
# calls (~45 us) on one host, which a single host cost cannot describe.
_COMPILED = FitParameter("compiled_overhead", "efficiency.kernel.compiled_overhead", 1e-6, 200e-6,
                         lambda h: h.efficiency.kernel.host_overhead_s("compiled"),
                         lambda h, v: _kernel(h, compiled_overhead_s=v), unit="time")


def _to_z(v, lo, hi):
    u = (v - lo) / (hi - lo)
    # A start on a bound (the fixed cost's 0 where a file sets none) has no gradient in logit
    # space, and from there a kernel's fixed cost hides in the floor and memory latency (a local
    # minimum): such a start, and the pull towards it, begin 5 % inside the range (1 us).
    u = 0.05 if u <= 0 else 0.95 if u >= 1 else u
    u = np.clip(u, 1e-6, 1 - 1e-6)
    return float(np.log(u / (1 - u)))


def _from_z(z, lo, hi):
    return lo + (hi - lo) / (1.0 + np.exp(-z))


@functools.lru_cache(maxsize=1)
def _cache_model():
    """One predictor for every fit of a process: its curves are memoised per table and cache."""
    from ..api import predictor
    return predictor("mrc")


def predict(hw: HardwareSpec, measurements: Sequence[Measurement]) -> np.ndarray:
    """validate.predict with the cache model that ``roofsim run`` and ``roofsim validate`` use by
    default (mrc), so that a fit prices gathers as validate reports them (a table that fits the L2
    is served from it); built only when a kernel has irregular accesses (it imports numba)."""
    if not any(op.access.kind == "irregular" for m in measurements for op in m.ops):
        return _predict(hw, measurements)
    return _predict(hw, measurements, predictor=_cache_model())


def errors(hw: HardwareSpec, measurements: Sequence[Measurement]) -> np.ndarray:
    """|predicted / measured - 1| per kernel."""
    t = np.array([m.time_s for m in measurements])
    return np.abs(predict(hw, measurements) / t - 1.0)


def summary(err: np.ndarray) -> dict:
    return {"kernels": int(len(err)), "mean_abs_error": float(np.mean(err)) if len(err) else float("nan"),
            "median_abs_error": float(np.median(err)) if len(err) else float("nan")}


def _apply(hw, params, z):
    for p, zi in zip(params, z):
        hw = p.put(hw, float(_from_z(zi, p.lo, p.hi)))
    return hw


def fit(hw: HardwareSpec, measurements: Sequence[Measurement], params: Optional[Sequence[FitParameter]] = None
        ) -> tuple[HardwareSpec, dict]:
    """Robust fit of ``params`` (default: fit_parameters(hw)) -> (fitted spec, {name: value})."""
    params = list(params if params is not None else fit_parameters(hw, measurements))
    if len(measurements) < MIN_KERNELS:
        raise SpecError(Problem(None, "measurements", f"at least {MIN_KERNELS} kernels to fit", str(len(measurements))))
    log_t = np.log([m.time_s for m in measurements])
    z0 = np.array([_to_z(p.get(hw), p.lo, p.hi) for p in params])
    n = len(measurements)

    def residuals(z):
        r = np.log(predict(_apply(hw, params, z), measurements)) - log_t
        return np.concatenate([r, np.sqrt(PRIOR_WEIGHT) * (z - z0)])

    def loss(r):
        a = np.abs(r[:n])
        data = np.where(a <= HUBER_DELTA, 0.5 * a ** 2, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
        return float(data.sum() + 0.5 * (r[n:] ** 2).sum())

    z, damping = z0.copy(), 1e-2
    r = residuals(z)
    current = loss(r)
    for _ in range(MAX_ITERATIONS):
        a = np.abs(r[:n])
        w = np.concatenate([np.where(a <= HUBER_DELTA, 1.0, HUBER_DELTA / np.maximum(a, 1e-12)), np.ones(len(z))])
        J = np.empty((len(r), len(z)))
        for j in range(len(z)):        # forward differences in logit space
            dz = np.zeros(len(z))
            dz[j] = 1e-3
            J[:, j] = (residuals(z + dz) - r) / 1e-3
        JW = J * w[:, None]
        g = JW.T @ r
        A = JW.T @ J
        improved = False
        while damping < 1e8:
            step = np.linalg.solve(A + damping * np.diag(np.diag(A) + 1e-9), -g)
            r_new = residuals(z + step)
            new = loss(r_new)
            if new < current:
                z, r, improved = z + step, r_new, current - new > 1e-10 * max(current, 1e-12)
                current, damping = new, max(damping / 3.0, 1e-7)
                break
            damping *= 4.0
        if not improved:
            break
    fitted = _apply(hw, params, z)
    return fitted, {p.name: float(_from_z(zi, p.lo, p.hi)) for p, zi in zip(params, z)}


def defaults_of(hw: HardwareSpec) -> HardwareSpec:
    """``hw`` with roofsim's documented efficiency defaults (as if its file had no efficiency section)."""
    return dataclasses.replace(hw, efficiency=Efficiency(latency_s=DEFAULT_LATENCY_S[hw.kind]))


def prior_device(hw: HardwareSpec) -> Optional[HardwareSpec]:
    """The catalogue device ``efficiency.prior`` names (None when it names none)."""
    name = hw.efficiency.prior
    if name is None:
        return None
    from ..catalog import looks_like_path
    from ..hw import get_hardware
    problem = Problem(hw.file, "efficiency.prior", f"a catalogue device id other than {hw.id}", repr(name))
    if looks_like_path(name):
        raise SpecError(problem)
    try:
        ref = get_hardware(name)
    except (RoofsimError, OSError):   # OSError: a name too long for the file system
        raise SpecError(problem) from None
    if ref.id == hw.id:
        raise SpecError(problem)
    return ref


def start(hw: HardwareSpec, measurements: Sequence[Measurement] = ()) -> HardwareSpec:
    """Where a fit of ``hw`` from scratch begins (the catalogue's fits, their cross-validation).

    Every fitted parameter takes the value of the device ``efficiency.prior`` names, read from
    that device's catalogue entry (its own fit), else roofsim's documented default; everything
    else of ``hw`` is kept. A parameter the measurements do not inform stays there (the fit's
    weak pull), so a B200 fitted on GEMMs alone keeps the memory fraction the H200 fit found
    on norm kernels rather than the generic 0.85."""
    ref = prior_device(hw) or defaults_of(hw)
    # the fixed costs per kernel class come from the reference as a table: a class the
    # measurements do not hold (a prior's GEMMs, for norm kernels) keeps the reference's value
    # and so do the compute fractions per dtype (the prior's bf16 GEMMs' for a bf16 source)
    out = _eff(hw, per_call_s=ref.efficiency.per_call_s, compute=ref.efficiency.compute)
    for p in {p.name: p for p in (*fit_parameters(out), *fit_parameters(out, measurements))}.values():
        out = p.put(out, p.get(ref))
    return out


def folds(measurements: Sequence[Measurement], k: int, seed: int = 0) -> list[np.ndarray]:
    """Deterministic k-fold split of kernel indices (a seeded shuffle, then round robin)."""
    order = np.random.default_rng(seed).permutation(len(measurements))
    return [np.sort(order[i::k]) for i in range(k)]


def by_source(measurements: Sequence[Measurement]) -> list[np.ndarray]:
    """One held-out group per source (leave-one-source-out)."""
    sources = sorted({m.source for m in measurements})
    return [np.array([i for i, m in enumerate(measurements) if m.source == s]) for s in sources]


def cross_validate(hw: HardwareSpec, measurements: Sequence[Measurement], groups: Sequence[np.ndarray],
                   params: Optional[Sequence[FitParameter]] = None) -> np.ndarray:
    """Held-out |error| of every kernel: each group scored by a fit on all the other kernels.

    A group whose complement has too few kernels to fit is scored with ``hw`` as given."""
    err = np.full(len(measurements), np.nan)
    for g in groups:
        rest = [m for i, m in enumerate(measurements) if i not in set(g.tolist())]
        model = fit(hw, rest, params)[0] if len(rest) >= MIN_KERNELS else hw
        err[g] = errors(model, [measurements[i] for i in g])
    return err


@dataclass(frozen=True)
class Calibration:
    base: HardwareSpec
    fitted: HardwareSpec
    values: dict
    parameters: tuple
    before: dict
    after: dict
    cross_validated: dict
    folds: int
    kernels: int
    sources: tuple


def calibrate(hw: HardwareSpec, measurements: Sequence[Measurement], k: int = 5, seed: int = 0,
              from_prior: bool = False) -> Calibration:
    """Fit ``hw`` to its measurements (by device id or alias) and cross-validate the fit.

    The fit starts from ``hw``'s own values, or with ``from_prior`` from ``start(hw)`` (how the
    catalogue's entries are fitted); ``before`` is the error of that starting point."""
    mine = select(hw, measurements)
    if from_prior:
        hw = start(hw, mine)
    params = fit_parameters(hw, mine)
    fitted, values = fit(hw, mine, params)
    k = max(2, min(k, len(mine)))
    cv = cross_validate(hw, mine, folds(mine, k, seed), params)
    # the device terms these measurements cannot inform keep their starting values, written out
    # too, so a derived file says where they came from (the prior's fit, or the file's own)
    held = [p for p in fit_parameters(hw) if p.name not in values]
    values.update({p.name: p.get(hw) for p in held})
    return Calibration(hw, fitted, values, (*params, *held), summary(errors(hw, mine)), summary(errors(fitted, mine)),
                       summary(cv), k, len(mine), tuple(sorted({m.source for m in mine})))


def derived_document(cal: Calibration, new_id: Optional[str] = None, command: str = "") -> dict:
    """A hardware document that ``extends`` the calibrated device and ``set``s the fitted values."""
    hw = cal.base
    sets = {}
    for p in cal.parameters:
        v = cal.values[p.name]
        sets[p.path] = f"{v * 1e6:.4g} us" if p.unit == "time" else float(f"{v:.4g}")
    a, b, cv = cal.after, cal.before, cal.cross_validated
    source = (f"roofsim calibrate{(': ' + command) if command else ''}; robust (Huber 10 %) least squares on log time "
              f"over {cal.kernels} measured kernels from {len(cal.sources)} source(s): "
              + "; ".join(cal.sources))
    notes = (f"mean |error| {b['mean_abs_error']:.1%} -> {a['mean_abs_error']:.1%} (median {b['median_abs_error']:.1%} -> "
             f"{a['median_abs_error']:.1%}); {cal.folds}-fold cross-validated mean {cv['mean_abs_error']:.1%}, "
             f"median {cv['median_abs_error']:.1%}.")
    return {"schema_version": 1, "id": new_id or f"{hw.id}-calibrated", "name": f"{hw.name} (calibrated)",
            "vendor": hw.vendor, "kind": hw.kind, "extends": hw.id, "source": source, "notes": notes,
            "set": sets}
