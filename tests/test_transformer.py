"""Transformer builder: parameter counts, FLOPs, bytes and roles, derived by hand or cited.

Notation: l layers, h hidden, nh heads, nkv KV heads, d head dim, f FFN width, V vocabulary,
B batch, s sequence length. Matrix FLOPs are the FLOPs on the matrix (tensor) units, i.e. the
GEMMs and the matmuls inside fused attention; the published formulas count only those.
"""
from dataclasses import replace

import pytest

from roofsim.errors import SpecError
from roofsim.ops.transformer import Step, TransformerConfig, build_transformer, transformer_workload
from roofsim.workloads import get_workload

MODELS = ("bert-base", "bert-large", "gpt2-xl", "gpt3-175b", "mt-nlg-530b", "llama2-7b", "llama2-13b", "llama2-70b",
          "llama3-8b", "llama3-70b", "llama3-405b", "mixtral-8x7b")


def matrix_flops(ops, phase=None):
    return sum(f.flops * op.count for op in ops for f in op.flops
               if f.unit == "matrix" and (phase is None or op.phase == phase))


def op(wl, name):
    (found,) = [o for o in wl.ops if o.name == name]
    return found


# ----------------------------------------------------------------------------- parameter counts

# name: (exact count derived by hand below, published value, its source, absolute tolerance and why)
PARAMS = {
    # embeddings 30522*768 + 512*768 + 2*768 + LN 2*768 = 23,837,184; per layer QKV 3*(768^2+768) +
    # out 768^2+768 + FFN 768*3072+3072 + 3072*768+768 + 2 LN 2*1536 = 7,087,872, x12 = 85,054,464;
    # pooler 768^2+768 = 590,592; total 109,482,240
    "bert-base": (109_482_240, 110e6, "Devlin et al. 2019 sec. 3: 110M", 1.1e6, "1%: the paper rounds to 110M"),
    # embeddings 30522*1024 + 512*1024 + 2*1024 + 2*1024 = 31,782,912; per layer 4*(1024^2+1024) +
    # 1024*4096+4096 + 4096*1024+1024 + 2*2048 = 12,596,224, x24 = 302,309,376; pooler 1,049,600
    "bert-large": (335_141_888, 340e6, "Devlin et al. 2019 sec. 3: 340M", 6.8e6, "2%: the paper rounds 335M up to 340M"),
    # wte 50257*1600 = 80,411,200; wpe 1024*1600 = 1,638,400; per layer 2 LN 6,400 + c_attn 1600*4800+4800 +
    # c_proj 1600^2+1600 + c_fc 1600*6400+6400 + c_proj 6400*1600+1600 = 30,740,800, x48 = 1,475,558,400; ln_f 3,200
    "gpt2-xl": (1_557_611_200, 1542e6, "Radford et al. 2019 Table 2: 1542M", 23e6,
                "1.5%: the paper's figure is 1% below the released checkpoint's 1,557,611,200"),
    # 12*l*h^2 = 12*96*12288^2 = 173,946,175,488; biases and 2 LN per layer 13h*l = 15,335,424;
    # wte 50257*12288 = 617,558,016; wpe 2048*12288 = 25,165,824; final LN 24,576 -> 174,604,259,328
    "gpt3-175b": (174_604_259_328, 175.0e9, "Brown et al. 2020 Table 2.1: 175.0B", 0.875e9,
                  "0.5%: 175.0B is a round size; vocabulary 50257 assumed (GPT-2 BPE)"),
    # 12*105*20480^2 = 528,482,304,000; 13h*l = 27,955,200; wte 50257*20480 = 1,029,263,360;
    # wpe 2048*20480 = 41,943,040; final LN 40,960 -> 529,581,506,560
    "mt-nlg-530b": (529_581_506_560, 530e9, "Smith et al. 2022: 530B", 0.5e9, "half a unit of the last digit"),
    # per layer 4*4096^2 + 3*4096*11008 + 2*4096 = 202,383,360, x32 = 6,476,267,520;
    # embedding and untied head 2*32000*4096 = 262,144,000; final norm 4096
    "llama2-7b": (6_738_415_616, 6.74e9, "meta-llama/Llama-2-7b-hf model page: 6.74B params", 0.005e9, "half a unit of the last digit"),
    # per layer 4*5120^2 + 3*5120*13824 + 2*5120 = 317,204,480, x40; + 2*32000*5120 + 5120
    "llama2-13b": (13_015_864_320, 13.0e9, "meta-llama/Llama-2-13b-hf model page: 13.0B params", 0.05e9, "half a unit of the last digit"),
    # per layer q,o 2*8192^2 + k,v 2*8192*1024 + 3*8192*28672 + 2*8192 = 855,654,400, x80 = 68,452,352,000;
    # + 2*32000*8192 = 524,288,000 + 8192
    "llama2-70b": (68_976_648_192, 68.977e9, "Open LLM Leaderboard request for meta-llama/Llama-2-70b-hf: "
                   "params 68.977 (billions)", 0.0005e9, "half a unit of the last digit"),
    # per layer 2*4096^2 + 2*4096*1024 + 3*4096*14336 + 2*4096 = 218,112,000, x32 = 6,979,584,000;
    # + 2*128256*4096 = 1,050,673,152 + 4096
    "llama3-8b": (8_030_261_248, 8.03e9, "meta-llama/Meta-Llama-3-8B model page: 8.03B params", 0.005e9, "half a unit of the last digit"),
    # per layer as Llama-2 70B 855,654,400, x80; + 2*128256*8192 = 2,101,346,304 + 8192
    "llama3-70b": (70_553_706_496, 70.6e9, "meta-llama/Meta-Llama-3-70B model page: 70.6B params", 0.05e9,
                   "half a unit of the last digit"),
    # per layer 2*16384^2 + 2*16384*1024 + 3*16384*53248 + 2*16384 = 3,187,703,808, x126 = 401,650,679,808;
    # + 2*128256*16384 = 4,202,692,608 + 16384
    "llama3-405b": (405_853_388_800, 405e9, "Llama 3 Herd of Models 2024 Table 3: 405B", 2e9,
                    "0.5%: the paper names the model by its rounded size"),
    # per layer attention 41,943,040 + 8 experts 8*3*4096*14336 = 1,409,286,144 + router 4096*8 + 2*4096
    # = 1,451,270,144, x32 = 46,440,644,608; + 2*32000*4096 = 262,144,000 + 4096
    "mixtral-8x7b": (46_702_792_704, 46.7e9, "Mistral AI, 'Mixtral of experts' (2023): 46.7B total", 0.05e9,
                     "half a unit of the last digit"),
}


