"""Constructors of the standard op kinds: shapes in, FLOPs / tensors / access pattern out.

FLOP conventions: a multiply-add is 2 FLOPs. Per-element costs of softmax and norms are the
usual counts (softmax: max, subtract, exp, sum, divide = 5, and the exp is also counted as one
transcendental evaluation, priced where the spec gives a transcendental rate; layernorm: mean, variance,
normalise, scale, shift = 8 (Megatron-style accounting); rmsnorm: square, mean, rsqrt-scale,
weight = 4). These ops are memory-bound on every catalogue device, so the constant matters
little; it is written down so it can be checked.
"""
from __future__ import annotations

import math
from typing import Optional

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES
from .access import (COLLECTIVES, CommAccess, DenseAccess, ExplicitAccess, GatherAccess, SparseAccess,
                     StreamAccess)
from ..specs import FMA, TRANSCENDENTAL
from .op import FlopCount, Op, Tensor

INDEX_BYTES = 4  # int32 indices (CSR column indices, embedding ids)
MASK_BYTES = 1   # a dropout mask element: one byte (a bool)
TABLE_ROLES = ("weight", "input")  # a gathered table is trained (embeddings) or data (node features)


def _b(dtype: str) -> float:
    if dtype not in DTYPE_BYTES:
        raise SpecError(Problem(None, "dtype", f"one of {tuple(DTYPE_BYTES)}", repr(dtype)))
    return DTYPE_BYTES[dtype]


def _pos(name: str, **values) -> None:
    bad = [Problem(None, f"{name}.{k}", "a number > 0", repr(v)) for k, v in values.items()
           if not (isinstance(v, (int, float)) and v > 0)]
    if bad:
        raise SpecError(bad)


MAX_WHOLE = 2**53   # a count above this is not exact as a float (FLOPs and bytes are floats)


def _whole(name: str, values: dict, low: int = 1, high: int = MAX_WHOLE) -> None:
    """Shapes and counts are whole numbers: ``m: 0.5`` would give FLOPs from 0.5 and bytes from 0."""
    bad = [Problem(None, f"{name}.{k}", f"a whole number from {low} to {'2^53' if high == MAX_WHOLE else high}",
                   repr(v)) for k, v in values.items()
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high or v != int(v)]
    if bad:
        raise SpecError(bad)


def gemm(name: str, m: int, n: int, k: int, dtype: str = "fp16", batch: int = 1, out_dtype: Optional[str] = None,
         weight: Optional[str] = "b", count: int = 1, phase: str = "forward", unit: str = "matrix", notes: str = "") -> Op:
    """C[m,n] = A[m,k] @ B[k,n], ``batch`` times: 2*m*n*k*batch FLOPs.

    The ``batch`` GEMMs are independent, each with its own A, B and C (attention heads, MoE
    experts); a weight shared by many rows is one GEMM with those rows folded into ``m``.
    ``weight`` names the operand that is a weight ("a", "b" or None) for byte accounting by role.
    """
    _whole(name, dict(m=m, n=n, k=k, batch=batch))
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


def _transcendentals(dtype: str, count: float) -> tuple:
    """The FlopCount of ``count`` transcendental evaluations (none when 0)."""
    return (FlopCount(dtype, float(count), TRANSCENDENTAL),) if count else ()


def elementwise(name: str, elements: float, dtype: str = "fp16", inputs: int = 1, outputs: int = 1,
                flops_per_element: float = 1.0, count: int = 1, phase: str = "forward", notes: str = "",
                inplace: bool = False, transcendentals_per_element: float = 0, allocates: bool = False,
                broadcast: bool = False) -> Op:
    """``outputs`` = f(``inputs``) element by element: ``flops_per_element`` vector FLOPs and
    ``transcendentals_per_element`` evaluations of exp, log, tanh, ... (np.exp: 1 FLOP and 1).
    ``inplace``: the outputs overwrite inputs (PyTorch's ``out += identity``, an in-place ReLU):
    the same bytes move, but no new tensor is stored (its outputs take the role ``buffer``).
    ``broadcast``: one more operand, a per-row value broadcast along each row (x - m with m of
    shape (rows, 1)); its bytes are negligible and not counted, its loop is priced per element
    (StreamAccess.broadcast)."""
    _whole(name, dict(elements=elements))
    _whole(name, dict(inputs=inputs, outputs=outputs, transcendentals_per_element=transcendentals_per_element),
           low=0, high=64)
    b = _b(dtype)
    out_role = "buffer" if inplace else "activation"
    return Op(
        name=name, kind="elementwise", flops=(FlopCount(dtype, elements * flops_per_element, "vector"),
                                              *_transcendentals(dtype, elements * transcendentals_per_element)),
        access=StreamAccess(broadcast=float(elements) if broadcast else 0.0),
        reads=tuple(Tensor(f"{name}.in{i}", elements * b) for i in range(inputs)),
        writes=tuple(Tensor(f"{name}.out{i}", elements * b, out_role) for i in range(outputs)),
        count=count, phase=phase, notes=notes, allocates=allocates,
        shape=(("elements", elements), ("inputs", inputs), ("outputs", outputs), ("dtype", dtype)),
    )


