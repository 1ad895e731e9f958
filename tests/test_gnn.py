"""GNN builder: named graph sizes, GCN FLOPs by hand, sampled sizes, user graphs, bad input."""
import os

import numpy as np
import pytest

from roofsim.errors import SpecError
from roofsim.ops import kinds
from roofsim.ops.gnn import build_gnn, sampled_sizes
from roofsim.ops.graphs import GRAPHS, get_graph
from roofsim.workloads import get_workload


@pytest.mark.parametrize("name,nodes,edges,features,classes", [
    # PyTorch Geometric's dataset table (Planetoid, Reddit: both directions counted)
    ("cora", 2708, 10556, 1433, 7), ("pubmed", 19717, 88648, 500, 3), ("reddit", 232965, 114615892, 602, 41),
    # Open Graph Benchmark, Hu et al. 2020, Table 1
    ("ogbn-arxiv", 169343, 1166243, 128, 40), ("ogbn-products", 2449029, 61859140, 100, 47),
    ("ogbn-papers100M", 111059956, 1615685872, 128, 172),
])
def test_named_graph_sizes(name, nodes, edges, features, classes):
    g = GRAPHS[name]
    assert (g.nodes, g.edges, g.features, g.classes) == (nodes, edges, features, classes) and g.source
    # OGB lists an undirected (or symmetrised) edge once: message passing sees both directions
    assert g.nnz == (2 * edges if name.startswith("ogbn") else edges)


def test_gcn_flops_on_cora_by_hand():
    wl = get_workload("gnn-gcn-cora")
    fwd = sum(op.total_flops for op in wl.ops if op.phase == "forward")
    n, nz = 2708, 10556 + 2708          # nonzeros with self loops
    layer1 = 2 * n * 1433 * 16 + 2 * nz * 16 + 2 * n * 16   # X W, A_hat (XW) (multiply-add), bias + ReLU
    layer2 = 2 * n * 16 * 7 + 2 * nz * 7                     # no activation after the last layer
    assert fwd == layer1 + layer2
    # parameters: 1433 x 16 + 16 and 16 x 7 + 7
    assert wl.parameters == 1433 * 16 + 16 + 16 * 7 + 7


def test_sampled_block_sizes_follow_the_fanouts():
    g = GRAPHS["ogbn-products"]
    sizes = sampled_sizes(g, 1024, [15, 10, 5])
    assert sizes[-1] == 1024
    # each layer adds at most n x fan-out new nodes and at least none
    for n_in, n_out, f in zip(sizes[:-1], sizes[1:], [15, 10, 5]):
        assert n_out <= n_in <= n_out * (1 + f)
    # neighbours repeat (power-law popularity), so fewer than 1024 x 5 new ones
    assert sizes[2] < 1024 * 6
    wl = get_workload("gnn-sage-products")
    feat = next(op for op in wl.ops if op.name == "input_features")
    assert feat.access.lookups == sizes[0] and feat.access.row_bytes == 100 * 4


def test_spmm_and_embedding_bag_memory_bound_on_a100():
    from roofsim.api import run
    df = run("a100", "gnn-gcn-cora", wl_overrides={"graph": "ogbn-products", "hidden": 256}).set_index("op")
    # 123.7 M + 2.4 M nonzeros each gathering a 1 KB feature row: ~1 FLOP per 16 bytes
    assert df.loc["layer1.aggregate", "bound"] == "memory:hbm"


def test_gat_and_training_ops():
    wl = build_gnn(model="gat", graph="cora", layers=2, hidden=64, heads=8, phase="training")
    kinds_ = {op.kind for op in wl.ops}
    assert {"sddmm", "edge_softmax", "spmm", "gemm", "optimizer"} <= kinds_
    sc = next(op for op in wl.ops if op.name == "layer1.scores")
    # one score per nonzero and head from two scalars: 2 x 10556 x 1 x (2 x 8) FLOPs
    assert sc.total_flops == 2 * 10556 * 16


def test_other_gnn_kinds():
    s = kinds.scatter_add("s", nnz=100, rows=10, dim=8, dtype="fp32")
    assert s.total_flops == 800 and s.write_bytes == 10 * 8 * 4
    g = kinds.edge_gather("g", nnz=100, nodes=50, dim=8)
    assert g.write_bytes == 100 * 8 * 4 and g.access.nnz == 100
    with pytest.raises(SpecError):
        kinds.aggregate("a", 1, 1, 1, 1, aggr="median")