@pytest.mark.parametrize("name", MODELS)
def test_parameter_count_matches_hand_count_and_published_value(name):
    exact, published, source, tol, why = PARAMS[name]
    wl = get_workload(name)
    assert wl.parameters == exact
    assert abs(wl.parameters - published) <= tol, f"{source} ({why})"


def test_mixtral_active_parameters():
    # one token uses 2 of 8 experts: per layer 41,943,040 + 2*176,160,768 + 32,768 + 8,192 = 394,305,536,
    # x32 = 12,617,777,152; + 262,144,000 + 4096 = 12,879,925,248. Mistral AI: "12.9B active parameters"
    wl = get_workload("mixtral-8x7b")
    assert wl.param("active_parameters") == 12_879_925_248
    assert abs(wl.param("active_parameters") - 12.9e9) <= 0.05e9   # half a unit of the last digit


def test_gpt3_count_against_narayanan_parameter_formula():
    # Narayanan et al. SC21 eq. (2): P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h)) = 12lh^2 + 13lh + (V+s)h;
    # it omits the final LayerNorm (2h), which we count.
    l, h, V, s = 96, 12288, 50257, 2048
    narayanan = 12 * l * h**2 * (1 + 13 / (12 * h) + (V + s) / (12 * l * h))
    assert get_workload("gpt3-175b").parameters - narayanan == pytest.approx(2 * h, abs=1e-3)


# ----------------------------------------------------------------------------- training FLOPs

def gpt3_training(**step):
    return get_workload("gpt3-175b", overrides={"phase": "training", **step})


@pytest.mark.parametrize("B", [1, 2])
def test_training_flops_match_narayanan_with_full_recomputation(B):
    # Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM",
    # SC21, sec. 5.1 eq. (3), GEMM FLOPs per iteration with activation recomputation (Megatron computes
    # the full s x s scores, as our unfused attention does): F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))
    l, h, V, s = 96, 12288, 50257, 2048
    wl = gpt3_training(batch=B, attention="unfused", recompute="full")
    assert matrix_flops(wl.ops) == pytest.approx(96 * B * s * l * h**2 * (1 + s / (6 * h) + V / (16 * l * h)), rel=1e-12)


