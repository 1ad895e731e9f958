"""Hugging Face config.json -> transformer workload: field names per model type, defaults, errors.

The fixtures under tests/data/hf/ reproduce the public config.json files of the checkpoints named
by their folders (meta-llama/Llama-2-70b-hf, mistralai/Mixtral-8x7B-v0.1, gpt2-xl,
bert-base-uncased), trimmed of fields roofsim does not read; two small broken files test errors.
"""
from pathlib import Path

import pytest

from roofsim.errors import SpecError
from roofsim.ops.hf_config import workload_from_hf_config
from roofsim.workloads import get_workload, load_workload

HF = Path(__file__).parent / "data" / "hf"


def test_llama_config_builds_the_same_ops_as_the_named_workload():
    hf = get_workload(str(HF / "llama-2-70b" / "config.json"))   # routed by the .json suffix
    # defaults for a decoder: decode at batch 1 after min(max_position_embeddings 4096, 2048) tokens,
    # in the checkpoint's dtype (float16)
    named = get_workload("llama2-70b", overrides={"weight_dtype": "fp16", "act_dtype": "fp16", "seq": 2048,
                                                  "context": 2048})
    assert hf.ops == named.ops
    assert hf.parameters == 68_976_648_192 == named.parameters   # hand count in tests/test_transformer.py
    assert hf.name == "llama-2-70b" and hf.tokens == 1
    assert hf.param("kv_heads") == 8 and hf.param("phase") == "decode"


def test_mixtral_reads_the_expert_fields():
    wl = workload_from_hf_config(HF / "mixtral-8x7b" / "config.json")
    # 46,702,792,704 total and 12,879,925,248 active, derived in tests/test_transformer.py
    assert wl.parameters == 46_702_792_704
    assert wl.param("active_parameters") == 12_879_925_248
    assert wl.param("experts") == 8 and wl.param("experts_per_token") == 2


def test_gpt2_field_names_and_tied_embeddings():
    wl = workload_from_hf_config(HF / "gpt2-xl" / "config.json")
    # n_embd 1600, n_layer 48, n_head 25, n_inner absent -> 4 * 1600; tied: 1,557,611,200 as the named gpt2-xl
    assert wl.parameters == 1_557_611_200
    assert wl.param("ffn_hidden") == 6400 and wl.param("tied_embeddings") is True
    named = get_workload("gpt2-xl", overrides={"phase": "decode", "weight_dtype": "bf16", "act_dtype": "bf16",
                                               "batch": 1})
    assert wl.ops == named.ops     # no torch_dtype in the file: bf16 by default


def test_bert_is_an_encoder_with_a_prefill_default():
    wl = workload_from_hf_config(HF / "bert-base-uncased" / "config.json")
    # 109,482,240 as derived for bert-base in tests/test_transformer.py; forward pass of 512 tokens
    assert wl.parameters == 109_482_240
    assert wl.param("phase") == "prefill" and wl.tokens == 512 and wl.param("causal") is False


def test_overrides_apply_and_name_the_set_key():
    path = HF / "llama-2-70b" / "config.json"
    wl = workload_from_hf_config(path, {"phase": "prefill", "batch": 8, "seq": 1000})
    assert wl.tokens == 8 * 1000
    with pytest.raises(SpecError) as e:
        workload_from_hf_config(path, {"phase": "sleep"})
    assert str(e.value) == f"{path}: wl.phase: expected one of training, prefill, decode, found 'sleep'"
    with pytest.raises(SpecError) as e:
        workload_from_hf_config(HF / "bert-base-uncased" / "config.json", {"phase": "decode"})
    assert str(e.value).startswith(f"{HF / 'bert-base-uncased' / 'config.json'}: wl.phase: expected training or "
                                   "prefill for an encoder")


def test_unknown_model_type_lists_the_supported_ones():
    with pytest.raises(SpecError) as e:
        load_workload(HF / "t5.json")
    assert str(e.value) == (f"{HF / 't5.json'}: model_type: expected one of llama, mistral, mixtral, qwen2, gpt2, "
                            "bert, found 't5'")


def test_missing_fields_and_bad_dtype_are_reported_together():
    with pytest.raises(SpecError) as e:
        load_workload(HF / "broken-missing.json")
    f = HF / "broken-missing.json"
    assert str(e.value).splitlines() == [
        f"{f}: num_hidden_layers: expected an integer, found nothing",
        f"{f}: torch_dtype: expected one of float16, bfloat16, float32, found 'float8'",
    ]


def test_invalid_json_and_missing_file():
    with pytest.raises(SpecError) as e:
        load_workload(HF / "invalid.json")
    assert str(e.value) == (f"{HF / 'invalid.json'}: <top>: expected valid JSON, found Expecting property name "
                            "enclosed in double quotes at line 2, column 22")   # the second comma
    with pytest.raises(SpecError) as e:
        workload_from_hf_config(HF / "nothing.json")
    assert str(e.value) == f"{HF / 'nothing.json'}: <top>: expected an existing file, found no such file"
