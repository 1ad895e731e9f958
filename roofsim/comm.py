"""Collective communication: an alpha-beta model of ring, tree and hierarchical algorithms.

The time of a collective is a sum over its phases of ``steps x alpha + bytes / (beta x efficiency)``
where ``bytes`` is what one device sends in one direction over the phase's link, ``beta`` the
link's bandwidth per direction and ``alpha`` the per-step latency (the link's ``latency`` when its
spec gives one, else ``DEFAULT_STEP_LATENCY_S``). ``n`` is the buffer size per device: the full
vector of an all-reduce, the gathered output of an all-gather, the input of a reduce-scatter,
everything a device sends and receives in an all-to-all, the message of a send-recv.

Algorithms (Thakur, Rabenseifner & Gropp 2005; Patarasuk & Yuan 2009; NCCL):
- ring: all-reduce 2(p-1)/p n in 2(p-1) steps; all-gather, reduce-scatter, all-to-all (p-1)/p n
  in p-1 steps; broadcast (pipelined) n in p-1 steps; send-recv n in 1 step.
- tree (NCCL's double binary tree, all-reduce and broadcast only): all-reduce 2n in
  2 ceil(log2 p) steps, broadcast n in ceil(log2 p): more bytes than the ring but logarithmic
  latency, so it wins on small messages and large groups.
- hierarchical (scale-up domain, then scale-out network), with ``local`` ranks of the group per
  domain and g = ceil(p / local) domains: all-reduce = reduce-scatter in the domain, all-reduce of n/local
  across domains, all-gather in the domain; all-gather and reduce-scatter the two halves of that;
  all-to-all sends (p - local)/p n over scale-out and (local - 1)/p n in the domain.
- auto: the fastest algorithm the links allow.

Group placement: members ``stride`` ranks apart (a data-parallel group strides over the tensor-
parallel ranks) put local = min(p, domain // stride) of them in one scale-up domain (at least 1).
Link choice: a group that fits one scale-up domain (``local`` >= p) uses the scale-up link; a
larger group uses the scale-out network for its flat algorithms (a ring is as fast as its
slowest link) and both for the hierarchical one. Without a scale-out link a larger group falls
back to the host link (PCIe), and the cost says so in ``note``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .errors import Problem, SpecError
from .specs import HardwareSpec, Link

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "send-recv")
ALGORITHMS = ("auto", "ring", "tree", "hierarchical")

# Per-step latency when a link's spec gives none: NCCL's own tuning model (src/graph/tuning.cc,
# hwLat, ring algorithm, LL128 protocol): NVLink 1.9 us, PCIe 2.5 us, network 4.0 us.
DEFAULT_STEP_LATENCY_S = {"scale-up": 1.9e-6, "host": 2.5e-6, "scale-out": 4.0e-6}


@dataclass(frozen=True)
class Phase:
    link: str
    bytes: float          # sent by one device in one direction
    steps: int
    time_s: float


@dataclass(frozen=True)
class CollectiveCost:
    time_s: float
    algorithm: str
    phases: tuple[Phase, ...] = ()
    note: str = ""

    @property
    def link(self) -> str:
        """The link that takes most of the time ('' when nothing moves)."""
        return max(self.phases, key=lambda p: p.time_s).link if self.phases else ""

    @property
    def link_bytes(self) -> float:
        return sum(p.bytes for p in self.phases)


def ring_bytes_and_steps(collective: str, n: float, p: int) -> tuple[float, int]:
    """Bytes one device sends in one direction, and sequential steps, of the ring algorithm."""
    if p <= 1:
        return 0.0, 0
    if collective == "all-reduce":
        return 2.0 * (p - 1) / p * n, 2 * (p - 1)
    if collective in ("all-gather", "reduce-scatter", "all-to-all"):
        return (p - 1) / p * n, p - 1
    if collective == "broadcast":
        return float(n), p - 1    # pipelined along the ring: n per device, p-1 hops of latency
    return float(n), 1            # point-to-point


def tree_bytes_and_steps(collective: str, n: float, p: int) -> Optional[tuple[float, int]]:
    """Double binary tree (NCCL): a device is interior in one tree and a leaf in the other, each tree
    carrying n/2, so an all-reduce sends 2n (reduce up, broadcast down) in 2 ceil(log2 p) steps and
    a broadcast n in ceil(log2 p). None for collectives with no tree form."""
    if p <= 1:
        return 0.0, 0
    depth = math.ceil(math.log2(p))
    if collective == "all-reduce":
        return 2.0 * n, 2 * depth
    if collective == "broadcast":
        return float(n), depth
    return None


def links_by_scope(hw: HardwareSpec) -> dict[str, Link]:
    by_scope: dict[str, Link] = {}
    for link in hw.interconnect:
        by_scope.setdefault(link.scope, link)
    return by_scope


def domain_size(hw: HardwareSpec) -> Optional[int]:
    """Devices in one scale-up domain (None: unbounded or no scale-up link)."""
    up = links_by_scope(hw).get("scale-up")
    return up.domain_size if up is not None else None


def choose_link(hw: HardwareSpec, participants: int, scope: Optional[str] = None,
                local: Optional[int] = None) -> Optional[Link]:
    """The link a flat collective over ``participants`` devices runs on (see the module docstring)."""
    by_scope = links_by_scope(hw)
    if scope:
        return by_scope.get(scope)
    up = by_scope.get("scale-up")
    fits = local >= participants if local is not None else (
        up is not None and (up.domain_size is None or participants <= up.domain_size))
    if up is not None and fits:
        return up
    return by_scope.get("scale-out") or by_scope.get("host") or up


def _phase(hw: HardwareSpec, link: Link, nbytes: float, steps: int, ideal: bool) -> Phase:
    eff = 1.0 if ideal else hw.efficiency.link_fraction(link.name)
    alpha = 0.0 if ideal else (link.latency_s if link.latency_s is not None else DEFAULT_STEP_LATENCY_S[link.scope])
    t = (steps * alpha + nbytes / (link.bandwidth_bytes_per_s_per_direction * eff)) if nbytes > 0 else 0.0
    return Phase(link.name, nbytes, steps, t)


def _hierarchical(hw: HardwareSpec, collective: str, n: float, p: int, local: int, ideal: bool
                  ) -> Optional[tuple[Phase, ...]]:
    by_scope = links_by_scope(hw)
    up, out = by_scope.get("scale-up"), by_scope.get("scale-out")
    if up is None or out is None or local <= 1 or local >= p or collective in ("broadcast", "send-recv"):
        return None
    g = math.ceil(p / local)
    if collective == "all-to-all":
        return (_phase(hw, up, (local - 1) / p * n, local - 1, ideal),
                _phase(hw, out, (p - local) / p * n, g - 1, ideal))
    inner_b, inner_s = ring_bytes_and_steps("all-gather", n, local)          # (local-1)/local n
    if collective == "all-reduce":
        cross_b, cross_s = ring_bytes_and_steps("all-reduce", n / local, g)
        return (_phase(hw, up, inner_b, inner_s, ideal), _phase(hw, out, cross_b, cross_s, ideal),
                _phase(hw, up, inner_b, inner_s, ideal))
    cross_b, cross_s = ring_bytes_and_steps(collective, n / local, g)
    return (_phase(hw, up, inner_b, inner_s, ideal), _phase(hw, out, cross_b, cross_s, ideal))


def collective_cost(hw: HardwareSpec, collective: str, n: float, participants: int, *,
                    scope: Optional[str] = None, stride: int = 1, algorithm: str = "auto",
                    ideal: bool = False) -> CollectiveCost:
    """Time of one collective on ``hw`` among ``participants`` devices ``stride`` ranks apart."""
    p = []
    if collective not in COLLECTIVES:
        p.append(Problem(None, "collective", "one of " + ", ".join(COLLECTIVES), repr(collective)))
    if algorithm not in ALGORITHMS:
        p.append(Problem(None, "algorithm", "one of " + ", ".join(ALGORITHMS), repr(algorithm)))
    if isinstance(participants, bool) or not isinstance(participants, int) or participants < 1:
        p.append(Problem(None, "participants", "an integer >= 1", repr(participants)))
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not (n >= 0 and math.isfinite(n)):
        p.append(Problem(None, "bytes", "a finite number of bytes >= 0", repr(n)))
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        p.append(Problem(None, "stride", "an integer >= 1", repr(stride)))
    if p:
        raise SpecError(p)
    if participants <= 1 or n == 0:
        return CollectiveCost(0.0, "none")
    d = domain_size(hw)
    local = participants if d is None else max(1, min(participants, d // stride))
    candidates: list[CollectiveCost] = []
    link = choose_link(hw, participants, scope, local)
    if link is None:
        return CollectiveCost(math.inf, algorithm, note=f"{hw.id} has no link for a group of {participants}")
    note = ""
    if link.scope == "host" and scope != "host":
        note = f"{hw.id} has no scale-out link: the group of {participants} is assumed to talk over {link.name}"
    for algo, fn in (("ring", ring_bytes_and_steps), ("tree", tree_bytes_and_steps)):
        figures = fn(collective, n, participants) if algorithm in ("auto", algo) else None
        if figures is not None:
            ph = _phase(hw, link, *figures, ideal)
            candidates.append(CollectiveCost(ph.time_s, algo, (ph,), note))
    if algorithm in ("auto", "hierarchical") and scope is None:
        phases = _hierarchical(hw, collective, n, participants, local, ideal)
        if phases is not None:
            candidates.append(CollectiveCost(sum(ph.time_s for ph in phases), "hierarchical", phases))
    if not candidates:   # no tree form, or no two-level hierarchy here: the flat ring
        b, s = ring_bytes_and_steps(collective, n, participants)
        ph = _phase(hw, link, b, s, ideal)
        return CollectiveCost(ph.time_s, "ring", (ph,), note or f"no {algorithm} form here: ran as a ring")
    return min(candidates, key=lambda c: c.time_s)
