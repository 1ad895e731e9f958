"""The ops of one Transformer step, built with the standard constructors of roofsim/ops/kinds.py.

Shapes, per layer (b batch, s query tokens per sequence, L keys per sequence, h hidden, nh heads,
nkv KV heads, g = nh/nkv query heads per KV head, d head dim, f FFN width, V vocabulary):
- q_proj [b*s, h] x [h, nh*d]; kv_proj [b*s, h] x [h, 2*nkv*d] (GQA: only the KV heads' columns).
- attention GEMMs are batched per KV head with the g query heads of a group stacked as rows:
  scores [s*g, d] x [d, L], b*nkv times; so K and V are read once per KV head, never per query
  head, and the FLOPs are still 2*b*nh*s*L*d.
- unfused attention writes the b*nh*s*L score matrix, softmax reads and writes it and the
  context GEMM reads it; flash attention is one op whose HBM traffic is Q, K, V and O only
  (K/V re-reads per query block are served on chip). Causal flash skips masked blocks and does
  s*(s+1)/2 of the s*s query-key pairs; unfused computes all s*s and masks them.
- the LM head runs on every token in training, on the last token of each sequence in prefill
  (what serving engines compute) and on the new token in decode; an encoder's prefill has none.
Encoder-decoder (``encoder_layers`` > 0): training and prefill run the source embedding and the
encoder (ops named ``encoder.*``, S source tokens, bidirectional) and then the decoder, whose
layers add cross-attention (``cross_attn.*``, after self-attention): Q from the decoder's tokens,
K and V projected from the encoder output (b*S rows), attention over L = S keys, unmasked. In
inference the cross K/V are written once (prefill) and read from the cache by every decode step,
which runs the decoder alone.
Training appends, in reverse order, the backward of every forward op (two GEMMs per GEMM: input
gradient and, for weights, weight gradient), recomputation, and the optimizer step.
"""
from __future__ import annotations

from dataclasses import replace

from ..specs import DTYPE_BYTES
from .kinds import custom, elementwise, gather, gemm, layernorm, softmax
from .op import FlopCount, Op, Tensor
from .transformer import Step, TransformerConfig

# Vector FLOPs per element (these ops are memory-bound, the constants are written so they can be checked)
GELU_FLOPS = 8      # tanh approximation: x^3, 2 mul, add, tanh (~3), 1+, 0.5*x*
RELU_FLOPS = 1      # max(x, 0)
SWIGLU_FLOPS = 5    # silu(gate) = gate / (1 + exp(-gate)): neg, exp, add, div; times up
SOFTMAX_FLOPS = 5   # as kinds.softmax: max, subtract, exp, sum, divide
ADAMW_FLOPS = 16    # m: 3, v: 4, bias corrections 2, sqrt 1, eps 1, divide 1, weight decay 2, lr and update 2


def step_ops(c: TransformerConfig, st: Step) -> list[Op]:
    phase = {"training": "forward"}.get(st.phase, st.phase)
    s_q = 1 if st.phase == "decode" else st.seq
    kv_len = st.kv_len if st.phase == "decode" else st.seq
    infer = st.phase != "training"
    encoder = _encoder(c, st, phase, infer) if c.encoder_decoder and st.phase != "decode" else []
    embed = _embedding(c, st.batch * s_q, phase)
    layer = _layer(c, st, st.batch, s_q, kv_len, phase, infer)
    head = _head(c, st, st.batch, s_q, phase)
    forward = encoder + embed + layer + head
    if st.phase != "training":
        return forward
    backward = [b for op in reversed(forward) for b in _backward(op, c)]
    enc_layers = [op for op in encoder if not op.name.startswith(("encoder.embed", "encoder.final"))]
    return forward + _recompute(c, st, enc_layers + layer) + backward + _optimizer(c, st)


def _encoder(c: TransformerConfig, st: Step, phase: str, infer: bool) -> list[Op]:
    """The source embedding (its own table unless shared) and the encoder layers, named ``encoder.*``."""
    enc, s = c.encoder(), st.src_len
    ops = _embedding(enc, st.batch * s, phase) + _layer(enc, st, st.batch, s, s, phase, infer=False)
    if c.norm_position == "pre":
        ops.append(_norm("final.norm", st.batch * s, c, 1, phase))
    return [replace(op, name=f"encoder.{op.name}") for op in ops]


# ---------------------------------------------------------------- building blocks

def _bytes(dtype: str) -> float:
    return DTYPE_BYTES[dtype]


