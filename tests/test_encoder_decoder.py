"""Encoder-decoder Transformers (the original Transformer, T5/BART-style): parameters, FLOPs of one
encoder and one decoder layer, the cross-attention KV cache, and hostile parameters; each expected
number derived by hand beside its assertion.

Notation: h hidden, f FFN width, V vocabulary, b batch, s target (decoder) tokens, S source
(encoder) tokens per sequence.
"""
import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.errors import SpecError
from roofsim.memory import footprint
from roofsim.ops.transformer import build_transformer
from roofsim.workloads import get_workload


def matrix_flops(ops):
    return sum(f.flops * op.count for op in ops for f in op.flops if f.unit == "matrix")


def op(wl, name):
    (found,) = [o for o in wl.ops if o.name == name]
    return found


# A small encoder-decoder: 2 encoder and 3 decoder layers, h 64, 4 heads of 16, f 256, V 100, no biases
SMALL = dict(encoder_layers=2, layers=3, hidden=64, heads=4, ffn_hidden=256, vocab=100, biases=False,
             position_embedding="sinusoidal", norm_position="post", embedding_norm=False, tied_embeddings=True)


def test_transformer_big_parameters_by_hand():
    # Vaswani et al. 2017, Table 3 "big": N=6, d_model 1024, d_ff 4096, h 16, published as 213M.
    # Attention block: 4 x (1024^2 + 1024) = 4,198,400; FFN 1024*4096+4096 + 4096*1024+1024 = 8,393,728;
    # LayerNorm 2 x 1024 = 2,048 each.
    # encoder layer: attention + FFN + 2 norms = 12,596,224; x 6 = 75,577,344
    # decoder layer: + cross-attention 4,198,400 + its norm 2,048 = 16,796,672; x 6 = 100,780,032
    # one 37000 x 1024 table = 37,888,000, counted ONCE: the source and target embeddings and the
    # pre-softmax projection are one matrix (the paper's sec. 3.4); sinusoidal positions have none;
    # post-LN: no final norms. Total 214,245,376 = 214.2M, 0.6% above the paper's 213M (the paper's
    # vocabulary is "about 37000"; 213M would need ~35,900 tokens, or no attention biases: 214.17M).
    wl = get_workload("transformer-big")
    assert wl.parameters == 214_245_376
    assert wl.parameters == pytest.approx(213e6, rel=0.006)
    # untied output projection: + 37,888,000; separate source table too: + 37,888,000 more
    untied = get_workload("transformer-big", overrides={"tied_embeddings": False})
    separate = get_workload("transformer-big", overrides={"tied_embeddings": False, "shared_embeddings": False})
    assert untied.parameters == 214_245_376 + 37_888_000
    assert separate.parameters == 214_245_376 + 2 * 37_888_000
    # shared token table, but each stack has its own learned positions (BART-style): 2 x 1024 x 1024 more
    learned = build_transformer(**{**dict(wl.params), "position_embedding": "learned", "max_seq": 1024})
    assert learned.parameters == 214_245_376 + 2 * 1024 * 1024


def test_one_encoder_and_one_decoder_layer_flops_by_hand():
    # prefill, unfused attention (all s x L pairs), b 2, s 8 target, S 16 source tokens
    wl = build_transformer(**SMALL, phase="prefill", batch=2, seq=8, source_seq=16, attention="unfused")
    # encoder layer, T = bS = 32 rows: 2T(4h^2 + 2hf) + 4 b S^2 h = 64 x 49,152 + 4x2x256x64 = 3,276,800
    enc = [o for o in wl.ops if o.name.startswith("encoder.") and o.count == 2]
    assert matrix_flops(enc) == 2 * 3_276_800
    # decoder layer, t = bs = 16 rows: self Q,K,V,O 2t x 4h^2 = 524,288; scores + context 4 b s^2 h = 32,768;
    # cross Q and O 2t x 2h^2 = 262,144; cross K,V over the bS = 32 encoder rows 2 x 32 x 2h^2 = 524,288;
    # cross scores + context 4 b s S h = 65,536; FFN 2t x 2hf = 1,048,576: 2,457,600
    dec = [o for o in wl.ops if o.count == 3]
    assert matrix_flops(dec) == 3 * 2_457_600
    # all of it, with the LM head on the last token of each sequence: 2 x b x V x h = 25,600
    assert matrix_flops(wl.ops) == 2 * 3_276_800 + 3 * 2_457_600 + 25_600
    shape = dict(op(wl, "cross_attn.scores").shape)      # [s, d] x [d, S], b x nh times
    assert (shape["m"], shape["n"], shape["k"], shape["batch"]) == (8, 16, 16, 8)


