"""Memory capacity: what one device holds for a workload, and where it is placed.

Public API (all byte figures are per device, SI bytes):

``footprint(workload, hw=None, **techniques) -> Footprint``
    The bytes one device holds during a step, by component:

    - ``weights``: parameters x bytes per parameter (the workload's ``weight_dtype``, or the bytes
      of its ops' weight-role tensors; quantisation adds group scales, pruning its index format);
    - ``gradients`` (training): one gradient per parameter in the weight dtype (fp32 for fp32
      weights);
    - ``optimizer`` (training): fp32 master weights when the weights are narrower than fp32
      (mixed precision) plus the optimizer's states (see ``OPTIMIZERS``); with Adam in mixed
      precision weights + gradients + optimizer = 2 + 2 + 12 = 16 B per parameter (Rajbhandari et
      al., "ZeRO", SC20, section 3.1);
    - ``activations``: training: the activations stored for the backward pass (Transformers: the
      closed forms of Korthikanti et al. 2022, with tensor/sequence/pipeline parallelism and
      checkpointing; other workloads: the activation-role outputs of their forward ops);
      inference: the largest activation working set of one op;
    - ``kv_cache``: the kv_cache-role tensors the attention reads (decode: the context);
    - ``other``: input data tables the device stores but does not train (a graph's node features);
      workspace: the layer being recomputed under checkpointing, ZeRO-3's gathered
      layer (one layer's full weights), the double buffer of streamed (offloaded) weights, the
      Hessian-diagonal estimate and probe of a second-order optimizer.

    Techniques (keyword arguments, all optional; see ``Techniques``): ``optimizer``,
    ``master_weights``, ``checkpoint`` (none, selective, full, every-k, sqrt) and
    ``checkpoint_every``, ``zero`` (0-3) over ``dp`` data-parallel devices, ``tp``/``sp``/``pp``/
    ``microbatches``/``interleave`` (the parallel layout the device is part of), ``offload``
    (components moved to a far memory tier), ``weight_dtype``/``kv_dtype``/``act_dtype`` with
    ``group_size`` (quantisation), ``sparsity`` with ``sparse_format`` (pruning), ``dropout``.

``Footprint``: frozen; ``weights``, ``gradients``, ``optimizer``, ``activations``, ``kv_cache``,
    ``other`` (bytes resident on the device), ``total``, ``capacity`` (the main memory of ``hw``;
    None without hardware or when unknown), ``fits``, ``excess``, ``offloaded`` (component ->
    bytes moved to ``offload_tier``), ``offload_traffic`` (bytes per step over that tier's link),
    ``recompute_flops``, ``notes``; ``as_json()`` gives the ``memory`` document of ``roofsim run``.

``place(sizes_by_item, hw) -> Placement``
    Greedy placement over the device's memory tiers, main memory first, then each far tier
    (host DRAM, CXL, NVMe) in the order of ``hw.memory``: items are taken in the given order (the
    first item gets the fastest tier); what does not fit in a tier spills to the next. A tier
    without a capacity holds everything that reaches it (said in the placement's notes). Bytes
    are charged to the tier that holds them: ``Placement.bytes_in(tier)``, ``.tiers_of(item)``.

``offload_time_s(fp, hw)``: seconds the offload traffic of ``fp`` takes on its tier's link.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Mapping, Optional

from .errors import Problem, SpecError
from .specs import DTYPE_BYTES, DTYPES, HardwareSpec
from .ops.access import GatherAccess
from .ops.kinds import MASK_BYTES   # a dropout mask element is one byte (Korthikanti et al. 2022, section 4.1)

COMPONENTS = ("weights", "gradients", "optimizer", "activations", "kv_cache", "other")
CHECKPOINTS = ("none", "selective", "full", "every-k", "sqrt")
SPARSE_FORMATS = ("structured", "2:4", "csr", "bitmask")
OFFLOADABLE = ("weights", "gradients", "optimizer", "activations", "kv_cache")
INDEX_BYTES = 4.0        # int32 column index per nonzero (CSR)
FP32 = 4.0


@dataclass(frozen=True)
class Optimizer:
    """Per-parameter optimizer state in fp32 (``state_bytes``), or a factored second moment."""
    name: str
    state_bytes: float
    factored: bool = False        # Adafactor: row and column statistics of each matrix
    rowwise: bool = False         # one state per embedding-table row (row-wise Adagrad)
    hessian: bool = False         # keeps a Hessian-diagonal estimate (second order)
    source: str = ""


OPTIMIZERS = {o.name: o for o in (
    Optimizer("none", 0.0, source="inference: no optimizer"),
    Optimizer("sgd", 0.0, source="plain SGD keeps no state"),
    Optimizer("sgd-momentum", FP32, source="one momentum buffer per parameter"),
    Optimizer("adam", 2 * FP32, source="Kingma & Ba 2015: first and second moments (ZeRO's K = 12 with the fp32 master copy)"),
    Optimizer("adamw", 2 * FP32, source="Loshchilov & Hutter 2019: Adam's two moments, decoupled weight decay"),
    Optimizer("adagrad", FP32, source="Duchi et al. 2011: one accumulated squared gradient per parameter"),
    Optimizer("rowwise-adagrad", FP32, rowwise=True,
              source="row-wise Adagrad (FBGEMM / TorchRec, DLRM training): one fp32 accumulator per embedding-table "
                     "row, Adagrad's per-parameter accumulator for the dense layers"),
    Optimizer("adafactor", 0.0, factored=True,
              source="Shazeer & Stern 2018: no first moment (beta1 = 0); the second moment of an r x c matrix "
                     "is kept as r + c row and column sums, vectors keep a full second moment"),
    Optimizer("adahessian", 2 * FP32, hessian=True,
              source="Yao et al. 2021 (AdaHessian): first moment of the gradient and second moment of the "
                     "Hutchinson Hessian-diagonal estimate; the estimate itself (fp32) and the Rademacher probe "
                     "(weight dtype) are live during the step"),
)}


@dataclass(frozen=True)
class Techniques:
    """How the model is trained or served; every field is a documented choice with a cost."""
    optimizer: Optional[str] = None        # None: the workload's optimizer (training) or none
    master_weights: Optional[bool] = None  # None: yes when the weights are narrower than fp32
    checkpoint: Optional[str] = None       # None: the workload's recompute setting
    checkpoint_every: int = 1              # every-k: k layers per checkpoint
    zero: int = 0                          # ZeRO stage over the data-parallel group
    dp: int = 1
    tp: int = 1
    sp: bool = False                       # sequence parallelism (with tp)
    pp: int = 1
    ep: int = 1                            # expert parallelism: each device holds experts / ep
    microbatches: Optional[int] = None     # per step; None: pp (enough to fill the pipeline)
    interleave: int = 1                    # virtual stages per device (interleaved 1F1B)
    offload: tuple[str, ...] = ()
    offload_tier: Optional[str] = None     # None: the first far tier of the device
    weight_dtype: Optional[str] = None
    kv_dtype: Optional[str] = None
    act_dtype: Optional[str] = None
    group_size: int = 128                  # elements per quantisation scale (integer dtypes)
    scale_dtype: str = "fp16"
    sparsity: float = 0.0                  # fraction of weights pruned
    sparse_format: str = "csr"
    dropout: bool = True                   # Megatron-style dropout masks are stored (training)

    def __post_init__(self):
        p: list[Problem] = []
        _one_of(p, "optimizer", self.optimizer, tuple(OPTIMIZERS), optional=True)
        _one_of(p, "checkpoint", self.checkpoint, CHECKPOINTS, optional=True)
        _one_of(p, "sparse_format", self.sparse_format, SPARSE_FORMATS)
        for name in ("weight_dtype", "kv_dtype", "act_dtype"):
            _one_of(p, name, getattr(self, name), DTYPES, optional=True)
        _one_of(p, "scale_dtype", self.scale_dtype, DTYPES)
        _one_of(p, "zero", self.zero, (0, 1, 2, 3))
        for name in ("checkpoint_every", "dp", "tp", "pp", "ep", "interleave", "group_size"):
            _int(p, name, getattr(self, name), 1)
        if self.microbatches is not None:
            _int(p, "microbatches", self.microbatches, 1)
        if isinstance(self.sparsity, bool) or not (isinstance(self.sparsity, (int, float)) and 0 <= self.sparsity < 1):
            p.append(Problem(None, "sparsity", "a fraction in [0, 1)", repr(self.sparsity)))
        elif self.sparse_format == "2:4" and self.sparsity not in (0, 0.5):
            p.append(Problem(None, "sparsity", "0.5 with the 2:4 format (it keeps exactly 2 of every 4 weights)",
                             repr(self.sparsity)))
        for name in ("sp", "dropout"):
            if not isinstance(getattr(self, name), bool):
                p.append(Problem(None, name, "true or false", repr(getattr(self, name))))
        if self.master_weights is not None and not isinstance(self.master_weights, bool):
            p.append(Problem(None, "master_weights", "true, false or none", repr(self.master_weights)))
        if not isinstance(self.offload, tuple) or any(c not in OFFLOADABLE for c in self.offload):
            p.append(Problem(None, "offload", f"components among {OFFLOADABLE}", repr(self.offload)))
        if p:
            raise SpecError(p)


def _one_of(p, name, value, choices, optional=False):
    if (value is None and optional) or (value in choices and not isinstance(value, bool)):
        return
    p.append(Problem(None, name, "one of " + ", ".join(map(str, choices)), repr(value)))


def _int(p, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        p.append(Problem(None, name, f"an integer >= {minimum}", repr(value)))


# --------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Footprint:
    """Bytes resident on one device during a step, by component (see the module docstring)."""
    weights: float
    gradients: float
    optimizer: float
    activations: float
    kv_cache: float
    other: float
    capacity: Optional[float] = None
    memory: str = ""                                   # the main memory level's name
    offload_tier: str = ""
    offloaded: tuple[tuple[str, float], ...] = ()      # component -> bytes held in offload_tier
    offload_traffic: float = 0.0                       # bytes per step over the offload tier's link
    parameters: float = 0.0
    recompute_flops: float = 0.0
    training: bool = False
    notes: tuple[str, ...] = ()

    @property
    def by_component(self) -> dict[str, float]:
        return {c: getattr(self, c) for c in COMPONENTS}

    @property
    def total(self) -> float:
        return sum(self.by_component.values())

    @property
    def fits(self) -> Optional[bool]:
        return None if self.capacity is None else self.total <= self.capacity

    @property
    def excess(self) -> float:
        return 0.0 if self.capacity is None else max(self.total - self.capacity, 0.0)

    def as_json(self) -> dict[str, Any]:
        return {"per_device_bytes": self.by_component, "total_per_device_bytes": self.total,
                "device_capacity_bytes": self.capacity, "fits": self.fits, "memory_level": self.memory or None,
                "offloaded_bytes": dict(self.offloaded), "offload_tier": self.offload_tier or None,
                "offload_traffic_bytes_per_step": self.offload_traffic, "parameters": self.parameters,
                "recompute_flops": self.recompute_flops, "notes": list(self.notes)}


@dataclass(frozen=True)
class Placement:
    """Bytes of each item in each tier (tiers: main memory, then the far tiers, in order)."""
    tiers: tuple[str, ...]
    assigned: tuple[tuple[str, str, float], ...]      # (item, tier, bytes)
    unplaced: tuple[tuple[str, float], ...] = ()       # bytes no tier could hold
    notes: tuple[str, ...] = ()

    def bytes_in(self, tier: str) -> float:
        return sum(b for _, t, b in self.assigned if t == tier)

    def tiers_of(self, item: str) -> dict[str, float]:
        return {t: b for i, t, b in self.assigned if i == item}

    @property
    def fits(self) -> bool:
        return not self.unplaced


def place(sizes_by_item: Mapping[str, float], hw: HardwareSpec) -> Placement:
    """Fill main memory, then each far tier, with the items in order; see the module docstring."""
    bad = [Problem(None, f"place.{k}", "bytes >= 0", repr(v)) for k, v in sizes_by_item.items()
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 or math.isinf(v)]
    if bad:
        raise SpecError(bad)
    tiers = hw.memory[hw.main_index:]
    free = [t.total_capacity_bytes if t.total_capacity_bytes is not None else math.inf for t in tiers]
    notes = tuple(f"{t.name} has no capacity in its spec: it is assumed to hold whatever reaches it"
                  for t, f in zip(tiers, free) if math.isinf(f))
    assigned, unplaced = [], []
    for item, size in sizes_by_item.items():
        left = float(size)
        for i, t in enumerate(tiers):
            take = min(left, free[i])
            if take > 0:
                assigned.append((item, t.name, take))
                free[i] -= take
                left -= take
            if left <= 0:
                break
        if left > 0:
            unplaced.append((item, left))
    return Placement(tuple(t.name for t in tiers), tuple(assigned), tuple(unplaced), notes)


# --------------------------------------------------------------------------------- footprint

def footprint(workload, hw: Optional[HardwareSpec] = None, **techniques: Any) -> Footprint:
    """The per-device memory of one step of ``workload`` (see the module docstring)."""
    t = techniques_of(techniques)
    training = any(op.phase in ("backward", "optimizer") for op in workload.ops)
    tf = transformer_shape(workload)
    notes: list[str] = []

    params, weight_bpp = _parameters(workload)
    if t.weight_dtype:
        weight_bpp = quantised_bytes(t.weight_dtype, t.group_size, t.scale_dtype)
    weight_bpp = pruned_bytes(weight_bpp, t.sparsity, t.sparse_format)
    shard = t.tp * t.pp                      # model parallelism divides the parameters
    if t.ep > 1 and tf is not None and tf.experts > 1:
        # expert parallelism divides the experts' weights once more (shared weights stay whole)
        experts = tf.layers * tf.experts * (3 if tf.ffn_type == "swiglu" else 2) * tf.hidden * tf.ffn_hidden
        params = params - experts * (1 - 1 / t.ep)
        notes.append(f"expert parallelism over {t.ep}: {experts / t.ep:.4g} of the {experts:.4g} expert parameters "
                     f"per expert group")
    weights = params * weight_bpp / shard
    grads = opt = 0.0
    other = 0.0
    opt_name = t.optimizer or (str(workload.param("optimizer") or "adamw").replace("_", "-") if training else "none")
    if opt_name not in OPTIMIZERS:
        notes.append(f"optimizer {opt_name!r} is not in roofsim.memory.OPTIMIZERS: its state is counted as adamw's")
        opt_name = "adamw"
    optimizer = OPTIMIZERS[opt_name]
    if training:
        dense_bpp = DTYPE_BYTES[t.weight_dtype or workload.param("weight_dtype") or "fp32"] \
            if (t.weight_dtype or workload.param("weight_dtype")) else weight_bpp
        grads = _gradient_bytes(workload, optimizer, params, min(dense_bpp, FP32)) / shard
        master = t.master_weights if t.master_weights is not None else dense_bpp < FP32
        states = _optimizer_state_bytes(workload, optimizer, params)
        opt = (params * (FP32 if master else 0.0) + states) / shard
        if optimizer.hessian:
            other += params * (FP32 + dense_bpp) / shard   # the diagonal estimate and the probe vector
        # ZeRO partitions the model states over the data-parallel group (Rajbhandari et al. 2020)
        if t.zero >= 1:
            opt /= t.dp
        if t.zero >= 2:
            grads /= t.dp
        if t.zero >= 3:
            other += _largest_layer_weights(workload, weight_bpp, params) / t.tp   # the layer being computed, gathered
            weights /= t.dp

    acts, transient, recompute = _activations(workload, tf, t, training)
    other += transient + _input_table_bytes(workload)
    kv = _kv_cache(workload, tf, t)

    resident = {"weights": weights, "gradients": grads, "optimizer": opt, "activations": acts,
                "kv_cache": kv, "other": other}
    tier, offloaded, traffic = "", [], 0.0
    if t.offload:
        tier = _offload_tier(hw, t.offload_tier) if hw is not None else (t.offload_tier or "host")
        passes = 2.0 if training else 1.0     # weights are streamed in for the forward and the backward
        per_step = {"weights": weights * passes, "optimizer": grads + weights, "gradients": grads,
                    "activations": 2.0 * acts, "kv_cache": kv}
        for c in t.offload:
            if resident[c] > 0:
                offloaded.append((c, resident[c]))
                traffic += per_step[c]
                resident[c] = 0.0
        if "weights" in t.offload:
            resident["other"] += 2 * _largest_layer_weights(workload, weight_bpp, params) / shard  # double buffer
        notes.append(f"offloaded to {tier}: {', '.join(c for c, _ in offloaded) or 'nothing'}; "
                     f"its link carries {traffic:.4g} B per step")
        far_cap = hw.level(tier).total_capacity_bytes if hw is not None else None
        moved = sum(b for _, b in offloaded)
        if hw is not None and far_cap is None:
            notes.append(f"{tier} has no capacity in its spec: it is assumed to hold the {moved:.4g} B offloaded")
        elif far_cap is not None and moved > far_cap:
            notes.append(f"{tier} ({far_cap:.4g} B) cannot hold the {moved:.4g} B offloaded either")
    capacity = name = None
    if hw is not None:
        main = hw.main_memory
        capacity, name = main.total_capacity_bytes, main.name
    return Footprint(**resident, capacity=capacity, memory=name or "", offload_tier=tier,
                     offloaded=tuple(offloaded), offload_traffic=traffic, parameters=params,
                     recompute_flops=recompute, training=training, notes=tuple(notes))


def offload_time_s(fp: Footprint, hw: HardwareSpec) -> float:
    """Seconds the offload traffic of ``fp`` takes over its tier's bandwidth (0 without offload)."""
    if not fp.offload_traffic:
        return 0.0
    level = hw.level(fp.offload_tier)
    if not level.bandwidth_bytes_per_s:
        return math.inf
    return fp.offload_traffic / (level.bandwidth_bytes_per_s * hw.efficiency.memory_fraction(level.name))