def linear(name: str, m: float, n: int, k: int, c: TransformerConfig, count: int, phase: str,
           experts: int = 1, out_dtype: str | None = None, out_role: str = "activation") -> Op:
    """x[m,k] @ W[k,n], ``experts`` weight matrices of which each sees m rows; W in the weight dtype.

    Quantised weights (int8/int4/fp8) with wider activations are dequantised in the kernel and the
    math runs in the activation dtype (weight-only quantisation); the weight bytes are the stored ones.
    """
    op = gemm(name, m, n, k, dtype=c.act_dtype, batch=experts, out_dtype=out_dtype, weight="b", count=count,
              phase=phase)
    wb = _bytes(c.weight_dtype)
    a, w = op.reads
    return replace(op, access=replace(op.access, b_bytes=wb),
                   reads=(a, replace(w, bytes=k * n * experts * wb)),
                   writes=(replace(op.writes[0], role=out_role),))


def matmul(name: str, m: float, n: int, k: int, batch: int, c: TransformerConfig, count: int, phase: str,
           b_dtype: str | None = None, b_role: str = "activation") -> Op:
    """Activation x activation (attention): B may be the KV cache, in its own dtype."""
    op = gemm(name, m, n, k, dtype=c.act_dtype, batch=batch, weight=None, count=count, phase=phase)
    bb = _bytes(b_dtype or c.act_dtype)
    a, b = op.reads
    return replace(op, access=replace(op.access, b_bytes=bb), reads=(a, replace(b, bytes=k * n * batch * bb, role=b_role)))


def _norm(name: str, rows: float, c: TransformerConfig, count: int, phase: str) -> Op:
    return layernorm(name, rows, c.hidden, dtype=c.act_dtype, rms=c.norm == "rmsnorm", count=count, phase=phase)


def _add(name: str, elements: float, c: TransformerConfig, count: int, phase: str, inputs: int = 2) -> Op:
    return elementwise(name, elements, dtype=c.act_dtype, inputs=inputs, outputs=1, flops_per_element=inputs - 1,
                       count=count, phase=phase)


# ---------------------------------------------------------------- forward

def _embedding(c: TransformerConfig, tokens: int, phase: str) -> list[Op]:
    wb = _bytes(c.weight_dtype)
    row = max(1, int(round(c.hidden * wb)))
    ops = [gather("embed.tokens", tokens, row, c.vocab, dtype=c.weight_dtype, phase=phase)]
    extra = [("positions", c.max_seq)] if c.position_embedding == "learned" else []
    extra += [("token_types", c.type_vocab)] if c.type_vocab else []
    ops += [gather(f"embed.{what}", tokens, row, rows, dtype=c.weight_dtype, phase=phase) for what, rows in extra]
    added = len(extra) + (c.position_embedding == "sinusoidal")   # sinusoids are computed, then added
    if added:
        ops.append(_add("embed.sum", tokens * c.hidden, c, 1, phase, inputs=1 + added))
    if c.norms_embeddings:
        ops.append(_norm("embed.norm", tokens, c, 1, phase))
    return ops


def _layer(c: TransformerConfig, st: Step, b: int, s: int, kv_len: int, phase: str, infer: bool) -> list[Op]:
    n, T, h = c.layers, b * s, c.hidden
    attn = [linear("attn.q_proj", T, c.heads * c.d_head, h, c, n, phase),
            linear("attn.kv_proj", T, 2 * c.n_kv_heads * c.d_head, h, c, n, phase,
                   out_dtype=c.kv_cache_dtype if infer else None, out_role="kv_cache" if infer else "activation"),
            *attention_core(c, st, b, s, kv_len, phase, infer),
            linear("attn.o_proj", T, h, c.heads * c.d_head, c, n, phase),
            _add("attn.residual", T * h, c, n, phase)]
    ffn = [*_ffn(c, b, s, phase), _add("ffn.residual", T * h, c, n, phase)]
    cross = _cross_attention(c, st, b, s, phase, infer) if c.encoder_decoder else []
    if c.norm_position == "pre":
        return [_norm("attn.norm", T, c, n, phase), *attn, *cross, _norm("ffn.norm", T, c, n, phase), *ffn]
    return [*attn, _norm("attn.norm", T, c, n, phase), *cross, *ffn, _norm("ffn.norm", T, c, n, phase)]


