"""roofsim.memory: footprints against published figures and hand arithmetic; placement over tiers."""
import math

import pytest

from roofsim.errors import SpecError
from roofsim.hw import derive, get_hardware
from roofsim.memory import (Footprint, footprint, place, pruned_bytes, quantised_bytes,
                            transformer_layer_activations)
from roofsim.ops import kinds
from roofsim.ops.op import Workload
from roofsim.workloads import get_workload


def _model(params: float, weight_dtype: str = "fp16", training: bool = True) -> Workload:
    """A workload of ``params`` parameters: one forward GEMM, and a backward op when training."""
    ops = [kinds.gemm("fwd", 8, 8, 8, dtype=weight_dtype)]
    if training:
        ops.append(kinds.gemm("bwd", 8, 8, 8, dtype=weight_dtype, phase="backward"))
    return Workload("m", tuple(ops), params=(("weight_dtype", weight_dtype),), parameters=params)


def _states(fp: Footprint) -> float:
    return fp.weights + fp.gradients + fp.optimizer


# --------------------------------------------------------------------------- model states

@pytest.mark.parametrize("stage, expected_gb", [
    # Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
    # SC20, Figure 1 / section 5: Psi = 7.5B, Nd = 64, K = 12 (mixed-precision Adam):
    # baseline (2 + 2 + K) Psi = 120 GB; Pos: 4 Psi + K Psi / Nd = 31.4 GB;
    # Pos+g: 2 Psi + (2 + K) Psi / Nd = 16.6 GB; Pos+g+p: (2 + 2 + K) Psi / Nd = 1.9 GB.
    (0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_worked_example(stage, expected_gb):
    fp = footprint(_model(7.5e9), zero=stage, dp=64)
    assert _states(fp) / 1e9 == pytest.approx(expected_gb, abs=0.05)


@pytest.mark.parametrize("optimizer, weight_dtype, bytes_per_param", [
    ("adam", "fp16", 16),          # ZeRO section 3.1: 2 (fp16 weights) + 2 (fp16 grads) + 12 (fp32 copy, m, v)
    ("adamw", "bf16", 16),
    ("adam", "fp32", 16),          # fp32 training: 4 + 4 + 8 (m, v), no master copy
    ("sgd", "fp16", 8),            # 2 + 2 + 4 (master)
    ("sgd-momentum", "fp16", 12),  # 2 + 2 + 4 + 4 (momentum)
    ("sgd-momentum", "fp32", 12),  # 4 + 4 + 4
    ("adahessian", "fp16", 16),    # 2 + 2 + 4 + 8 (m and the Hessian-diagonal second moment)
])
def test_bytes_per_parameter(optimizer, weight_dtype, bytes_per_param):
    fp = footprint(_model(1e9, weight_dtype), optimizer=optimizer)
    assert _states(fp) == pytest.approx(bytes_per_param * 1e9)


def test_adahessian_keeps_its_estimate_and_probe_live():
    # the fp32 Hessian-diagonal estimate (4 B) and the fp16 Rademacher probe (2 B) per parameter
    assert footprint(_model(1e9), optimizer="adahessian").other == pytest.approx(6e9)


def test_adafactor_factors_each_weight_matrix():
    # one 1000 x 3000 weight (k x n) and a 500-parameter vector (a norm's scale):
    # row + column statistics 1000 + 3000 = 4000, the vector keeps 500: (4000 + 500) x 4 B
    op = kinds.gemm("w", 16, 3000, 1000, dtype="fp16")
    wl = Workload("a", (op, kinds.gemm("b", 8, 8, 8, phase="backward")), params=(("weight_dtype", "fp16"),),
                  parameters=3_000_500)
    fp = footprint(wl, optimizer="adafactor")
    master = 3_000_500 * 4
    assert fp.optimizer == pytest.approx(master + 4500 * 4)


def test_mixed_precision_master_weights_can_be_turned_off():
    assert footprint(_model(1e9), optimizer="adam", master_weights=False).optimizer == pytest.approx(8e9)


def test_tensor_and_pipeline_parallelism_divide_the_model_states():
    # 16 B x 1e9 / (tp 8 x pp 4) = 0.5 GB
    assert _states(footprint(_model(1e9), tp=8, pp=4)) == pytest.approx(0.5e9)


# --------------------------------------------------------------------------- activations

# Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models" (MLSys 2023,
# arXiv:2205.05198), Table 2, activation bytes per layer: no parallelism sbh(34 + 5as/h); tensor
# parallel sbh(10 + 24/t + 5as/(ht)); tensor + sequence parallel sbh/t (34 + 5as/h); tensor + sequence
# parallel + selective recomputation 34 sbh/t; full recomputation 2sbh. Their Table 3 configurations:
# (a, h, t) with s = 2048, micro-batch b.
KORTHIKANTI = {"22B": (64, 6144, 8, 4), "175B": (96, 12288, 8, 1), "530B": (128, 20480, 8, 1), "1T": (160, 25600, 8, 1)}


@pytest.mark.parametrize("model", sorted(KORTHIKANTI))
def test_korthikanti_table2_formulas(model):
    a, h, t, b = KORTHIKANTI[model]
    s = 2048
    sbh = s * b * h
    act = lambda **kw: transformer_layer_activations(s, b, h, a, **kw)
    total = lambda p: p["replicated"] + p["split"] + p["attention"]
    assert total(act()) == pytest.approx(sbh * (34 + 5 * a * s / h))
    assert total(act(t=t)) == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)))
    assert total(act(t=t, sp=True)) == pytest.approx(sbh / t * (34 + 5 * a * s / h))
    sel = act(t=t, sp=True)
    assert sel["replicated"] + sel["split"] == pytest.approx(34 * sbh / t)
    assert act()["input"] == pytest.approx(2 * sbh)


