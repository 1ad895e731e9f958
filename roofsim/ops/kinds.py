"""Constructors of the standard op kinds: shapes in, FLOPs / tensors / access pattern out.

FLOP conventions: a multiply-add is 2 FLOPs. Per-element costs of softmax and norms are the
usual counts (softmax: max, subtract, exp, sum, divide = 5; layernorm: mean, variance,
normalise, scale, shift = 8 (Megatron-style accounting); rmsnorm: square, mean, rsqrt-scale,
weight = 4). These ops are memory-bound on every catalogue device, so the constant matters
little; it is written down so it can be checked.
"""
from __future__ import annotations

from typing import Optional

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES
from .access import (COLLECTIVES, CommAccess, DenseAccess, ExplicitAccess, GatherAccess, SparseAccess,
                     StreamAccess)
from .op import FlopCount, Op, Tensor

INDEX_BYTES = 4  # int32 indices (CSR column indices, embedding ids)


def _b(dtype: str) -> float:
    if dtype not in DTYPE_BYTES:
        raise SpecError(Problem(None, "dtype", f"one of {tuple(DTYPE_BYTES)}", repr(dtype)))
    return DTYPE_BYTES[dtype]


def _pos(name: str, **values) -> None:
    bad = [Problem(None, f"{name}.{k}", "a number > 0", repr(v)) for k, v in values.items()
           if not (isinstance(v, (int, float)) and v > 0)]
    if bad:
        raise SpecError(bad)


def gemm(name: str, m: int, n: int, k: int, dtype: str = "fp16", batch: int = 1, out_dtype: Optional[str] = None,
         weight: Optional[str] = "b", count: int = 1, phase: str = "forward", unit: str = "matrix", notes: str = "") -> Op:
    """C[m,n] = A[m,k] @ B[k,n], ``batch`` times: 2*m*n*k*batch FLOPs.

    The ``batch`` GEMMs are independent, each with its own A, B and C (attention heads, MoE
    experts); a weight shared by many rows is one GEMM with those rows folded into ``m``.
    ``weight`` names the operand that is a weight ("a", "b" or None) for byte accounting by role.
    """
    _pos(name, m=m, n=n, k=k, batch=batch)
    b, bo = _b(dtype), _b(out_dtype or dtype)
    role = lambda x: "weight" if weight == x else "activation"
    return Op(
        name=name, kind="gemm", flops=(FlopCount(dtype, 2.0 * m * n * k * batch, unit),),
        access=DenseAccess(m=int(m), n=int(n), k=int(k), batch=int(batch), a_bytes=b, b_bytes=b, c_bytes=bo),
        reads=(Tensor(f"{name}.A", m * k * batch * b, role("a")),
               Tensor(f"{name}.B", k * n * batch * b, role("b"))),
        writes=(Tensor(f"{name}.C", m * n * batch * bo, "activation"),),
        count=count, phase=phase, notes=notes,
        shape=(("m", m), ("n", n), ("k", k), ("batch", batch), ("dtype", dtype)),
    )


def elementwise(name: str, elements: float, dtype: str = "fp16", inputs: int = 1, outputs: int = 1,
                flops_per_element: float = 1.0, count: int = 1, phase: str = "forward", notes: str = "") -> Op:
    _pos(name, elements=elements)
    b = _b(dtype)
    return Op(
        name=name, kind="elementwise", flops=(FlopCount(dtype, elements * flops_per_element, "vector"),),
        access=StreamAccess(),
        reads=tuple(Tensor(f"{name}.in{i}", elements * b) for i in range(inputs)),
        writes=tuple(Tensor(f"{name}.out{i}", elements * b) for i in range(outputs)),
        count=count, phase=phase, notes=notes,
        shape=(("elements", elements), ("inputs", inputs), ("outputs", outputs), ("dtype", dtype)),
    )


def reduction(name: str, elements: float, outputs: float = 1, dtype: str = "fp32", count: int = 1,
              phase: str = "forward", notes: str = "") -> Op:
    """Sum ``elements`` values into ``outputs`` results: elements - outputs additions (~elements)."""
    _pos(name, elements=elements, outputs=outputs)
    b = _b(dtype)
    return Op(
        name=name, kind="reduction", flops=(FlopCount(dtype, float(elements), "vector"),), access=StreamAccess(),
        reads=(Tensor(f"{name}.in", elements * b),), writes=(Tensor(f"{name}.out", outputs * b),),
        count=count, phase=phase, notes=notes, shape=(("elements", elements), ("outputs", outputs), ("dtype", dtype)),
    )


def softmax(name: str, rows: float, cols: float, dtype: str = "fp16", count: int = 1, phase: str = "forward",
            notes: str = "") -> Op:
    _pos(name, rows=rows, cols=cols)
    b, n = _b(dtype), rows * cols
    return Op(
        name=name, kind="softmax", flops=(FlopCount(dtype, 5.0 * n, "vector"),), access=StreamAccess(),
        reads=(Tensor(f"{name}.in", n * b),), writes=(Tensor(f"{name}.out", n * b),),
        count=count, phase=phase, notes=notes, shape=(("rows", rows), ("cols", cols), ("dtype", dtype)),
    )


