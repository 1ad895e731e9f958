"""Op and Workload: frozen descriptions of work, independent of any hardware."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES, TRANSCENDENTAL
from .access import CommAccess, DenseAccess, ExplicitAccess, GatherAccess, SparseAccess, StreamAccess

PHASES = ("forward", "backward", "optimizer", "prefill", "decode", "communication")
ROLES = ("weight", "activation", "gradient", "optimizer_state", "kv_cache", "index", "buffer",
         "input")  # input: data the step reads but does not train or produce (a graph's node features)
Access = Union[DenseAccess, StreamAccess, GatherAccess, SparseAccess, CommAccess, ExplicitAccess]


@dataclass(frozen=True)
class Tensor:
    name: str
    bytes: float
    role: str = "activation"

    def __post_init__(self):
        if self.role not in ROLES:
            raise SpecError(Problem(None, f"tensor {self.name}.role", f"one of {ROLES}", repr(self.role)))
        if not self.bytes >= 0:
            raise SpecError(Problem(None, f"tensor {self.name}.bytes", "bytes >= 0", repr(self.bytes)))


@dataclass(frozen=True)
class FlopCount:
    dtype: str
    flops: float
    unit: str = "matrix"   # matrix (tensor) or vector (SIMD) units, specs.FMA fused multiply-adds, or specs.TRANSCENDENTAL evaluations


@dataclass(frozen=True)
class Op:
    """One kernel-sized piece of work. FLOPs, bytes and tensors are for ONE execution; ``count``
    repeats it (e.g. once per layer). Results report totals over all ``count`` executions."""
    name: str
    kind: str
    flops: tuple[FlopCount, ...]
    access: Access
    reads: tuple[Tensor, ...] = ()
    writes: tuple[Tensor, ...] = ()
    count: int = 1
    phase: str = "forward"
    notes: str = ""
    shape: tuple[tuple[str, Any], ...] = ()   # the parameters the op was built from, for display
    # The call allocates its outputs (numpy without out=, an eager framework without a caching
    # allocator) instead of writing into buffers it is given: memory the OS may have to map and
    # zero on first touch (efficiency.first_touch prices it).
    allocates: bool = False

    def __post_init__(self):
        p = []
        if self.phase not in PHASES:
            p.append(Problem(None, f"op {self.name}.phase", f"one of {PHASES}", repr(self.phase)))
        if not (isinstance(self.count, int) and self.count >= 0):
            p.append(Problem(None, f"op {self.name}.count", "an integer >= 0", repr(self.count)))
        for f in self.flops:
            if f.dtype not in DTYPE_BYTES:
                p.append(Problem(None, f"op {self.name}.dtype", f"one of {tuple(DTYPE_BYTES)}", repr(f.dtype)))
            if not f.flops >= 0:
                p.append(Problem(None, f"op {self.name}.flops", "FLOPs >= 0", repr(f.flops)))
        if p:
            raise SpecError(p)

    @property
    def total_flops(self) -> float:
        """Arithmetic FLOPs; transcendental evaluations are a separate count (the FLOP conventions
        of roofsim/ops/kinds.py already include an exp among a softmax's 5 FLOPs per element)."""
        return sum(f.flops for f in self.flops if f.unit != TRANSCENDENTAL)

    @property
    def dtype(self) -> str:
        """The dtype of most of the op's FLOPs (or of its data when it has none)."""
        return max(self.flops, key=lambda f: f.flops).dtype if self.flops else ""

    @property
    def read_bytes(self) -> float:
        return sum(t.bytes for t in self.reads)

    @property
    def write_bytes(self) -> float:
        return sum(t.bytes for t in self.writes)

    @property
    def working_set_bytes(self) -> float:
        """Distinct bytes touched (a tensor both read and written counts once)."""
        seen: dict[str, float] = {}
        for t in (*self.reads, *self.writes):
            seen[t.name] = max(seen.get(t.name, 0.0), t.bytes)
        return sum(seen.values())

    def bytes_by_role(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in (*self.reads, *self.writes):
            out[t.role] = out.get(t.role, 0.0) + t.bytes
        return out


@dataclass(frozen=True)
class Workload:
    name: str
    ops: tuple[Op, ...]
    params: tuple[tuple[str, Any], ...] = ()
    description: str = ""
    source: str = ""
    parameters: Optional[float] = None          # model parameter count, where it applies
    tokens: Optional[float] = None              # tokens processed per step, where it applies
    file: Optional[str] = field(default=None, compare=False)

    @property
    def total_flops(self) -> float:
        return sum(op.total_flops * op.count for op in self.ops)

    @property
    def flops_per_token(self) -> Optional[float]:
        return self.total_flops / self.tokens if self.tokens else None

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)
