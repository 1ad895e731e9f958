"""Design-space sweeps: many hypothetical variants of one device, evaluated as arrays.

A sweep varies spec fields of a base device (``memory.hbm.bandwidth``, ``compute.bf16``,
``memory.l2.capacity``...) over ranges or lists (``parse_vary``), samples design points from them
(grid, random or Latin hypercube: ``design_points``) and evaluates every point on one or more
workloads (``Sweep``). Design points are arrays, never HardwareSpecs: the base device is turned
into arrays once (``roofsim.roofline.evaluate_arrays`` on one validated probe design, which also
checks every swept path), and each swept field replaces its column. What a sweep can change:

- a compute peak (``compute.<unit>.<dtype>``; ``compute.<dtype>`` is the unit that has it,
  matrix first): every op whose FLOPs run at that peak;
- a level's bandwidth (``memory.<level>.bandwidth``): that level's time term;
- a level's capacity (``memory.<level>.capacity``, per instance as in the YAML): the GEMM tiling
  of the level outside it, the miss-ratio curve of a modelled cache (each curve is read once for
  every capacity), and whether the workload fits in main memory;
- a link's bandwidth (``interconnect.<link>.bandwidth_per_direction``) and the per-op latency
  floor (``efficiency.latency``).

What main memory cannot hold of a workload's footprint (roofsim.memory.footprint) goes to the
far tiers behind it in order (host DRAM, LPDDR, CXL: roofsim.memory.place's rule, a tier without a
capacity holds the rest) and is read from there once per step at that tier's bandwidth, not
overlapped: a sweep over tier capacities and bandwidths says how much HBM is enough and what a
larger, slower tier behind it buys. Embedding tables are placed at each point as roofline places
them for one device (roofsim/tiers.py: hottest rows in main memory, lookups of the others read from
the far tier per lookup), so they are not streamed. Points that violate a spec invariant (an inner level not
smaller than main memory), whose footprint no tier holds, or that cannot run an op (no link for
a collective) are infeasible: counted, reported with a reason, left off the Pareto front, never
an error. Every point also gets a cost (``CostModel``): a power proxy fitted to the
catalogue, or a user expression over the point's spec fields.
"""
from __future__ import annotations

import functools
import itertools
import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from .errors import BadValue, Problem, SpecError
from .specs import DTYPE_BYTES, UNITS, HardwareSpec
from .units import parse_quantity

MAX_POINTS = 4_000_000     # design points per sweep: the results table stays within a few GB
CHUNK_POINTS = 16_384      # points evaluated together: [chunk, ops, levels] arrays of a few MB
METHODS = ("grid", "random", "latin")
# Column suffix of each swept dimension, in the results table's SI units.
SUFFIX = {"flop_rate": "flop_per_s", "bandwidth": "bytes_per_s", "bytes": "bytes", "time": "s"}


# ---- what can be swept -------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One sweepable spec field: its --set path, how the arrays use it, and its unit dimension."""
    path: str           # as --set and `set:` spell it, e.g. memory.hbm.bandwidth
    kind: str           # one of PARAM_KINDS
    dimension: str      # roofsim.units dimension of its values
    target: tuple       # peak: (unit, dtype); bandwidth/capacity: (level index,); link: (name,)

    @property
    def column(self) -> str:
        return f"{self.path}_{SUFFIX[self.dimension]}"

    @property
    def name(self) -> str:
        """The field as a name in cost expressions: dots become underscores."""
        return self.path.replace(".", "_")


PARAM_KINDS = {"peak": "flop_rate", "bandwidth": "bandwidth", "capacity": "bytes", "link": "bandwidth",
               "latency": "time"}


def sweepable(hw: HardwareSpec) -> list[str]:
    """Every path ``param`` accepts for ``hw`` (the listing shown for an unknown path)."""
    peaks = [f"compute.{u}.{d}" for u in UNITS for d, _ in getattr(hw.compute, u)]
    levels = [f"memory.{m.name}.{f}" for m in hw.memory for f in ("bandwidth", "capacity")]
    links = [f"interconnect.{l.name}.bandwidth_per_direction" for l in hw.interconnect]
    return peaks + levels + links + ["efficiency.latency"]


def param(path: str, hw: HardwareSpec) -> Param:
    """The Param of a sweep path on ``hw``; unknown paths list the valid ones."""
    parts = path.split(".")
    names = [m.name for m in hw.memory]
    links = [l.name for l in hw.interconnect]
    if parts[0] == "compute" and len(parts) == 2 and parts[1] in DTYPE_BYTES:
        unit = next((u for u in UNITS if hw.compute.get(u, parts[1])), "matrix")
        return Param(f"compute.{unit}.{parts[1]}", "peak", "flop_rate", (unit, parts[1]))
    if parts[0] == "compute" and len(parts) == 3 and parts[1] in UNITS and parts[2] in DTYPE_BYTES:
        return Param(path, "peak", "flop_rate", (parts[1], parts[2]))
    if parts[0] == "memory" and len(parts) == 3 and parts[1] in names and parts[2] in ("bandwidth", "capacity"):
        return Param(path, parts[2], PARAM_KINDS[parts[2]], (names.index(parts[1]),))
    if parts[0] == "interconnect" and len(parts) == 3 and parts[1] in links and parts[2] == "bandwidth_per_direction":
        return Param(path, "link", "bandwidth", (parts[1],))
    if path == "efficiency.latency":
        return Param(path, "latency", "time", ())
    raise SpecError(Problem(None, f"--vary {path}", f"a sweepable field of {hw.id}: "
                            + ", ".join(sweepable(hw)) + " (compute.<dtype> picks the unit that has it)",
                            repr(path)))


def base_value(p: Param, hw: HardwareSpec) -> Optional[float]:
    if p.kind == "peak":
        return hw.compute.get(*p.target)
    if p.kind in ("bandwidth", "capacity"):
        m = hw.memory[p.target[0]]
        return m.bandwidth_bytes_per_s if p.kind == "bandwidth" else m.capacity_bytes
    if p.kind == "link":
        return hw.link(p.target[0]).bandwidth_bytes_per_s_per_direction
    return hw.efficiency.latency_s


# ---- --vary ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """The values one parameter takes: a range (lo, hi, n points, log spacing) or a list."""
    path: str
    lo: float
    hi: float
    n: Optional[int] = None
    log: bool = False
    values: Optional[tuple] = None   # a list axis

    def grid(self) -> np.ndarray:
        if self.values is not None:
            return np.array(self.values, dtype=np.float64)
        if self.n == 1:
            return np.array([self.lo])
        return np.geomspace(self.lo, self.hi, self.n) if self.log else np.linspace(self.lo, self.hi, self.n)

    def from_unit(self, q: np.ndarray) -> np.ndarray:
        """Quantiles in [0, 1) -> values: uniform (log-uniform) in a range, an item of a list."""
        if self.values is not None:
            v = np.array(self.values, dtype=np.float64)
            return v[np.minimum((q * len(v)).astype(np.int64), len(v) - 1)]
        if self.log:
            return np.exp(np.log(self.lo) + q * (np.log(self.hi) - np.log(self.lo)))
        return self.lo + q * (self.hi - self.lo)


