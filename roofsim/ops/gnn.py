"""Graph neural networks: the ``gnn`` builder (GCN, GraphSAGE, GAT), full-batch or mini-batch,
training or inference, on a named graph (roofsim/ops/graphs.py) or a user's graph file.

Layers (hidden width h, input features F, classes C; the last layer outputs C):
- GCN (Kipf & Welling 2017): H' = A_hat (H W), A_hat with self loops and symmetric normalisation;
  the dense transform runs first (it narrows the features the SpMM carries), then a weighted
  aggregation over nnz + nodes nonzeros.
- GraphSAGE (Hamilton et al. 2017), mean aggregator: H' = W_self H + W_neigh mean_{N(v)} H (two
  transforms from the layer's input width, as PyG's SAGEConv).
- GAT (Velickovic et al. 2018), ``heads`` heads of h / heads: Z = H W, per-node attention terms
  a_src.Z and a_dst.Z, per-edge scores (SDDMM), edge softmax, weighted aggregation of Z.

Mini-batch (``fanouts`` per layer, seed ``batch``): layer l's sampled block has n_l destination
nodes, n_l x f_l sampled edges and n_{l-1} = min(N, n_l + distinct(n_l x f_l)) source nodes, the
distinct count for neighbours drawn with a power-law popularity of exponent 1 / (alpha - 1) (the
degree distribution's, as the cache model's synthetic graph); the input features of the n_0
nodes are gathered from the whole feature table (the cache model reads those gathers).
Training adds every layer's backward (the aggregation again over the transposed adjacency, the
transforms' input and weight gradients; no gradient for the input features) and Adam.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES, DTYPES
from . import kinds
from .from_doc import register_builder
from .graphs import Graph, get_graph
from .op import Op, Workload
from .params import choice_param, int_param
from .popularity import expected_distinct

MODELS = ("gcn", "sage", "gat")
MODES = ("full", "minibatch")
PHASES = ("training", "inference")
PARAMS = ("model", "graph", "layers", "hidden", "heads", "mode", "batch", "fanouts", "phase", "dtype",
          "features", "classes")


def sampled_sizes(graph: Graph, batch: int, fanouts: Sequence[int]) -> list[int]:
    """[n_0, ..., n_L]: nodes per layer of a sampled mini-batch, n_L = batch (see the docstring)."""
    pop = 1.0 / (graph.degree_alpha - 1.0)
    sizes = [batch]
    for f in reversed(fanouts):
        n = sizes[0]
        picked = n * min(f, graph.average_degree)
        sizes.insert(0, int(min(graph.nodes, round(n + expected_distinct(picked, graph.nodes, "zipf", pop)))))
    return sizes


class _Layers:
    def __init__(self, graph: Graph, dtype: str, training: bool):
        self.g, self.dt, self.training = graph, dtype, training
        self.fwd: list[Op] = []
        self.bwd: list[Op] = []
        self.params = 0

    def _agg(self, name, rows, cols, nnz, dim, aggr, weighted):
        return kinds.aggregate(name, rows, cols, nnz, dim, aggr, self.dt, weighted, self.g.degree_alpha,
                               self.g.columns if cols == self.g.nodes else None)

    def linear(self, name: str, rows: int, k: int, n: int, first: bool) -> None:
        self.fwd.append(kinds.gemm(name, rows, n, k, self.dt))
        self.params += k * n + n
        if self.training:
            back = [kinds.gemm(f"{name}.wgrad", k, n, rows, self.dt, weight=None, phase="backward")]
            if not first:
                back.insert(0, kinds.gemm(f"{name}.dgrad", rows, k, n, self.dt, phase="backward"))
            self.bwd = back + self.bwd

    def aggregate(self, name, rows, cols, nnz, dim, aggr, weighted, first) -> None:
        self.fwd.append(self._agg(name, rows, cols, nnz, dim, aggr, weighted))
        if self.training and not first:
            self.bwd.insert(0, self._agg(f"{name}.grad", cols, rows, nnz, dim, aggr, weighted))
            self.bwd[0] = _phase(self.bwd[0], "backward")

    def act(self, name: str, elements: int, last: bool) -> None:
        if not last:
            self.fwd.append(kinds.elementwise(name, elements, self.dt, flops_per_element=2))
            if self.training:
                self.bwd.insert(0, kinds.elementwise(f"{name}.grad", elements, self.dt, inputs=2, phase="backward"))


def _phase(op: Op, phase: str) -> Op:
    from dataclasses import replace
    return replace(op, phase=phase)


def gnn_ops(graph: Graph, model: str, layers: int, hidden: int, heads: int, mode: str, batch: int,
            fanouts: Sequence[int], phase: str, dtype: str) -> tuple[list[Op], int, list[int]]:
    training = phase == "training"
    L = _Layers(graph, dtype, training)
    widths = [graph.features] + [hidden] * (layers - 1) + [graph.classes]
    if mode == "full":
        sizes = [graph.nodes] * (layers + 1)
        edges = [graph.nnz] * layers
    else:
        sizes = sampled_sizes(graph, batch, fanouts)
        edges = [sizes[l + 1] * int(round(min(f, graph.average_degree))) for l, f in enumerate(fanouts)]
        b = DTYPE_BYTES[dtype]
        for l, f in enumerate(fanouts):
            L.fwd.append(kinds.neighbor_sample(f"sample_{l + 1}", sizes[l + 1], f, graph.nodes))
        L.fwd.append(kinds.gather("input_features", sizes[0], int(graph.features * b), graph.nodes, dtype,
                                  distribution="zipf", zipf_alpha=1.0 / (graph.degree_alpha - 1.0),
                                  notes="features of the sampled nodes from the whole table", table_role="input"))
    for l in range(layers):
        d_in, d_out, first, last = widths[l], widths[l + 1], l == 0, l == layers - 1
        dst, src, nnz, name = sizes[l + 1], sizes[l], edges[l], f"layer{l + 1}"
        if model == "gcn":
            nz = nnz + dst   # self loops
            L.linear(f"{name}.transform", src, d_in, d_out, first)
            L.aggregate(f"{name}.aggregate", dst, src, nz, d_out, "sum", True, False)
        elif model == "sage":
            L.aggregate(f"{name}.aggregate", dst, src, nnz, d_in, "mean", False, first)
            L.linear(f"{name}.neigh", dst, d_in, d_out, first)
            L.linear(f"{name}.self", dst, d_in, d_out, first)
        else:
            h = heads if not last else 1
            L.linear(f"{name}.transform", src, d_in, d_out, first)
            L.fwd.append(kinds.gemm(f"{name}.attn_terms", src, 2 * h, d_out, dtype, notes="a_src.z and a_dst.z"))
            L.params += 2 * d_out
            L.fwd.append(kinds.sddmm(f"{name}.scores", dst, src, nnz, 1, 2 * h, dtype, graph.degree_alpha,
                                     graph.columns if src == graph.nodes else None,
                                     notes="e_ij = LeakyReLU(a_dst.z_i + a_src.z_j) per head"))
            L.fwd.append(kinds.edge_softmax(f"{name}.softmax", nnz, h, dtype))
            L.aggregate(f"{name}.aggregate", dst, src, nnz, d_out, "sum", True, False)
            if training:
                L.bwd = [kinds.edge_softmax(f"{name}.softmax.grad", nnz, h, dtype, phase="backward"),
                         _phase(kinds.sddmm(f"{name}.scores.grad", dst, src, nnz, d_out // h, h, dtype,
                                            graph.degree_alpha), "backward")] + L.bwd
        L.act(f"{name}.act", dst * d_out, last)
    ops = L.fwd
    if training:
        ops += [kinds.elementwise("loss_grad", sizes[-1] * graph.classes, dtype, inputs=2, flops_per_element=5,
                                  phase="backward")] + L.bwd
        ops.append(kinds.optimizer_step("optimizer", L.params, "adam", "fp32"))
    return ops, L.params, sizes


@register_builder("gnn")
def build_gnn(name: str = "gnn", **params: Any) -> Workload:
    p = [Problem(None, k, "a gnn parameter (" + ", ".join(PARAMS) + ")", f"unknown parameter {k!r}")
         for k in params if k not in PARAMS]
    get = params.get
    graph: Optional[Graph] = None
    try:
        graph = get_graph(get("graph", "cora"), get("features"), get("classes"))
    except SpecError as e:
        p += e.problems
    cfg = dict(model=choice_param(get("model", "gcn"), "model", MODELS, p),
               layers=int_param(get("layers", 2), "layers", 1, p),
               hidden=int_param(get("hidden", 256), "hidden", 1, p),
               heads=int_param(get("heads", 1), "heads", 1, p),
               mode=choice_param(get("mode", "full"), "mode", MODES, p),
               batch=int_param(get("batch", 1024), "batch", 1, p),
               phase=choice_param(get("phase", "training"), "phase", PHASES, p),
               dtype=choice_param(get("dtype", "fp32"), "dtype", DTYPES, p))
    fan = get("fanouts", [15, 10, 5])
    if isinstance(fan, str):
        fan = [f.strip() for f in fan.split(",")]
    fanouts = [int_param(f, f"fanouts[{i}]", 1, p) for i, f in enumerate(fan)] if isinstance(fan, (list, tuple)) \
        else p.append(Problem(None, "fanouts", "a list of neighbours per layer", repr(fan))) or []
    if not p:
        if cfg["mode"] == "minibatch" and len(fanouts) != cfg["layers"]:
            p.append(Problem(None, "fanouts", f"one fan-out per layer ({cfg['layers']})", repr(fan)))
        if cfg["model"] == "gat" and cfg["hidden"] % cfg["heads"]:
            p.append(Problem(None, "heads", f"a divisor of hidden ({cfg['hidden']})", repr(cfg["heads"])))
        if cfg["hidden"] > 1 << 20 or cfg["layers"] > 64 or cfg["batch"] > graph.nodes:
            p.append(Problem(None, "hidden", f"at most 2^20 wide, 64 layers, a batch of at most the graph's "
                             f"{graph.nodes} nodes", f"{cfg['hidden']}, {cfg['layers']}, {cfg['batch']}"))
    if p:
        raise SpecError(p)
    ops, n_params, sizes = gnn_ops(graph, fanouts=fanouts, **cfg)
    resolved = {"graph": graph.name, **cfg, "fanouts": fanouts, "nodes": graph.nodes, "nnz": graph.nnz,
                "features": graph.features, "classes": graph.classes, "sampled_nodes": sizes}
    return Workload(name=name, ops=tuple(ops), params=tuple(resolved.items()), parameters=float(n_params),
                    tokens=float(sizes[-1]))