def test_korthikanti_175b_numbers_by_hand():
    # s = 2048, b = 1, h = 12288: sbh = 25,165,824; 5as/h = 5 * 96 * 2048 / 12288 = 80
    # no parallelism: 114 sbh = 2,868,903,936 B; TP 8: (10 + 3 + 10) sbh = 578,813,952 B
    p = transformer_layer_activations(2048, 1, 12288, 96)
    assert p["replicated"] + p["split"] + p["attention"] == 2_868_903_936
    p = transformer_layer_activations(2048, 1, 12288, 96, t=8)
    assert p["replicated"] + p["split"] + p["attention"] == 578_813_952


def test_gpt3_first_pipeline_stage_holds_every_layer_once():
    # Korthikanti et al. section 4.2.3: with 1F1B the first stage keeps p micro-batches of L/p layers,
    # i.e. L layers' worth: 96 x 34 sbh / t = 96 x 34 x 25,165,824 / 8 = 10,267,656,192 B with selective
    # recomputation, plus the embedding dropout mask sbh/t per micro-batch in flight (8 x 3,145,728).
    wl = get_workload("gpt3-175b", overrides={"attention": "unfused"})
    fp = footprint(wl, tp=8, sp=True, pp=8, checkpoint="selective")
    assert fp.activations == pytest.approx(10_267_656_192 + 8 * 3_145_728)
    full = footprint(wl, tp=8, sp=True, pp=8, checkpoint="full")
    # full recomputation keeps the layer input 2sbh/t per layer: 96 x 2 x 25,165,824 / 8 + masks
    assert full.activations == pytest.approx(603_979_776 + 8 * 3_145_728)
    assert full.recompute_flops > fp.recompute_flops > 0


def test_checkpoint_schedules_trade_memory_for_recompute():
    wl = get_workload("gpt3-175b", overrides={"attention": "unfused"})
    none, sqrt, every4 = (footprint(wl, checkpoint=c, checkpoint_every=4) for c in ("none", "sqrt", "every-k"))
    p = transformer_layer_activations(2048, 1, 12288, 96)
    layer, inp = p["replicated"] + p["split"] + p["attention"], p["input"]
    # every 4 of 96 layers: 24 checkpoints kept, 4 layers recomputed at once
    assert every4.activations - none.activations == pytest.approx(24 * inp - 96 * layer)
    assert every4.other == pytest.approx(4 * layer)
    # sqrt(96) ~ 10: ceil(96 / 10) = 10 checkpoints, 10 layers live while recomputing
    assert sqrt.other == pytest.approx(10 * layer)
    assert sqrt.recompute_flops == every4.recompute_flops > 0 == none.recompute_flops


def test_flash_attention_stores_no_score_matrix():
    a = transformer_layer_activations(2048, 1, 4096, 32, flash=True)
    assert a["attention"] == 0
    # Q, K, V, O: 4 x 2sbh, the 4h GELU FFN in and out 16 sbh, fp32 statistics 4 a s b
    assert a["split"] == pytest.approx(24 * 2048 * 4096 + 4 * 32 * 2048)


# --------------------------------------------------------------------------- serving

