"""Parallel layouts: one Workload becomes the work of one device, and a step time with its parts.

``Layout(devices, tp, pp, dp, ep, sp, microbatch, global_batch, interleave, overlap, zero)``
describes data, tensor (with sequence), pipeline and expert parallelism. ``dp`` defaults to
devices / (tp x pp); ``ep`` splits the experts of a mixture-of-experts model within the data-
parallel group (it does not use extra devices).

``per_device(workload, layout) -> Workload`` is the work of one device for ONE micro-batch on ONE
pipeline stage (the stage that holds the embedding and the LM head too: the slowest):

- a Transformer is rebuilt with divided shapes (Shoeybi et al. 2019, Megatron-LM): heads, KV
  heads (replicated past their count), FFN width and vocabulary / tp; layers / pp; experts / ep;
  batch = the micro-batch. Under sequence parallelism (Korthikanti et al. 2022) the work that
  tensor parallelism leaves replicated (norms, residuals, dropout) is divided by tp as well;
- Megatron's collectives are inserted: per layer two all-reduces in the forward and two in the
  backward over the tp group (with sp: an all-gather and a reduce-scatter for each), repeated
  for recomputed forwards under full recomputation; the vocabulary-parallel embedding and LM
  head add one each; pipeline stages send activations forward and gradients backward (with sp
  only 1/tp of them, the scatter-gather optimisation); MoE layers exchange tokens with two
  all-to-alls forward and two backward over the ep group;
- ops that run once per step (the optimizer) are kept apart in ``step_ops``, with the data-
  parallel gradient synchronisation: an all-reduce of the gradients (ZeRO 1-2: reduce-scatter +
  all-gather, the same volume; ZeRO-3: the weights all-gathered for the forward and again for
  the backward of every micro-batch, and the gradients reduce-scattered: 1.5x; Rajbhandari et
  al. 2020, section 7).

Other workloads accept data parallelism only (their batch is the micro-batch).

``step(hw, workload, layout) -> StepTime``: M = global_batch / (microbatch x dp) micro-batches
through the 1F1B schedule (Narayanan et al. 2021) take (M + (pp - 1)/v) x t_mb, where t_mb is the
forward and backward of one micro-batch on one stage and v the interleaving; the bubble is the
(pp - 1)/v x t_mb part. The data-parallel synchronisation follows. Tensor-parallel (and expert
all-to-all) communication is always on the critical path: each one's result is the next op's
input. Inference: one micro-batch goes through pp stages: pp x t_mb.

``overlap`` hides the communication that real schedules run beside compute, never more than the
compute there is to hide behind (c: the compute- and memory-bound time of one micro-batch):

- pipeline sends and receives (Megatron's ``--overlap-p2p-communication``): in the steady state
  of 1F1B a stage sends one micro-batch's activations (or gradients) while it computes another,
  so each of the M micro-batches hides min(p2p, c); the fill and drain (the bubble) still wait
  for every hop, so the bubble keeps the full t_mb;
- ZeRO-3's parameter all-gathers (prefetching, as DeepSpeed and FSDP do): the gather of layer
  i + 1 runs while layer i computes, so all but the first layer's gather of each pass (1/L of
  them, L the stage's layers) hide, the forward's behind the forward compute and the backward's
  behind the backward compute, less what the pipeline sends took of it (from the backward first);
- the data-parallel gradient synchronisation hides behind the backward of the last micro-batch
  (bucketed all-reduce, as PyTorch DDP and Megatron do); only what is longer is exposed;
- offloaded weights, optimizer states or KV cache (``extra_step_ops``, training or inference)
  stream in a layer ahead of their use (ZeRO-Infinity's prefetch, FlexGen): all but the first
  layer's share hides behind the compute the kinds above left over, so a step bound by its
  offload link takes the transfer time, not transfer plus compute.

What stays exposed is ``communication_s``; what was hidden, ``hidden_communication_s``. The
model assumes overlapped communication slows the compute beside it by nothing (NCCL's kernels
take a few SMs and some HBM bandwidth: a few per cent in practice).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Optional

from .errors import Problem, SpecError
from .ops.access import CommAccess, DenseAccess, ExplicitAccess, GatherAccess, SparseAccess
from .ops.kinds import collective
from .ops.op import FlopCount, Op, Tensor, Workload
from .specs import DTYPE_BYTES, HardwareSpec

SCHEDULES = ("1f1b", "interleaved")


@dataclass(frozen=True)
class Layout:
    devices: int = 1
    tp: int = 1
    pp: int = 1
    dp: Optional[int] = None          # None: devices / (tp x pp)
    ep: int = 1
    sp: bool = False
    microbatch: Optional[int] = None  # sequences per micro-batch (None: the workload's batch)
    global_batch: Optional[int] = None  # sequences per step (None: microbatch x dp)
    interleave: int = 1               # virtual pipeline stages per device
    overlap: bool = False
    zero: int = 0

    def __post_init__(self):
        p: list[Problem] = []
        for name in ("devices", "tp", "pp", "ep", "interleave"):
            _int(p, name, getattr(self, name))
        for name in ("dp", "microbatch", "global_batch"):
            if getattr(self, name) is not None:
                _int(p, name, getattr(self, name))
        if self.zero not in (0, 1, 2, 3) or isinstance(self.zero, bool):
            p.append(Problem(None, "zero", "0, 1, 2 or 3", repr(self.zero)))
        for name in ("sp", "overlap"):
            if not isinstance(getattr(self, name), bool):
                p.append(Problem(None, name, "true or false", repr(getattr(self, name))))
        if not p:
            if self.devices % (self.tp * self.pp):
                p.append(Problem(None, "devices", f"a multiple of tp x pp = {self.tp * self.pp}", repr(self.devices)))
            elif self.dp is not None and self.dp * self.tp * self.pp != self.devices:
                p.append(Problem(None, "dp", f"devices / (tp x pp) = {self.devices // (self.tp * self.pp)}", repr(self.dp)))
            elif self.data_parallel % self.ep:
                p.append(Problem(None, "ep", f"a divisor of the data-parallel size {self.data_parallel}", repr(self.ep)))
            if self.interleave > 1 and self.pp == 1:
                p.append(Problem(None, "interleave", "1 without pipeline parallelism", repr(self.interleave)))
        if p:
            raise SpecError(p)

    @property
    def data_parallel(self) -> int:
        return self.dp if self.dp is not None else self.devices // (self.tp * self.pp)

    def microbatches(self, workload_batch: int) -> int:
        mb = self.microbatch or workload_batch
        if self.global_batch is None:
            return 1
        per_replica = self.global_batch / (mb * self.data_parallel)
        if per_replica < 1 or per_replica != int(per_replica):
            raise SpecError(Problem(None, "global_batch", f"a multiple of microbatch x dp = {mb * self.data_parallel}",
                                    repr(self.global_batch)))
        return int(per_replica)

    def techniques(self) -> dict[str, Any]:
        """The layout as roofsim.memory.footprint options."""
        return {"tp": self.tp, "pp": self.pp, "dp": self.data_parallel, "sp": self.sp, "zero": self.zero,
                "interleave": self.interleave, "ep": self.ep}


def _int(p, name, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        p.append(Problem(None, name, "an integer >= 1", repr(v)))


# ------------------------------------------------------------------------------ per-device work

@dataclass(frozen=True)
class DeviceWork:
    """One device's work: ``microbatch`` ops (run M times per step) and ``step_ops`` (once)."""
    microbatch: Workload
    step_ops: tuple[Op, ...]
    microbatches: int
    layout: Layout
    training: bool
    tokens_per_step: float
    notes: tuple[str, ...] = ()
    gathers: tuple[Op, ...] = ()   # ZeRO-3's parameter all-gathers (once per pass of every micro-batch)