def test_training_flops_without_recomputation_drop_one_forward_of_the_layers():
    # Same accounting without recomputation: layers 3x instead of 4x (24Bsh^2 + 4Bs^2h per layer forward),
    # logits 6BshV unchanged: F = 72 B s l h^2 (1 + s/(6h) + V/(12 l h)) (the "model FLOPs" of
    # Korthikanti et al. 2022).
    l, h, V, s, B = 96, 12288, 50257, 2048, 1
    wl = gpt3_training(attention="unfused", recompute="none")
    assert matrix_flops(wl.ops) == pytest.approx(72 * B * s * l * h**2 * (1 + s / (6 * h) + V / (12 * l * h)), rel=1e-12)
    # backward GEMMs (input and weight gradients) are exactly twice the forward ones
    assert matrix_flops(wl.ops, "backward") == pytest.approx(2 * matrix_flops(wl.ops, "forward"), rel=1e-12)


def test_selective_recomputation_adds_the_attention_matmuls_only():
    # selective recomputes QK^T and attention x V: + 2*2*B*s^2*h per layer = 4 B s^2 h l
    l, h, s = 96, 12288, 2048
    none = matrix_flops(gpt3_training(attention="unfused").ops)
    selective = gpt3_training(attention="unfused", recompute="selective")
    assert matrix_flops(selective.ops) - none == pytest.approx(4 * s**2 * h * l, rel=1e-12)
    assert {o.phase for o in selective.ops if o.name.startswith("recompute.")} == {"backward"}
    assert {o.name for o in selective.ops if o.name.startswith("recompute.")} == {
        "recompute.attn.scores", "recompute.attn.softmax", "recompute.attn.context"}


def test_training_flops_per_token_against_kaplan_6n_rule():
    # Kaplan et al. 2020, Table 1: C_forward = 2N + 2 n_layer n_ctx d_attn (N = non-embedding parameters
    # = 12 l h^2 here; the de-embedding 2 h V is left out of their total), training ~ 3x forward.
    # Ours, causal flash attention: forward QK^T and PV over the s(s+1)/2 unmasked pairs per head:
    # 2*2*nh*d*s(s+1)/2 = 2 h s(s+1) per layer per sequence, i.e. 2 h (s+1) per token; backward 2.5x
    # (FlashAttention-2 recomputes QK^T): 5 h (s+1). Linear layers 6 * 12 h^2 per token per layer, LM head 6 h V.
    l, h, V, s = 96, 12288, 50257, 2048
    N = 12 * l * h**2
    wl = gpt3_training(attention="flash")
    ours = matrix_flops(wl.ops) / wl.tokens
    assert ours == pytest.approx(6 * N + 7 * l * h * (s + 1) + 6 * h * V, rel=1e-12)
    assert matrix_flops(wl.ops, "forward") / wl.tokens == pytest.approx(2 * N + 2 * l * h * (s + 1) + 2 * h * V,
                                                                        rel=1e-12)
    # Kaplan's 6N + 6 n_layer n_ctx d_attn (+ the de-embedding 6hV): ours exceeds it by the flash backward
    # recomputation l*h*(s+7) per token = 2.42e9 of 1.06e12, 0.23%
    kaplan = 6 * N + 6 * l * s * h + 6 * h * V
    assert ours / kaplan - 1 == pytest.approx(l * h * (s + 7) / kaplan, rel=1e-9)
    assert 0 < ours / kaplan - 1 < 0.005
    # and all FLOPs (norms, softmax, optimizer on the vector units too) stay within 2% of the matrix ones
    assert wl.flops_per_token == pytest.approx(ours, rel=0.02)


def test_training_step_has_weight_and_input_gradients_and_an_optimizer():
    wl = get_workload("llama2-7b", overrides={"phase": "training", "seq": 512})
    names = {o.name for o in wl.ops}
    for gemm in ("attn.q_proj", "attn.kv_proj", "attn.o_proj", "ffn.gate_up", "ffn.down", "lm_head"):
        assert {f"{gemm}.dgrad", f"{gemm}.wgrad"} <= names
        assert op(wl, f"{gemm}.wgrad").phase == "backward"
        assert op(wl, f"{gemm}.wgrad").writes[0].role == "gradient"
    # AdamW, mixed precision, P = 6,738,415,616: reads bf16 gradient (2P) + fp32 master, m, v (12P);
    # writes master, m, v (12P) and the bf16 working weights (2P)
    P = 6_738_415_616
    adam = op(wl, "optimizer.adamw")
    assert adam.phase == "optimizer"
    assert adam.bytes_by_role() == {"gradient": 2 * P, "optimizer_state": 24 * P, "weight": 2 * P}
    assert wl.tokens == 512 and wl.parameters == P