def reduction(name: str, elements: float, outputs: float = 1, dtype: str = "fp32", count: int = 1,
              phase: str = "forward", notes: str = "", run: Optional[float] = None, allocates: bool = False) -> Op:
    """Sum ``elements`` values into ``outputs`` results: elements - outputs additions (~elements).

    ``run``: the contiguous elements the library's inner loop takes per call, the extent of the
    innermost axis it walks. Default elements / outputs: a reduction over the innermost axis,
    one run per output. Summing x[4096, 20, 64] over its middle axis walks runs of 64 (each
    adds a row of 64 into the output), 4096 x 20 runs, not 4096 x 64 runs of 20."""
    _whole(name, dict(elements=elements, outputs=outputs))
    if run is not None:
        _whole(name, dict(run=run), high=int(elements))
    b = _b(dtype)
    runs = float(elements) / max(run if run is not None else elements / outputs, 1.0)
    return Op(
        name=name, kind="reduction", flops=(FlopCount(dtype, float(elements), "vector"),),
        access=StreamAccess(runs=runs),
        reads=(Tensor(f"{name}.in", elements * b),), writes=(Tensor(f"{name}.out", outputs * b),),
        count=count, phase=phase, notes=notes, allocates=allocates,
        shape=(("elements", elements), ("outputs", outputs), *((("run", run),) if run is not None else ()),
               ("dtype", dtype)),
    )


def softmax(name: str, rows: float, cols: float, dtype: str = "fp16", count: int = 1, phase: str = "forward",
            notes: str = "") -> Op:
    _whole(name, dict(rows=rows, cols=cols))
    b, n = _b(dtype), rows * cols
    return Op(
        name=name, kind="softmax", flops=(FlopCount(dtype, 5.0 * n, "vector"), *_transcendentals(dtype, n)),
        access=StreamAccess(),
        reads=(Tensor(f"{name}.in", n * b),), writes=(Tensor(f"{name}.out", n * b),),
        count=count, phase=phase, notes=notes, shape=(("rows", rows), ("cols", cols), ("dtype", dtype)),
    )


def layernorm(name: str, rows: float, cols: float, dtype: str = "fp16", rms: bool = False, count: int = 1,
              phase: str = "forward", notes: str = "") -> Op:
    _whole(name, dict(rows=rows, cols=cols))
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
           seed: int = 0, notes: str = "", table_role: str = "weight", allocates: bool = False) -> Op:
    """Embedding-bag: ``lookups`` row reads (pooling rows summed per bag), one int32 id each.

    ``table_role`` says what the table is: ``weight`` (a trained embedding table: the footprint
    counts it with its gradients and optimizer state) or ``input`` (data such as a graph's node
    features: stored, never trained)."""
    if table_role not in TABLE_ROLES:
        raise SpecError(Problem(None, f"{name}.table_role", f"one of {TABLE_ROLES}", repr(table_role)))
    _whole(name, dict(lookups=lookups, row_bytes=row_bytes, table_rows=table_rows, pooling=pooling))
    if distribution not in ("uniform", "zipf"):
        raise SpecError(Problem(None, f"{name}.distribution", "uniform or zipf", repr(distribution)))
    b = _b(dtype)
    bags = lookups / pooling
    adds = (lookups - bags) * (row_bytes / b)  # pooling-1 additions per bag element
    return Op(
        name=name, kind="gather", flops=(FlopCount(dtype, adds, "vector"),),
        access=GatherAccess(lookups=int(lookups), row_bytes=int(row_bytes), table_rows=int(table_rows),
                            distribution=distribution, zipf_alpha=zipf_alpha, pooling=int(pooling), seed=seed),
        reads=(Tensor(f"{name}.rows", lookups * row_bytes, table_role), Tensor(f"{name}.ids", lookups * INDEX_BYTES, "index")),
        writes=(Tensor(f"{name}.out", bags * row_bytes),),
        count=count, phase=phase, notes=notes, allocates=allocates,
        shape=(("lookups", lookups), ("row_bytes", row_bytes), ("table_rows", table_rows), ("pooling", pooling),
               ("distribution", distribution)),
    )