def offload_ops(fp: Footprint) -> tuple:
    """One op per step that moves the offload traffic over its tier (an explicit per-level byte
    count, so the roofline charges it to that tier's bandwidth); none without offload."""
    if not fp.offload_traffic:
        return ()
    from .ops.kinds import custom
    what = "+".join(c for c, _ in fp.offloaded)
    return (custom(f"offload.{what}", 0.0, "fp32", level_bytes={fp.offload_tier: fp.offload_traffic},
                   phase="communication", notes=f"{what} streamed over {fp.offload_tier} (hidden behind compute only with overlap)"),)


def builder_recompute(scheme: str) -> str:
    """The Transformer builder's recompute setting that does a checkpointing scheme's extra work:
    every-k and sqrt recompute every layer's forward once, as full does."""
    return {"none": "none", "selective": "selective"}.get(scheme, "full")


def excess_stream_time_s(fp: Footprint, hw: HardwareSpec) -> Optional[tuple[str, float]]:
    """(far tier, seconds) to stream what does not fit over the first far tier once per step;
    None when it fits or there is no far tier."""
    far = hw.memory[hw.main_index + 1:]
    if not fp.excess or not far or not far[0].bandwidth_bytes_per_s:
        return None
    return far[0].name, fp.excess / (far[0].bandwidth_bytes_per_s * hw.efficiency.memory_fraction(far[0].name))