# ----------------------------------------------------------------------------- inference bytes

def test_gqa_decode_reads_only_the_kv_heads_cache():
    # Llama-2 70B, batch 4, context 4096: K and V of 8 KV heads (not 64 query heads), bf16:
    # 4 * 4096 * 2 * 8 * 128 * 2 B = 67,108,864 B per layer; the MHA-style bug would read 8x that.
    for attention in ("flash", "unfused"):
        wl = get_workload("llama2-70b", overrides={"phase": "decode", "batch": 4, "context": 4096,
                                                   "attention": attention})
        core = [o for o in wl.ops if o.name in ("attn.flash", "attn.scores", "attn.context")]
        assert sum(o.bytes_by_role().get("kv_cache", 0) for o in core) == 67_108_864
        assert all(o.count == 80 for o in core)
        # the append: one token's K and V, 4 * 1 * 2 * 8 * 128 * 2 B = 16,384 B per layer
        assert op(wl, "attn.kv_proj").bytes_by_role()["kv_cache"] == 16_384
        # decode works on batch tokens: projections have m = 4
        assert dict(op(wl, "attn.q_proj").shape)["m"] == 4 and wl.tokens == 4


def test_quantised_kv_cache_and_weights_shrink_their_bytes():
    # int8 KV: 67,108,864 / 2 = 33,554,432 B per layer; int4 weights: q_proj 8192*8192*0.5 = 33,554,432 B
    wl = get_workload("llama2-70b", overrides={"batch": 4, "context": 4096, "kv_dtype": "int8", "weight_dtype": "int4"})
    assert op(wl, "attn.flash").bytes_by_role()["kv_cache"] == 33_554_432
    assert op(wl, "attn.q_proj").bytes_by_role()["weight"] == 33_554_432
    assert op(wl, "attn.q_proj").dtype == "bf16"      # weight-only quantisation: math in the activation dtype


def test_attention_output_is_seq_by_hidden_not_seq_by_seq():
    # Llama-2 7B prefill, B=2, s=1024: O has B*s*h = 2*1024*4096 elements, 16,777,216 B in bf16
    # (B*nh*s*s would be 2*32*1024*1024 = 67,108,864 elements)
    for attention in ("flash", "unfused"):
        wl = get_workload("llama2-7b", overrides={"phase": "prefill", "batch": 2, "seq": 1024, "attention": attention})
        out = op(wl, "attn.flash" if attention == "flash" else "attn.context").writes[0]
        assert out.bytes == 2 * 1024 * 4096 * 2
        assert op(wl, "attn.o_proj").reads[0].bytes == out.bytes


def test_unfused_attention_moves_the_score_matrix_and_flash_does_not():
    # Llama-2 7B prefill, B=1, s=2048, nh=32, bf16, per layer:
    #   unfused: scores reads Q, K and writes S; softmax reads S, writes P; context reads P, V, writes O
    #            = 4 * s*h*2 (Q, K, V, O) + 4 * nh*s^2*2 (S written, read, P written, read)
    #   flash:   Q, K, V, O only = 4 * s*h*2
    # difference 4 * 32 * 2048^2 * 2 = 1,073,741,824 B per layer
    def core_bytes(attention):
        wl = get_workload("llama2-7b", overrides={"phase": "prefill", "seq": 2048, "attention": attention})
        core = [o for o in wl.ops if o.name in ("attn.flash", "attn.scores", "attn.softmax", "attn.context")]
        return sum(o.read_bytes + o.write_bytes for o in core)
    assert core_bytes("flash") == 4 * 2048 * 4096 * 2
    assert core_bytes("unfused") - core_bytes("flash") == 1_073_741_824