def _dram(wl):
    from roofsim.api import run
    df = run("a100", wl).set_index("op")
    return df.loc["layer1.aggregate", "bytes_hbm"]


def test_user_graph_columns_drive_the_cache_model(tmp_path):
    rng = np.random.default_rng(0)
    nodes, nnz = 200_000, 400_000
    hub = tmp_path / "hub.npz"      # every edge comes from one of 16 nodes: they stay in L2
    np.savez(hub, src=rng.integers(0, 16, nnz), dst=rng.integers(0, nodes, nnz))
    spread = tmp_path / "spread.npy"   # sources spread over all nodes (80 MB of features)
    np.save(spread, np.stack([rng.integers(0, nodes, nnz), rng.integers(0, nodes, nnz)], 1))
    common = dict(model="sage", layers=1, hidden=8, features=100, classes=8, phase="inference")
    g = get_graph(str(hub))
    assert g.nodes <= nodes and g.columns is not None and len(g.columns) == nnz
    # streamed past the cache model: the CSR (400,000 x (4 + 4) B + 200,001 x 4 B) and the
    # output (200,000 x 100 fp32): 84,000,004 B. The 16 hub rows stay in L2: nothing more.
    assert _dram(build_gnn(graph=str(hub), **common)) == 84_000_004
    # spread sources: most of the 400,000 gathers of 400 B rows (80 MB of features) miss the L2
    assert _dram(build_gnn(graph=str(spread), **common)) > 84_000_004 + 40e6
    csr = tmp_path / "csr.npz"
    np.savez(csr, indptr=np.array([0, 2, 3]), indices=np.array([1, 0, 0]))
    assert get_graph(str(csr)).nnz == 3


@pytest.mark.parametrize("arrays,expected", [
    (dict(indptr=np.array([0, 3, 2]), indices=np.array([0, 1, 0])), "CSR row pointer"),
    (dict(indptr=np.array([0, 1]), indices=np.array([5])), "node ids in [0, 1)"),
    (dict(src=np.array([0, -1]), dst=np.array([1, 1])), "non-negative"),
    (dict(src=np.array([0.5]), dst=np.array([1])), "integer array"),
    (dict(a=np.array([1])), "indptr and indices"),
    (dict(src=np.array([0, 1]), dst=np.array([1])), "as many entries as src"),
])
def test_bad_graph_files(tmp_path, arrays, expected):
    f = tmp_path / "g.npz"
    np.savez(f, **arrays)
    with pytest.raises(SpecError) as e:
        build_gnn(graph=str(f))
    assert expected in str(e.value)


def test_hostile_graph_paths(tmp_path, monkeypatch):
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SpecError, match="pickled"):
        build_gnn(graph=str(obj))
    d = tmp_path / "dir.npz"
    d.mkdir()
    with pytest.raises(SpecError, match="regular"):
        build_gnn(graph=str(d))
    with pytest.raises(SpecError, match="cora"):
        build_gnn(graph="coraa")
    from roofsim.ops import indices
    big = tmp_path / "big.npz"
    np.savez_compressed(big, src=np.zeros(10**6, np.int64), dst=np.zeros(10**6, np.int64))   # ~16 MB inflated
    monkeypatch.setattr(indices, "MAX_FILE_BYTES", 1 << 20)
    assert os.path.getsize(big) < 1 << 20
    with pytest.raises(SpecError, match="decompressed"):
        build_gnn(graph=str(big))


@pytest.mark.parametrize("params,path", [
    ({"model": "gin"}, "model"), ({"layers": 0}, "layers"), ({"fanouts": [5, 0]}, "fanouts[1]"),
    ({"mode": "minibatch", "fanouts": [5]}, "fanouts"), ({"model": "gat", "heads": 3}, "heads"),
    ({"batch": 10**9, "mode": "minibatch", "fanouts": [2, 2]}, "hidden"), ({"depth": 2}, "depth"),
    ({"hidden": "wide"}, "hidden"),
])
def test_bad_gnn_params(params, path):
    with pytest.raises(SpecError) as e:
        build_gnn(**params)
    assert path in [p.path for p in e.value.problems]