def _offload_tier(hw: HardwareSpec, name: Optional[str]) -> str:
    far = [m.name for m in hw.memory[hw.main_index + 1:]]
    if name is None:
        if not far:
            raise SpecError(Problem(hw.file, "memory", "a far tier (host DRAM, CXL, NVMe) to offload to", "none"))
        return far[0]
    if name not in far:
        raise SpecError(Problem(hw.file, "offload_tier", f"a far tier of {hw.id} ({', '.join(far) or 'none'})", repr(name)))
    return name


def techniques_of(options: Mapping[str, Any]) -> Techniques:
    """Techniques from keyword options; unknown names are reported with the valid ones."""
    valid = [f.name for f in fields(Techniques)]
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise SpecError([Problem(None, k, "a technique (" + ", ".join(valid) + ")", f"unknown option {k!r}")
                         for k in unknown])
    return Techniques(**options)


# --------------------------------------------------------------------------------- parts

def quantised_bytes(dtype: str, group_size: int = 128, scale_dtype: str = "fp16") -> float:
    """Bytes per element of a quantised tensor: integer types carry one scale per ``group_size``
    elements (GPTQ/AWQ-style group quantisation); floating-point types carry none."""
    b = DTYPE_BYTES[dtype]
    return b + DTYPE_BYTES[scale_dtype] / group_size if dtype.startswith("int") else b