def spmm(name: str, rows: int, cols: int, nnz: int, feature_dim: int, dtype: str = "fp32", degree_alpha: float = 2.1,
         count: int = 1, phase: str = "forward", seed: int = 0, notes: str = "", allocates: bool = False) -> Op:
    """Y[rows,f] = A[rows,cols] (CSR, nnz) @ X[cols,f]: 2*nnz*f FLOPs; each nonzero gathers a row of X."""
    _whole(name, dict(rows=rows, cols=cols, nnz=nnz, feature_dim=feature_dim))
    b = _b(dtype)
    return Op(
        # each nonzero is y[row] += a * X[col]: a fused multiply-add over the feature row
        name=name, kind="spmm", flops=(FlopCount(dtype, 2.0 * nnz * feature_dim, FMA),),
        access=SparseAccess(rows=int(rows), cols=int(cols), nnz=int(nnz), feature_bytes=int(feature_dim * b),
                            degree_alpha=degree_alpha, seed=seed),
        reads=(Tensor(f"{name}.csr", nnz * (INDEX_BYTES + b) + (rows + 1) * INDEX_BYTES, "index"),
               Tensor(f"{name}.X", nnz * feature_dim * b)),
        writes=(Tensor(f"{name}.Y", rows * feature_dim * b),),
        count=count, phase=phase, notes=notes, allocates=allocates,
        shape=(("rows", rows), ("cols", cols), ("nnz", nnz), ("feature_dim", feature_dim), ("dtype", dtype)),
    )


def collective(name: str, collective: str, bytes: float, participants: int, dtype: str = "fp32",
               scope: Optional[str] = None, count: int = 1, phase: str = "communication", notes: str = "") -> Op:
    """A collective on a ``bytes`` buffer per device. Reductions add (p-1)/p of the elements."""
    if collective not in COLLECTIVES:
        raise SpecError(Problem(None, f"{name}.collective", f"one of {COLLECTIVES}", repr(collective)))
    _pos(name, bytes=bytes)
    _whole(name, dict(participants=participants))
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


# ---------------------------------------------------------------- recommendation (embedding tables)

# Quantised embedding rows carry their dequantisation parameters (FBGEMM fused row-wise formats:
# 8-bit rows end with an fp32 scale and bias, 8 B; 4-bit rows with an fp16 scale and bias, 4 B).
ROW_OVERHEAD_BYTES = {"int8": 8, "int4": 4}
POOLING_MODES = ("sum", "mean")
DISTRIBUTIONS = ("uniform", "zipf", "file")


def embedding_row_bytes(dim: int, dtype: str) -> int:
    """Bytes of one stored row: dim values of dtype plus any quantisation scale and bias."""
    return int(math.ceil(dim * _b(dtype))) + ROW_OVERHEAD_BYTES.get(dtype, 0)


def embedding_bag(name: str, bags: int, pooling: int, rows: int, dim: int, dtype: str = "fp32",
                  mode: str = "sum", distribution: str = "zipf", zipf_alpha: float = 1.05, ids=None,
                  out_dtype: Optional[str] = None, seed: int = 0, count: int = 1, phase: str = "forward",
                  notes: str = "") -> Op:
    """One table's embedding-bag: ``bags`` outputs, each pooling ``pooling`` rows of ``dim`` values.

    FLOPs (accumulated in fp32): (pooling - 1) x dim additions per bag; mean pooling adds a scale
    per output value; quantised rows add a dequantising multiply-add per value read. Bytes: the
    gathered rows (through the cache model), the int32 ids and bag offsets, the pooled outputs.
    """
    _whole(name, dict(bags=bags, pooling=pooling, rows=rows, dim=dim))
    p = []
    if mode not in POOLING_MODES:
        p.append(Problem(None, f"{name}.mode", "one of " + ", ".join(POOLING_MODES), repr(mode)))
    if distribution not in DISTRIBUTIONS:
        p.append(Problem(None, f"{name}.distribution", "one of " + ", ".join(DISTRIBUTIONS), repr(distribution)))
    elif (distribution == "file") != (ids is not None):
        p.append(Problem(None, f"{name}.distribution", "'file' exactly when row ids are given", repr(distribution)))
    if p:
        raise SpecError(p)
    row_bytes = embedding_row_bytes(dim, dtype)
    odt = out_dtype or ("fp32" if dtype in ROW_OVERHEAD_BYTES else dtype)
    lookups = bags * pooling
    flops = bags * (pooling - 1) * dim + (bags * dim if mode == "mean" else 0)
    if dtype in ROW_OVERHEAD_BYTES:
        flops += 2 * lookups * dim
    return Op(
        name=name, kind="embedding_bag", flops=(FlopCount("fp32", float(flops), "vector"),),
        access=GatherAccess(lookups=int(lookups), row_bytes=row_bytes, table_rows=int(rows),
                            distribution=distribution, zipf_alpha=float(zipf_alpha), pooling=int(pooling),
                            seed=seed, ids=ids),
        reads=(Tensor(f"{name}.rows", lookups * row_bytes, "weight"),
               Tensor(f"{name}.ids", (lookups + bags + 1) * INDEX_BYTES, "index")),
        writes=(Tensor(f"{name}.out", bags * dim * _b(odt)),),
        count=count, phase=phase, notes=notes,
        shape=(("bags", bags), ("pooling", pooling), ("rows", rows), ("dim", dim), ("dtype", dtype), ("mode", mode),
               ("distribution", distribution)),
    )