_VARY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(.+?)\s*$")


def parse_vary(text: str, hw: HardwareSpec) -> tuple[Param, Axis]:
    """``PATH=LO:HI:N[:log]``, ``PATH=LO:HI[:log]`` (random/latin) or ``PATH=V1,V2,...``; every
    value with its unit (``memory.hbm.bandwidth=2TB/s:8TB/s:7``)."""
    where = f"--vary {text}"
    m = _VARY.match(text)
    if not m:
        raise SpecError(Problem(None, where, "PATH=LO:HI:N[:log] or PATH=V1,V2,..., e.g. "
                                "memory.hbm.bandwidth=2TB/s:8TB/s:7", repr(text)))
    p = param(m.group(1), hw)
    spec = m.group(2)

    def value(s: str) -> float:
        try:
            v = parse_quantity(s.strip(), p.dimension)
        except BadValue as e:
            raise SpecError(Problem(None, where, e.expected, e.found)) from None
        if not (v > 0 and math.isfinite(v)):
            raise SpecError(Problem(None, where, "a positive, finite value", repr(s.strip())))
        return v

    if ":" not in spec:
        items = [s for s in spec.split(",")]
        if len(items) > MAX_POINTS or any(not s.strip() for s in items):
            raise SpecError(Problem(None, where, f"a list of 1 to {MAX_POINTS:,} values, e.g. 2TB/s,4TB/s",
                                    repr(spec if len(spec) < 80 else spec[:77] + "...")))
        vals = tuple(value(s) for s in items)
        return p, Axis(p.path, min(vals), max(vals), len(vals), values=vals)
    parts = [s.strip() for s in spec.split(":")]
    log = parts[-1] in ("log", "lin")
    spacing = parts.pop() if log else "lin"
    if len(parts) not in (2, 3):
        raise SpecError(Problem(None, where, "LO:HI:N[:log] or LO:HI[:log]", repr(spec)))
    lo, hi = value(parts[0]), value(parts[1])
    if not lo < hi:
        raise SpecError(Problem(None, where, "LO below HI", f"{parts[0]} to {parts[1]}"))
    n = None
    if len(parts) == 3:
        if not parts[2].isdigit() or len(parts[2]) > 9 or not 2 <= int(parts[2]) <= MAX_POINTS:
            raise SpecError(Problem(None, where, f"N, a whole number of points from 2 to {MAX_POINTS:,}",
                                    repr(parts[2][:20])))
        n = int(parts[2])
    return p, Axis(p.path, lo, hi, n, log=spacing == "log")


def design_points(axes: Sequence[Axis], method: str = "grid", samples: Optional[int] = None,
                  seed: int = 0) -> np.ndarray:
    """[P, A] values of the A axes at every design point. Grid: the Cartesian product (every
    range needs N); random: independent uniform (log-uniform) draws; latin: a Latin hypercube
    (each axis's range cut into ``samples`` strata, each stratum used once)."""
    if method not in METHODS:
        raise SpecError(Problem(None, "--method", f"one of {', '.join(METHODS)}", repr(method)))
    if method == "grid":
        if samples is not None:
            raise SpecError(Problem(None, "--samples", "--samples only with --method random or latin",
                                    f"--samples {samples} with a grid"))
        missing = [a.path for a in axes if a.n is None]
        if missing:
            raise SpecError(Problem(None, f"--vary {missing[0]}", "LO:HI:N for a grid (or --method random/latin)",
                                    "a range without N"))
        total = math.prod(a.n for a in axes)
        _check_size(total, " x ".join(str(a.n) for a in axes))
        grids = [a.grid() for a in axes]
        mesh = np.meshgrid(*grids, indexing="ij")
        return np.stack([g.ravel() for g in mesh], axis=1)
    if samples is None or samples < 1:
        raise SpecError(Problem(None, "--samples", f"a number of points for --method {method}", repr(samples)))
    _check_size(samples, f"--samples {samples}")
    rng = np.random.default_rng(seed)
    if method == "random":
        q = rng.random((samples, len(axes)))
    else:
        q = np.stack([(rng.permutation(samples) + rng.random(samples)) / samples for _ in axes], axis=1)
    return np.stack([a.from_unit(q[:, i]) for i, a in enumerate(axes)], axis=1)


def _check_size(total: int, what: str) -> None:
    if total > MAX_POINTS:
        raise SpecError(Problem(None, "--vary", f"at most {MAX_POINTS:,} design points",
                                f"{total:,} ({what}); use fewer points per axis or --method random --samples N"))


# ---- the array model ---------------------------------------------------------------------------
@dataclass
class _Tables:
    """One workload on the probe design, as arrays (see Sweep)."""
    name: str
    weight: float
    counts: np.ndarray        # [N]
    flops: np.ndarray         # [N, K]
    peak: np.ndarray          # [K] the probe's peak each FLOP key runs at
    peak_of: list             # [K] (unit, dtype) of that peak
    compute_frac: np.ndarray  # [K]
    size_eff: Optional[np.ndarray]  # [N] the compute_by_size fraction, or None
    depth_eff: Optional[np.ndarray]  # [N] the compute_by_depth fraction, or None (no swept field moves it)
    bytes: np.ndarray         # [N, L] the probe's bytes per level
    dense: np.ndarray         # [N] bool: tiled ops, whose bytes depend on capacities
    dense_oa: object          # traffic.OpArrays of the tiled ops
    irregular: list           # (op index, access, streamed bytes given accessed) for the cache model
    t_link: np.ndarray        # [N] the probe's link time
    links: list               # (op index, candidate algorithms' phases) of collectives, when a link is swept
    footprint: float          # bytes one device holds (roofsim.memory.footprint)
    kernel: Optional[object] = None  # roofsim.kernelmodel.KernelTerms on the probe (None if ideal)
    ops: tuple = ()
    workload: object = None   # the Workload (its embedding tables are placed per point)
    table_ops: list = ()      # op indices of the embedding tables (roofsim.tiers.table_ops)
    placed: Optional[tuple] = None   # their placement on the probe (when main memory is not swept)
    library: Optional[np.ndarray] = None  # [N] fixed costs in series (traffic.library_seconds; no swept field moves them)
    oa: object = None         # traffic.OpArrays of every op (random-access waits of the irregular ones)