def test_cross_attention_is_never_masked_and_its_backward_is_whole():
    # training with s = S = 16, flash: the decoder's self-attention skips the masked half, s(s+1)/2 =
    # 136 of 256 pairs, while the cross-attention (and the encoder's) does all 256; the backward
    # does 2.5x the forward's matrix FLOPs of the same pairs: 4 b nh pairs d = 4x2x4x256x16 = 131,072
    wl = build_transformer(**SMALL, phase="training", batch=2, seq=16, attention="flash")
    assert op(wl, "attn.flash").flops[0].flops == 4 * 2 * 4 * 136 * 16
    assert op(wl, "cross_attn.flash").flops[0].flops == 131_072
    assert op(wl, "encoder.attn.flash").flops[0].flops == 131_072
    assert op(wl, "cross_attn.flash.bwd").flops[0].flops == 2.5 * 131_072
    assert op(wl, "encoder.attn.flash.bwd").flops[0].flops == 2.5 * 131_072
    assert op(wl, "attn.flash.bwd").flops[0].flops == 2.5 * 4 * 2 * 4 * 136 * 16


def test_decode_reads_the_cross_attention_cache_sized_by_the_source():
    # transformer-big decode, fp16 cache, b 4, 100 target tokens so far, 50 source tokens, 6 decoder
    # layers of 16 heads x 64: self-attention cache 2 (K, V) x 6 x 4 x 100 x 1024 x 2 B = 9,830,400;
    # cross-attention cache 2 x 6 x 4 x 50 x 1024 x 2 B = 4,915,200 (the source's length, not the
    # target's); no encoder runs and no cross K/V are projected during decode
    wl = get_workload("transformer-big", overrides={"phase": "decode", "batch": 4, "context": 100, "source_seq": 50,
                                                   "act_dtype": "fp16", "weight_dtype": "fp16"})
    assert footprint(wl).kv_cache == 9_830_400 + 4_915_200
    assert op(wl, "cross_attn.flash").reads[1].bytes == 4 * 50 * 1024 * 2
    assert not [o for o in wl.ops if o.name.startswith("encoder.") or o.name == "cross_attn.kv_proj"]
    # prefill writes that cross cache once: K and V of the b x S source rows, 6 layers
    pre = get_workload("transformer-big", overrides={"phase": "prefill", "batch": 4, "seq": 1, "source_seq": 50,
                                                    "act_dtype": "fp16", "weight_dtype": "fp16"})
    kv = op(pre, "cross_attn.kv_proj")
    assert kv.writes[0].role == "kv_cache" and kv.writes[0].bytes * kv.count == 4_915_200


def test_decoder_only_models_have_no_cross_attention_or_encoder():
    wl = get_workload("gpt2-xl")
    assert not [o for o in wl.ops if o.name.startswith(("encoder.", "cross_attn."))]


@pytest.mark.parametrize("bad, key", [
    ({"encoder_layers": -1}, "encoder_layers"),                 # negative
    ({"encoder_layers": 1.5}, "encoder_layers"),                # fractional
    ({"encoder_layers": True}, "encoder_layers"),               # a bool is not a count
    ({"encoder_layers": "six"}, "encoder_layers"),              # text
    ({"encoder_layers": None}, "encoder_layers"),               # null
    ({"layers": 0}, "layers"),                                  # a decoder needs layers
    ({"layers": 2.5}, "layers"),
    ({"source_seq": 0}, "source_seq"),                          # empty source
    ({"source_seq": -5}, "source_seq"),
    ({"source_seq": 7.5}, "source_seq"),
    ({"causal": False}, "causal"),                              # an encoder-decoder's decoder is causal
    ({"shared_embeddings": "yes"}, "shared_embeddings"),
    ({"embedding_norm": 1}, "embedding_norm"),
    ({"position_embedding": "learned", "max_seq": 64, "source_seq": 65}, "seq"),   # source past the table
])
def test_hostile_encoder_decoder_params(bad, key):
    with pytest.raises(SpecError) as e:
        build_transformer(**{**SMALL, **bad})
    assert key in [p.path for p in e.value.problems]


def test_source_seq_on_a_decoder_only_model_is_a_mismatch():
    with pytest.raises(SpecError) as e:
        build_transformer(layers=2, hidden=64, heads=4, vocab=100, source_seq=16)
    assert [p.path for p in e.value.problems] == ["source_seq"]


@pytest.mark.parametrize("value", ["1000000000000", "-1", "1.5", "six"])
def test_bad_encoder_layers_is_one_line_from_the_cli(value):
    # huge: 10^12 encoder layers overflow the optimizer's element count (one problem, no traceback)
    r = CliRunner().invoke(main, ["run", "--hw", "h100", "--workload", "transformer-big",
                                  "--set", f"wl.encoder_layers={value}"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "wl.encoder_layers" in r.output and "Traceback" not in r.output