# Optimizer state per parameter (bytes, fp32) and FLOPs per parameter update:
#   sgd: w -= lr g (2).  adagrad: s += g^2 (2), w -= lr g / (sqrt(s) + eps) (5) = 7.
#   rowwise_adagrad: one state per ROW: per value g^2 summed (2) and w -= c g (2) = 4, per row
#   mean, s += , sqrt, + eps, lr / . (5, counted in ROW_FLOPS).  adam: m, v (7), update (5) = 12.
#   sgd_momentum: v = mu v + g (2), w -= lr v (2) = 4, one fp32 buffer.
OPTIMIZER_STATE_BYTES = {"sgd": 0, "sgd_momentum": 4, "adagrad": 4, "rowwise_adagrad": 0, "adam": 8}
OPTIMIZER_ROW_STATE_BYTES = {"sgd": 0, "sgd_momentum": 0, "adagrad": 0, "rowwise_adagrad": 4, "adam": 0}
OPTIMIZER_FLOPS = {"sgd": 2, "sgd_momentum": 4, "adagrad": 7, "rowwise_adagrad": 4, "adam": 12}
OPTIMIZER_ROW_FLOPS = {"sgd": 0, "sgd_momentum": 0, "adagrad": 0, "rowwise_adagrad": 5, "adam": 0}
OPTIMIZERS = tuple(OPTIMIZER_FLOPS)


def _optimizer(name: str, optimizer: str) -> None:
    if optimizer not in OPTIMIZERS:
        raise SpecError(Problem(None, f"{name}.optimizer", "one of " + ", ".join(OPTIMIZERS), repr(optimizer)))


def embedding_update(name: str, bags: int, pooling: int, unique_rows: float, dim: int, dtype: str = "fp32",
                     optimizer: str = "sgd", mode: str = "sum", grad_dtype: str = "fp32", count: int = 1,
                     phase: str = "backward", notes: str = "") -> Op:
    """Sparse backward and fused optimizer of one table (FBGEMM-style): the pooled gradients are
    expanded to the looked-up rows, sorted by row id (ids and positions written and read back once),
    summed per distinct row, and only the ``unique_rows`` touched rows and their optimizer state are
    read, updated and written back."""
    _pos(name, unique_rows=unique_rows)
    _whole(name, dict(bags=bags, pooling=pooling, dim=dim))
    _optimizer(name, optimizer)
    lookups = bags * pooling
    row_bytes = embedding_row_bytes(dim, dtype)
    state = unique_rows * (dim * OPTIMIZER_STATE_BYTES[optimizer] + OPTIMIZER_ROW_STATE_BYTES[optimizer])
    flops = lookups * dim * (2 if mode == "mean" else 1) \
        + unique_rows * (dim * OPTIMIZER_FLOPS[optimizer] + OPTIMIZER_ROW_FLOPS[optimizer])
    reads = [Tensor(f"{name}.grad", bags * dim * _b(grad_dtype), "gradient"),
             Tensor(f"{name}.ids", lookups * INDEX_BYTES * 3, "index"),
             Tensor(f"{name}.rows", unique_rows * row_bytes, "weight")]
    writes = [Tensor(f"{name}.sorted", lookups * INDEX_BYTES * 2, "index"),
              Tensor(f"{name}.rows_out", unique_rows * row_bytes, "weight")]
    if state:
        reads.append(Tensor(f"{name}.state", state, "optimizer_state"))
        writes.append(Tensor(f"{name}.state_out", state, "optimizer_state"))
    return Op(
        name=name, kind="embedding_update", flops=(FlopCount("fp32", float(flops), "vector"),),
        access=StreamAccess(), reads=tuple(reads), writes=tuple(writes), count=count, phase=phase, notes=notes,
        shape=(("bags", bags), ("pooling", pooling), ("unique_rows", unique_rows), ("dim", dim),
               ("optimizer", optimizer)),
    )