class Sweep:
    """The base device and workloads as arrays; ``evaluate`` answers any number of points.

    ``params`` are the swept fields (``param``); ``workloads`` Workload objects with ``weights``
    (a design serving a mix: time_s is the weighted sum). ``evaluate(X)`` takes [P, A] values in
    the order of ``params``; ``first`` is one such row, for fields the base device lacks.
    """

    def __init__(self, base: HardwareSpec, workloads: Sequence, params: Sequence[Param],
                 weights: Optional[Sequence[float]] = None, ideal: bool = False, predictor=None,
                 first: Optional[Sequence[float]] = None):
        from .hw import derive
        from .traffic import level_arrays
        if len({p.path for p in params}) != len(params):
            raise SpecError(Problem(None, "--vary", "each field once", ", ".join(p.path for p in params)))
        if any(p.kind == "capacity" for p in params) and predictor is not None and not hasattr(predictor, "sweep_misses"):
            raise SpecError(Problem(None, "--cache-model", "mrc or compulsory when a capacity is swept",
                                    f"{getattr(predictor, 'name', predictor)} (it simulates one hierarchy at a time)"))
        self.base, self.params, self.ideal, self.predictor = base, tuple(params), ideal, predictor
        # One validated design with every swept field set (to the base's value where it has one):
        # checks the paths, and fixes which peak each op runs at (a peak the base lacks, e.g. fp8
        # on a V100, moves fp8 ops to it for every point alike).
        # A field the base lacks (a new peak, a bandwidth for a level without one) takes the
        # value of the first design point (``first``): it fixes the structure, every point sets its own.
        overrides = {p.path: base_value(p, base) or (first[i] if first is not None else None)
                     for i, p in enumerate(params)}
        lacking = [k for k, v in overrides.items() if v is None]
        if lacking:
            raise SpecError(Problem(None, f"--vary {lacking[0]}", f"a field {base.id} has, or a first design point",
                                    "neither"))
        self.probe = derive(base, overrides, id=f"{base.id}-sweep", kind=base.kind, where="--vary")
        self.level_names = [m.name for m in self.probe.memory]
        self.main = self.probe.main_index
        self.instances = np.array([m.instances for m in self.probe.memory], dtype=np.float64)
        self._lv0 = level_arrays([self.probe])
        weights = list(weights) if weights is not None else [1.0] * len(workloads)
        self.tables = [self._tables(wl, float(w)) for wl, w in zip(workloads, weights)]
        # Levels whose time can be non-zero (through main memory, with a bandwidth, and the far
        # tier that holds embedding rows main memory cannot: roofsim/tiers.py); the others never
        # bound an op, so the [points, ops, levels] arrays leave them out.
        from .tiers import far_tier_of
        far_tier = far_tier_of(self.probe)
        rows_far = far_tier and any(t.table_ops for t in self.tables)
        self.timed = [j for j, m in enumerate(self.probe.memory)
                      if (j == self.main or (j < self.main and m.bandwidth_bytes_per_s)
                          or (rows_far and m.name == far_tier and m.bandwidth_bytes_per_s))]
        self.tmain = self.timed.index(self.main)
        self.tfar = next((k for k, j in enumerate(self.timed) if j > self.main), None)
        # Far tiers with a bandwidth: they hold what main memory cannot (see evaluate)
        self.far = [j for j, m in enumerate(self.probe.memory) if j > self.main and m.bandwidth_bytes_per_s]

    def _tables(self, wl, weight: float) -> _Tables:
        from .cache.predictors import _other_bytes
        from .memory import footprint
        from .roofline import _depth_efficiency, _size_efficiency, evaluate_arrays
        from .kernelmodel import kernel_terms
        from .tiers import table_ops
        from .traffic import library_seconds, op_arrays
        ev = evaluate_arrays(self.probe, wl, ideal=self.ideal, predictor=self.predictor)
        res = ev.resolutions[0]
        # The roofline's own bytes and compute time, before the kernel model adjusts them
        # (an ideal evaluation has no kernel model): the kernel terms are applied per point.
        raw = ev if self.ideal else evaluate_arrays(self.probe, wl, ideal=True, predictor=self.predictor)
        kt = None if self.ideal else kernel_terms([self.probe], list(ev.ops), op_arrays(list(ev.ops)))
        links = [(n, self._collective_phases(op.access)) for n, op in enumerate(ev.ops)
                 if op.access.kind == "comm" and 0 < ev.t_link[0, n] < math.inf
                 and any(p.kind == "link" for p in self.params)]
        dense = np.array([op.access.kind == "dense" for op in ev.ops], dtype=bool)
        return _Tables(
            name=wl.name, weight=weight, counts=ev.counts.astype(np.float64), flops=ev.flops,
            peak=np.array([r.flop_per_s for r in res] or [np.inf]), peak_of=[(r.unit, r.dtype) for r in res],
            compute_frac=np.array([1.0 if self.ideal else self.probe.efficiency.compute_fraction(r.dtype)
                                   for r in res] or [1.0]),
            size_eff=None if self.ideal else _size_efficiency(self.probe, ev.flops.sum(axis=1)),
            depth_eff=None if self.ideal else _depth_efficiency(self.probe, op_arrays(list(ev.ops))),
            bytes=raw.bytes[0], dense=dense, dense_oa=op_arrays([op for op, d in zip(ev.ops, dense) if d]),
            irregular=[(n, op.access, functools.partial(_other_bytes, op)) for n, op in enumerate(ev.ops)
                       if op.access.kind == "irregular" and self.predictor is not None],
            t_link=ev.t_link[0], links=links, footprint=footprint(wl).total, kernel=kt, ops=tuple(ev.ops),
            workload=wl, table_ops=[i for i, _ in table_ops(ev.ops)],
            library=None if self.ideal else library_seconds(list(ev.ops), [self.probe])[0],
            oa=op_arrays(list(ev.ops)))

    def _collective_phases(self, a) -> list:
        """Each algorithm roofsim.comm may pick for this collective, as its phases (link, bytes,
        latency part): time = latency + bytes / (link bandwidth x efficiency), and the fastest
        algorithm wins at each point, as collective_cost decides for one device."""
        from .comm import collective_cost
        out = []
        for algo in (("ring", "tree", "hierarchical") if a.algorithm == "auto" else (a.algorithm,)):
            cost = collective_cost(self.probe, a.collective, a.bytes, a.participants, scope=a.scope,
                                   stride=a.stride, algorithm=algo, ideal=self.ideal)
            if math.isfinite(cost.time_s):
                out.append(tuple((ph.link, ph.bytes, ph.time_s - ph.bytes / self._link_rate(ph.link))
                                 for ph in cost.phases if ph.bytes > 0))
        return out

    def _link_rate(self, name: str, bandwidth=None):
        link = self.probe.link(name)
        eff = 1.0 if self.ideal else self.probe.efficiency.link_fraction(name)
        return (link.bandwidth_bytes_per_s_per_direction if bandwidth is None else bandwidth) * eff

    def fields(self, X: np.ndarray) -> dict:
        """The design's fields at each point of X: bw, cap [P, L] (per instance), links {name: [P]},
        floor [P], peaks {(unit, dtype): [P]} (the swept ones), eff [L]."""
        P, hw = X.shape[0], self.probe
        f = {"bw": np.tile([m.bandwidth_bytes_per_s or np.inf for m in hw.memory], (P, 1)),
             "cap": np.tile([m.capacity_bytes or np.nan for m in hw.memory], (P, 1)),
             "links": {l.name: np.full(P, l.bandwidth_bytes_per_s_per_direction) for l in hw.interconnect},
             "floor": np.full(P, 0.0 if self.ideal else hw.efficiency.latency_s), "peaks": {},
             "eff": np.array([1.0 if self.ideal else hw.efficiency.memory_fraction(n) for n in self.level_names])}
        for i, p in enumerate(self.params):
            col = X[:, i]
            if p.kind == "peak":
                f["peaks"][p.target] = col
            elif p.kind in ("bandwidth", "capacity"):
                f["bw" if p.kind == "bandwidth" else "cap"][:, p.target[0]] = col
            elif p.kind == "link":
                f["links"][p.target[0]] = col
            elif not self.ideal:  # the latency floor; an ideal roofline has none
                f["floor"] = col
        return f

    def _bytes(self, t: _Tables, f: dict) -> np.ndarray:
        """[P or 1, N, T] bytes per execution at each point, at the timed levels."""
        if not any(p.kind == "capacity" for p in self.params):
            return t.bytes[None][:, :, self.timed]
        from .cache.predictors import DEFAULT_LINE_BYTES, DEFAULT_WAYS, _pow2_floor, assemble, modelled_capacity
        from .traffic import LevelArrays, analytic_bytes, tile_capacities
        P, L = f["cap"].shape
        T = self.timed
        B = np.repeat(t.bytes[None][:, :, T], P, axis=0)
        if t.dense.any():  # tiled ops; the rest move what they move on the probe
            lv = LevelArrays([[self.level_names[j] for j in T]] * P, f["bw"][:, T], np.tile(f["eff"][T], (P, 1)),
                             tile_capacities(f["cap"])[:, T], np.repeat(self._lv0.inner_line[:, T], P, axis=0),
                             np.repeat(self._lv0.active[:, T], P, axis=0), np.full(P, self.tmain))
            B[:, t.dense, :] = analytic_bytes(t.dense_oa, lv)
        # (level, line, ways) of the caches the model simulates, as cache_levels picks them
        caches = [(j, _pow2_floor(m.line_bytes or DEFAULT_LINE_BYTES), int(m.ways or DEFAULT_WAYS))
                  for j, m in enumerate(self.probe.memory) if m.type == "cache" and m.capacity_bytes]
        modelled = np.stack([modelled_capacity(f["cap"][:, j] * self.instances[j], line, ways)
                             for j, line, ways in caches], axis=1) if caches else np.zeros((P, 0))
        shared = {}   # the embedding tables share the caches: one trace, read at every capacity
        if t.table_ops and t.irregular:
            accesses = tuple(t.ops[n].access for n in t.table_ops)
            misses = self.predictor.table_misses(accesses, [line for _, line, _ in caches], modelled)
            shared = {n: (m, float(a.lookups) * float(a.row_bytes)) for n, a, m in zip(t.table_ops, accesses, misses)}
        for n, access, other in t.irregular:  # curves built once per warm-up, read at every capacity
            misses, accessed = shared[n] if n in shared else self.predictor.sweep_misses(
                access, [(line, ways) for _, line, ways in caches], modelled)
            served = assemble(L, self.main, [(j, line) for j, line, _ in caches], misses, accessed, other(accessed))
            B[:, n, :] = np.stack([np.broadcast_to(np.asarray(served[j], dtype=np.float64), (P,)) for j in T], axis=1)
        if t.table_ops and self.tfar is not None:   # tables beyond main memory, placed at each point
            far, main = self._placements(t, f)[1], self.tmain
            for k, n in enumerate(t.table_ops):
                B[:, n, main] += B[:, n, self.tfar]      # the probe's placement undone
                moved = np.minimum(far[:, k], B[:, n, main])
                B[:, n, main] -= moved
                B[:, n, self.tfar] = moved
        return B

    def _compute_factor(self, t: _Tables, peak: np.ndarray, f: dict) -> np.ndarray:
        """[P or 1, N] the kernel model's compute factor: a GEMM's choice of tile depends on how
        much operand re-use its unit's peak needs (kernelmodel.operand_balance), so it is
        recomputed per point when peaks vary, else the probe's."""
        from .kernelmodel import applies, gemm_work, operand_balance
        base = t.kernel.compute_factor[0][None, :]
        if not f["peaks"] or not t.dense.any() or not applies(self.probe):
            return base
        P = peak.shape[0]
        col = np.argmax(t.flops, axis=1)[t.dense]          # each GEMM's FLOP column (its unit and dtype)
        p16 = np.max([f["peaks"].get(k, np.full(P, self.probe.compute.get(*k) or 0.0))
                      for k in (("matrix", "fp16"), ("matrix", "bf16"))], axis=0)
        balance = operand_balance(self.probe, peak[:, col], p16[:, None])
        oa = t.dense_oa
        factor = np.repeat(base, P, axis=0)
        factor[:, t.dense] = gemm_work(self.probe, oa.m, oa.n, oa.k, oa.batch, oa.a_bytes, balance)
        return factor

    def _placements(self, t: _Tables, f: dict):
        """roofsim.tiers.placements_at at each point's main-memory capacity (once, broadcast to
        every point, when that capacity is not swept)."""
        from .tiers import placements_at
        main = f["cap"][:, self.main] * self.instances[self.main]
        if any(p.kind == "capacity" and p.target[0] == self.main for p in self.params):
            return placements_at(t.workload, self.probe, main)
        if t.placed is None:
            t.placed = placements_at(t.workload, self.probe, main[:1])
        P = main.shape[0]
        return tuple(np.broadcast_to(a, (P,) + a.shape[1:]) for a in t.placed)

    def _random_waits(self, t: _Tables, B: np.ndarray, t_compute: np.ndarray) -> Optional[np.ndarray]:
        """[P or 1, N, T] latency-bound time of the irregular ops' random rows at the timed levels,
        as roofline.evaluate_arrays has it (traffic.random_access_seconds on the probe's latencies
        and memory parallelism, the arithmetic in series beyond the private caches); None when the
        probe has no memory parallelism (the catalogue) or the workload no irregular op. Only
        timed levels (those with a bandwidth) are priced: a spec with misses in flight is a probed
        CPU, which has a bandwidth at every level."""
        from .roofline import off_core_index
        from .traffic import DEFAULT_LINE_BYTES, PATTERNS, miss_seconds, rows_served
        mlp = self.probe.efficiency.memory_parallelism
        irregular = t.oa.pattern == PATTERNS.index("irregular")
        if self.ideal or not mlp or not irregular.any():
            return None
        out = np.zeros(np.broadcast_shapes(B.shape, (t_compute.shape[0], 1, 1)))
        far = off_core_index(self.probe)
        for k, j in enumerate(self.timed):
            m = self.probe.memory[j]
            if j > self.main or not m.latency_s:
                continue
            rows = rows_served(B, t.oa, k, m.line_bytes or DEFAULT_LINE_BYTES)
            wait = np.where(irregular, miss_seconds(rows, m.latency_s, mlp), 0.0)
            out[:, :, k] = np.where((j >= far) & (wait > 0), wait + t_compute, wait)
        return out

    def _memory_time(self, t: _Tables, f: dict, t_compute: np.ndarray) -> np.ndarray:
        """[P or 1, N, T] seconds at the timed levels: bytes / (bandwidth x efficiency), with the
        kernel model's extra and resident main-memory bytes and its round trip, and the random
        rows' waits of a measured CPU, as roofline has them."""
        B, M = self._bytes_and_time(t, f)
        waits = self._random_waits(t, B, t_compute)
        return M if waits is None else np.maximum(M, waits)

    def _bytes_and_time(self, t: _Tables, f: dict) -> tuple:
        B = self._bytes(t, f)
        rate = (f["bw"] * f["eff"])[:, None, self.timed]
        if t.kernel is None:
            return B, B / rate
        from .kernelmodel import NORM_KINDS, applies, passes_with, resident_with
        from .roofline import gemv_main_seconds, gemv_ops
        kt, main = t.kernel, self.tmain
        extra, resident = kt.extra_main_bytes[0], kt.resident_bytes[0]
        if applies(self.probe) and any(p.kind == "capacity" for p in self.params):
            total = f["cap"] * self.instances
            pads = [j for j, m in enumerate(self.probe.memory) if m.type in ("scratchpad", "register")]
            if pads:  # a norm's row that outgrows the scratchpad is read twice
                pad = np.nanmax(f["cap"][:, pads], axis=1)
                extra = np.stack([np.where(passes_with(dict(op.shape).get("cols", 0), pad) > 1, op.reads[0].bytes, 0.0)
                                  if op.kind in NORM_KINDS else np.zeros(len(pad)) for op in t.ops], axis=1)
            caches = [j for j, m in enumerate(self.probe.memory[:self.main]) if m.type == "cache" and m.capacity_bytes]
            if caches and self.probe.efficiency.kernel.residency:
                resident = resident_with(t.ops, total[:, caches[-1]])
        B = np.array(B)  # a copy: the probe's bytes are shared by every chunk
        B[:, :, main] = np.maximum(B[:, :, main] + extra - resident, 0.0)
        M = B / rate
        M[:, :, main] = np.where(M[:, :, main] > 0, M[:, :, main] + kt.latency_s[0], 0.0)
        gemv_main_seconds(M, B, gemv_ops(t.oa), self.probe.efficiency.gemv_bytes_per_s, main)
        return B, M

    def evaluate(self, X: np.ndarray) -> dict:
        """Columns over the points of X [P, A]: time_s (weighted over the workloads), time_<wl>_s
        when several, time_<bound>_s (time spent bound by each), bound (the one with most time),
        footprint_bytes (largest over the workloads), fits (in main memory), spilled_bytes (the
        largest excess held by the far tiers), reason (why infeasible, "" if not)."""
        from .roofline import bound_label
        X = np.asarray(X, dtype=np.float64)
        f = self.fields(X)
        P, T = X.shape[0], len(self.timed)
        far = self.far
        streamed = [j for j in far if j not in self.timed]
        codes = 3 + T + len(streamed)   # compute, latency, link, the timed levels, then the other far tiers
        levels = [*self.timed, *streamed]
        out: dict = {}
        total, by_code = np.zeros(P), np.zeros((P, codes))
        fits, placed, no_link = np.ones(P, bool), np.ones(P, bool), np.zeros(P, bool)
        spilled = np.zeros(P)
        main_total = f["cap"][:, self.main] * self.instances[self.main]
        for t in self.tables:
            peak = np.tile(t.peak, (P, 1))
            for k, key in enumerate(t.peak_of):
                if key in f["peaks"]:
                    peak[:, k] = f["peaks"][key]
            # the arithmetic of roofline.evaluate_arrays, with design points in place of devices
            if t.size_eff is None:
                t_compute = (t.flops[None, :, :] / (peak * t.compute_frac)[:, None, :]).sum(axis=2)
            else:
                t_compute = (t.flops[None, :, :] / peak[:, None, :]).sum(axis=2) / t.size_eff[None, :]
            if t.depth_eff is not None:
                t_compute = t_compute / t.depth_eff[None, :]
            if t.kernel is not None:
                t_compute = t_compute * self._compute_factor(t, peak, f)
            t_memory = self._memory_time(t, f, t_compute)
            t_link = np.repeat(t.t_link[None], P, axis=0)
            for n, candidates in t.links:
                t_link[:, n] = np.min([sum(latency + nbytes / self._link_rate(name, f["links"][name])
                                           for name, nbytes, latency in phases) + np.zeros(P)
                                       for phases in candidates], axis=0)
            N = t_compute.shape[1]
            terms = np.concatenate([t_compute[:, :, None], np.broadcast_to(f["floor"][:, None, None], (P, N, 1)),
                                    t_link[:, :, None], np.broadcast_to(t_memory, (P, N, T))], axis=2)
            bound = np.argmax(terms, axis=2)
            # the winning term itself (a max along a 5-long axis costs several times this)
            time = np.take_along_axis(terms, bound[:, :, None], axis=2)[:, :, 0]
            if t.library is not None:   # as roofline.evaluate_arrays: added, reported as latency
                bound = np.where(t.library[None, :] > time, 1, bound)
                time = time + t.library[None, :]
            time = time * t.counts
            wl_total = time.sum(axis=1)
            # time by bound at each point: one weighted count over (point, bound) pairs
            by_code += t.weight * np.bincount((np.arange(P)[:, None] * codes + bound).ravel(), time.ravel(),
                                              minlength=P * codes).reshape(P, codes)
            # What main memory cannot hold goes to the far tiers in order (roofsim.memory.place)
            # and is read from there once per step, at that tier's bandwidth, not overlapped (as
            # roofsim.memory's offload streams weights).
            # Embedding rows placed in the far tier (roofsim/tiers.py) are read per lookup, above.
            tables_far = self._placements(t, f)[2] if t.table_ops else np.zeros(P)
            remaining = np.where(np.isnan(main_total), 0.0, np.maximum(t.footprint - tables_far - main_total, 0.0))
            spilled = np.maximum(spilled, remaining + tables_far)
            for j in far:
                room = np.nan_to_num(f["cap"][:, j] * self.instances[j], nan=np.inf)
                if self.tfar is not None and j == self.timed[self.tfar]:   # the tier holding the tables' rows
                    remaining = remaining + np.maximum(tables_far - room, 0.0)
                    room = np.maximum(room - tables_far, 0.0)
                held = np.minimum(remaining, room)
                spill_t = np.where(held > 0, held / (f["bw"][:, j] * f["eff"][j]), 0.0)
                wl_total = wl_total + spill_t
                by_code[:, 3 + levels.index(j)] += t.weight * spill_t
                remaining = remaining - held
            if len(self.tables) > 1:
                out[f"time_{t.name}_s"] = wl_total
            total += t.weight * wl_total
            fits &= np.isnan(main_total) | (t.footprint <= main_total)
            placed &= remaining <= 0
            no_link |= ~np.isfinite(wl_total)
        labels = [bound_label(c if c < 3 else 3 + levels[c - 3], self.level_names, "").rstrip(":")
                  for c in range(codes)]
        out["time_s"] = total
        out["bound"] = np.array(labels, dtype=object)[np.argmax(by_code, axis=1)]
        for c in range(codes):
            if by_code[:, c].any():
                out[f"time_{labels[c].replace(':', '_')}_s"] = by_code[:, c]
        out["footprint_bytes"] = np.full(P, max(t.footprint for t in self.tables))
        out["fits"] = fits
        out["spilled_bytes"] = spilled
        invalid = self._invalid(f)
        out["reason"] = np.where(invalid, "invalid design: a level not smaller than main memory",
                                 np.where(no_link, "no link for a collective",
                                          np.where(~placed, "does not fit in its memory tiers", "")))
        return out

    def _invalid(self, f: dict) -> np.ndarray:
        """[P] bool: an inner level's total capacity not below main memory's (the spec invariant
        HardwareSpec checks on construction)."""
        total = f["cap"] * self.instances
        main = total[:, self.main]
        bad = np.zeros(total.shape[0], bool)
        for j in range(self.main):
            bad |= ~np.isnan(total[:, j]) & ~np.isnan(main) & (total[:, j] >= main)
        return bad