def pruned_bytes(bpp: float, sparsity: float, fmt: str) -> float:
    """Bytes per dense weight element after pruning a fraction ``sparsity`` of them.

    structured: whole rows/channels/heads removed, no index; 2:4: NVIDIA's semi-structured format,
    half the values plus a 2-bit index per kept value (fixed 50%); csr: an int32 column index per
    kept value; bitmask: one bit per dense element."""
    if sparsity == 0:
        return bpp
    if fmt == "structured":
        return (1 - sparsity) * bpp
    if fmt == "2:4":
        return 0.5 * (bpp + 2 / 8)
    if fmt == "csr":
        return (1 - sparsity) * (bpp + INDEX_BYTES)
    return (1 - sparsity) * bpp + 1 / 8


def _forward(workload):
    return [op for op in workload.ops if op.phase in ("forward", "prefill", "decode")]


def _table_bytes(op) -> float:
    """Bytes of the whole table a gather or embedding-bag reads rows of (0 for other ops)."""
    a = op.access
    return float(a.table_rows) * float(a.row_bytes) if isinstance(a, GatherAccess) else 0.0


def _trained_table(op) -> bool:
    """A table-backed op whose table is a trained weight (embeddings), not input data (features):
    the role of the tensor of rows it reads says which (``kinds.gather``'s ``table_role``)."""
    return _table_bytes(op) > 0 and any(t.role == "weight" for t in op.reads)