def test_llama2_70b_kv_cache_by_hand_and_does_not_fit_on_one_h100():
    # GQA: 2 (K, V) x 80 layers x 8 KV heads x 128 x 2 B = 327,680 B per token; 4096 tokens of context
    wl = get_workload("llama2-70b")
    fp = footprint(wl, get_hardware("h100"))
    assert fp.kv_cache == 327_680 * 4096
    # 68,976,648,192 parameters x 2 B (bf16) = 137,953,296,384 B > 80 GiB = 85,899,345,920 B
    assert fp.weights == 137_953_296_384
    assert fp.capacity == 80 * 2**30 and fp.fits is False
    assert fp.excess == pytest.approx(fp.total - 80 * 2**30)
    # Tensor parallelism over 8 devices: weights / 8, one KV head each
    tp8 = footprint(wl, get_hardware("h100"), tp=8)
    assert tp8.weights == 137_953_296_384 / 8 and tp8.kv_cache == 327_680 * 4096 / 8 and tp8.fits


def test_kv_heads_are_replicated_beyond_their_count():
    # 8 KV heads over 16 devices: one head each (half the heads are copies), 1/8 of the cache
    wl = get_workload("llama2-70b")
    assert footprint(wl, tp=16).kv_cache == 327_680 * 4096 / 8


def test_quantisation_with_group_scales():
    # int4 with one fp16 scale per 128 weights: 0.5 + 2 / 128 = 0.515625 B per weight
    assert quantised_bytes("int4", 128) == 0.515625
    assert quantised_bytes("fp8") == 1.0
    wl = get_workload("llama2-70b")
    fp = footprint(wl, weight_dtype="int4", kv_dtype="fp8")
    assert fp.weights == pytest.approx(68_976_648_192 * 0.515625)
    assert fp.kv_cache == pytest.approx(327_680 * 4096 / 2)     # fp8 KV: half of bf16


@pytest.mark.parametrize("fmt, expected", [
    ("structured", 0.5 * 2),              # half the channels gone, no index
    ("2:4", 0.5 * (2 + 0.25)),            # half the values, 2 bits of index per kept value
    ("csr", 0.5 * (2 + 4)),               # int32 column index per kept value
    ("bitmask", 0.5 * 2 + 1 / 8),         # one bit per dense element
])
def test_pruning_formats_pay_their_index(fmt, expected):
    assert pruned_bytes(2.0, 0.5, fmt) == pytest.approx(expected)


def test_offload_moves_bytes_to_the_host_and_charges_its_link():
    from roofsim.memory import offload_time_s
    h100 = get_hardware("h100")
    wl = get_workload("llama2-70b")
    fp = footprint(wl, h100, offload=("weights",))
    assert fp.weights == 0 and dict(fp.offloaded)["weights"] == 137_953_296_384
    assert fp.offload_tier == "host" and fp.fits
    # every decode step streams the weights over PCIe 5 (64 GB/s per direction x 0.85 efficiency)
    assert offload_time_s(fp, h100) == pytest.approx(137_953_296_384 / (64e9 * 0.85))


def test_offload_needs_a_far_tier():
    from dataclasses import replace
    hw = get_hardware("h100")
    bare = replace(hw, memory=hw.memory[:-1])    # no host tier
    with pytest.raises(SpecError, match="a far tier"):
        footprint(get_workload("llama2-70b"), bare, offload=("weights",))


# --------------------------------------------------------------------------- other workloads

def test_non_transformer_training_keeps_its_forward_outputs():
    # gemm 64x32x16 fp32 writes C = 64*32*4 = 8192 B; the activation (elementwise) writes 64*32*4 = 8192 B
    ops = (kinds.gemm("fc", 64, 32, 16, dtype="fp32"), kinds.elementwise("relu", 64 * 32, dtype="fp32"),
           kinds.gemm("fc.bwd", 64, 32, 16, dtype="fp32", phase="backward"))
    wl = Workload("mlp", ops)
    assert footprint(wl).activations == 16384
    assert footprint(wl, checkpoint="selective").activations == 8192     # the relu output is recomputed
    # parameters from the weight tensor: 16*32 fp32 = 2048 B; Adam fp32: 4 + 4 + 8 per parameter
    fp = footprint(wl, optimizer="adam")
    assert fp.parameters == 512 and _states(fp) == 512 * 16