def optimizer_step(name: str, parameters: float, optimizer: str = "adagrad", dtype: str = "fp32",
                   count: int = 1, notes: str = "") -> Op:
    """A dense optimizer update of ``parameters`` values: read weights, gradients and state, write
    weights and state (streaming)."""
    _pos(name, parameters=parameters)
    _optimizer(name, optimizer)
    b = _b(dtype)
    state = parameters * OPTIMIZER_STATE_BYTES[optimizer]
    reads = [Tensor(f"{name}.weights", parameters * b, "weight"), Tensor(f"{name}.grads", parameters * b, "gradient")]
    writes = [Tensor(f"{name}.weights_out", parameters * b, "weight")]
    if state:
        reads.append(Tensor(f"{name}.state", state, "optimizer_state"))
        writes.append(Tensor(f"{name}.state_out", state, "optimizer_state"))
    return Op(
        name=name, kind="optimizer", flops=(FlopCount("fp32", parameters * OPTIMIZER_FLOPS[optimizer], "vector"),),
        access=StreamAccess(), reads=tuple(reads), writes=tuple(writes), count=count, phase="optimizer",
        notes=notes, shape=(("parameters", parameters), ("optimizer", optimizer), ("dtype", dtype)),
    )


# ---------------------------------------------------------------- convolutional networks

CONV_PASSES = ("forward", "dgrad", "wgrad")