def _input_table_bytes(workload) -> float:
    """Input data tables (a graph's node features) the device stores but never trains."""
    return sum(_table_bytes(op) * op.count for op in _forward(workload) if _table_bytes(op) and not _trained_table(op))


def _weight_tensor_bytes(op) -> float:
    """Stored weight bytes of one execution of a forward op: a trained table whole, an input
    table none (it is data, see ``_input_table_bytes``), else its weight-role operands (each
    distinct tensor once)."""
    if _table_bytes(op):
        return _table_bytes(op) if _trained_table(op) else 0.0
    seen = {t.name: t.bytes for t in (*op.reads, *op.writes) if t.role == "weight"}
    return sum(seen.values())


def _parameters(workload) -> tuple[float, float]:
    """(parameter count, stored bytes per parameter).

    A workload that declares its weight dtype (the Transformer builder) is counted as parameters x
    that dtype (its own exact count; tied embeddings counted once; integer dtypes with their
    default group scales, see ``quantised_bytes``). Otherwise the bytes are those of the forward
    ops' weight tensors (a table-backed gather: its whole table) and the count divides them by
    each op's dtype.
    """
    wdt = workload.param("weight_dtype")
    if workload.parameters and wdt in DTYPE_BYTES:
        return float(workload.parameters), quantised_bytes(wdt)
    total = count = 0.0
    for op in _forward(workload):
        b = _weight_tensor_bytes(op) * op.count
        total += b
        count += b / DTYPE_BYTES.get(op.dtype or "fp32", FP32)
    # the count comes from the same tensors as the bytes: a builder that shards its tables over
    # devices (DLRM) declares the whole model's parameters but holds only its share
    return count, (total / count if count else 0.0)