# ---- cost -------------------------------------------------------------------------------------
# Features of the catalogue's power proxy, each from a spec: (name, unit shown, value of a spec).
def _bf16_peak(hw: HardwareSpec) -> float:
    return max(hw.compute.peaks().get(d, 0.0) for d in ("bf16", "fp16"))


def _on_chip_bytes(hw: HardwareSpec) -> float:
    return sum(m.total_capacity_bytes or 0.0 for m in hw.memory if m.type in ("register", "scratchpad", "cache"))


POWER_FEATURES = (
    ("W per PFLOP/s of dense bf16", 1e15, _bf16_peak),
    ("W per TB/s of main-memory bandwidth", 1e12, lambda hw: hw.main_memory.bandwidth_bytes_per_s or 0.0),
    ("W per GiB of on-chip SRAM", 2.0**30, _on_chip_bytes),
)
POWER_KINDS = ("gpu", "accelerator", "tpu")


@dataclass(frozen=True)
class PowerModel:
    """Board power ~ sum of non-negative coefficients x (bf16 peak, main bandwidth, on-chip SRAM),
    least squares over the catalogue's accelerators (kind gpu/accelerator/tpu) with a TDP.

    A proxy for cost across designs, not a power model of any chip: it says what the catalogue's
    parts spend per unit of each resource on average, across process nodes."""
    coefficients: tuple       # W per unit of each POWER_FEATURES entry
    devices: tuple            # ids fitted
    rms_error_w: float

    def describe(self) -> str:
        terms = ", ".join(f"{c:.3g} {name}" for c, (name, _, _) in zip(self.coefficients, POWER_FEATURES))
        return (f"power proxy fitted to {len(self.devices)} catalogue accelerators' TDP (rms error "
                f"{self.rms_error_w:.0f} W): {terms}")