def conv_output(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output extent of a convolution or pooling window (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _conv_checks(name, n, c, h, w, k, r, s, stride, padding, dilation, groups) -> tuple[int, int]:
    bad = [Problem(None, f"{name}.{key}", f"an integer >= {lo}", repr(v)) for key, v, lo in
           (("n", n, 1), ("c", c, 1), ("h", h, 1), ("w", w, 1), ("k", k, 1), ("r", r, 1), ("s", s, 1),
            ("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1), ("groups", groups, 1))
           if isinstance(v, bool) or not isinstance(v, int) or v < lo]
    if bad:
        raise SpecError(bad)
    if c % groups or k % groups:
        raise SpecError(Problem(None, f"{name}.groups", f"a divisor of c ({c}) and k ({k})", repr(groups)))
    p, q = conv_output(h, r, stride, padding, dilation), conv_output(w, s, stride, padding, dilation)
    if p < 1 or q < 1:
        raise SpecError(Problem(None, f"{name}.padding", "a window that fits the padded input",
                                f"output {p} x {q}"))
    return p, q


def conv2d(name: str, n: int, c: int, h: int, w: int, k: int, r: int, s: int, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1, dtype: str = "fp16", out_dtype: Optional[str] = None,
           pass_: str = "forward", count: int = 1, phase: Optional[str] = None, notes: str = "") -> Op:
    """2-D convolution (NCHW input, K filters of C/groups x R x S) as an implicit GEMM per group.

    FLOPs, exact for every pass: 2 N K P Q (C/groups) R S (P x Q the output; depthwise: groups = C
    = K; pointwise: R = S = 1). Bytes: the tensors the pass reads and writes (input, weights,
    output, or their gradients), each at its stored size; the tiling model re-reads the implicit
    operand per tile column as implicit GEMM does, never an im2col copy.
    - forward: Y[NPQ, K/g] = X~[NPQ, C/g R S] W[C/g R S, K/g]
    - dgrad:   dX~ from dY[NPQ, K/g] W^T[K/g, C/g R S] (same FLOPs; the input gradient is stored)
    - wgrad:   dW[K/g, C/g R S] = dY^T[K/g, NPQ] X~[NPQ, C/g R S]
    Depthwise convolutions (one channel per group) run on the vector units.
    """
    p, q = _conv_checks(name, n, c, h, w, k, r, s, stride, padding, dilation, groups)
    if pass_ not in CONV_PASSES:
        raise SpecError(Problem(None, f"{name}.pass", "one of " + ", ".join(CONV_PASSES), repr(pass_)))
    b, bo = _b(dtype), _b(out_dtype or dtype)
    cg, kg = c // groups, k // groups
    npq, crs = n * p * q, cg * r * s
    x, wt, y = n * cg * h * w, kg * crs, n * kg * p * q          # elements per group
    if pass_ == "forward":
        acc = DenseAccess(npq, kg, crs, groups, b, b, bo, a_elements=x)
        reads = (Tensor(f"{name}.X", x * groups * b), Tensor(f"{name}.W", wt * groups * b, "weight"))
        writes = (Tensor(f"{name}.Y", y * groups * bo),)
    elif pass_ == "dgrad":
        acc = DenseAccess(npq, crs, kg, groups, b, b, bo, c_elements=x)
        reads = (Tensor(f"{name}.dY", y * groups * b, "gradient"), Tensor(f"{name}.W", wt * groups * b, "weight"))
        writes = (Tensor(f"{name}.dX", x * groups * bo, "gradient"),)
    else:
        acc = DenseAccess(kg, crs, npq, groups, b, b, bo, b_elements=x)
        reads = (Tensor(f"{name}.dY", y * groups * b, "gradient"), Tensor(f"{name}.X", x * groups * b))
        writes = (Tensor(f"{name}.dW", wt * groups * bo, "gradient"),)
    unit = "vector" if cg == 1 and kg == 1 else "matrix"
    return Op(
        name=name, kind="conv2d", flops=(FlopCount(dtype, 2.0 * npq * kg * crs * groups, unit),), access=acc,
        reads=reads, writes=writes, count=count, phase=phase or ("forward" if pass_ == "forward" else "backward"),
        notes=notes,
        shape=(("n", n), ("c", c), ("h", h), ("w", w), ("k", k), ("r", r), ("s", s), ("stride", stride),
               ("padding", padding), ("dilation", dilation), ("groups", groups), ("pass", pass_), ("dtype", dtype)),
    )


POOL_INDEX_BYTES = 8   # PyTorch's max_pool2d_with_indices keeps an int64 argmax per output for the backward


def pool2d(name: str, n: int, c: int, h: int, w: int, r: int, s: int, stride: int = 1, padding: int = 0,
           dtype: str = "fp16", backward: bool = False, count: int = 1, notes: str = "",
           indices: bool = False) -> Op:
    """Max or average pooling over R x S windows: one compare or add per window element of each
    output (R S P Q per channel); streams the input once and writes the output (backward: reads
    the output gradient, writes the input gradient). ``indices``: a training max pool that also
    writes the argmax of each output (int64, as PyTorch does), which its backward reads to route
    the gradient; cuDNN's max pool keeps none and re-reads the input instead."""
    p, q = _conv_checks(name, n, c, h, w, c, r, s, stride, padding, 1, 1)
    b = _b(dtype)
    x, y = n * c * h * w * b, n * c * p * q * b
    idx = (Tensor(f"{name}.argmax", n * c * p * q * POOL_INDEX_BYTES),) if indices else ()
    reads, writes = ((Tensor(f"{name}.dY", y, "gradient"),) + idx, (Tensor(f"{name}.dX", x, "gradient"),)) \
        if backward else ((Tensor(f"{name}.X", x),), (Tensor(f"{name}.Y", y),) + idx)
    return Op(name=name, kind="pool2d", flops=(FlopCount(dtype, float(n * c * p * q * r * s), "vector"),),
              access=StreamAccess(), reads=reads, writes=writes, count=count,
              phase="backward" if backward else "forward", notes=notes,
              shape=(("n", n), ("c", c), ("h", h), ("w", w), ("r", r), ("s", s), ("stride", stride)))


def batchnorm(name: str, n: int, c: int, h: int, w: int, dtype: str = "fp16", training: bool = True,
              backward: bool = False, count: int = 1, notes: str = "") -> Op:
    """Batch normalisation over N H W per channel (+ the activation that follows, fused).

    Training forward reads the input twice (statistics, then normalise) and writes the output:
    8 FLOPs per element (mean, variance, normalise, scale, shift, as layernorm); backward reads the
    input and the output gradient and writes the input gradient (about 12 per element). Inference
    applies the running statistics: a scale and shift, 2 per element, one read and one write."""
    _pos(name, n=n, c=c, h=h, w=w)
    b, e = _b(dtype), n * c * h * w
    params = Tensor(f"{name}.gamma_beta", 2 * c * 4.0, "weight")
    if backward:
        reads, writes, f = (Tensor(f"{name}.X", e * b), Tensor(f"{name}.dY", e * b, "gradient"), params), \
            (Tensor(f"{name}.dX", e * b, "gradient"),), 12.0
    elif training:
        reads, writes, f = (Tensor(f"{name}.X", 2 * e * b), params), (Tensor(f"{name}.Y", e * b),), 8.0
    else:
        reads, writes, f = (Tensor(f"{name}.X", e * b), params), (Tensor(f"{name}.Y", e * b),), 2.0
    return Op(name=name, kind="batchnorm", flops=(FlopCount(dtype, f * e, "vector"),), access=StreamAccess(),
              reads=reads, writes=writes, count=count, phase="backward" if backward else "forward", notes=notes,
              shape=(("n", n), ("c", c), ("h", h), ("w", w), ("dtype", dtype)))


def lrn(name: str, n: int, c: int, h: int, w: int, size: int = 5, dtype: str = "fp16", backward: bool = False,
        count: int = 1, notes: str = "") -> Op:
    """Local response normalisation across ``size`` neighbouring channels (Krizhevsky et al. 2012,
    section 3.3: b = a / (k + alpha sum a^2)^beta): per element a multiply-add per window element
    for the sum of squares, then scale, add, power and divide (2 size + 4 FLOPs); streams the input
    and writes the output (backward: reads the input, output and output gradient, writes the input
    gradient, about twice the work)."""
    _whole(name, dict(n=n, c=c, h=h, w=w, size=size))
    b, e = _b(dtype), n * c * h * w
    f = 2.0 * size + 4.0
    if backward:
        reads, writes, f = (Tensor(f"{name}.X", e * b), Tensor(f"{name}.Y", e * b),
                            Tensor(f"{name}.dY", e * b, "gradient")), (Tensor(f"{name}.dX", e * b, "gradient"),), 2 * f
    else:
        reads, writes = (Tensor(f"{name}.X", e * b),), (Tensor(f"{name}.Y", e * b),)
    return Op(name=name, kind="lrn", flops=(FlopCount(dtype, f * e, "vector"),), access=StreamAccess(),
              reads=reads, writes=writes, count=count, phase="backward" if backward else "forward", notes=notes,
              shape=(("n", n), ("c", c), ("h", h), ("w", w), ("size", size), ("dtype", dtype)))


def dropout(name: str, elements: int, dtype: str = "fp16", backward: bool = False, count: int = 1,
            notes: str = "") -> Op:
    """Training-time dropout: draws a keep mask, zeroes and rescales (2 FLOPs per element); writes
    the output and the mask, one byte per element (as PyTorch's bool mask and Korthikanti et al.
    2022, section 4.1), which the backward reads with the output gradient to write the input
    gradient. At inference dropout is the identity and is not an op."""
    _whole(name, dict(elements=elements))
    b = _b(dtype)
    mask = Tensor(f"{name}.mask", elements * MASK_BYTES)
    if backward:
        reads, writes = (Tensor(f"{name}.dY", elements * b, "gradient"), mask), \
            (Tensor(f"{name}.dX", elements * b, "gradient"),)
    else:
        reads, writes = (Tensor(f"{name}.X", elements * b),), (Tensor(f"{name}.Y", elements * b), mask)
    return Op(name=name, kind="dropout", flops=(FlopCount(dtype, 2.0 * elements, "vector"),), access=StreamAccess(),
              reads=reads, writes=writes, count=count, phase="backward" if backward else "forward", notes=notes,
              shape=(("elements", elements), ("dtype", dtype)))


def concat(name: str, pieces: tuple, dtype: str = "fp16", backward: bool = False, count: int = 1,
           notes: str = "") -> Op:
    """Concatenation of ``pieces`` (element counts) into one new tensor: a copy, no FLOPs (DenseNet's
    torch.cat of every earlier feature map). Backward: the output gradient is read once and each
    piece's share added into that piece's gradient (one add per element)."""
    if not isinstance(pieces, tuple) or not pieces:
        raise SpecError(Problem(None, f"{name}.pieces", "a non-empty tuple of element counts", repr(pieces)))
    _whole(name, {f"pieces[{i}]": v for i, v in enumerate(pieces)})
    b, e = _b(dtype), float(sum(pieces))
    if backward:
        reads = (Tensor(f"{name}.dY", e * b, "gradient"),) + tuple(
            Tensor(f"{name}.dX{i}", v * b, "gradient") for i, v in enumerate(pieces))
        writes, f = tuple(Tensor(f"{name}.dX{i}.sum", v * b, "gradient") for i, v in enumerate(pieces)), e
    else:
        reads, writes, f = tuple(Tensor(f"{name}.X{i}", v * b) for i, v in enumerate(pieces)), \
            (Tensor(f"{name}.Y", e * b),), 0.0
    return Op(name=name, kind="concat", flops=(FlopCount(dtype, f, "vector"),), access=StreamAccess(),
              reads=reads, writes=writes, count=count, phase="backward" if backward else "forward", notes=notes,
              shape=(("pieces", len(pieces)), ("elements", e), ("dtype", dtype)))


# ---------------------------------------------------------------- graph neural networks

AGGREGATIONS = ("sum", "mean", "max")


def aggregate(name: str, rows: int, cols: int, nnz: int, dim: int, aggr: str = "sum", dtype: str = "fp32",
              weighted: bool = False, degree_alpha: float = 2.1, columns=None, seed: int = 0,
              count: int = 1, phase: str = "forward", notes: str = "") -> Op:
    """Neighbourhood aggregation as SpMM: Y[rows, dim] = A[rows, cols] (CSR, nnz) X[cols, dim].

    FLOPs: a multiply-add per nonzero and feature when edges carry weights (GCN normalisation,
    attention), else one add (sum) or compare (max) per nonzero and feature; mean divides each
    output once more. Each nonzero gathers a feature row of X (the cache model's SparseAccess)."""
    if aggr not in AGGREGATIONS:
        raise SpecError(Problem(None, f"{name}.aggr", "one of " + ", ".join(AGGREGATIONS), repr(aggr)))
    op = spmm(name, rows, cols, nnz, dim, dtype, degree_alpha, count, phase, seed, notes)
    flops = (2.0 if weighted else 1.0) * nnz * dim + (rows * dim if aggr == "mean" else 0.0)
    from dataclasses import replace
    access = replace(op.access, columns=columns)
    return replace(op, flops=(FlopCount(dtype, flops, "vector"),), access=access,
                   shape=op.shape + (("aggr", aggr), ("weighted", weighted)))


def sddmm(name: str, rows: int, cols: int, nnz: int, dim: int, heads: int = 1, dtype: str = "fp32",
          degree_alpha: float = 2.1, columns=None, count: int = 1, phase: str = "forward", notes: str = "") -> Op:
    """Sampled dense-dense product: one score per nonzero and head, the dot product of its row's
    and its column's dim-vectors (2 dim FLOPs each); the column vectors are gathered per nonzero,
    the row vectors stream in CSR order; writes nnz x heads scores."""
    _pos(name, rows=rows, cols=cols, nnz=nnz, dim=dim, heads=heads)
    b = _b(dtype)
    return Op(
        name=name, kind="sddmm", flops=(FlopCount(dtype, 2.0 * nnz * dim * heads, "vector"),),
        access=SparseAccess(rows=int(rows), cols=int(cols), nnz=int(nnz), feature_bytes=int(dim * heads * b),
                            degree_alpha=degree_alpha, columns=columns),
        reads=(Tensor(f"{name}.csr", nnz * INDEX_BYTES + (rows + 1) * INDEX_BYTES, "index"),
               Tensor(f"{name}.Xcol", nnz * dim * heads * b), Tensor(f"{name}.Xrow", rows * dim * heads * b)),
        writes=(Tensor(f"{name}.scores", nnz * heads * b),),
        count=count, phase=phase, notes=notes,
        shape=(("rows", rows), ("cols", cols), ("nnz", nnz), ("dim", dim), ("heads", heads)),
    )


def edge_softmax(name: str, nnz: int, heads: int = 1, dtype: str = "fp32", count: int = 1,
                 phase: str = "forward", notes: str = "") -> Op:
    """Softmax of each node's incoming edge scores (per head): 5 FLOPs per score, as softmax."""
    op = softmax(name, nnz, heads, dtype, count, phase, notes)
    from dataclasses import replace
    return replace(op, kind="edge_softmax", shape=(("nnz", nnz), ("heads", heads), ("dtype", dtype)))


def scatter_add(name: str, nnz: int, rows: int, dim: int, dtype: str = "fp32", count: int = 1,
                phase: str = "forward", notes: str = "") -> Op:
    """Sum per-edge messages (nnz x dim) into their destination rows (rows x dim), edges sorted by
    destination: one add per message value; the messages stream, the output is written once."""
    _pos(name, nnz=nnz, rows=rows, dim=dim)
    b = _b(dtype)
    return Op(name=name, kind="scatter_add", flops=(FlopCount(dtype, float(nnz * dim), "vector"),),
              access=StreamAccess(), reads=(Tensor(f"{name}.messages", nnz * dim * b),
                                            Tensor(f"{name}.dst", nnz * INDEX_BYTES, "index")),
              writes=(Tensor(f"{name}.out", rows * dim * b),), count=count, phase=phase, notes=notes,
              shape=(("nnz", nnz), ("rows", rows), ("dim", dim)))


def edge_gather(name: str, nnz: int, nodes: int, dim: int, dtype: str = "fp32", degree_alpha: float = 2.1,
                columns=None, count: int = 1, phase: str = "forward", notes: str = "") -> Op:
    """Gather each edge's source features into a per-edge message tensor (nnz x dim)."""
    op = spmm(name, nnz, nodes, nnz, dim, dtype, degree_alpha, count, phase, 0, notes)
    from dataclasses import replace
    return replace(op, kind="edge_gather", flops=(), access=replace(op.access, columns=columns),
                   writes=(Tensor(f"{name}.messages", nnz * dim * _b(dtype)),),
                   shape=(("nnz", nnz), ("nodes", nodes), ("dim", dim)))


def neighbor_sample(name: str, seeds: int, fanout: int, nodes: int, count: int = 1, notes: str = "") -> Op:
    """Uniform neighbour sampling of ``fanout`` neighbours for each of ``seeds`` nodes: reads each
    seed's row pointers (2 ids) and the chosen column ids, writes the sampled ids; no FLOPs."""
    _pos(name, seeds=seeds, fanout=fanout, nodes=nodes)
    picked = seeds * fanout
    return Op(name=name, kind="sample", flops=(), access=StreamAccess(),
              reads=(Tensor(f"{name}.indptr", 2 * seeds * INDEX_BYTES, "index"),
                     Tensor(f"{name}.indices", picked * INDEX_BYTES, "index")),
              writes=(Tensor(f"{name}.sampled", picked * INDEX_BYTES, "index"),), count=count, notes=notes,
              shape=(("seeds", seeds), ("fanout", fanout), ("nodes", nodes)))