def test_dlrm_tables_count_as_weights():
    # MLPerf DLRM-DCNv2 on one device: 204,184,588 rows x 128 fp32 = 104,542,509,056 B of tables,
    # plus the MLP and cross-layer weights (16,044,545 parameters with biases, 4 B each)
    fp = footprint(get_workload("dlrm", overrides={"devices": 1, "phase": "inference"}))
    assert 204_184_588 * 512 < fp.weights < 204_184_588 * 512 + 16_044_545 * 4


# --------------------------------------------------------------------------- placement

def test_place_spills_in_order():
    h100 = get_hardware("h100")   # hbm 80 GiB, then host (no capacity in the spec)
    p = place({"weights": 60 * 2**30, "kv": 30 * 2**30}, h100)
    assert p.tiers == ("hbm", "host")
    assert p.tiers_of("weights") == {"hbm": 60 * 2**30}
    assert p.tiers_of("kv") == {"hbm": 20 * 2**30, "host": 10 * 2**30}
    assert p.bytes_in("hbm") == 80 * 2**30 and p.fits and "no capacity" in p.notes[0]


def test_place_reports_what_no_tier_holds():
    hw = derive(get_hardware("h100"), {"memory.host.capacity": "1 GiB"}, id="t", name="t", kind="gpu", source="t")
    p = place({"a": 81 * 2**30 + 5}, hw)
    assert p.tiers_of("a") == {"hbm": 80 * 2**30, "host": 2**30} and p.unplaced == (("a", 5.0),) and not p.fits


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "1 GB", None, True])
def test_place_rejects_bad_sizes(bad):
    with pytest.raises(SpecError):
        place({"x": bad}, get_hardware("h100"))


@pytest.mark.parametrize("kwargs", [
    {"optimizer": "lion"}, {"zero": 4}, {"zero": True}, {"dp": 0}, {"tp": 2.5}, {"checkpoint": "half"},
    {"offload": ("disk",)}, {"offload": "weights"}, {"weight_dtype": "int3"}, {"sparsity": 1.0},
    {"sparsity": math.nan}, {"group_size": 0}, {"sp": "yes"}, {"microbatches": -1}, {"interleave": 10**0 - 1}])
def test_bad_techniques_are_spec_errors(kwargs):
    with pytest.raises(SpecError):
        footprint(_model(1e9), **kwargs)


def test_unknown_technique_is_rejected():
    with pytest.raises(SpecError, match="unknown option 'zero_stage'"):
        footprint(_model(1e9), zero_stage=3)


def test_expert_parallelism_divides_the_experts():
    # Mixtral 8x7B: 32 layers x 8 experts x 3 x 4096 x 14336 = 45,097,156,608 expert parameters of
    # 46,702,792,704; over ep 8 a device keeps 1/8 of them: 46,702,792,704 - 7/8 x 45,097,156,608 =
    # 7,242,780,672 parameters, x 2 B (bf16)
    fp = footprint(get_workload("mixtral-8x7b"), ep=8)
    assert fp.parameters == 7_242_780_672 and fp.weights == 2 * 7_242_780_672


def test_graph_features_are_stored_input_data_not_trained_weights():
    """GraphSAGE on ogbn-products (workloads/gnn-sage-products.yaml): the 2.45 M x 100 fp32 node
    feature table is gathered from but never trained, so it is neither weights nor gradients nor
    optimizer state; the device still stores it (``other``)."""
    fp = footprint(get_workload("gnn-sage-products"), get_hardware("a100"))
    # SAGE layers hold W_self and W_neigh (d_in x d_out each), widths 100 -> 256 -> 256 -> 47:
    # 2*100*256 + 2*256*256 + 2*256*47 = 51,200 + 131,072 + 24,064 = 206,336 parameters, fp32
    params = 2 * 100 * 256 + 2 * 256 * 256 + 2 * 256 * 47
    assert fp.weights == pytest.approx(params * 4)
    assert fp.gradients == pytest.approx(params * 4)          # one fp32 gradient per parameter
    assert fp.optimizer == pytest.approx(params * 8)          # Adam: two fp32 moments
    # ogbn-products features: 2,449,029 nodes x 100 x 4 B = 979,611,600 B, held as input data; a
    # training step of a non-Transformer has no other workspace, so that is all of 'other'
    assert fp.other == 2_449_029 * 100 * 4
    # serving the same model stores the same features and weights, and no gradients
    serve = footprint(get_workload("gnn-sage-products", overrides={"phase": "inference"}), get_hardware("a100"))
    assert (serve.weights, serve.gradients) == (params * 4, 0.0)
    assert serve.other >= 2_449_029 * 100 * 4
