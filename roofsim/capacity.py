"""Capacity questions over roofsim.memory.footprint: the largest batch that fits, the fewest devices
under each technique, which devices of a catalogue can hold a workload, and a scaling sweep.

- ``largest_batch(build, hw, layout, **techniques)``: the largest ``batch`` (sequences per
  micro-batch) for which ``build(batch)`` fits on one device of ``hw``; 0 when even 1 does not.
  Doubling, then bisection: about 2 log2(answer) footprints.
- ``fewest_devices(workload, capacity, domain, **techniques)``: for each strategy of
  ``strategies(training)`` the smallest power of two of devices whose per-device footprint fits
  in ``capacity`` bytes, up to ``MAX_DEVICES`` (None: not even then). Tensor parallelism stays
  inside the scale-up ``domain`` (the strategies that need more devices add pipeline stages).
- ``catalogue_fit(workload, hws, layout, **techniques)``: per device type, the per-device
  footprint under ``layout``, whether it fits, and the fewest devices under the best strategy.
- ``scaling(hw, workload, devices, tp, pp, ...)``: one StepTime per device count, a shared
  global batch (strong scaling) and the scaling efficiency against the first count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from .errors import Problem, SpecError
from .memory import footprint, transformer_shape
from .parallel import Layout, StepTime, step
from .specs import HardwareSpec

MAX_DEVICES = 2 ** 16
MAX_BATCH = 2 ** 24


@dataclass(frozen=True)
class Strategy:
    name: str
    layout: Callable[[int, int], dict]     # (devices, scale-up domain) -> Layout fields
    techniques: tuple[tuple[str, Any], ...] = ()
    training_only: bool = False
    serving_only: bool = False


def _tp_pp(n: int, domain: int, zero: int = 0, dp_first: bool = False) -> dict:
    tp = min(n, domain)
    return {"devices": n, "tp": tp, "pp": n // tp, "zero": zero}


STRATEGIES = (
    Strategy("replicated (plain data parallel)", lambda n, d: {"devices": n}),
    Strategy("ZeRO-1", lambda n, d: {"devices": n, "zero": 1}, training_only=True),
    Strategy("ZeRO-2", lambda n, d: {"devices": n, "zero": 2}, training_only=True),
    Strategy("ZeRO-3", lambda n, d: {"devices": n, "zero": 3}, training_only=True),
    Strategy("ZeRO-3 + optimizer offload", lambda n, d: {"devices": n, "zero": 3}, (("offload", ("optimizer",)),),
             training_only=True),
    Strategy("tensor parallel (in the domain)", lambda n, d: {"devices": n, "tp": n} if n <= d else None),
    Strategy("tensor + pipeline", lambda n, d: _tp_pp(n, d)),
    Strategy("tensor + sequence + pipeline", lambda n, d: {**_tp_pp(n, d), "sp": True}, training_only=True),
    Strategy("tensor + pipeline, int8 weights", lambda n, d: _tp_pp(n, d), (("weight_dtype", "int8"),),
             serving_only=True),
    Strategy("tensor + pipeline, int4 weights", lambda n, d: _tp_pp(n, d), (("weight_dtype", "int4"),),
             serving_only=True),
)


def strategies(training: bool) -> list[Strategy]:
    return [s for s in STRATEGIES if not (s.training_only and not training) and not (s.serving_only and training)]


def is_training(workload) -> bool:
    return any(op.phase in ("backward", "optimizer") for op in workload.ops)


def _fits(workload, capacity: float, layout: Layout, techniques: dict) -> Optional[float]:
    """The per-device total when ``layout`` is valid for ``workload``, else None."""
    tf = transformer_shape(workload)
    if tf is not None and (tf.heads % layout.tp or tf.ffn_hidden % layout.tp or layout.pp > tf.layers):
        return None
    if tf is None and (layout.tp > 1 or layout.pp > 1):
        return None
    return footprint(workload, None, **layout.techniques(), **techniques).total


def _layout(fields: Optional[dict]) -> Optional[Layout]:
    if fields is None:
        return None
    try:
        return Layout(**fields)
    except SpecError:
        return None


def fewest_devices(workload, capacity: float, domain: int = 8, **techniques: Any) -> list[dict]:
    """[{strategy, devices (None: not within MAX_DEVICES), per_device_bytes}] for each strategy."""
    out = []
    for s in strategies(is_training(workload)):
        tech = {**techniques, **dict(s.techniques)}
        found = None
        n = 1
        while n <= MAX_DEVICES:
            layout = _layout(s.layout(n, domain))
            total = _fits(workload, capacity, layout, tech) if layout is not None else None
            if total is not None and total <= capacity:
                found = (n, total)
                break
            n *= 2
        out.append({"strategy": s.name, "devices": found[0] if found else None,
                    "per_device_bytes": found[1] if found else None})
    return out


def largest_batch(build: Callable[[int], Any], hw: HardwareSpec, layout: Optional[Layout] = None,
                  **techniques: Any) -> int:
    """The largest micro-batch ``b`` for which ``build(b)`` fits on one device (0: not even 1)."""
    layout = layout or Layout()
    capacity = hw.main_memory.total_capacity_bytes
    if capacity is None:
        raise SpecError(Problem(hw.file, f"memory.{hw.main_memory.name}.capacity", "a capacity", "none"))

    def fits(b: int) -> bool:
        return footprint(build(b), hw, **layout.techniques(), **techniques).total <= capacity
    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= MAX_BATCH and fits(hi):
        lo, hi = hi, hi * 2
    if hi > MAX_BATCH:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def catalogue_fit(workload, hws: Sequence[HardwareSpec], layout: Optional[Layout] = None,
                  **techniques: Any) -> list[dict]:
    """Per device type: capacity, per-device bytes under ``layout``, fits, fewest devices (best strategy)."""
    from .comm import domain_size
    layout = layout or Layout()
    total = footprint(workload, None, **layout.techniques(), **techniques).total
    rows = []
    cache: dict = {}
    for h in hws:
        cap = h.main_memory.total_capacity_bytes
        if cap is None:
            rows.append({"hardware": h.id, "kind": h.kind, "capacity_bytes": None, "per_device_bytes": total, "fits": None,
                         "fewest_devices": None, "strategy": None})
            continue
        key = (cap, domain_size(h) or 8)
        if key not in cache:
            options = [r for r in fewest_devices(workload, cap, key[1], **techniques) if r["devices"]]
            cache[key] = min(options, key=lambda r: r["devices"]) if options else None
        best = cache[key]
        rows.append({"hardware": h.id, "kind": h.kind, "capacity_bytes": cap, "per_device_bytes": total, "fits": total <= cap,
                     "fewest_devices": best["devices"] if best else None, "strategy": best["strategy"] if best else None})
    return sorted(rows, key=lambda r: (r["fewest_devices"] is None, r["fewest_devices"] or 0, r["fits"] is not True,
                                       r["hardware"]))


@dataclass(frozen=True)
class ScalePoint:
    layout: Layout
    step: StepTime
    per_device_bytes: float
    fits: Optional[bool]
    efficiency: float
    note: str = ""


def scaling(hw: HardwareSpec, workload, devices: Sequence[int], *, tp: int = 1, pp: int = 1, sp: bool = False,
            zero: int = 0, microbatch: Optional[int] = None, global_batch: Optional[int] = None,
            overlap: bool = False, interleave: int = 1, ideal: bool = False, predictor=None,
            **techniques: Any) -> list[ScalePoint]:
    """Step time at each device count with ``tp`` x ``pp`` model parallelism and the rest data
    parallel. Counts below tp x pp shrink pp, then tp (said in ``note``). One global batch for every
    count (strong scaling): ``global_batch``, or the micro-batch times the largest data-parallel
    size. Efficiency: tokens/s per device against the first count's."""
    if not devices:
        raise SpecError(Problem(None, "devices", "at least one device count", "none"))
    batch = int(workload.param("batch") or 1)
    mb = microbatch or batch
    shapes = []
    for n in devices:
        t = min(tp, n)
        p = max(1, min(pp, n // t))
        note = "" if (t, p) == (tp, pp) else f"layout shrunk to tp {t}, pp {p}"
        shapes.append((n, t, p, note))
    gbs = global_batch or mb * max(n // (t * p) for n, t, p, _ in shapes)
    points = []
    for n, t, p, note in shapes:
        layout = Layout(devices=n, tp=t, pp=p, sp=sp and t > 1, zero=zero, microbatch=mb, global_batch=gbs,
                        overlap=overlap, interleave=interleave if p > 1 else 1)
        st, _ = step(hw, workload, layout, ideal=ideal, predictor=predictor)
        fp = footprint(workload, hw, **layout.techniques(), **techniques)
        points.append((layout, st, fp, note))
    base = points[0][1].tokens_per_s / points[0][0].devices if points[0][1].total_s else 0.0
    return [ScalePoint(l, st, fp.total, fp.fits, (st.tokens_per_s / l.devices) / base if base else 0.0, note)
            for l, st, fp, note in points]


def memory_report(hw: HardwareSpec, workload, build: Optional[Callable[[int], Any]] = None,
                  layout: Optional[Layout] = None, catalogue: Sequence[HardwareSpec] = (),
                  **techniques: Any) -> dict[str, Any]:
    """The document of ``roofsim memory``: the per-device breakdown on ``hw`` under ``layout``, the
    largest micro-batch that fits (when ``build(batch)`` rebuilds the workload), the fewest devices
    under each strategy, and the catalogue's devices."""
    from .comm import domain_size
    layout = layout or Layout()
    fp = footprint(workload, hw, **layout.techniques(), **techniques)
    cap = hw.main_memory.total_capacity_bytes
    doc: dict[str, Any] = {
        "hardware": hw.id, "workload": workload.name, "training": is_training(workload),
        "layout": {"devices": layout.devices, "tp": layout.tp, "pp": layout.pp, "dp": layout.data_parallel,
                   "sp": layout.sp, "zero": layout.zero},
        "techniques": {k: list(v) if isinstance(v, tuple) else v for k, v in techniques.items()},
        "memory": fp.as_json(),
        "largest_microbatch": largest_batch(build, hw, layout, **techniques) if build and cap else None,
        "fewest_devices": fewest_devices(workload, cap, domain_size(hw) or 8, **techniques) if cap else [],
        "catalogue": catalogue_fit(workload, catalogue, layout, **techniques) if catalogue else [],
    }
    return doc