def _cross_attention(c: TransformerConfig, st: Step, b: int, s: int, phase: str, infer: bool) -> list[Op]:
    """A decoder layer's attention over the encoder output: K/V length is the source's (S), never
    masked. Training and prefill project K/V from the b*S encoder rows (inference: into the
    cache); decode reads them from the cache."""
    n, T, h, S = c.layers, b * s, c.hidden, st.src_len
    ops = [linear("cross_attn.q_proj", T, c.heads * c.d_head, h, c, n, phase)]
    if st.phase != "decode":
        ops.append(linear("cross_attn.kv_proj", b * S, 2 * c.n_kv_heads * c.d_head, h, c, n, phase,
                          out_dtype=c.kv_cache_dtype if infer else None,
                          out_role="kv_cache" if infer else "activation"))
    core = attention_core(replace(c, encoder_layers=0, causal=False), st, b, s, S, phase, infer)   # unmasked, decoder count
    ops += [replace(op, name="cross_" + op.name) for op in core]
    ops += [linear("cross_attn.o_proj", T, h, c.heads * c.d_head, c, n, phase), _add("cross_attn.residual", T * h, c, n, phase)]
    norm = _norm("cross_attn.norm", T, c, n, phase)
    return [norm, *ops] if c.norm_position == "pre" else [*ops, norm]


def attention_core(c: TransformerConfig, st: Step, b: int, s: int, kv_len: int, phase: str, infer: bool) -> list[Op]:
    """Scores, softmax and attention x V: three ops (unfused) or one (flash)."""
    n, g, d, nkv = c.layers, c.heads // c.n_kv_heads, c.d_head, c.n_kv_heads
    kv_role = "kv_cache" if infer else "activation"
    if st.attention == "unfused":
        return [matmul("attn.scores", s * g, kv_len, d, b * nkv, c, n, phase, c.kv_cache_dtype, kv_role),
                softmax("attn.softmax", b * c.heads * s, kv_len, dtype=c.act_dtype, count=n, phase=phase),
                matmul("attn.context", s * g, d, kv_len, b * nkv, c, n, phase, c.kv_cache_dtype, kv_role)]
    return [flash_attention("attn.flash", c, b, s, kv_len, n, phase, kv_role, backward=False)]


def _pairs(causal: bool, s: int, kv_len: int) -> float:
    """(query, key) pairs one head computes: causal flash skips the masked upper triangle."""
    return s * (s + 1) / 2 if (causal and s == kv_len and s > 1) else float(s * kv_len)


def flash_attention(name: str, c: TransformerConfig, b: int, s: int, kv_len: int, count: int, phase: str,
                    kv_role: str, backward: bool, causal: bool | None = None) -> Op:
    """Fused attention (a custom op of kind "attention"): matrix FLOPs of QK^T and PV, softmax on the vector units, HBM bytes of Q, K, V, O
    (+ the fp32 row log-sum-exp saved for the backward pass).

    Backward (FlashAttention-2, Dao 2023): recompute QK^T, then dV, dP, dQ, dK: 5 GEMMs against the
    forward's 2, i.e. 2.5x the forward matrix FLOPs; it reads Q, K, V, O, dO and the statistics and
    writes dQ, dK, dV.
    """
    ab, kvb = _bytes(c.act_dtype), _bytes(c.kv_cache_dtype if kv_role == "kv_cache" else c.act_dtype)
    q = b * s * c.heads * c.d_head * ab
    kv = b * kv_len * c.n_kv_heads * c.d_head * kvb
    lse = b * c.heads * s * 4.0
    work = b * c.heads * _pairs(c.causal if causal is None else causal, s, kv_len)
    matrix = 2 * 2 * work * c.d_head
    vector = SOFTMAX_FLOPS * work
    if backward:
        reads = (Tensor(f"{name}.Q", q), Tensor(f"{name}.K", kv), Tensor(f"{name}.V", kv), Tensor(f"{name}.O", q),
                 Tensor(f"{name}.dO", q), Tensor(f"{name}.lse", lse))
        writes = (Tensor(f"{name}.dQ", q), Tensor(f"{name}.dK", kv), Tensor(f"{name}.dV", kv))
        matrix, vector = 2.5 * matrix, 2 * vector
    else:
        reads = (Tensor(f"{name}.Q", q), Tensor(f"{name}.K", kv, kv_role), Tensor(f"{name}.V", kv, kv_role))
        writes = (Tensor(f"{name}.O", q),) + ((Tensor(f"{name}.lse", lse),) if phase == "forward" else ())
    total = sum(t.bytes for t in reads + writes)
    op = custom(name, matrix, c.act_dtype, bytes=total, count=count, phase=phase,
                notes="fused attention: the score matrix stays on chip")
    return replace(op, kind="attention",
                   flops=(FlopCount(c.act_dtype, matrix, "matrix"), FlopCount(c.act_dtype, vector, "vector")),
                   reads=reads, writes=writes,
                   shape=(("batch", b), ("seq", s), ("kv_len", kv_len), ("heads", c.heads),
                          ("kv_heads", c.n_kv_heads), ("head_dim", c.d_head), ("kv_role", kv_role)))