def fit_power_model(hws: Sequence[HardwareSpec]) -> PowerModel:
    """Non-negative least squares by trying every subset of the features (there are three)."""
    rows = [h for h in hws if h.kind in POWER_KINDS and h.tdp_w and h.main_memory.bandwidth_bytes_per_s
            and _bf16_peak(h) > 0]
    if len(rows) < len(POWER_FEATURES):
        raise SpecError(Problem(None, "cost", f"at least {len(POWER_FEATURES)} accelerators with a TDP in the catalogue",
                                str(len(rows))))
    A = np.array([[fn(h) / unit for _, unit, fn in POWER_FEATURES] for h in rows])
    y = np.array([h.tdp_w for h in rows])
    best = None
    for k in range(1, len(POWER_FEATURES) + 1):
        for subset in itertools.combinations(range(len(POWER_FEATURES)), k):
            coef, *_ = np.linalg.lstsq(A[:, subset], y, rcond=None)
            if (coef < 0).any():
                continue
            full = np.zeros(len(POWER_FEATURES))
            full[list(subset)] = coef
            err = float(np.sqrt(np.mean((A @ full - y) ** 2)))
            if best is None or err < best[1]:
                best = (full, err)
    return PowerModel(tuple(float(c) for c in best[0]), tuple(h.id for h in rows), best[1])