def _optimizer_state_bytes(workload, opt: Optimizer, params: float) -> float:
    if opt.rowwise:
        tables = [(op.access, op) for op in _forward(workload) if _trained_table(op)]
        rows = sum(a.table_rows * op.count for a, op in tables)
        elements = sum(a.table_rows * a.row_bytes / DTYPE_BYTES.get(op.dtype or "fp32", FP32) * op.count for a, op in tables)
        return FP32 * (rows + max(params - elements, 0.0))
    if not opt.factored:
        return params * opt.state_bytes
    # Adafactor: r + c fp32 statistics per weight matrix, a full second moment for the rest
    matrices = stats = 0.0
    for op in _forward(workload):
        a = op.access
        if op.kind == "gemm" and len(op.reads) > 1 and op.reads[1].role == "weight":
            matrices += a.k * a.n * a.batch * op.count
            stats += (a.k + a.n) * a.batch * op.count
        elif _trained_table(op):
            dim = a.row_bytes / DTYPE_BYTES.get(op.dtype or "fp32", FP32)
            matrices += a.table_rows * dim * op.count
            stats += (a.table_rows + dim) * op.count
    return FP32 * (stats + max(params - matrices, 0.0))


def _gradient_bytes(workload, opt: Optimizer, params: float, grad_bpp: float) -> float:
    """One gradient per parameter; under a row-wise (sparse) optimizer an embedding table's
    gradient is only the rows the step looked up (a sparse gradient, as TorchRec's fused update)."""
    if not opt.rowwise:
        return params * grad_bpp
    table_params = touched = 0.0
    for op in _forward(workload):
        a = op.access
        if _trained_table(op):
            elem = DTYPE_BYTES.get(op.dtype or "fp32", FP32)
            table_params += a.table_rows * a.row_bytes / elem * op.count
            touched += min(getattr(a, "lookups", a.table_rows), a.table_rows) * a.row_bytes / elem * op.count
    return (max(params - table_params, 0.0) + touched) * grad_bpp


def _largest_layer_weights(workload, bpp: float, params: float) -> float:
    """Weight bytes of one repeated block (a layer), the unit ZeRO-3 gathers or offload streams."""
    layers = _layer_count(workload)
    return params * bpp / layers if layers else params * bpp


def _layer_count(workload) -> int:
    counts = [op.count for op in _forward(workload) if op.count > 1]
    return max(counts) if counts else 1


# --------------------------------------------------------------------------------- transformers

@dataclass(frozen=True)
class TransformerShape:
    """What the closed forms need, read from a transformer-builder workload's resolved params."""
    layers: int
    hidden: int
    heads: int
    experts: int
    kv_heads: int
    head_dim: int
    ffn_hidden: int
    ffn_type: str
    vocab: int
    experts_per_token: int
    shared_experts: int
    act_dtype: str
    kv_dtype: str
    phase: str
    batch: int
    seq: int
    context: int
    attention: str
    recompute: str
    encoder_layers: int = 0                # > 0: an encoder-decoder (``layers`` is then the decoder's)
    source_seq: Optional[int] = None       # its source length


def transformer_shape(workload) -> Optional[TransformerShape]:
    """The shape of a workload made by the transformer builder (all its resolved params present)."""
    required = [f.name for f in fields(TransformerShape) if f.default is MISSING]
    optional = [f.name for f in fields(TransformerShape) if f.default is not MISSING]
    params = dict(workload.params)
    if not all(n in params for n in required):
        return None
    return TransformerShape(**{n: params[n] for n in required + [o for o in optional if params.get(o) is not None]})


def transformer_layer_activations(s: float, b: float, h: float, a: int, t: int = 1, sp: bool = False,
                                  kv_heads: Optional[int] = None, head_dim: Optional[int] = None,
                                  ffn: Optional[float] = None, ffn_type: str = "gelu", act_bytes: float = 2.0,
                                  dropout: bool = True, flash: bool = False, experts_per_token: int = 1,
                                  ) -> dict[str, float]:
    """Activation bytes one Transformer layer stores for its backward pass, per device.

    Korthikanti et al. 2022, section 4.1, generalised to GQA, any FFN width, SwiGLU, flash attention
    and the activation dtype. With 16-bit activations, MHA, a 4h GELU FFN, unfused attention and
    dropout it is sbh(34 + 5as/h) without parallelism; sbh(10 + 24/t + 5as/(ht)) with tensor
    parallelism; sbh/t (34 + 5as/h) with sequence parallelism too. Returned parts:
    ``replicated`` (layer-norm inputs, the QKV and MLP inputs, the two dropout masks: 10sbh, split
    only by sequence parallelism), ``split`` (Q, K, V, the projection input, the MLP's inner
    activations: 24sbh, split by t) and ``attention`` (softmax output, its dropout mask and output:
    5as^2b, split by t; what selective recomputation drops); ``input`` is the layer input (2sbh,
    what full recomputation keeps).
    """
    kv = kv_heads or a
    d = head_dim or h / a
    f = ffn or 4 * h
    sbh, ab = s * b * h, act_bytes
    mask = MASK_BYTES if dropout else 0.0
    replicated = 2 * ab * sbh + ab * sbh + ab * sbh + 2 * mask * sbh   # 2 norms, QKV in, MLP in, 2 masks
    qkv = ab * s * b * d * (a + 2 * kv)                                 # Q, K, V
    proj = ab * s * b * a * d                                           # attention output (o_proj input)
    inner = (3 if ffn_type == "swiglu" else 2) * ab * s * b * f * (experts_per_token)  # gelu in/out; gate, up, product
    split = qkv + proj + inner
    if flash:
        attention = 0.0
        split += FP32 * a * s * b          # the softmax statistics FlashAttention keeps
    else:
        attention = (ab + mask + (ab if dropout else 0.0)) * a * s * s * b
    tp_rep = t if sp else 1
    return {"replicated": replicated / tp_rep, "split": split / t, "attention": attention / t,
            "input": ab * sbh / tp_rep}


