"""DLRM workloads: the ``dlrm`` builder (Naumov et al. 2019; DCNv2 interaction, Wang et al. 2021).

Dense features go through a bottom MLP; every sparse feature has its own embedding table (rows,
dimension, lookups per sample, sum or mean pooling, row dtype, index distribution); the pooled
vectors and the bottom-MLP output meet in a feature interaction (DLRMv1 pairwise dot products, or
DCNv2 cross layers, full or low-rank) whose output feeds the top MLP.

Parallelism (``devices`` > 1), as in the DLRM paper and TorchRec: the MLPs are data-parallel (each
device runs ``batch / devices`` samples; gradients are all-reduced), the tables model-parallel
(table-wise: pooled vectors go to the devices that own the samples by an all-to-all, forward, and
their gradients come back by another, backward). The modelled device is the average one of a
balanced placement: it holds ``1/devices`` of every table's rows and serves ``1/devices`` of its
lookups (so its footprint, lookups per row and cache behaviour are those of a balanced share).

Training adds the MLP and interaction backward (no input gradient for the first bottom layer), the
sparse embedding update of each table (only the distinct rows a batch touches, with their optimizer
state) and the dense optimizer step.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional, Sequence

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES, DTYPES
from . import kinds
from .access import RowIds
from .from_doc import register_builder
from .op import FlopCount, Op, Tensor, Workload
from .params import choice_param, int_param, number_param
from .popularity import expected_distinct

INTERACTIONS = ("dot", "dcnv2")
PHASES = ("training", "inference")


@dataclass(frozen=True)
class Table:
    rows: int
    dim: int
    pooling: int = 1                 # rows looked up per sample (1: one-hot)
    mode: str = "sum"
    dtype: str = "fp32"
    distribution: str = "zipf"
    zipf_alpha: float = 1.05
    ids: Optional[RowIds] = None

    @property
    def row_bytes(self) -> int:
        return kinds.embedding_row_bytes(self.dim, self.dtype)

    @property
    def bytes(self) -> int:
        return self.rows * self.row_bytes


@dataclass(frozen=True)
class DLRMConfig:
    """The model and the step run on it."""
    dense_features: int
    bottom_mlp: tuple[int, ...]
    tables: tuple[Table, ...]
    top_mlp: tuple[int, ...]
    interaction: str = "dot"
    cross_layers: int = 3
    cross_rank: int = 0              # 0: full-rank cross layers
    dtype: str = "fp32"              # dense layers
    phase: str = "inference"
    batch: int = 2048                # global samples per step
    devices: int = 1
    optimizer: str = "rowwise_adagrad"   # embedding tables
    dense_optimizer: str = "adagrad"
    seed: int = 0

    @property
    def local_batch(self) -> int:
        return -(-self.batch // self.devices)

    @property
    def vectors(self) -> int:
        """Vectors entering the interaction: one per table plus the bottom-MLP output."""
        return len(self.tables) + 1

    @property
    def interaction_width(self) -> int:
        """Features leaving the interaction (the top MLP's input)."""
        d = self.bottom_mlp[-1]
        if self.interaction == "dot":
            v = self.vectors
            return d + v * (v - 1) // 2
        return d + sum(t.dim for t in self.tables)

    def mlp_layers(self) -> list[tuple[str, int, int]]:
        """(name, inputs, outputs) of every fully connected layer, bottom then top."""
        out, k = [], self.dense_features
        for i, n in enumerate(self.bottom_mlp):
            out.append((f"bottom_mlp_{i + 1}", k, n))
            k = n
        k = self.interaction_width
        for i, n in enumerate(self.top_mlp):
            out.append((f"top_mlp_{i + 1}", k, n))
            k = n
        return out

    def cross_parameters(self) -> int:
        if self.interaction != "dcnv2":
            return 0
        D = self.interaction_width
        per = (2 * D * self.cross_rank if self.cross_rank else D * D) + D
        return self.cross_layers * per

    def dense_parameters(self) -> int:
        """MLP weights and biases plus the cross layers'."""
        return sum(k * n + n for _, k, n in self.mlp_layers()) + self.cross_parameters()

    def embedding_parameters(self) -> int:
        return sum(t.rows * t.dim for t in self.tables)

    def parameters(self) -> int:
        return self.embedding_parameters() + self.dense_parameters()

    def lookups_per_sample(self) -> int:
        return sum(t.pooling for t in self.tables)


# ---------------------------------------------------------------- flat YAML params -> config

_TABLE_KEYS = {"table_rows": "rows", "emb_dim": "dim", "pooling": "pooling", "pooling_mode": "mode",
               "emb_dtype": "dtype", "distribution": "distribution", "zipf_alpha": "zipf_alpha",
               "index_files": "ids"}
_CONFIG_KEYS = tuple(f.name for f in fields(DLRMConfig) if f.name != "tables")
PARAMS = _CONFIG_KEYS + tuple(_TABLE_KEYS)


def _as_list(value: Any) -> Any:
    """``--set wl.pooling=3,2,1`` arrives as a string: accept comma-separated values."""
    if isinstance(value, str) and "," in value:
        return [v.strip() for v in value.split(",")]
    return value


def _ints(value: Any, key: str, minimum: int, problems: list) -> tuple[int, ...]:
    value = _as_list(value)
    if not isinstance(value, (list, tuple)) or not value:
        problems.append(Problem(None, key, "a non-empty list of integers", repr(value)))
        return ()
    out = tuple(int_param(v, f"{key}[{i}]", minimum, problems) for i, v in enumerate(value))
    return out if None not in out else ()


def _per_table(params: dict, key: str, n: int, default: Any, problems: list) -> list:
    """A per-table parameter: one value for every table, or a list of n values."""
    value = _as_list(params.get(key, default))
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            problems.append(Problem(None, key, f"one value or a list of {n} (one per table)",
                                    f"a list of {len(value)}"))
            return [None] * n
        return list(value)
    return [value] * n


MAX_TABLES = 100_000
MAX_ROWS = 1 << 40


def _tables(params: dict, problems: list, seed: int) -> tuple[Table, ...]:
    rows = _ints(params.get("table_rows"), "table_rows", 1, problems)
    if not rows:
        return ()
    if len(rows) > MAX_TABLES or max(rows) > MAX_ROWS:
        problems.append(Problem(None, "table_rows", f"at most {MAX_TABLES} tables of at most 2^40 rows",
                                f"{len(rows)} tables, up to {max(rows)} rows"))
        return ()
    n = len(rows)
    col = {k: _per_table(params, k, n, d, problems) for k, d in
           (("emb_dim", 128), ("pooling", 1), ("pooling_mode", "sum"), ("emb_dtype", "fp32"),
            ("distribution", "zipf"), ("zipf_alpha", 1.05), ("index_files", None))}
    tables = []
    for i in range(n):
        at = lambda k: f"{k}[{i}]" if isinstance(params.get(k), (list, tuple)) else k
        dim = int_param(col["emb_dim"][i], at("emb_dim"), 1, problems)
        pooling = int_param(col["pooling"][i], at("pooling"), 1, problems)
        mode = choice_param(col["pooling_mode"][i], at("pooling_mode"), kinds.POOLING_MODES, problems)
        dtype = choice_param(col["emb_dtype"][i], at("emb_dtype"), DTYPES, problems)
        path = col["index_files"][i]
        ids = None
        if path is not None:
            from .indices import load_row_ids
            try:
                ids = load_row_ids(path, rows[i], at("index_files"))
            except SpecError as e:
                problems.extend(e.problems)
            dist = "file"
        else:
            dist = choice_param(col["distribution"][i], at("distribution"), ("uniform", "zipf"), problems)
        alpha = number_param(col["zipf_alpha"][i], at("zipf_alpha"), problems)
        if None in (dim, pooling, mode, dtype, dist, alpha) or (path is not None and ids is None):
            continue
        tables.append(Table(rows[i], dim, pooling, mode, dtype, dist, alpha, ids))
    return tuple(tables) if len(tables) == n else ()


def dlrm_config(params: dict) -> DLRMConfig:
    """Flat params (as YAML gives them) -> DLRMConfig; every problem reported at once."""
    unknown = [k for k in params if k not in PARAMS]
    if unknown:
        raise SpecError([Problem(None, k, "a dlrm parameter (" + ", ".join(PARAMS) + ")", f"unknown parameter {k!r}")
                         for k in unknown])
    p: list[Problem] = []
    get = params.get
    seed = int_param(get("seed", 0), "seed", 0, p) or 0
    c = dict(
        dense_features=int_param(get("dense_features", 13), "dense_features", 1, p),
        bottom_mlp=_ints(get("bottom_mlp"), "bottom_mlp", 1, p),
        top_mlp=_ints(get("top_mlp"), "top_mlp", 1, p),
        tables=_tables(params, p, seed),
        interaction=choice_param(get("interaction", "dot"), "interaction", INTERACTIONS, p),
        cross_layers=int_param(get("cross_layers", 3), "cross_layers", 1, p),
        cross_rank=int_param(get("cross_rank", 0), "cross_rank", 0, p),
        dtype=choice_param(get("dtype", "fp32"), "dtype", DTYPES, p),
        phase=choice_param(get("phase", "inference"), "phase", PHASES, p),
        batch=int_param(get("batch", 2048), "batch", 1, p),
        devices=int_param(get("devices", 1), "devices", 1, p),
        optimizer=choice_param(get("optimizer", "rowwise_adagrad"), "optimizer", kinds.OPTIMIZERS, p),
        dense_optimizer=choice_param(get("dense_optimizer", "adagrad"), "dense_optimizer",
                                tuple(o for o in kinds.OPTIMIZERS if o != "rowwise_adagrad"), p),
        seed=seed,
    )
    if not p:
        if c["interaction"] == "dot" and any(t.dim != c["bottom_mlp"][-1] for t in c["tables"]):
            p.append(Problem(None, "emb_dim", f"the bottom MLP's output width ({c['bottom_mlp'][-1]}) for dot "
                             "products", repr(sorted({t.dim for t in c["tables"]}))))
        if c["devices"] > c["batch"]:
            p.append(Problem(None, "devices", f"at most batch ({c['batch']})", repr(c["devices"])))
        if c["batch"] > 1 << 30:
            p.append(Problem(None, "batch", "at most 2^30 samples", repr(c["batch"])))
    if p:
        raise SpecError(p)
    return DLRMConfig(**c)


# ---------------------------------------------------------------- ops

def _linear(name: str, rows: int, k: int, n: int, dtype: str, training: bool, input_grad: bool) -> list[Op]:
    """Forward GEMM + bias/ReLU; backward: input gradient (unless ``input_grad`` is False) and
    weight gradient GEMMs and the ReLU mask."""
    fwd = [kinds.gemm(name, rows, n, k, dtype),
           kinds.elementwise(f"{name}.bias_relu", rows * n, dtype, flops_per_element=2)]
    if not training:
        return fwd, []
    bwd = [kinds.elementwise(f"{name}.relu_grad", rows * n, dtype, inputs=2, phase="backward")]
    if input_grad:
        bwd.append(kinds.gemm(f"{name}.dgrad", rows, k, n, dtype, weight="b", phase="backward"))
    bwd.append(kinds.gemm(f"{name}.wgrad", k, n, rows, dtype, weight=None, phase="backward"))
    return fwd, bwd


def _dot_interaction(cfg: DLRMConfig, rows: int, training: bool) -> tuple[list[Op], list[Op]]:
    """Z = X X^T per sample over v vectors of d values. X is read ONCE (both operands of the batched
    product are the same tensor); the strict upper triangle, v(v-1)/2 values, is concatenated with
    the bottom output. FLOPs: the batched product as it runs, 2 v^2 d per sample."""
    v, d, b = cfg.vectors, cfg.bottom_mlp[-1], DTYPE_BYTES[cfg.dtype]
    x = rows * v * d * b
    out = rows * cfg.interaction_width * b
    flops = 2.0 * rows * v * v * d
    fwd = Op("interaction", "interaction", (FlopCount(cfg.dtype, flops, "matrix"),), kinds.StreamAccess(),
             reads=(Tensor("interaction.X", x),), writes=(Tensor("interaction.out", out),),
             notes="pairwise dots; input read once", shape=(("vectors", v), ("dim", d), ("rows", rows)))
    if not training:
        return [fwd], []
    # dX = (dZ + dZ^T) X: the same product again, reading X and the output gradient
    bwd = Op("interaction.grad", "interaction", (FlopCount(cfg.dtype, flops, "matrix"),), kinds.StreamAccess(),
             reads=(Tensor("interaction.X", x), Tensor("interaction.dout", out, "gradient")),
             writes=(Tensor("interaction.dX", x, "gradient"),), phase="backward",
             shape=(("vectors", v), ("dim", d), ("rows", rows)))
    return [fwd], [bwd]


def _cross_interaction(cfg: DLRMConfig, rows: int, training: bool) -> tuple[list[Op], list[Op]]:
    """DCNv2: x_{l+1} = x0 * (W x_l + b) + x_l, W full (D x D) or low-rank U V (D x r, r x D)."""
    D, r, dt = cfg.interaction_width, cfg.cross_rank, cfg.dtype
    fwd, bwd = [], []
    for l in range(1, cfg.cross_layers + 1):
        name = f"cross_{l}"
        gemms = [(f"{name}.V", D, r), (f"{name}.U", r, D)] if r else [(f"{name}.W", D, D)]
        for g, k, n in gemms:
            fwd.append(kinds.gemm(g, rows, n, k, dt))
        # x0 * (y + b) + x_l: a multiply and two adds per value, reading x0, y, x_l
        fwd.append(kinds.elementwise(f"{name}.mix", rows * D, dt, inputs=3, flops_per_element=3))
        if training:
            layer = [kinds.elementwise(f"{name}.mix_grad", rows * D, dt, inputs=3, outputs=2, flops_per_element=3,
                                       phase="backward")]
            for g, k, n in reversed(gemms):
                layer += [kinds.gemm(f"{g}.dgrad", rows, k, n, dt, phase="backward"),
                          kinds.gemm(f"{g}.wgrad", k, n, rows, dt, weight=None, phase="backward")]
            bwd = layer + bwd
    return fwd, bwd


def _shard(ids: RowIds, p: int, table: int) -> RowIds:
    """The ids device 0 serves when rows are dealt round-robin over p devices (row r lives on
    device r mod p as its local row r // p), in their order."""
    if p == 1:
        return ids
    mine = ids.ids[ids.ids % p == 0] // p
    if mine.size == 0:
        raise SpecError(Problem(None, f"index_files[{table}]", f"some ids that are multiples of devices ({p})",
                                "none: the modelled device would serve no lookup"))
    mine.setflags(write=False)
    return RowIds(mine, f"{ids.digest}/{p}")


def dlrm_ops(cfg: DLRMConfig) -> list[Op]:
    training = cfg.phase == "training"
    rows, dt, p = cfg.local_batch, cfg.dtype, cfg.devices
    act = DTYPE_BYTES[dt]
    fwd: list[Op] = []
    bwd: list[Op] = []
    layers = cfg.mlp_layers()
    nb = len(cfg.bottom_mlp)
    for i, (name, k, n) in enumerate(layers[:nb]):
        f, b = _linear(name, rows, k, n, dt, training, input_grad=i > 0)
        fwd += f
        bwd = b + bwd
    bottom_bwd = bwd
    emb_fwd, emb_bwd = [], []
    for t, tab in enumerate(cfg.tables):
        # the average device: 1/devices of the table's rows and of its lookups
        bags, held = -(-cfg.batch // p), -(-tab.rows // p)
        ids = _shard(tab.ids, p, t) if tab.ids is not None else None
        emb_fwd.append(kinds.embedding_bag(f"emb_{t}", bags, tab.pooling, held, tab.dim, tab.dtype, tab.mode,
                                           tab.distribution, tab.zipf_alpha, ids, seed=cfg.seed + t))
        if training:
            lookups = bags * tab.pooling
            unique = expected_distinct(lookups, held, tab.distribution, tab.zipf_alpha,
                                       ids.ids if ids is not None else None)
            emb_bwd.append(kinds.embedding_update(f"emb_{t}.update", bags, tab.pooling, max(unique, 1.0), tab.dim,
                                                  tab.dtype, cfg.optimizer, tab.mode, grad_dtype=dt))
    # all-to-all buffer per device: the pooled vectors of batch / devices bags of every table
    pooled = -(-cfg.batch // p) * sum(t.dim for t in cfg.tables) * act
    fwd += emb_fwd
    if p > 1:
        fwd.append(kinds.collective("emb_all_to_all", "all-to-all", pooled, p, dt,
                                    notes="pooled vectors to the devices that own the samples"))
    inter_f, inter_b = (_dot_interaction if cfg.interaction == "dot" else _cross_interaction)(cfg, rows, training)
    fwd += inter_f
    top_bwd: list[Op] = []
    for name, k, n in layers[nb:]:
        f, b = _linear(name, rows, k, n, dt, training, input_grad=True)
        if n == 1 and name == layers[-1][0]:
            f = f[:1] + [kinds.elementwise("sigmoid", rows, dt, flops_per_element=4)]
            b = b[1:] if training else b
        fwd += f
        top_bwd = b + top_bwd
    if not training:
        return fwd
    ops = fwd + [kinds.elementwise("loss_grad", rows, dt, inputs=2, flops_per_element=3, phase="backward")]
    ops += top_bwd + inter_b
    if p > 1:
        ops.append(kinds.collective("emb_grad_all_to_all", "all-to-all", pooled, p, dt, phase="communication",
                                    notes="gradients of the pooled vectors back to the tables' owners"))
    ops += bottom_bwd + emb_bwd
    dense = cfg.dense_parameters()
    if p > 1:
        ops.append(kinds.collective("dense_all_reduce", "all-reduce", dense * act, p, dt,
                                    notes="data-parallel MLP and cross-layer gradients"))
    ops.append(kinds.optimizer_step("dense_optimizer", dense, cfg.dense_optimizer, dt))
    return ops


@register_builder("dlrm")
def build_dlrm(name: str = "dlrm", **params: Any) -> Workload:
    cfg = dlrm_config(params)
    return dlrm_workload(cfg, name)


def dlrm_workload(cfg: DLRMConfig, name: str = "dlrm") -> Workload:
    resolved = {f: getattr(cfg, f) for f in _CONFIG_KEYS}
    resolved.update(tables=len(cfg.tables), table_rows=[t.rows for t in cfg.tables],
                    pooling=[t.pooling for t in cfg.tables], lookups_per_sample=cfg.lookups_per_sample(),
                    embedding_parameters=cfg.embedding_parameters(), dense_parameters=cfg.dense_parameters(),
                    embedding_bytes=sum(t.bytes for t in cfg.tables), local_batch=cfg.local_batch,
                    interaction_width=cfg.interaction_width)
    return Workload(name=name, ops=tuple(dlrm_ops(cfg)), params=tuple(resolved.items()),
                    parameters=float(cfg.parameters()), tokens=float(cfg.local_batch))