class CostModel:
    """Cost of each design point: the catalogue's power proxy (``expression=None``), or a user
    expression over the point's fields (roofsim.ops.expr: + - * / ** and min/max/ceil/floor/
    sqrt/log2, no eval). Names: every swept field with dots as underscores
    (memory_hbm_bandwidth, in SI units), and for every device field ``peak_<dtype>`` (best unit),
    ``<level>_bandwidth``, ``<level>_capacity`` (total over instances), ``tdp``."""

    def __init__(self, sweep: Sweep, expression: Optional[str] = None, catalogue: Sequence[HardwareSpec] = ()):
        self.sweep, self.expression = sweep, expression
        self.power = None if expression else fit_power_model(catalogue)
        if expression:
            self(np.array([[base_value(p, sweep.probe) for p in sweep.params]]))  # name errors before any work

    def describe(self) -> str:
        return f"user expression: {self.expression}" if self.expression else self.power.describe()

    def names(self, X: np.ndarray) -> dict:
        s, hw = self.sweep, self.sweep.probe
        f = s.fields(X)
        names = {}
        for d, v in hw.compute.peaks().items():
            names[f"peak_{d}"] = np.full(X.shape[0], v)
        for (unit, dtype), col in f["peaks"].items():
            names[f"peak_{dtype}"] = np.maximum(col, hw.compute.get("vector" if unit == "matrix" else "matrix", dtype) or 0.0)
        for j, name in enumerate(s.level_names):
            names[f"{name}_bandwidth"] = f["bw"][:, j]
            names[f"{name}_capacity"] = f["cap"][:, j] * s.instances[j]
        names["tdp"] = np.full(X.shape[0], hw.tdp_w if hw.tdp_w else np.nan)
        for i, p in enumerate(s.params):
            names[p.name] = X[:, i]
        return names

    def __call__(self, X: np.ndarray) -> np.ndarray:
        names = self.names(X)
        if self.expression:
            # roofsim.ops.expr checks the expression (grammar, names, size, bounds) on the first
            # point; the same tree is then computed over all points at once with numpy.
            from .ops.expr import evaluate
            evaluate(self.expression, {k: float(v[0]) for k, v in names.items()})
            import ast
            with np.errstate(all="ignore"):
                value = _array_eval(ast.parse(self.expression.strip(), mode="eval").body, names)
            return np.broadcast_to(np.asarray(value, dtype=np.float64), (X.shape[0],)).copy()
        s = self.sweep
        peak = names.get("peak_bf16", names.get("peak_fp16", np.zeros(X.shape[0])))
        sram = sum(names[f"{m.name}_capacity"] for m in s.probe.memory
                   if m.type in ("register", "scratchpad", "cache") and m.capacity_bytes)
        feats = (peak, names[f"{s.level_names[s.main]}_bandwidth"], sram if not np.isscalar(sram) else np.full(X.shape[0], sram))
        return sum(c * np.nan_to_num(v) / unit for c, v, (_, unit, _) in zip(self.power.coefficients, feats, POWER_FEATURES))