def _ffn(c: TransformerConfig, b: int, s: int, phase: str) -> list[Op]:
    n, T, h, f = c.layers, b * s, c.hidden, c.d_ffn
    if not c.moe:
        return _mlp("ffn", T, f, c, phase)
    k, E = c.experts_per_token, c.experts
    # Distinct experts hit by T tokens routed uniformly to k of E: E * (1 - (1 - k/E)^T); their
    # weights are read, the others are not (a batch-1 decode reads k experts, a large batch all).
    active = max(k, min(E, round(E * (1 - (1 - k / E) ** T))))
    ops = [linear("ffn.router", T, E, h, c, n, phase),
           softmax("ffn.router_softmax", T, E, dtype=c.act_dtype, count=n, phase=phase),
           *_mlp("ffn.experts", T * k / active, f, c, phase, experts=active)]
    if c.shared_experts:
        ops += _mlp("ffn.shared", T, f * c.shared_experts, c, phase)
    return ops


def _mlp(name: str, m: float, f: int, c: TransformerConfig, phase: str, experts: int = 1) -> list[Op]:
    """up (GELU, ReLU) or gate+up (SwiGLU), the activation, down; m rows per expert."""
    n, h = c.layers, c.hidden
    if c.ffn_type == "swiglu":
        return [linear(f"{name}.gate_up", m, 2 * f, h, c, n, phase, experts=experts),
                elementwise(f"{name}.swiglu", m * experts * f, dtype=c.act_dtype, inputs=2, outputs=1,
                            flops_per_element=SWIGLU_FLOPS, count=n, phase=phase),
                linear(f"{name}.down", m, h, f, c, n, phase, experts=experts)]
    act, flops = (("relu", RELU_FLOPS) if c.ffn_type == "relu" else ("gelu", GELU_FLOPS))
    return [linear(f"{name}.up", m, f, h, c, n, phase, experts=experts),
            elementwise(f"{name}.{act}", m * experts * f, dtype=c.act_dtype, flops_per_element=flops, count=n,
                        phase=phase),
            linear(f"{name}.down", m, h, f, c, n, phase, experts=experts)]


def _head(c: TransformerConfig, st: Step, b: int, s: int, phase: str) -> list[Op]:
    T = b * s
    ops = [_norm("final.norm", T, c, 1, phase)] if c.norm_position == "pre" else []
    if c.pooler:
        ops.append(linear("pooler", b, c.hidden, c.hidden, c, 1, phase))
    if st.phase == "training":
        ops += [linear("lm_head", T, c.vocab, c.hidden, c, 1, phase),
                softmax("loss.softmax", T, c.vocab, dtype=c.act_dtype, phase=phase)]
    elif c.causal:
        ops.append(linear("lm_head", b, c.vocab, c.hidden, c, 1, phase))   # the last (or new) token only
    return ops


# ---------------------------------------------------------------- training

def _recompute(c: TransformerConfig, st: Step, layer: list[Op]) -> list[Op]:
    """Selective: the attention core again (Korthikanti et al. 2022); full: the whole layer forward."""
    if st.recompute == "none":
        return []
    core = ("attn.scores", "attn.softmax", "attn.context", "attn.flash")   # self- and cross-attention, any stack
    chosen = layer if st.recompute == "full" else [op for op in layer if op.name.endswith(core)]
    return [replace(op, name=f"recompute.{op.name}", phase="backward") for op in chosen]