def test_moe_decode_reads_the_routed_experts_only():
    # batch 1, top-2 of 8: 2 experts' gate_up weights, 2 * 4096 * 2*14336 * 2 B = 469,762,048 B;
    # batch 64: 8 * (1 - (6/8)^64) = 8.0 experts expected, all 8 read: 1,879,048,192 B
    one = get_workload("mixtral-8x7b", overrides={"batch": 1})
    many = get_workload("mixtral-8x7b", overrides={"batch": 64})
    assert op(one, "ffn.experts.gate_up").bytes_by_role()["weight"] == 469_762_048
    assert op(many, "ffn.experts.gate_up").bytes_by_role()["weight"] == 1_879_048_192
    # decode FLOPs (batch 1, context 4096): 2 * active matmul parameters per layer (attention 41,943,040 +
    # 2 experts 352,321,536 + router 32,768 = 394,297,344) * 32 + LM head 2*4096*32000
    # + attention 2*2*nh*d*context = 4 * 4096 * 4096 per layer
    expected = 2 * 394_297_344 * 32 + 2 * 4096 * 32000 + 4 * 4096 * 4096 * 32
    assert matrix_flops(one.ops) == pytest.approx(expected, rel=1e-12)


def test_tokens_per_phase():
    assert get_workload("llama2-7b", overrides={"phase": "prefill", "batch": 3, "seq": 100}).tokens == 300
    assert get_workload("llama2-7b", overrides={"phase": "decode", "batch": 3}).tokens == 3
    assert get_workload("bert-base").tokens == 32 * 512


def test_config_is_frozen_and_usable_without_yaml():
    c = TransformerConfig(layers=2, hidden=64, heads=4, vocab=100, kv_heads=1)   # MQA
    with pytest.raises(Exception):
        c.layers = 3
    wl = transformer_workload(c, Step(phase="decode", batch=2, seq=8, context=16))
    # MQA: K, V of one head: 2 * 16 * 2 * 1 * 16 * 2 B = 2,048 B per layer
    assert op(wl, "attn.flash").bytes_by_role()["kv_cache"] == 2048
    assert replace(c, kv_heads=None).n_kv_heads == 4


# ----------------------------------------------------------------------------- errors

def test_encoder_has_no_decode_phase():
    with pytest.raises(SpecError) as e:
        get_workload("bert-base", overrides={"phase": "decode"})
    # the override is named as the override (issue #14), not as the file's params.phase
    assert str(e.value).endswith("bert-base.yaml: wl.phase: expected training or prefill for an encoder (causal: false), "
                                 "found 'decode' (an encoder has no autoregressive decode step)")


def test_bad_parameters_are_reported_together():
    with pytest.raises(SpecError) as e:
        build_transformer(layers=2, hidden=64, heads=6, kv_heads=4, vocab=10, phase="sleep", attention="fast")
    assert [str(p) for p in e.value.problems] == [
        "kv_heads: expected a divisor of heads (6), found 4",
        "head_dim: expected a value when hidden (64) is not a multiple of heads (6), found nothing",
        "phase: expected one of training, prefill, decode, found 'sleep'",
        "attention: expected one of flash, unfused, found 'fast'",
    ]


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(SpecError) as e:
        build_transformer(layers=2, hidden=64, heads=4, vocab=10, hiden=3)
    assert str(e.value).startswith("hiden: expected a transformer parameter (layers, hidden, heads, vocab, kv_heads,")


# ----------------------------------------------------------------------------- on the roofline engine

from roofsim.hw import get_hardware, list_hardware  # noqa: E402
from roofsim.roofline import evaluate  # noqa: E402

# Llama-2 7B decode, batch 1, context 4096, bf16, per step:
#   weights read: every parameter except the embedding table, of which one row is read:
#     6,738,415,616 - 32000*4096 + 4096 = 6,607,347,712 parameters * 2 B = 13,214,695,424 B
#   KV cache read: 32 layers * 1 * 4096 * 2 (K, V) * 32 heads * 128 * 2 B = 2,147,483,648 B
LLAMA2_7B_DECODE_BYTES = 13_214_695_424 + 2_147_483_648      # 15,362,179,072 B
A100_HBM = 2039e9   # B/s, hardware/a100-sxm4-80gb.yaml (5120-bit x 3.19 Gb/s)


@pytest.fixture(scope="module")
def a100():
    return get_hardware("a100")