def per_device(workload: Workload, layout: Layout) -> DeviceWork:
    """The work of one device under ``layout`` (see the module docstring)."""
    from .memory import transformer_shape
    training = any(op.phase in ("backward", "optimizer") for op in workload.ops)
    tf = transformer_shape(workload)
    batch = int(workload.param("batch") or 1)
    M = layout.microbatches(layout.microbatch or batch)
    notes: list[str] = []
    if tf is None:
        if layout.tp > 1 or layout.pp > 1 or layout.ep > 1:
            raise SpecError(Problem(workload.file, "layout", "data parallelism only for a workload that is not a "
                                    "Transformer (tensor, pipeline and expert parallelism need its layers and heads)",
                                    f"tp {layout.tp}, pp {layout.pp}, ep {layout.ep}"))
        mb_ops = [op for op in workload.ops if op.phase != "optimizer"]
        step_ops = [op for op in workload.ops if op.phase == "optimizer"]
        if layout.microbatch and layout.microbatch != batch:
            notes.append(f"{workload.name} is not rebuilt per micro-batch: its batch ({batch}) is the micro-batch")
        mb = replace(workload, ops=tuple(mb_ops))
        tokens = (workload.tokens or batch) * M * layout.data_parallel
    else:
        mb, step_ops, tokens = _transformer_device(workload, tf, layout, notes)
        tokens *= M * layout.data_parallel
    gathers: list[Op] = []
    if training and layout.data_parallel > 1:
        if any(op.kind == "collective" for op in workload.ops) and tf is None:
            notes.append(f"{workload.name} models its own communication: no data-parallel synchronisation added")
        else:
            sync, gathers = _data_parallel_sync(workload, mb, layout, M)
            step_ops = list(step_ops) + sync
    return DeviceWork(mb, tuple(step_ops), M, layout, training, float(tokens), tuple(notes), tuple(gathers))


