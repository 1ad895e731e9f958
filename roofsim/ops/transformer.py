"""Transformer workloads: a frozen architecture, its parameter count, and the ``transformer`` builder.

``TransformerConfig`` is the model (shapes, dtypes); ``Step`` is what is run on it (phase, batch,
sequence, attention kernel, recomputation). ``build_transformer`` turns both into a Workload whose
ops come from roofsim/ops/transformer_ops.py. YAML files say ``builder: transformer`` and give
the flat keyword parameters of ``build_transformer`` under ``params:``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Optional

from ..errors import Problem, SpecError
from ..specs import DTYPES
from .from_doc import register_builder
from .op import Workload

FFN_TYPES = ("gelu", "swiglu", "relu")
NORMS = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
POSITIONS = ("learned", "rotary", "sinusoidal")   # rotary and sinusoidal have no parameters
PHASES = ("training", "prefill", "decode")
ATTENTION = ("flash", "unfused")
RECOMPUTE = ("none", "selective", "full")
OPTIMIZERS = ("adamw", "none")


@dataclass(frozen=True)
class TransformerConfig:
    """A decoder (causal: GPT, Llama), encoder (BERT) or encoder-decoder (``encoder_layers`` > 0:
    the original Transformer, T5-style) Transformer, dense or mixture-of-experts.

    Encoder-decoder: ``layers`` decoder layers (causal self-attention, cross-attention over the
    encoder output, FFN) after ``encoder_layers`` encoder layers (bidirectional self-attention,
    FFN) of the same widths; ``shared_embeddings`` makes source and target one table (a joint
    vocabulary), ``tied_embeddings`` ties the output projection to the target table."""
    layers: int
    hidden: int
    heads: int
    vocab: int
    kv_heads: Optional[int] = None      # None: = heads (MHA); 1 < kv_heads < heads: GQA; 1: MQA
    head_dim: Optional[int] = None      # None: hidden // heads
    ffn_hidden: Optional[int] = None    # None: 4 * hidden (per expert for MoE)
    ffn_type: str = "gelu"              # gelu, relu: up, act, down; swiglu: gate+up, silu*mul, down
    tied_embeddings: bool = False       # the LM head reuses the token embedding matrix
    max_seq: int = 2048                 # rows of a learned position table
    position_embedding: str = "rotary"  # learned: a table of max_seq rows; rotary: no parameters
    type_vocab: int = 0                 # BERT token-type (segment) embeddings
    pooler: bool = False                # BERT pooler: dense h x h on the first token
    norm: str = "layernorm"
    norm_position: str = "pre"          # pre: final norm after the last layer; post (BERT): norm after the embeddings
    causal: bool = True                 # False: encoder (bidirectional, no decode phase)
    biases: bool = False                # biases on the attention and FFN linear layers
    experts: int = 1                    # > 1: mixture of experts with a router
    experts_per_token: int = 1
    shared_experts: int = 0             # always-active experts (DeepSeek-MoE style)
    weight_dtype: str = "bf16"
    act_dtype: str = "bf16"
    kv_dtype: Optional[str] = None      # None: the activation dtype
    encoder_layers: int = 0             # > 0: an encoder-decoder with this many encoder layers
    shared_embeddings: bool = True      # encoder-decoder: source and target share one token table (positions, types, norm: each stack its own)
    embedding_norm: Optional[bool] = None   # a norm after the embeddings; None: with norm_position post (BERT)

    def __post_init__(self):
        p: list[Problem] = []
        for f in ("layers", "hidden", "heads", "vocab", "max_seq", "experts", "experts_per_token"):
            _check_int(p, f, getattr(self, f), 1)
        for f in ("type_vocab", "shared_experts", "encoder_layers"):
            _check_int(p, f, getattr(self, f), 0)
        for f in ("kv_heads", "head_dim", "ffn_hidden"):
            if getattr(self, f) is not None:
                _check_int(p, f, getattr(self, f), 1)
        for f, choices in (("ffn_type", FFN_TYPES), ("norm", NORMS), ("norm_position", NORM_POSITIONS),
                           ("position_embedding", POSITIONS)):
            if getattr(self, f) not in choices:
                p.append(Problem(None, f, "one of " + ", ".join(choices), repr(getattr(self, f))))
        for f in ("weight_dtype", "act_dtype", "kv_dtype"):
            v = getattr(self, f)
            if v is not None and v not in DTYPES:
                p.append(Problem(None, f, "one of " + ", ".join(DTYPES), repr(v)))
        for f in ("tied_embeddings", "pooler", "causal", "biases", "shared_embeddings", "embedding_norm"):
            if not isinstance(getattr(self, f), bool) and not (f == "embedding_norm" and self.embedding_norm is None):
                p.append(Problem(None, f, "true or false", repr(getattr(self, f))))
        if not p:
            if self.heads % self.n_kv_heads:
                p.append(Problem(None, "kv_heads", f"a divisor of heads ({self.heads})", repr(self.kv_heads)))
            if self.head_dim is None and self.hidden % self.heads:
                p.append(Problem(None, "head_dim", f"a value when hidden ({self.hidden}) is not a multiple of heads "
                                 f"({self.heads})", "nothing"))
            if self.encoder_layers and not self.causal:
                p.append(Problem(None, "causal", "true for an encoder-decoder (its decoder is causal)", "false"))
            if self.experts_per_token > self.experts:
                p.append(Problem(None, "experts_per_token", f"at most experts ({self.experts})",
                                 repr(self.experts_per_token)))
        if p:
            raise SpecError(p)

    # Resolved dimensions
    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads or self.heads

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def d_ffn(self) -> int:
        return self.ffn_hidden or 4 * self.hidden

    @property
    def kv_cache_dtype(self) -> str:
        return self.kv_dtype or self.act_dtype

    @property
    def moe(self) -> bool:
        return self.experts > 1

    @property
    def encoder_decoder(self) -> bool:
        return self.encoder_layers > 0

    @property
    def norms_embeddings(self) -> bool:
        return self.norm_position == "post" if self.embedding_norm is None else self.embedding_norm

    def encoder(self) -> "TransformerConfig":
        """The encoder stack of an encoder-decoder as an encoder-only config (same widths)."""
        return replace(self, layers=self.encoder_layers, encoder_layers=0, causal=False)

    # Parameter counts
    def embedding_parameters(self) -> int:
        h = self.hidden
        n = self.vocab * h + self.type_vocab * h
        if self.position_embedding == "learned":
            n += self.max_seq * h
        if self.norms_embeddings:
            n += self._norm_params()      # BERT normalises the embeddings
        return n

    def cross_attention_parameters(self) -> int:
        """One decoder layer's cross-attention: Q, K, V, O projections (K/V over the encoder output) and its norm."""
        return self._attention_params() + self._norm_params()

    def layer_parameters(self, active: bool = False) -> int:
        """One layer; ``active``: only the experts a token uses (MoE)."""
        attn = self._attention_params()
        experts = self.experts_per_token if active else self.experts
        ffn = (experts + self.shared_experts) * self._ffn_params()
        router = self.hidden * self.experts if self.moe else 0
        return attn + ffn + router + 2 * self._norm_params()

    def parameters(self, active: bool = False) -> int:
        """All parameters (``active``: those one token uses, for MoE); embeddings and LM head included."""
        n = self.embedding_parameters() + self.layers * self.layer_parameters(active)
        if self.norm_position == "pre":
            n += self._norm_params()      # final norm before the LM head
        if self.encoder_decoder:
            n += self.layers * self.cross_attention_parameters()
            n += self.encoder_layers * self.layer_parameters(active)
            n += self._norm_params() if self.norm_position == "pre" else 0   # the encoder's final norm
            # the encoder's own embedding parameters: all of them, or all but the shared token table
            n += self.embedding_parameters() - (self.vocab * self.hidden if self.shared_embeddings else 0)
        if not self.tied_embeddings:
            n += self.vocab * self.hidden
        if self.pooler:
            n += self.hidden * self.hidden + self.hidden
        return n

    def _attention_params(self) -> int:
        h, q, kv = self.hidden, self.heads * self.d_head, self.n_kv_heads * self.d_head
        return h * q + 2 * h * kv + q * h + ((q + 2 * kv + h) if self.biases else 0)

    def _norm_params(self) -> int:
        return (2 if self.norm == "layernorm" else 1) * self.hidden

    def _ffn_params(self) -> int:
        h, f = self.hidden, self.d_ffn
        if self.ffn_type == "swiglu":
            return 3 * h * f + ((2 * f + h) if self.biases else 0)
        return 2 * h * f + ((f + h) if self.biases else 0)