def layernorm(name: str, rows: float, cols: float, dtype: str = "fp16", rms: bool = False, count: int = 1,
              phase: str = "forward", notes: str = "") -> Op:
    _pos(name, rows=rows, cols=cols)
    b, n = _b(dtype), rows * cols
    params = 1 if rms else 2  # RMSNorm has a scale only; LayerNorm a scale and a shift
    return Op(
        name=name, kind="rmsnorm" if rms else "layernorm",
        flops=(FlopCount(dtype, (4.0 if rms else 8.0) * n, "vector"),), access=StreamAccess(),
        reads=(Tensor(f"{name}.in", n * b), Tensor(f"{name}.weight", params * cols * b, "weight")),
        writes=(Tensor(f"{name}.out", n * b),),
        count=count, phase=phase, notes=notes, shape=(("rows", rows), ("cols", cols), ("dtype", dtype)),
    )


def gather(name: str, lookups: int, row_bytes: int, table_rows: int, dtype: str = "fp32", pooling: int = 1,
           distribution: str = "uniform", zipf_alpha: float = 1.05, count: int = 1, phase: str = "forward",
           seed: int = 0, notes: str = "") -> Op:
    """Embedding-bag: ``lookups`` row reads (pooling rows summed per bag), one int32 id each."""
    _pos(name, lookups=lookups, row_bytes=row_bytes, table_rows=table_rows, pooling=pooling)
    if distribution not in ("uniform", "zipf"):
        raise SpecError(Problem(None, f"{name}.distribution", "uniform or zipf", repr(distribution)))
    b = _b(dtype)
    bags = lookups / pooling
    adds = (lookups - bags) * (row_bytes / b)  # pooling-1 additions per bag element
    return Op(
        name=name, kind="gather", flops=(FlopCount(dtype, adds, "vector"),),
        access=GatherAccess(lookups=int(lookups), row_bytes=int(row_bytes), table_rows=int(table_rows),
                            distribution=distribution, zipf_alpha=zipf_alpha, pooling=int(pooling), seed=seed),
        reads=(Tensor(f"{name}.rows", lookups * row_bytes, "weight"), Tensor(f"{name}.ids", lookups * INDEX_BYTES, "index")),
        writes=(Tensor(f"{name}.out", bags * row_bytes),),
        count=count, phase=phase, notes=notes,
        shape=(("lookups", lookups), ("row_bytes", row_bytes), ("table_rows", table_rows), ("pooling", pooling),
               ("distribution", distribution)),
    )


def spmm(name: str, rows: int, cols: int, nnz: int, feature_dim: int, dtype: str = "fp32", degree_alpha: float = 2.1,
         count: int = 1, phase: str = "forward", seed: int = 0, notes: str = "") -> Op:
    """Y[rows,f] = A[rows,cols] (CSR, nnz) @ X[cols,f]: 2*nnz*f FLOPs; each nonzero gathers a row of X."""
    _pos(name, rows=rows, cols=cols, nnz=nnz, feature_dim=feature_dim)
    b = _b(dtype)
    return Op(
        name=name, kind="spmm", flops=(FlopCount(dtype, 2.0 * nnz * feature_dim, "vector"),),
        access=SparseAccess(rows=int(rows), cols=int(cols), nnz=int(nnz), feature_bytes=int(feature_dim * b),
                            degree_alpha=degree_alpha, seed=seed),
        reads=(Tensor(f"{name}.csr", nnz * (INDEX_BYTES + b) + (rows + 1) * INDEX_BYTES, "index"),
               Tensor(f"{name}.X", nnz * feature_dim * b)),
        writes=(Tensor(f"{name}.Y", rows * feature_dim * b),),
        count=count, phase=phase, notes=notes,
        shape=(("rows", rows), ("cols", cols), ("nnz", nnz), ("feature_dim", feature_dim), ("dtype", dtype)),
    )


def collective(name: str, collective: str, bytes: float, participants: int, dtype: str = "fp32",
               scope: Optional[str] = None, count: int = 1, phase: str = "communication", notes: str = "") -> Op:
    """A collective on a ``bytes`` buffer per device. Reductions add (p-1)/p of the elements."""
    if collective not in COLLECTIVES:
        raise SpecError(Problem(None, f"{name}.collective", f"one of {COLLECTIVES}", repr(collective)))
    _pos(name, bytes=bytes, participants=participants)
    p = participants
    reduce_flops = (p - 1) / p * bytes / _b(dtype) if collective in ("all-reduce", "reduce-scatter") else 0.0
    return Op(
        name=name, kind="collective", flops=(FlopCount(dtype, reduce_flops, "vector"),),
        access=CommAccess(collective=collective, bytes=float(bytes), participants=int(p), scope=scope),
        reads=(Tensor(f"{name}.buffer", bytes, "buffer"),), writes=(Tensor(f"{name}.result", bytes, "buffer"),),
        count=count, phase=phase, notes=notes,
        shape=(("collective", collective), ("bytes", bytes), ("participants", p)),
    )


def custom(name: str, flops: float, dtype: str, bytes: Optional[float] = None, level_bytes: Optional[dict] = None,
           unit: str = "matrix", count: int = 1, phase: str = "forward", notes: str = "") -> Op:
    """Explicit FLOPs and bytes: one main-memory figure and/or a mapping level name -> bytes."""
    _b(dtype)
    if bytes is None and not level_bytes:
        raise SpecError(Problem(None, f"{name}.bytes", "bytes at main memory or a mapping per level", "neither"))
    return Op(
        name=name, kind="custom", flops=(FlopCount(dtype, float(flops), unit),),
        access=ExplicitAccess(main=bytes, levels=tuple((level_bytes or {}).items())),
        reads=(Tensor(f"{name}.data", bytes if bytes is not None else max(level_bytes.values())),),
        count=count, phase=phase, notes=notes, shape=(("flops", flops), ("dtype", dtype)),
    )