def _transformer_device(workload: Workload, tf, layout: Layout, notes: list):
    from .ops.transformer import _CONFIG_FIELDS, _STEP_FIELDS, split_params, transformer_workload
    params = {k: v for k, v in workload.params if k in _CONFIG_FIELDS + _STEP_FIELDS}
    config, step = split_params(params)
    t, pp, ep = layout.tp, layout.pp, layout.ep
    problems = []
    if config.heads % t:
        problems.append(Problem(workload.file, "tp", f"a divisor of the {config.heads} attention heads", repr(t)))
    if config.d_ffn % t:
        problems.append(Problem(workload.file, "tp", f"a divisor of the FFN width {config.d_ffn}", repr(t)))
    if config.experts % ep:
        problems.append(Problem(workload.file, "ep", f"a divisor of the {config.experts} experts", repr(ep)))
    if problems:
        raise SpecError(problems)
    layers = math.ceil(config.layers / pp)
    if config.layers % pp:
        notes.append(f"{config.layers} layers over {pp} stages: the modelled stage holds {layers}")
    kv = max(config.n_kv_heads // t, 1)
    if config.n_kv_heads < t:
        notes.append(f"{config.n_kv_heads} KV heads over {t} devices: each holds a copy of one")
    mb = layout.microbatch or step.batch
    # MoE with expert parallelism: each device holds experts/ep experts and, after the all-to-all,
    # computes the tokens routed to them: ep times its own micro-batch's share.
    divided = replace(config, heads=config.heads // t, kv_heads=kv, head_dim=config.d_head,
                      ffn_hidden=config.d_ffn // t, vocab=math.ceil(config.vocab / t), layers=layers,
                      encoder_layers=math.ceil(config.encoder_layers / pp),
                      experts=config.experts // ep, experts_per_token=min(config.experts_per_token, config.experts // ep))
    base = replace(config, layers=layers, encoder_layers=math.ceil(config.encoder_layers / pp))
    st = replace(step, batch=mb)
    dev = transformer_workload(divided, st, name=f"{workload.name}/device")
    ref = transformer_workload(base, st, name=workload.name)
    ops = list(dev.ops)
    if layout.sp and t > 1:   # the work tensor parallelism leaves replicated is split along the sequence
        replicated = {(op.name, op.phase): op.total_flops for op in ref.ops if op.access.kind == "stream"}
        ops = [scaled(op, 1 / t) if replicated.get((op.name, op.phase)) == op.total_flops and op.total_flops > 0
               else op for op in ops]
    mb_ops = [op for op in ops if op.phase != "optimizer"]
    step_ops = [op for op in ops if op.phase == "optimizer"]
    mb_ops += _tensor_parallel_comm(config, st, layout, layers)
    mb_ops += _pipeline_comm(config, st, layout)
    mb_ops += _expert_comm(config, st, layout, layers)
    tokens = st.tokens
    return replace(dev, ops=tuple(mb_ops)), step_ops, tokens


def _act_bytes(config, step) -> float:
    s = 1 if step.phase == "decode" else step.seq
    return step.batch * s * config.hidden * DTYPE_BYTES[config.act_dtype]


def _tensor_parallel_comm(config, step, layout: Layout, layers: int) -> list[Op]:
    t = layout.tp
    if t == 1:
        return []
    n = _act_bytes(config, step)
    training = step.phase == "training"
    passes = 1 + (1 if training else 0) + (1 if training and step.recompute == "full" else 0)
    per_layer = 2 * passes
    extra = 2 if training else 1       # vocabulary-parallel embedding (forward) and LM head (backward)
    dt = config.act_dtype
    if layout.sp:
        return [collective("tp.all-gather", "all-gather", n, t, dtype=dt, count=per_layer * layers + extra),
                collective("tp.reduce-scatter", "reduce-scatter", n, t, dtype=dt, count=per_layer * layers + extra)]
    return [collective("tp.all-reduce", "all-reduce", n, t, dtype=dt, count=per_layer * layers + extra)]


def _pipeline_comm(config, step, layout: Layout) -> list[Op]:
    if layout.pp == 1:
        return []
    n = _act_bytes(config, step) / (layout.tp if layout.sp else 1)
    sends = (2 if step.phase == "training" else 1) * layout.interleave
    op = collective("pp.send-recv", "send-recv", n, 2, dtype=config.act_dtype, count=sends)
    # neighbouring stages are tp x dp ranks apart (Megatron's rank order: tp, dp, pp)
    return [_strided(op, layout.tp * layout.data_parallel)]


def _strided(op: Op, stride: int) -> Op:
    return replace(op, access=replace(op.access, stride=stride))


def _expert_comm(config, step, layout: Layout, layers: int) -> list[Op]:
    if not config.moe or layout.ep == 1:
        return []
    n = _act_bytes(config, step) * config.experts_per_token / (layout.tp if layout.sp else 1)
    passes = 2 if step.phase == "training" else 1
    return [collective("ep.all-to-all", "all-to-all", n, layout.ep, dtype=config.act_dtype, count=2 * passes * layers)]


def _data_parallel_sync(workload: Workload, mb: Workload, layout: Layout, M: int) -> tuple[list[Op], list[Op]]:
    """(gradient synchronisation once per step, ZeRO-3's parameter gathers of every micro-batch)
    over the data-parallel group."""
    from .memory import _parameters
    params, bpp = _parameters(workload)
    shard = params / (layout.tp * layout.pp)
    wdt = workload.param("weight_dtype")
    gbytes = min(DTYPE_BYTES.get(wdt, bpp) if wdt else bpp, 4.0)
    dp = layout.data_parallel
    grads = shard * gbytes
    # data-parallel peers are tp ranks apart
    gathers = []
    if layout.zero == 3:
        weights = shard * bpp
        gathers = [collective("dp.zero3.all-gather", "all-gather", weights, dp, count=2 * M)]
        ops = [collective("dp.reduce-scatter", "reduce-scatter", grads, dp)]
    elif layout.zero in (1, 2):
        ops = [collective("dp.reduce-scatter", "reduce-scatter", grads, dp),
               collective("dp.all-gather", "all-gather", shard * bpp, dp)]
    else:
        ops = [collective("dp.all-reduce", "all-reduce", grads, dp)]
    return [_strided(op, layout.tp) for op in ops], [_strided(op, layout.tp) for op in gathers]


def scaled(op: Op, f: float) -> Op:
    """``op`` doing ``f`` times its work: FLOPs, tensors and its access pattern's sizes."""
    a = op.access
    if isinstance(a, DenseAccess):
        a = replace(a, m=max(1, round(a.m * f)))
    elif isinstance(a, GatherAccess):
        a = replace(a, lookups=max(1, round(a.lookups * f)))
    elif isinstance(a, SparseAccess):
        a = replace(a, nnz=max(1, round(a.nnz * f)), rows=max(1, round(a.rows * f)))
    elif isinstance(a, CommAccess):
        a = replace(a, bytes=a.bytes * f)
    elif isinstance(a, ExplicitAccess):
        a = replace(a, main=None if a.main is None else a.main * f, levels=tuple((k, b * f) for k, b in a.levels))
    return replace(op, access=a, flops=tuple(FlopCount(x.dtype, x.flops * f, x.unit) for x in op.flops),
                   reads=tuple(Tensor(x.name, x.bytes * f, x.role) for x in op.reads),
                   writes=tuple(Tensor(x.name, x.bytes * f, x.role) for x in op.writes))


# ------------------------------------------------------------------------------ step time

@dataclass(frozen=True)
class StepTime:
    """Seconds of one step on one device, by part (they add up to ``total_s``)."""
    total_s: float
    compute_s: float            # ops bound by compute or by the per-op latency floor
    memory_s: float             # ops bound by a memory level
    communication_s: float      # exposed communication
    bubble_s: float
    microbatch_s: float
    microbatches: int
    tokens_per_step: float
    devices: int
    flops_per_step: float       # per device, all micro-batches and step ops
    hidden_communication_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.total_s if self.total_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "notes"} | {
            "tokens_per_s": self.tokens_per_s, "notes": list(self.notes)}


def step(hw: HardwareSpec, workload: Workload, layout: Layout, *, ideal: bool = False, predictor=None,
         overhead: str = "kernel", work: Optional[DeviceWork] = None, extra_step_ops: tuple = ()
         ) -> tuple[StepTime, Any]:
    """(StepTime, the per-op DataFrame of one micro-batch and the step ops) of ``workload``;
    ``extra_step_ops`` run once per step too (offload traffic)."""
    import pandas as pd

    from .roofline import evaluate
    work = work or per_device(workload, layout)
    mb_df = evaluate(hw, work.microbatch, ideal=ideal, predictor=predictor, overhead=overhead)
    mb_df["scope"] = "microbatch"
    step_ops = list(work.step_ops) + list(extra_step_ops) + list(work.gathers)
    step_df = evaluate(hw, step_ops, ideal=ideal, predictor=predictor, overhead=overhead) if step_ops else None
    M, pp, v = work.microbatches, layout.pp, layout.interleave
    c, m, x = _split(mb_df)
    t_mb = c + m + x
    h = _hidden(work, mb_df, step_df, {op.name for op in extra_step_ops}) if layout.overlap else _Hidden()
    if work.training:
        pipeline = M * (t_mb - h.p2p) + (pp - 1) / v * t_mb
        bubble = (pp - 1) / v * t_mb
    else:
        pipeline = (M + pp - 1) * t_mb
        bubble = (pp - 1) * t_mb
    compute, memory, comm = M * c, M * m, M * (x - h.p2p)
    flops = M * float(mb_df["flops"].sum())
    if step_df is not None:
        sc, sm, sx = _split(step_df)
        compute, memory, comm = compute + sc - h.offload_compute, memory + sm - h.offload_memory, \
            comm + sx - h.gathers - h.sync
        flops += float(step_df["flops"].sum())
        pipeline += sc + sm + sx - h.step
        step_df["scope"] = "step"
    total = pipeline
    df = pd.concat([mb_df, step_df]) if step_df is not None else mb_df
    return StepTime(total, compute, memory, comm, bubble, t_mb, M, work.tokens_per_step, layout.devices, flops,
                    M * h.p2p + h.step, work.notes), df


def _split(df) -> tuple[float, float, float]:
    """(compute- or latency-bound, memory-bound, communication) seconds of a frame's ops."""
    comm = df["bound"].str.startswith("interconnect") | (df["kind"] == "collective")
    mem = df["bound"].str.startswith("memory") & ~comm
    return float(df.loc[~comm & ~mem, "time_s"].sum()), float(df.loc[mem, "time_s"].sum()), \
        float(df.loc[comm, "time_s"].sum())


@dataclass(frozen=True)
class _Hidden:
    """Seconds of communication that ``overlap`` hides (see the module docstring): ``p2p`` per
    micro-batch; per step the ZeRO-3 ``gathers``, the gradient ``sync`` and the ``offload``
    streams (split by the part of the step their op was counted in)."""
    p2p: float = 0.0
    gathers: float = 0.0
    sync: float = 0.0
    offload_memory: float = 0.0
    offload_compute: float = 0.0

    @property
    def step(self) -> float:
        return self.gathers + self.sync + self.offload_memory + self.offload_compute


def _hidden(work: DeviceWork, mb_df, step_df, offload: set) -> _Hidden:
    """What ``overlap`` hides, each kind behind compute the kinds before it left over: pipeline
    sends, then ZeRO-3 gathers (per pass), then offload streams; the gradient sync behind the
    last backward."""
    from .memory import _layer_count
    M = work.microbatches
    layers = max(_layer_count(work.microbatch), 1)
    busy = ~(mb_df["bound"].str.startswith("interconnect") | (mb_df["kind"] == "collective"))
    fwd = M * float(mb_df.loc[busy & (mb_df["phase"] == "forward"), "time_s"].sum())
    bwd = M * float(mb_df.loc[busy & (mb_df["phase"] != "forward"), "time_s"].sum())
    p2p = gathers = sync = 0.0
    if work.training:
        # steady state: each micro-batch's sends hide behind another's compute; the fill and drain do not
        sends = float(mb_df.loc[mb_df["op"].isin({op.name for op in work.microbatch.ops
                                                  if isinstance(op.access, CommAccess)
                                                  and op.access.collective == "send-recv"}), "time_s"].sum())
        p2p = min(sends, (fwd + bwd) / M)
        bwd, fwd = max(bwd - M * p2p, 0.0), fwd - max(M * p2p - bwd, 0.0)
    if step_df is None:
        return _Hidden(p2p)
    rows = lambda names: step_df["op"].isin(names)
    if work.training:
        # prefetch: all but the first layer's gather of each pass, the forward's half behind the
        # forward compute, the backward's behind the backward compute
        g = float(step_df.loc[rows({op.name for op in work.gathers}), "time_s"].sum())
        g_fwd, g_bwd = min(g / 2 * (1 - 1 / layers), fwd), min(g / 2 * (1 - 1 / layers), bwd)
        gathers, fwd, bwd = g_fwd + g_bwd, fwd - g_fwd, bwd - g_bwd
        other = ~rows({op.name for op in work.gathers}) & ~rows(offload)
        _, _, sx = _split(step_df.loc[other])
        sync = min(sx, float(mb_df.loc[mb_df["phase"] == "backward", "time_s"].sum()))
    # offloaded weights, states or KV cache stream in a layer ahead (ZeRO-Infinity, FlexGen): all
    # but the first layer's share hides behind whatever compute is left
    off = step_df.loc[rows(offload)]
    mem = off["bound"].str.startswith("memory")
    t_mem, t_other = float(off.loc[mem, "time_s"].sum()), float(off.loc[~mem, "time_s"].sum())
    total = t_mem + t_other
    hide = min(total * (1 - 1 / layers), max(fwd + bwd, 0.0))
    share = hide / total if total else 0.0
    return _Hidden(p2p, gathers, sync, t_mem * share, t_other * share)


# ------------------------------------------------------------------------------ one call for run

@dataclass(frozen=True)
class Plan:
    """What ``roofsim run`` reports: the per-op frame, the step (None on one plain device) and the
    per-device footprint."""
    frame: Any
    step: Optional[StepTime]
    footprint: Any
    layout: Layout


def plan(hw: HardwareSpec, workload: Workload, layout: Optional[Layout] = None, *, ideal: bool = False,
         predictor=None, overhead: str = "kernel", **techniques: Any) -> Plan:
    """Footprint and time of ``workload`` on ``hw`` under ``layout`` and memory ``techniques``
    (roofsim.memory.footprint options). Offloaded components add their traffic as a step op. One
    device without a layout is the plain roofline of every op (no micro-batch schedule)."""
    from .memory import footprint, offload_ops
    from .roofline import evaluate
    layout = layout or Layout()
    fp = footprint(workload, hw, **layout.techniques(), **techniques)
    extra = offload_ops(fp)
    if layout == Layout():
        wl = replace(workload, ops=tuple(workload.ops) + extra) if extra else workload
        return Plan(evaluate(hw, wl, ideal=ideal, predictor=predictor, overhead=overhead), None, fp, layout)
    st, df = step(hw, workload, layout, ideal=ideal, predictor=predictor, overhead=overhead, extra_step_ops=extra)
    return Plan(df, st, fp, layout)
