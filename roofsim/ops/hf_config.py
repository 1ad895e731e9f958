"""A local Hugging Face ``config.json`` -> a transformer Workload. Nothing is downloaded.

Field names per ``model_type``: Llama-family (llama, mistral, mixtral, qwen2), GPT-2 and BERT.
``overrides`` (``--set wl.phase=decode``) are transformer builder parameters.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import Problem, SpecError
from ..loader import read_json
from ..units import shown
from .from_doc import param_problem
from .op import Workload
from .transformer import build_transformer

# Every size in a config is a count below 2^31 (the largest published vocabularies are ~256 k,
# hidden sizes ~25 k, context lengths ~10 M); anything larger is a corrupt or hostile file.
MAX_FIELD = 2**31 - 1
LLAMA_LIKE = ("llama", "mistral", "mixtral", "qwen2")
MODEL_TYPES = LLAMA_LIKE + ("gpt2", "bert")
TORCH_DTYPES = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}
# (our parameter, the config's key, whether it is required)
_LLAMA_KEYS = (("hidden", "hidden_size", True), ("layers", "num_hidden_layers", True),
               ("heads", "num_attention_heads", True), ("kv_heads", "num_key_value_heads", False),
               ("head_dim", "head_dim", False), ("ffn_hidden", "intermediate_size", True),
               ("vocab", "vocab_size", True), ("max_seq", "max_position_embeddings", False),
               ("experts", "num_local_experts", False), ("experts_per_token", "num_experts_per_tok", False))
_GPT2_KEYS = (("hidden", "n_embd", True), ("layers", "n_layer", True), ("heads", "n_head", True),
              ("ffn_hidden", "n_inner", False), ("vocab", "vocab_size", True), ("max_seq", "n_positions", False))
_BERT_KEYS = (("hidden", "hidden_size", True), ("layers", "num_hidden_layers", True),
              ("heads", "num_attention_heads", True), ("ffn_hidden", "intermediate_size", True),
              ("vocab", "vocab_size", True), ("max_seq", "max_position_embeddings", False),
              ("type_vocab", "type_vocab_size", False))


def workload_from_hf_config(path: os.PathLike | str, overrides: Optional[Mapping[str, Any]] = None,
                            where: str = "wl") -> Workload:
    """``overrides`` are transformer parameters, named ``{where}.KEY`` in errors."""
    p = Path(path)
    file = str(p)
    doc = read_json(p)  # within the loader's size and depth limits
    if not isinstance(doc, dict):
        raise SpecError(Problem(file, "", "a JSON object (a Hugging Face config.json)", type(doc).__name__))
    overrides = dict(overrides or {})
    bad = [Problem(file, f"{where}.{k}", *param_problem(v)) for k, v in overrides.items() if param_problem(v)]
    if bad:
        raise SpecError(bad)
    params = params_from_hf_config(doc, file)
    params.update(overrides)
    name = p.parent.name if p.name == "config.json" and p.parent.name else p.stem
    try:
        wl = build_transformer(name=name, **params)
    except SpecError as e:
        key = lambda q: f"{where}.{q.path}" if q.path in overrides else q.path  # the override's own name
        raise SpecError([Problem(file, key(q), q.expected, q.found, q.hint) for q in e.problems]) from None
    except (TypeError, ValueError, ArithmeticError) as e:  # a value the builder cannot use, in its words
        raise SpecError(Problem(file, "", "a config the transformer builder can use",
                                f"{type(e).__name__}: {shown(str(e))}")) from None
    source = f"Hugging Face config.json ({doc.get('_name_or_path') or name})"
    return Workload(name=wl.name, ops=wl.ops, params=wl.params, description=f"{doc['model_type']} from {file}",
                    source=source, parameters=wl.parameters, tokens=wl.tokens, file=file)


def params_from_hf_config(doc: dict, file: Optional[str] = None) -> dict[str, Any]:
    """Builder parameters (architecture and sensible run defaults) from a config.json document."""
    model_type = doc.get("model_type")
    if model_type not in MODEL_TYPES:
        raise SpecError(Problem(file, "model_type", "one of " + ", ".join(MODEL_TYPES), shown(model_type)))
    keys = _LLAMA_KEYS if model_type in LLAMA_LIKE else _GPT2_KEYS if model_type == "gpt2" else _BERT_KEYS
    params: dict[str, Any] = {}
    problems = []
    for ours, theirs, required in keys:
        value = doc.get(theirs)
        if value is None:
            if required:
                problems.append(Problem(file, theirs, "an integer", "nothing"))
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FIELD:
            problems.append(Problem(file, theirs, f"an integer from 1 to {MAX_FIELD}", shown(value)))
            continue
        params[ours] = value
    dtype = doc.get("torch_dtype", "bfloat16")
    if not isinstance(dtype, str) or dtype not in TORCH_DTYPES:
        problems.append(Problem(file, "torch_dtype", "one of " + ", ".join(TORCH_DTYPES), shown(dtype)))
    if problems:
        raise SpecError(problems)
    dtype = TORCH_DTYPES[dtype]
    params.update(weight_dtype=dtype, act_dtype=dtype)
    if model_type in LLAMA_LIKE:
        params.update(ffn_type="swiglu", norm="rmsnorm", position_embedding="rotary",
                      tied_embeddings=bool(doc.get("tie_word_embeddings", False)),
                      biases=bool(doc.get("attention_bias", model_type == "qwen2")))
    elif model_type == "gpt2":
        params.update(ffn_type="gelu", norm="layernorm", position_embedding="learned", biases=True,
                      tied_embeddings=bool(doc.get("tie_word_embeddings", True)))
    else:
        params.update(ffn_type="gelu", norm="layernorm", norm_position="post", position_embedding="learned",
                      biases=True, causal=False, pooler=True, tied_embeddings=bool(doc.get("tie_word_embeddings", True)))
    # Run defaults: a decoder decodes one token at batch 1 after a prompt of up to 2048 tokens;
    # an encoder runs a forward pass (prefill) of its full length (at most 512).
    seq = min(params.get("max_seq", 2048), 2048 if model_type != "bert" else 512)
    params.update(phase="decode" if model_type != "bert" else "prefill", batch=1, seq=seq, context=seq)
    return params