_ARRAY_FUNCS = {"min": np.minimum, "max": np.maximum, "ceil": np.ceil, "floor": np.floor, "sqrt": np.sqrt,
                "log2": np.log2}
_ARRAY_OPS = {"Add": np.add, "Sub": np.subtract, "Mult": np.multiply, "Div": np.divide, "FloorDiv": np.floor_divide,
              "Mod": np.mod, "Pow": np.power}


def _array_eval(node, names: dict):
    """A tree roofsim.ops.expr.evaluate has accepted, over arrays (a result out of bounds at some
    point becomes inf or nan there: that point's cost is not finite, and the point infeasible)."""
    import ast
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.BinOp):
        return _ARRAY_OPS[type(node.op).__name__](_array_eval(node.left, names), _array_eval(node.right, names))
    if isinstance(node, ast.UnaryOp):
        v = _array_eval(node.operand, names)
        return -v if isinstance(node.op, ast.USub) else v
    args = [_array_eval(a, names) for a in node.args]
    fn = _ARRAY_FUNCS[node.func.id]
    return functools.reduce(fn, args) if node.func.id in ("min", "max") else fn(*args)


# ---- Pareto front ------------------------------------------------------------------------------
def pareto_front(time: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """[P] bool: points no other point beats in both time and cost (lower is better; ties in both
    are all kept). NaN or infinite points are never on it. O(P log P)."""
    time, cost = np.asarray(time, dtype=np.float64), np.asarray(cost, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(time) & np.isfinite(cost))
    on = np.zeros(time.shape[0], bool)
    if ok.size == 0:
        return on
    order = ok[np.lexsort((cost[ok], time[ok]))]   # by time, then cost
    t, c = time[order], cost[order]
    cheapest_before = np.concatenate([[np.inf], np.minimum.accumulate(c)[:-1]])
    # identical (time, cost) points share one verdict: that of the first of them
    first = np.concatenate([[True], (t[1:] != t[:-1]) | (c[1:] != c[:-1])])
    group = np.cumsum(first) - 1
    on[order] = (c[first] < cheapest_before[first])[group]
    return on


# ---- a whole sweep ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepResult:
    """``frame``: one row per design point: the swept fields (SI, unit-suffixed columns), time_s,
    time per workload and per bound, bound, footprint_bytes, fits, feasible, reason, cost, pareto.
    ``infeasible``: reason -> number of points."""
    frame: object
    params: tuple
    workloads: tuple          # (name, weight)
    cost_model: str
    infeasible: dict = field(default_factory=dict)

    @property
    def front(self):
        """The Pareto-optimal feasible points, fastest first."""
        return self.frame[self.frame["pareto"]].sort_values(["time_s", "cost"])


def chunks(total: int, size: int = CHUNK_POINTS) -> list[tuple[int, int]]:
    return [(i, min(i + size, total)) for i in range(0, total, size)]


def run_sweep(sweep: Sweep, X: np.ndarray, cost: CostModel,
              progress: Optional[Callable[[int, int], None]] = None, *, scheduler: Optional[str] = None,
              workers: Optional[int] = None, connect_timeout: Optional[float] = None) -> SweepResult:
    """Evaluate every point of X [P, A] chunk by chunk (``progress(done, total)`` after each),
    here, or on Dask (roofsim.dask_sweep): on the scheduler at ``scheduler`` or on a local
    cluster of ``workers`` processes. The chunks are the same either way, and so is the result."""
    import pandas as pd
    bounds = chunks(X.shape[0])
    if scheduler is not None or workers is not None:
        from .dask_sweep import DEFAULT_CONNECT_TIMEOUT_S, evaluate_chunks
        parts = evaluate_chunks(sweep, cost, X, bounds, scheduler=scheduler, workers=workers, progress=progress,
                                connect_timeout=DEFAULT_CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout)
    else:
        parts = _local_parts(sweep, cost, X, bounds, progress)
    return assemble_result(sweep, X, cost, parts, pd)


def _local_parts(sweep: Sweep, cost: CostModel, X: np.ndarray, bounds: list, progress) -> list[dict]:
    """The chunks on this machine's cores, one thread each: numpy releases the GIL over arrays of
    this size, and chunks share nothing but read-only tables and the predictor's curve memo
    (whose entries are the same whichever thread builds them first)."""
    threads = min(len(bounds), _cores())
    if threads <= 1:
        parts = []
        for lo, hi in bounds:
            parts.append(evaluate_chunk(sweep, cost, X[lo:hi]))
            if progress:
                progress(hi, X.shape[0])
        return parts
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(evaluate_chunk, sweep, cost, X[lo:hi]) for lo, hi in bounds]
        parts = []
        for future, (_, hi) in zip(futures, bounds):
            parts.append(future.result())
            if progress:
                progress(hi, X.shape[0])
        return parts


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def evaluate_chunk(sweep: Sweep, cost: CostModel, X: np.ndarray) -> dict:
    cols = sweep.evaluate(X)
    cols["cost"] = cost(X)
    return cols