def cross_attention_activations(s: float, src: float, b: float, h: float, a: int, t: int = 1, sp: bool = False,
                                kv_heads: Optional[int] = None, head_dim: Optional[int] = None,
                                act_bytes: float = 2.0, dropout: bool = True, flash: bool = False) -> dict[str, float]:
    """Activation bytes one decoder layer's cross-attention block stores, per device, counted as
    Korthikanti et al. count self-attention, with ``s`` decoder queries and ``src`` encoder keys:
    ``replicated``: its norm's input, the Q projection's input, the output dropout mask (5sbh at
    16 bits); ``split``: Q, the K and V of the src source positions, the O projection's input;
    ``attention``: softmax output, its dropout mask and output (5as*src*b). The encoder output the
    K/V projections read is one tensor for all decoder layers: counted once, by the caller."""
    kv, d = kv_heads or a, head_dim or h / a
    ab, mask = act_bytes, (MASK_BYTES if dropout else 0.0)
    replicated = 2 * ab * s * b * h + mask * s * b * h
    split = ab * s * b * a * d * 2 + ab * src * b * kv * d * 2
    if flash:
        attention, split = 0.0, split + FP32 * a * s * b
    else:
        attention = (ab + mask + (ab if dropout else 0.0)) * a * s * src * b
    tp_rep = t if sp else 1
    return {"replicated": replicated / tp_rep, "split": split / t, "attention": attention / t}


def _activations(workload, tf: Optional[TransformerShape], t: Techniques, training: bool
                 ) -> tuple[float, float, float]:
    """(stored activations, transient workspace, recompute FLOPs) per device."""
    if not training:
        return _inference_activations(workload, tf, t), 0.0, 0.0
    scheme = t.checkpoint or _workload_checkpoint(workload)
    mb_in_flight = min(t.pp, t.microbatches or t.pp)
    interleave = 1 + (t.pp - 1) / (t.pp * t.interleave) if t.interleave > 1 else 1.0
    if tf is not None:
        ab = DTYPE_BYTES[t.act_dtype or tf.act_dtype]
        parts = transformer_layer_activations(
            tf.seq, tf.batch, tf.hidden, tf.heads, t.tp, t.sp, tf.kv_heads, tf.head_dim, tf.ffn_hidden,
            tf.ffn_type, ab, t.dropout, tf.attention == "flash", tf.experts_per_token + tf.shared_experts)
        full = parts["replicated"] + parts["split"] + parts["attention"]
        selective = full - parts["attention"]
        sbh = tf.seq * tf.batch * tf.hidden
        rep = t.tp if t.sp else 1
        embed = (MASK_BYTES * sbh / rep) if t.dropout else 0.0
        if tf.encoder_layers:
            src = tf.source_seq or tf.seq
            cross = cross_attention_activations(tf.seq, src, tf.batch, tf.hidden, tf.heads, t.tp, t.sp, tf.kv_heads,
                                                tf.head_dim, ab, t.dropout, tf.attention == "flash")
            full += cross["replicated"] + cross["split"] + cross["attention"]
            selective += cross["replicated"] + cross["split"]
            enc = transformer_layer_activations(
                src, tf.batch, tf.hidden, tf.heads, t.tp, t.sp, tf.kv_heads, tf.head_dim, tf.ffn_hidden,
                tf.ffn_type, ab, t.dropout, tf.attention == "flash", tf.experts_per_token + tf.shared_experts)
            enc_full = enc["replicated"] + enc["split"] + enc["attention"]
            enc_stored, enc_transient = _checkpointed(enc_full, enc_full - enc["attention"], enc["input"],
                                                      tf.encoder_layers / t.pp, scheme, t.checkpoint_every)
            # the source embedding's dropout mask, and the encoder output every cross-attention reads
            src_sbh = src * tf.batch * tf.hidden
            embed += enc_stored + ((MASK_BYTES * src_sbh / rep) if t.dropout else 0.0) + ab * src_sbh / rep
        layers = tf.layers / t.pp
        stored, transient = _checkpointed(full, selective, parts["input"], layers, scheme, t.checkpoint_every)
        if tf.encoder_layers:
            transient = max(transient, enc_transient)
        # Embedding dropout mask on the first stage (with an encoder-decoder: the encoder's stored
        # activations too); final norm, LM-head input and logits on the last
        head = (2 * ab * sbh / rep + 2 * ab * tf.seq * tf.batch * tf.vocab / t.tp) if t.pp == 1 else 0.0
        stored = (stored + embed) * mb_in_flight * interleave + head
        recompute = _recompute_flops(workload, scheme, tf.layers, tf.encoder_layers) / (t.tp * t.pp)
        return stored, transient, recompute
    # Other workloads: every forward op's activation outputs are kept for the backward pass
    per_op = [(op, sum(x.bytes for x in op.writes if x.role == "activation") * op.count) for op in _forward(workload)]
    full = sum(b for _, b in per_op)
    selective = sum(b for op, b in per_op if any(f.unit == "matrix" for f in op.flops))
    layers = max(_layer_count(workload), 1)
    inputs = min((sum(x.bytes for x in op.reads if x.role == "activation") for op, _ in per_op), default=0.0)
    stored, transient = _checkpointed(full / layers, selective / layers, inputs, layers, scheme, t.checkpoint_every)
    return stored / (t.tp * t.pp) * mb_in_flight * interleave, transient, _recompute_flops(workload, scheme, layers)