def _backward(op: Op, c: TransformerConfig) -> list[Op]:
    """The backward ops of one forward op (phase backward, same count), in execution order."""
    n, ph, name, shape = op.count, "backward", op.name, dict(op.shape)
    ab = _bytes(c.act_dtype)
    if op.kind == "gemm":
        m, nn, k, batch = shape["m"], shape["n"], shape["k"], shape["batch"]
        if op.reads[1].role == "weight":
            # dX[m,k] = dY[m,n] @ W^T[n,k]; dW[k,n] = X^T[k,m] @ dY[m,n]
            dx = linear(f"{name}.dgrad", m, k, nn, c, n, ph, experts=batch)
            dw = gemm(f"{name}.wgrad", k, nn, m, dtype=c.act_dtype, batch=batch, weight=None, count=n, phase=ph)
            dw = replace(dw, writes=(replace(dw.writes[0], role="gradient"),))
            return [dx, dw]
        # C = A @ B: dA = dC @ B^T, dB = A^T @ dC
        return [gemm(f"{name}.grad_a", m, k, nn, dtype=c.act_dtype, batch=batch, weight=None, count=n, phase=ph),
                gemm(f"{name}.grad_b", k, nn, m, dtype=c.act_dtype, batch=batch, weight=None, count=n, phase=ph)]
    if op.kind == "attention":     # flash attention; masked iff the forward skipped pairs (self vs cross, encoder)
        b, s, L = shape["batch"], shape["seq"], shape["kv_len"]
        causal = op.flops[0].flops < 2 * 2 * b * c.heads * s * L * c.d_head
        return [flash_attention(f"{name}.bwd", c, b, s, L, n, ph, "activation", backward=True, causal=causal)]
    if op.kind == "softmax":
        rows, cols = shape["rows"], shape["cols"]
        if name == "loss.softmax":  # d(cross-entropy)/d(logits) = p - onehot: read p, write the gradient
            return [elementwise(f"{name}.bwd", rows * cols, dtype=c.act_dtype, flops_per_element=1, count=n, phase=ph)]
        # dx = y * (dy - sum(dy * y)): read y and dy, write dx
        return [elementwise(f"{name}.bwd", rows * cols, dtype=c.act_dtype, inputs=2, outputs=1, flops_per_element=4,
                            count=n, phase=ph)]
    if op.kind in ("layernorm", "rmsnorm"):
        # read x and dy, write dx, and reduce the scale (and shift) gradients: about twice the forward work
        elements = shape["rows"] * shape["cols"]
        per = op.total_flops / elements
        return [elementwise(f"{name}.bwd", elements, dtype=c.act_dtype, inputs=2, outputs=1,
                            flops_per_element=2 * per, count=n, phase=ph)]
    if op.kind == "elementwise":
        elements, inputs = shape["elements"], shape["inputs"]
        if name.endswith(("residual", "embed.sum")):
            # y = a + b: the gradient fans out; the residual stream sums two gradients at the fork
            return [elementwise(f"{name}.bwd", elements, dtype=c.act_dtype, inputs=2, outputs=1,
                                flops_per_element=1, count=n, phase=ph)]
        # activation: read its inputs and dy, write d(inputs)
        return [elementwise(f"{name}.bwd", elements, dtype=c.act_dtype, inputs=inputs + 1, outputs=inputs,
                            flops_per_element=2 * op.total_flops / elements, count=n, phase=ph)]
    if op.kind == "gather":
        # scatter-add the output gradient rows into the embedding gradient
        rows = shape["lookups"] * c.hidden
        dw = elementwise(f"{name}.bwd", rows, dtype=c.act_dtype, inputs=1, outputs=1, flops_per_element=1,
                         count=n, phase=ph)
        return [replace(dw, writes=(Tensor(f"{name}.bwd.grad", rows * ab, "gradient"),))]
    raise AssertionError(f"no backward for op kind {op.kind}")  # pragma: no cover - every forward kind is above


def _optimizer(c: TransformerConfig, st: Step) -> list[Op]:
    """AdamW in mixed precision (ZeRO, Rajbhandari et al. 2020: 2 + 2 + 12 bytes per parameter):
    read the gradient (activation dtype) and the fp32 master weights and two moments, write the
    three fp32 states and the working copy of the weights."""
    if st.optimizer == "none":
        return []
    P = float(c.parameters())
    gb, wb = _bytes(c.act_dtype), _bytes(c.weight_dtype)
    op = elementwise("optimizer.adamw", P, dtype="fp32", inputs=4, outputs=4, flops_per_element=ADAMW_FLOPS,
                     phase="optimizer")
    state = lambda what: Tensor(f"optimizer.{what}", P * 4.0, "optimizer_state")
    return [replace(op, reads=(Tensor("optimizer.grad", P * gb, "gradient"), state("master"), state("m"), state("v")),
                    writes=(state("master"), state("m"), state("v"), Tensor("optimizer.weight", P * wb, "weight")))]