def test_decode_at_batch_1_is_memory_bound_at_the_bandwidth_ideal(a100):
    df = evaluate(a100, get_workload("llama2-7b", overrides={"batch": 1, "context": 4096}), ideal=True)
    assert set(df.bound) == {"memory:hbm"}
    # 15,362,179,072 B / 2039e9 B/s = 7.534 ms; the rest (activations, the KV append) is < 0.1%
    assert df.time_s.sum() == pytest.approx(LLAMA2_7B_DECODE_BYTES / A100_HBM, rel=0.002)


def test_decode_at_batch_1_approaches_achievable_bandwidth(a100):
    from roofsim.kernelmodel import memory_latency
    df = evaluate(a100, get_workload("llama2-7b", overrides={"batch": 1, "context": 4096}))
    achievable = A100_HBM * a100.efficiency.memory_fraction("hbm")
    gemv = df[df.bound == "memory:hbm"]
    # 6 memory-bound kernels per layer (q, kv, o, gate_up, down projections and attention) x 32
    # layers + the LM head = 193 kernels, each paying one main-memory round trip (the bandwidth
    # ramp of roofsim/kernelmodel.py) on top of bytes / achievable bandwidth
    assert gemv["count"].sum() == 6 * 32 + 1
    ramp = 193 * memory_latency(a100)
    # and the 161 GEMVs among them (5 projections x 32 layers + the LM head; attention is not a
    # GEMM) pay the GEMM kernels' fixed cost in series (efficiency.per_call.gemm, 5.04 us on A100)
    fixed = 161 * a100.efficiency.call_seconds("gemm") + 32 * a100.efficiency.call_seconds("attention")
    assert gemv.time_s.sum() == pytest.approx(LLAMA2_7B_DECODE_BYTES / achievable + ramp + fixed, rel=0.002)
    # the other ops (norms, residual adds, SwiGLU: 5 per layer, + embedding and final norm = 162) are
    # too small to matter but each costs the per-kernel floor; with the GEMVs' fixed costs (161 x
    # 5.04 us = 0.81 ms, 8.6 % of the 9.44 ms of bytes / achievable bandwidth) the step is within
    # 12 % of bytes / bandwidth
    small = df[df.bound == "latency"]
    assert small["count"].sum() == 5 * 32 + 2
    assert df.time_s.sum() == pytest.approx(LLAMA2_7B_DECODE_BYTES / achievable + 162 * a100.efficiency.latency_s
                                            + ramp + fixed, rel=0.002)
    assert df.time_s.sum() / (LLAMA2_7B_DECODE_BYTES / achievable) < 1.12


def test_long_prefill_is_compute_bound(a100):
    # s = 4096: the projections and FFN GEMMs have m = 4096 rows, far above the A100's ridge point
    # (312e12 / 2039e9 = 153 FLOP/B; a bf16 GEMM with m = 4096 does ~ 2mnk / 2(mk + kn + mn) > 1000 FLOP/B)
    df = evaluate(a100, get_workload("llama2-7b", overrides={"phase": "prefill", "seq": 4096}))
    for name in ("attn.q_proj", "attn.kv_proj", "attn.o_proj", "ffn.gate_up", "ffn.down", "attn.flash"):
        assert df[df.op == name].bound.item() == "compute"
    assert df[df.bound == "compute"].time_s.sum() > 0.9 * df.time_s.sum()
    # the LM head runs on the last token only (m = 1): 2*4096*32000 FLOPs on 2*4096*32000 B of weights,
    # 1 FLOP/B, memory-bound
    assert df[df.op == "lm_head"].bound.item() == "memory:hbm"


ACCELERATORS = [h for h in list_hardware() if h.kind in ("gpu", "tpu")]


def test_the_accelerator_list_is_the_catalogue():
    assert {"a100-sxm4-80gb", "h100-sxm5", "mi300x", "tpu-v5p"} <= {h.id for h in ACCELERATORS}


@pytest.mark.parametrize("name", MODELS)
def test_every_model_runs_on_every_gpu_and_tpu_in_every_phase(name):
    phases = ("training", "prefill") if name.startswith("bert") else ("training", "prefill", "decode")
    for phase in phases:
        wl = get_workload(name, overrides={"phase": phase})
        df = evaluate(ACCELERATORS, wl)
        assert len(df) == len(ACCELERATORS) * len(wl.ops)
        assert (df.time_s > 0).all() and df.time_s.notna().all()
        assert not df.bound.isna().any()