def _checkpointed(full: float, selective: float, inp: float, layers: float, scheme: str, k: int
                  ) -> tuple[float, float]:
    """(stored, transient) activation bytes of ``layers`` layers under a checkpointing scheme.

    full: keep each layer's input, recompute the layer during its backward (transient: one
    layer); every-k: keep the input of every k-th layer, recompute k layers at a time (Chen et al.
    2016); sqrt: k = round(sqrt(layers)), O(sqrt(n)) memory for one extra forward."""
    if scheme == "none":
        return layers * full, 0.0
    if scheme == "selective":
        return layers * selective, 0.0
    if scheme == "full":
        k = 1
    elif scheme == "sqrt":
        k = max(1, round(math.sqrt(layers)))
    else:
        k = min(k, max(int(layers), 1))
    return math.ceil(layers / k) * inp, k * full


def _workload_checkpoint(workload) -> str:
    r = workload.param("recompute")
    return r if r in CHECKPOINTS else "none"


def _recompute_flops(workload, scheme: str, layers: int, encoder_layers: int = 0) -> float:
    """FLOPs recomputed per step: the attention core (selective) or every layer's forward (an
    encoder-decoder's encoder layers too)."""
    if scheme == "none":
        return 0.0
    counts = {n for n in (layers, encoder_layers) if n > 1}
    fwd = [op for op in _forward(workload) if op.count in counts] or _forward(workload)
    if scheme == "selective":
        fwd = [op for op in fwd if op.kind == "attention" or op.name.endswith(("attn.scores", "attn.softmax", "attn.context"))]
    return sum(op.total_flops * op.count for op in fwd)


def _inference_activations(workload, tf: Optional[TransformerShape], t: Techniques) -> float:
    """The largest activation working set of one op (activations are freed layer by layer)."""
    scale = 1.0
    if t.act_dtype and tf is not None:
        scale = DTYPE_BYTES[t.act_dtype] / DTYPE_BYTES[tf.act_dtype]
    live = max((sum(x.bytes for x in (*op.reads, *op.writes) if x.role == "activation")
                for op in _forward(workload)), default=0.0)
    return live * scale / t.tp


def _kv_cache(workload, tf: Optional[TransformerShape], t: Techniques) -> float:
    """Bytes of the KV cache: the kv_cache-role tensors the forward ops read (else write)."""
    ops = _forward(workload)
    read = sum(x.bytes * op.count for op in ops for x in op.reads if x.role == "kv_cache")
    written = sum(x.bytes * op.count for op in ops for x in op.writes if x.role == "kv_cache")
    kv = read or written
    if not kv:
        return 0.0
    if tf is not None:
        if t.kv_dtype:
            kv *= quantised_bytes(t.kv_dtype, t.group_size, t.scale_dtype) / DTYPE_BYTES[tf.kv_dtype]
        # tensor parallelism splits the KV heads; past kv_heads devices the heads are replicated
        per_device_heads = max(tf.kv_heads / t.tp, 1.0)
        return kv * per_device_heads / tf.kv_heads / t.pp
    return kv / (t.tp * t.pp)