@dataclass(frozen=True)
class Step:
    """What one step runs: a training step, a prefill of ``seq`` tokens, or one decode token."""
    phase: str = "prefill"
    batch: int = 1
    seq: int = 2048                 # tokens per sequence (training, prefill: the prompt)
    context: Optional[int] = None   # decode: KV-cache length read by attention (None: seq)
    source_seq: Optional[int] = None    # encoder-decoder: source tokens per sequence (None: seq); decode's cross-attention cache
    attention: str = "flash"
    recompute: str = "none"
    optimizer: str = "adamw"

    def __post_init__(self):
        p: list[Problem] = []
        for f, choices in (("phase", PHASES), ("attention", ATTENTION), ("recompute", RECOMPUTE),
                           ("optimizer", OPTIMIZERS)):
            if getattr(self, f) not in choices:
                p.append(Problem(None, f, "one of " + ", ".join(choices), repr(getattr(self, f))))
        for f in ("batch", "seq"):
            _check_int(p, f, getattr(self, f), 1)
        for f in ("context", "source_seq"):
            if getattr(self, f) is not None:
                _check_int(p, f, getattr(self, f), 1)
        if p:
            raise SpecError(p)

    @property
    def kv_len(self) -> int:
        return self.context if self.context is not None else self.seq

    @property
    def src_len(self) -> int:
        return self.source_seq if self.source_seq is not None else self.seq

    @property
    def tokens(self) -> int:
        return self.batch if self.phase == "decode" else self.batch * self.seq