def assemble_result(sweep: Sweep, X: np.ndarray, cost: CostModel, parts: list, pd) -> SweepResult:
    cols = {p.column: X[:, i] for i, p in enumerate(sweep.params)}
    # a chunk has a time_<bound>_s column only where some point of it spends time on that bound:
    # the union of the chunks' columns (each where its chunk puts it, so the order is one chunk's),
    # zero where a chunk had none
    keys: list = []
    for part in parts:
        prev = None
        for k in part:
            if k not in keys:
                keys.insert(keys.index(prev) + 1 if prev is not None else 0, k)
            prev = k
    for key in keys:
        cols[key] = np.concatenate([part[key] if key in part else np.zeros(len(part["time_s"])) for part in parts])
    reason = np.where((cols["reason"] == "") & ~np.isfinite(cols["cost"]), "cost not finite", cols["reason"])
    cols["reason"] = reason
    cols["feasible"] = reason == ""
    t_feasible = np.where(cols["feasible"], cols["time_s"], np.nan)
    cols["pareto"] = pareto_front(t_feasible, cols["cost"])
    frame = pd.DataFrame(cols)
    order = ["time_s", "bound", "cost", "feasible", "pareto", "fits", "footprint_bytes", "spilled_bytes", "reason"]
    frame = frame[[p.column for p in sweep.params] + order + [c for c in frame.columns if c not in order and c not in
                                                            {p.column for p in sweep.params}]]
    values, counts = np.unique(reason[reason != ""], return_counts=True)
    return SweepResult(frame, sweep.params, tuple((t.name, t.weight) for t in sweep.tables), cost.describe(),
                       {str(v): int(c) for v, c in zip(values, counts)})


# ---- the entry point ------------------------------------------------------------------------
def parse_workloads(text: str) -> list[tuple[str, float]]:
    """``a,b=0.3,c`` -> [(a, 1.0), (b, 0.3), (c, 1.0)]: workloads with their weights in time_s."""
    out = []
    for item in text.split(","):
        name, eq, weight = item.strip().partition("=")
        name = name.strip()
        if not name:
            raise SpecError(Problem(None, "--workload", "NAME[=WEIGHT],... e.g. llama2-70b=0.7,dlrm=0.3", repr(text)))
        w = 1.0
        if eq:
            try:
                w = float(weight)
            except ValueError:
                w = math.nan
            if not (w > 0 and math.isfinite(w)):
                raise SpecError(Problem(None, f"--workload {name}", "a positive, finite weight", repr(weight.strip())))
        out.append((name, w))
    if len({n for n, _ in out}) != len(out):
        raise SpecError(Problem(None, "--workload", "each workload once", repr(text)))
    return out


def load_workloads(workloads, wl_path=(), wl_overrides=None) -> tuple[list, list[float]]:
    """Workloads and weights from ``a,b=0.3`` (parse_workloads), or from (Workload or name,
    weight) pairs for Python callers."""
    from .ops import Workload
    from .workloads import get_workload
    pairs = parse_workloads(workloads) if isinstance(workloads, str) else list(workloads)
    wls = [w if isinstance(w, Workload) else get_workload(w, wl_path, overrides=wl_overrides or None) for w, _ in pairs]
    return wls, [float(x) for _, x in pairs]


def design_sweep(hardware, workloads: str, vary: Sequence[str], *, method: str = "grid",
                 samples: Optional[int] = None, seed: int = 0, cost: Optional[str] = None, ideal: bool = False,
                 cache_model: str = "mrc", hw_overrides=None, wl_overrides=None, hw_path=(), wl_path=(),
                 progress: Optional[Callable[[int, int], None]] = None, scheduler: Optional[str] = None,
                 workers: Optional[int] = None, connect_timeout: Optional[float] = None) -> SweepResult:
    """``roofsim sweep``: ``hardware`` a name, path or spec; ``workloads`` as load_workloads
    takes them; ``vary`` the --vary texts (parse_vary); ``scheduler`` or ``workers``: evaluate
    on Dask (run_sweep). Everything is checked before any point is evaluated."""
    from .api import predictor
    if scheduler is not None or workers is not None or connect_timeout is not None:
        _check_dask_options(scheduler, workers, connect_timeout)
    from .hw import derive, get_hardware, list_hardware
    if isinstance(hardware, HardwareSpec):
        hw = derive(hardware, hw_overrides, id=hardware.id, name=hardware.name, kind=hardware.kind,
                    source=hardware.source) if hw_overrides else hardware
    else:
        hw = get_hardware(hardware, hw_path, overrides=hw_overrides or None)
    if not vary:
        raise SpecError(Problem(None, "--vary", "at least one PATH=LO:HI:N or PATH=V1,V2", "none"))
    parsed = [parse_vary(v, hw) for v in vary]
    X = design_points([a for _, a in parsed], method, samples, seed)
    wls, weights = load_workloads(workloads, wl_path, wl_overrides)
    sweep = Sweep(hw, wls, [p for p, _ in parsed], weights, ideal=ideal,
                  predictor=predictor(cache_model), first=X[0])
    model = CostModel(sweep, cost, () if cost else list_hardware(hw_path))
    return run_sweep(sweep, X, model, progress, scheduler=scheduler, workers=workers,
                     connect_timeout=connect_timeout)


def _check_dask_options(scheduler, workers, connect_timeout) -> None:
    """The Dask options' values, before any work (no dask import: it may not be installed)."""
    from .dask_sweep import check_scheduler, check_timeout, check_workers, require_dask
    if scheduler is not None and workers is not None:
        raise SpecError(Problem(None, "--scheduler/--workers", "one of them: an existing scheduler, or a local "
                                "cluster of N workers", f"--scheduler {scheduler} and --workers {workers}"))
    if connect_timeout is not None:
        check_timeout(connect_timeout)
    if scheduler is not None:
        check_scheduler(scheduler)
    if workers is not None:
        check_workers(workers)
    if scheduler is not None or workers is not None:
        require_dask("--scheduler" if scheduler is not None else "--workers")


def table_bytes(result: SweepResult, path: str) -> str | bytes:
    """The results table for ``path``: CSV text, or Parquet bytes for a .parquet path (needs
    pyarrow or fastparquet, which roofsim does not install)."""
    if str(path).lower().endswith((".parquet", ".pq")):
        import importlib.util
        if not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
            raise SpecError(Problem(None, f"--output {path}", "pyarrow or fastparquet installed for Parquet "
                                    "(pip install pyarrow), or a .csv file", "neither installed"))
        import io
        buf = io.BytesIO()
        result.frame.to_parquet(buf, index=False)
        return buf.getvalue()
    return result.frame.to_csv(index=False)
