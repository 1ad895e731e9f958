"""Graphs for GNN workloads: named benchmark graphs with their published sizes, or a user's graph
from a file (CSR or edge list) whose real column indices then drive the cache model.

``nnz`` is what message passing traverses: the adjacency's nonzeros with both directions of an
undirected edge (PyG's counts already list both; OGB's list an undirected edge once, and its
directed citation graphs are made undirected by the reference GNN examples, so nnz = 2 x edges).
When only sizes are known, the cache model's synthetic graph stands in: column popularity follows
a power law of exponent ``degree_alpha`` (roofsim.cache.traces.power_law_graph).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import Problem, SpecError
from .access import RowIds
from .indices import checked_npy

DEFAULT_DEGREE_ALPHA = 2.1   # a typical power-law exponent of real graphs' degrees (Barabasi 2016, ch. 4)
MAX_NODES = 1 << 34


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: int
    edges: int            # as published
    nnz: int              # directed nonzeros message passing traverses
    features: int
    classes: int
    source: str = ""
    degree_alpha: float = DEFAULT_DEGREE_ALPHA
    columns: Optional[RowIds] = None   # a user's graph: source node of every nonzero, CSR order

    @property
    def average_degree(self) -> float:
        return self.nnz / self.nodes


_PYG = "PyTorch Geometric dataset table (torch_geometric.datasets), which counts both directions"
_OGB = "Hu et al., 'Open Graph Benchmark', NeurIPS 2020, Table 1 (edges counted once)"
GRAPHS = {g.name: g for g in (
    Graph("cora", 2_708, 10_556, 10_556, 1_433, 7, f"Planetoid (Yang et al., ICML 2016); {_PYG}"),
    Graph("pubmed", 19_717, 88_648, 88_648, 500, 3, f"Planetoid (Yang et al., ICML 2016); {_PYG}"),
    Graph("reddit", 232_965, 114_615_892, 114_615_892, 602, 41, f"Hamilton et al., NeurIPS 2017; {_PYG}"),
    Graph("ogbn-arxiv", 169_343, 1_166_243, 2 * 1_166_243, 128, 40, _OGB),
    Graph("ogbn-products", 2_449_029, 61_859_140, 2 * 61_859_140, 100, 47, _OGB),
    Graph("ogbn-papers100M", 111_059_956, 1_615_685_872, 2 * 1_615_685_872, 128, 172, _OGB),
)}


def get_graph(name: str, features: Optional[int] = None, classes: Optional[int] = None) -> Graph:
    """A named graph, or a user's graph file (.npz with indptr and indices, or an edge list: .npy
    of shape (E, 2) or .npz with src and dst); a file needs ``features`` and ``classes``."""
    if not isinstance(name, str) or not name:
        raise SpecError(Problem(None, "graph", "a graph name or a .npy/.npz file", repr(name)))
    if name in GRAPHS:
        return GRAPHS[name]
    if not name.endswith((".npy", ".npz")):
        raise SpecError(Problem(None, "graph", "one of " + ", ".join(GRAPHS) + ", or a .npy/.npz file",
                                repr(name)))
    return load_graph(name, features or 64, classes or 2)


def load_graph(path: str, features: int, classes: int) -> Graph:
    arr = checked_npy(path, "graph") if path.endswith(".npy") else _checked_npz(path)
    if isinstance(arr, dict) and {"indptr", "indices"} <= arr.keys():
        indptr, cols = arr["indptr"], arr["indices"]
        _ints(path, "indptr", indptr)
        _ints(path, "indices", cols)
        nodes = int(indptr.shape[0]) - 1
        if nodes < 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != cols.shape[0]:
            raise SpecError(Problem(path, "indptr", "a CSR row pointer: starts at 0, never decreases, ends at "
                                    "len(indices)", "one that does not"))
    else:
        if isinstance(arr, dict):
            if not {"src", "dst"} <= arr.keys():
                raise SpecError(Problem(path, "graph", "arrays indptr and indices (CSR) or src and dst",
                                        "arrays " + ", ".join(sorted(arr)) if arr else "no arrays"))
            src, dst = arr["src"], arr["dst"]
        else:
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise SpecError(Problem(path, "graph", "an edge list of shape (E, 2)", f"shape {arr.shape}"))
            src, dst = arr[:, 0], arr[:, 1]
        _ints(path, "src", src)
        _ints(path, "dst", dst)
        if src.shape != dst.shape:
            raise SpecError(Problem(path, "dst", f"as many entries as src ({src.shape[0]})", str(dst.shape[0])))
        nodes = int(max(src.max(), dst.max())) + 1
        order = np.argsort(dst, kind="stable")     # CSR by destination: each row gathers its sources
        cols = src[order]
    if nodes > MAX_NODES:
        raise SpecError(Problem(path, "graph", f"at most {MAX_NODES} nodes", str(nodes)))
    if cols.size and (cols.min() < 0 or cols.max() >= nodes):
        raise SpecError(Problem(path, "indices", f"node ids in [0, {nodes})", f"ids from {cols.min()} to {cols.max()}"))
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    cols.setflags(write=False)
    ids = RowIds(cols, hashlib.sha1(cols.tobytes()).hexdigest())
    return Graph(path, nodes, int(cols.shape[0]), int(cols.shape[0]), features, classes, f"file {path}",
                 columns=ids)


def _ints(path: str, key: str, a: np.ndarray) -> None:
    if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iu":
        raise SpecError(Problem(path, key, "a non-empty 1-D integer array", f"{a.dtype} of shape {a.shape}"))
    if a.dtype.kind == "i" and a.min() < 0:
        raise SpecError(Problem(path, key, "non-negative ids", f"a minimum of {a.min()}"))


def _checked_npz(path: str) -> dict:
    """The arrays of an .npz (pickles refused), within the .npy size bound (checked_npy's rules)."""
    from pathlib import Path
    from . import indices
    indices.regular_file(Path(path), "graph")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("not an .npz archive")
            if len(z.files) > 16:
                raise ValueError(f"{len(z.files)} arrays")
            unpacked = sum(i.file_size for i in z.zip.infolist())   # a small zip may inflate hugely
            if unpacked > indices.MAX_FILE_BYTES:
                raise ValueError(f"{unpacked} bytes once decompressed (at most {indices.MAX_FILE_BYTES})")
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as e:
        raise SpecError(Problem(path, "graph", "an .npz of arrays without pickled objects",
                                str(e).splitlines()[0][:120] if str(e) else type(e).__name__)) from None