def _check_int(problems: list, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(Problem(None, name, f"an integer >= {minimum}", repr(value)))


_CONFIG_FIELDS = tuple(f.name for f in fields(TransformerConfig))
_STEP_FIELDS = tuple(f.name for f in fields(Step))


def _coerce(value: Any, default: Any) -> Any:
    """``--set`` values arrive YAML-typed; also accept '8' for an int and 'true' for a bool."""
    if isinstance(value, str) and (isinstance(default, int) or default is None):
        text = value.strip().lower()
        if isinstance(default, bool) or text in ("true", "false"):
            return {"true": True, "false": False}.get(text, value)
        try:
            return int(text)
        except ValueError:
            return value
    return value


def split_params(params: dict) -> tuple[TransformerConfig, Step]:
    """Flat YAML params -> (config, step); unknown keys are reported with the valid ones."""
    unknown = [k for k in params if k not in _CONFIG_FIELDS + _STEP_FIELDS]
    if unknown:
        valid = ", ".join(_CONFIG_FIELDS + _STEP_FIELDS)
        raise SpecError([Problem(None, k, f"a transformer parameter ({valid})", f"unknown parameter {k!r}")
                         for k in unknown])
    defaults = {f.name: f.default for f in (*fields(TransformerConfig), *fields(Step))}
    values = {k: _coerce(v, defaults.get(k)) for k, v in params.items()}
    problems: list[Problem] = []
    config = step = None
    try:
        config = TransformerConfig(**{k: v for k, v in values.items() if k in _CONFIG_FIELDS})
    except SpecError as e:
        problems += e.problems
    except TypeError as e:   # a required field is missing
        problems.append(Problem(None, "", "layers, hidden, heads and vocab", str(e)))
    try:
        step = Step(**{k: v for k, v in values.items() if k in _STEP_FIELDS})
    except SpecError as e:
        problems += e.problems
    if config is not None and step is not None:
        if step.phase == "decode" and not config.causal:
            problems.append(Problem(None, "phase", "training or prefill for an encoder (causal: false)", "'decode'",
                                    "an encoder has no autoregressive decode step"))
        if step.source_seq is not None and not config.encoder_decoder:
            problems.append(Problem(None, "source_seq", "no value unless encoder_layers > 0 (only an encoder-decoder "
                                    "has a source sequence)", repr(step.source_seq)))
        longest = max(step.seq, step.kv_len, step.src_len if config.encoder_decoder else 1)
        if config.position_embedding == "learned" and longest > config.max_seq:
            problems.append(Problem(None, "seq", f"at most max_seq ({config.max_seq}) with learned positions",
                                    repr(longest)))
    if problems:
        raise SpecError(problems)
    return config, step


@register_builder("transformer")
def build_transformer(name: str = "transformer", **params: Any) -> Workload:
    config, step = split_params(params)
    return transformer_workload(config, step, name=name)


def transformer_workload(config: TransformerConfig, step: Step, name: str = "transformer") -> Workload:
    from .transformer_ops import step_ops
    resolved = {**{f: getattr(config, f) for f in _CONFIG_FIELDS}, **{f: getattr(step, f) for f in _STEP_FIELDS}}
    resolved.update(kv_heads=config.n_kv_heads, head_dim=config.d_head, ffn_hidden=config.d_ffn,
                    kv_dtype=config.kv_cache_dtype, context=step.kv_len, embedding_norm=config.norms_embeddings,
                    source_seq=step.src_len if config.encoder_decoder else None)
    if config.moe:
        resolved["active_parameters"] = config.parameters(active=True)
    return Workload(name=name, ops=tuple(step_ops(config, step)), params=tuple(resolved.items()),
                    parameters=float(config.parameters()), tokens=float(step.tokens))
