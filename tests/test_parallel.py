"""roofsim.parallel: per-device shapes, Megatron's collectives, the pipeline schedule, scaling."""
import pytest

from roofsim.errors import SpecError
from roofsim.hw import derive, get_hardware
from roofsim.parallel import Layout, per_device, scaled, step
from roofsim.workloads import get_workload


def _op(work, name):
    return next(op for op in work.microbatch.ops if op.name == name)


def test_llama2_70b_decode_tp8_shapes_and_collectives():
    work = per_device(get_workload("llama2-70b"), Layout(devices=8, tp=8))
    # 64 query heads / 8 = 8 heads of 128: q_proj [1, 8192] x [8192, 1024], once per layer (80)
    q = _op(work, "attn.q_proj")
    assert dict(q.shape)["n"] == 8 * 128 and dict(q.shape)["k"] == 8192 and q.count == 80
    # 8 KV heads / 8 = 1: kv_proj n = 2 x 1 x 128
    assert dict(_op(work, "attn.kv_proj").shape)["n"] == 256
    # FFN 28672 / 8 = 3584: gate_up n = 2 x 3584
    assert dict(_op(work, "ffn.gate_up").shape)["n"] == 7168
    # Megatron: 2 all-reduces per layer in the forward (80 layers) + the vocabulary-parallel embedding,
    # each of the 1 token x 8192 x 2 B hidden state
    ar = _op(work, "tp.all-reduce")
    assert ar.count == 2 * 80 + 1 and ar.access.bytes == 8192 * 2 and ar.access.participants == 8
    assert not work.step_ops and not work.training


def test_decode_on_eight_h100s_is_faster_than_the_one_that_does_not_fit():
    h100 = get_hardware("h100")
    wl = get_workload("llama2-70b")
    one, _ = step(h100, wl, Layout())
    eight, df = step(h100, wl, Layout(devices=8, tp=8))
    # the weights stream from HBM 8x in parallel; the all-reduces add back a little
    assert one.total_s / 8 < eight.total_s < one.total_s / 4
    assert eight.communication_s > 0 and (df["kind"] == "collective").any()


def test_sequence_parallelism_splits_the_replicated_work():
    wl = get_workload("gpt3-175b")
    plain = per_device(wl, Layout(devices=8, tp=8))
    sp = per_device(wl, Layout(devices=8, tp=8, sp=True))
    # layer norms run on all 2048 tokens on every rank without sp, on 2048 / 8 with it
    assert _op(sp, "attn.norm").total_flops == pytest.approx(_op(plain, "attn.norm").total_flops / 8)
    # the GEMMs are the same; the all-reduce becomes an all-gather and a reduce-scatter of equal size
    assert _op(sp, "attn.q_proj").total_flops == _op(plain, "attn.q_proj").total_flops
    ag, rs, ar = _op(sp, "tp.all-gather"), _op(sp, "tp.reduce-scatter"), _op(plain, "tp.all-reduce")
    assert ag.count == rs.count == ar.count and ag.access.bytes == ar.access.bytes == 2048 * 12288 * 2


def test_full_recomputation_repeats_the_forward_collectives():
    full = per_device(get_workload("gpt3-175b", overrides={"recompute": "full"}), Layout(devices=8, tp=8))
    sel = per_device(get_workload("gpt3-175b", overrides={"recompute": "selective"}), Layout(devices=8, tp=8))
    # per layer 2 forward + 2 backward (+ 2 recomputed forward) all-reduces, 96 layers, + embedding and head
    assert _op(sel, "tp.all-reduce").count == 4 * 96 + 2
    assert _op(full, "tp.all-reduce").count == 6 * 96 + 2


# Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models", arXiv:2205.05198
# (MLSys 2023), Table 5, GPT-3 175B row: iteration time on 64 A100s (TP 8, PP 8, micro-batch 1, global
# batch 64, sequence 2048) with full recomputation (their baseline: tensor and pipeline parallelism,
# no sequence parallelism) and with the present work (sequence parallelism + selective
# recomputation); throughput increase 31.8%, MFU 51.4%, HFU 52.8%.
# Provenance of the transcription: the times are quoted from the paper's Table 5; the stored corpus
# searched on 2026-12-01 held no copy of the table itself, only a reading note of the paper giving the
# four throughput increases (22B 29.0%, 175B 31.8%, 530B 29.7%, 1T 32.1%), so the first test below
# checks the quoted times against that 31.8% and against the MFU the paper's own FLOP formula gives.
TABLE5_FULL_S, TABLE5_PRESENT_S, TABLE5_MFU, TABLE5_HFU = 18.13, 13.75, 0.514, 0.528


def _korthikanti_flops(recompute_attention: bool) -> float:
    """Their Appendix A: model FLOPs of a step 72 B s l h^2 (1 + s/6h + V/12lh); selective
    recomputation adds the attention core's forward once more, s/6h -> s/3h (hardware FLOPs).
    Megatron pads GPT-3's vocabulary 50257 to 51200 (a multiple of 128 x TP 8)."""
    B, s, l, h, V = 64, 2048, 96, 12288, 51200
    return 72 * B * s * l * h**2 * (1 + s / ((3 if recompute_attention else 6) * h) + V / (12 * l * h))


def test_table5_figures_are_consistent_with_each_other():
    # the transcription checks itself: 18.13 / 13.75 = 1.3185 (31.8%); model FLOPs 1.4108e17 per step
    # / (13.75 s x 64 x 312 TFLOP/s dense fp16) = 51.4%; with the recomputed attention core 52.8%
    assert TABLE5_FULL_S / TABLE5_PRESENT_S - 1 == pytest.approx(0.318, abs=0.001)      # 31.85%, printed 31.8
    peak = 64 * 312e12
    assert _korthikanti_flops(False) / (TABLE5_PRESENT_S * peak) == pytest.approx(TABLE5_MFU, abs=0.0005)
    assert _korthikanti_flops(True) / (TABLE5_PRESENT_S * peak) == pytest.approx(TABLE5_HFU, abs=0.001)


def test_megatron_gpt3_175b_on_64_a100s_against_korthikanti_table5():
    """roofsim against Table 5 (above): 64 micro-batches through 8 stages of 1F1B; full recomputation
    adds one forward of every layer (~1/3 more work) and its all-reduces, selective only the attention
    core. With the catalogue's A100 (fitted: fp16 compute 0.789, HBM 0.798; links 0.80 by default), on
    2026-12-02 (A100 fitted): present work 13.30 s against 13.75 s (-3.3%), full recomputation without sequence
    parallelism 18.67 s against 18.13 s (+3.0%), so a throughput gain of 40.3% against 31.8%, and
    MFU 53.1% against 51.4%. (Full recomputation with sequence parallelism, which Table 5 does not
    run, comes out at 17.52 s.)

    Tolerance 5% on each time: the step is ~75% GEMM time at one compute efficiency (0.80, the
    default, not fitted to any A100 GEMM measurement: the A100's only published kernel times are
    norms) and a 5% error in it moves the step ~4%; the paper's times are single runs. The gain
    is checked to within 10 points because it is a ratio of the two, and roofsim's is 8 points larger:
    its full-recomputation step adds 3.19 s of compute (one more forward), 0.68 s of memory-bound
    time (norms, dropouts, softmax on all tokens on every rank without sequence parallelism, and
    recomputed), 0.89 s of exposed tensor-parallel communication (6 all-reduces per layer; roofsim
    overlaps none of it) and 0.52 s of bubble; the paper does not break its 4.38 s down. What roofsim leaves out:
    kernel-launch gaps, pipeline-flush jitter, the optimizer's imbalance across stages; what it
    assumes: NCCL-like collectives on 300 GB/s NVLink and 25 GB/s HDR per GPU, unfused attention
    (Megatron's softmax kernels of 2022, no flash attention).
    """
    a100 = get_hardware("a100-sxm4-80gb")
    times = {}
    for rc, sp in (("selective", True), ("full", False)):
        wl = get_workload("gpt3-175b", overrides={"recompute": rc, "attention": "unfused"})
        st, _ = step(a100, wl, Layout(devices=64, tp=8, pp=8, sp=sp, microbatch=1, global_batch=64))
        assert st.microbatches == 64
        assert st.bubble_s == pytest.approx(7 * st.microbatch_s)      # (p - 1) micro-batch slots of 1F1B
        times[rc] = st.total_s
    assert times["selective"] == pytest.approx(TABLE5_PRESENT_S, rel=0.05)
    assert times["full"] == pytest.approx(TABLE5_FULL_S, rel=0.05)
    assert times["full"] / times["selective"] - 1 == pytest.approx(TABLE5_FULL_S / TABLE5_PRESENT_S - 1, abs=0.10)
    mfu = _korthikanti_flops(False) / (times["selective"] * 64 * 312e12)
    assert mfu == pytest.approx(TABLE5_MFU, abs=0.03)


def test_interleaving_shrinks_the_bubble():
    a100 = get_hardware("a100-sxm4-80gb")
    wl = get_workload("gpt3-175b")
    base = Layout(devices=64, tp=8, pp=8, microbatch=1, global_batch=64)
    plain, _ = step(a100, wl, base)
    inter, _ = step(a100, wl, Layout(devices=64, tp=8, pp=8, microbatch=1, global_batch=64, interleave=4))
    # Narayanan et al. 2021: the bubble is (p - 1) / v micro-batch slots
    assert inter.bubble_s == pytest.approx(7 / 4 * inter.microbatch_s)
    assert inter.bubble_s < plain.bubble_s


def test_data_parallel_scaling_becomes_communication_bound_and_a_faster_network_helps():
    h100 = get_hardware("h100")
    fast = derive(h100, {"interconnect.infiniband.bandwidth_per_direction": "200 GB/s"}, id="h100-fast-ib",
                  name="H100 with 4x InfiniBand", kind="gpu", source="what-if")
    wl = get_workload("gpt2-xl", overrides={"phase": "training", "seq": 1024})
    shares, gains = [], []
    for n in (8, 64, 512, 4096):
        layout = Layout(devices=n, microbatch=1, global_batch=4096)    # strong scaling
        st, _ = step(h100, wl, layout)
        st_fast, _ = step(fast, wl, layout)
        shares.append(st.communication_s / st.total_s)
        gains.append(st.total_s / st_fast.total_s)
    # at 4096 devices about half the step is communication (0.485 with the H100's fitted efficiencies
    # of hardware/h100-sxm5.yaml, whose slower compute hides a little more of it than the defaults did)
    assert shares == sorted(shares) and shares[0] < 0.05 and shares[-1] > 0.4
    # the all-reduce leaves the node past 8 devices: 4x the network bandwidth pays more and more
    assert gains[0] == pytest.approx(1.0) and gains[-1] > 1.2 and gains == sorted(gains)


def test_zero3_gathers_weights_every_micro_batch():
    wl = get_workload("gpt2-xl", overrides={"phase": "training"})
    work = per_device(wl, Layout(devices=16, zero=3, microbatch=1, global_batch=64))
    names = {op.name: op for op in work.step_ops}
    # 64 / 16 = 4 micro-batches, forward and backward: 8 all-gathers of the weight shard
    assert [(op.name, op.count) for op in work.gathers] == [("dp.zero3.all-gather", 8)]
    assert "dp.reduce-scatter" in names and "dp.all-reduce" not in names


def test_scaled_op_scales_work():
    op = _op(per_device(get_workload("gpt3-175b"), Layout()), "attn.norm")
    half = scaled(op, 0.5)
    assert half.total_flops == op.total_flops / 2 and half.read_bytes == op.read_bytes / 2


@pytest.mark.parametrize("kwargs, match", [
    ({"devices": 12, "tp": 8}, "a multiple of tp x pp"),
    ({"devices": 16, "tp": 8, "dp": 4}, "devices / \\(tp x pp\\)"),
    ({"devices": 0}, "an integer >= 1"),
    ({"devices": 8, "tp": 2.0}, "an integer >= 1"),
    ({"devices": 8, "sp": "yes"}, "true or false"),
    ({"devices": 8, "zero": 5}, "0, 1, 2 or 3"),
    ({"devices": 8, "interleave": 2}, "1 without pipeline"),
    ({"devices": 8, "ep": 3}, "a divisor of the data-parallel size"),
])
def test_bad_layouts(kwargs, match):
    with pytest.raises(SpecError, match=match):
        Layout(**kwargs)


def test_layout_must_divide_the_model():
    with pytest.raises(SpecError, match="a divisor of the 96 attention heads"):
        per_device(get_workload("gpt3-175b"), Layout(devices=64, tp=64))
    with pytest.raises(SpecError, match="a multiple of microbatch x dp"):
        per_device(get_workload("gpt3-175b"), Layout(devices=64, tp=8, microbatch=1, global_batch=12))
    with pytest.raises(SpecError, match="data parallelism only"):
        per_device(get_workload("dlrm"), Layout(devices=8, tp=8))


def test_zero3_moves_one_and_a_half_times_the_data_parallel_volume():
    # Rajbhandari et al. 2020, section 7.2: all-reduce 2 Psi per device; ZeRO-3 all-gathers the weights
    # for the forward and again for the backward and reduce-scatters the gradients: 3 Psi (1.5x).
    from roofsim.comm import ring_bytes_and_steps
    wl = get_workload("gpt2-xl", overrides={"phase": "training"})

    def volume(zero):
        work = per_device(wl, Layout(devices=16, zero=zero, microbatch=1, global_batch=16))
        return sum(ring_bytes_and_steps(op.access.collective, op.access.bytes, 16)[0] * op.count
                   for op in work.step_ops + work.gathers if op.kind == "collective")
    assert volume(3) == pytest.approx(1.5 * volume(0))
    assert volume(1) == pytest.approx(volume(0))        # stages 1 and 2: reduce-scatter + all-gather


def test_a_workload_with_its_own_communication_gets_no_second_sync():
    wl = get_workload("dlrm")
    work = per_device(wl, Layout(devices=8))
    assert not any(op.name.startswith("dp.") for op in work.step_ops)
    assert any("models its own communication" in n for n in work.notes)


def test_overlap_hides_pipeline_sends_behind_other_micro_batches():
    # GPT-3 175B, TP 8, PP 8, sp: each micro-batch sends its activations forward and its gradients
    # backward, 2048 x 12288 x 2 B / 8 (sp scatters them) = 6,291,456 B each, between stages 8 x 1 ranks
    # apart (another node): HDR InfiniBand 25 GB/s x 0.80 = 20 GB/s -> 314.57 us + 4 us step latency
    a100 = get_hardware("a100-sxm4-80gb")
    wl = get_workload("gpt3-175b", overrides={"recompute": "selective", "attention": "unfused"})
    base = dict(devices=64, tp=8, pp=8, sp=True, microbatch=1, global_batch=64)
    plain, df = step(a100, wl, Layout(**base))
    over, _ = step(a100, wl, Layout(**base, overlap=True))
    # (+ the A100 fit's per_call.default, ~0.0007 us per op: a fitted zero)
    p2p = 2 * (6_291_456 / 20e9 + 4e-6 + a100.efficiency.call_seconds("default"))   # 637.1 us per micro-batch
    assert float(df.loc[df["op"] == "pp.send-recv", "time_s"].sum()) == pytest.approx(p2p)
    # 186 ms of compute per micro-batch covers them: every steady-state send hides (64 of them);
    # the fill and drain still wait for every hop, so the bubble is unchanged
    assert over.hidden_communication_s == pytest.approx(64 * p2p)              # 40.8 ms
    assert over.total_s == pytest.approx(plain.total_s - 64 * p2p)
    assert over.bubble_s == plain.bubble_s and over.communication_s == pytest.approx(plain.communication_s - 64 * p2p)
    # tensor-parallel collectives stay exposed: the next op needs their result
    assert over.communication_s > 1.0


def test_overlap_prefetches_zero3_gathers_up_to_the_compute_of_each_pass():
    # GPT-2 XL (48 layers) with ZeRO-3 over 16 H100s, 4 micro-batches of 1: the weight shard is
    # all-gathered for every forward and every backward (8 gathers, total time G). Prefetching hides
    # all but the first layer's gather of each pass, G/2 x 47/48 per pass, each behind its own
    # phase's compute (4 micro-batches x its forward or backward time); the gradient reduce-scatter
    # hides behind the last backward.
    h100 = get_hardware("h100")
    wl = get_workload("gpt2-xl", overrides={"phase": "training"})
    base = dict(devices=16, zero=3, microbatch=1, global_batch=64)
    plain, df = step(h100, wl, Layout(**base))
    over, _ = step(h100, wl, Layout(**base, overlap=True))
    t = df.groupby(["scope", "phase"])["time_s"].sum()
    G = float(df.loc[df["op"] == "dp.zero3.all-gather", "time_s"].sum())
    rs = float(df.loc[df["op"] == "dp.reduce-scatter", "time_s"].sum())
    fwd, bwd = 4 * t["microbatch", "forward"], 4 * t["microbatch", "backward"]
    hidden = min(G / 2 * 47 / 48, fwd) + min(G / 2 * 47 / 48, bwd) + min(rs, bwd / 4)
    assert over.hidden_communication_s == pytest.approx(hidden)
    assert over.total_s == pytest.approx(plain.total_s - hidden)
    # on this machine the forward is the short pass: its compute, not the gathers, limits what hides
    assert fwd < G / 2 * 47 / 48 < bwd

    # with a 50x faster scale-up network every gather but the first layer's hides in both passes
    fast = derive(h100, {"interconnect.nvlink.bandwidth_per_direction": "22.5 TB/s"}, id="h100-fast-nvlink")
    plain_f, df_f = step(fast, wl, Layout(**base))
    over_f, _ = step(fast, wl, Layout(**base, overlap=True))
    G_f = float(df_f.loc[df_f["op"] == "dp.zero3.all-gather", "time_s"].sum())
    rs_f = float(df_f.loc[df_f["op"] == "dp.reduce-scatter", "time_s"].sum())
    assert over_f.hidden_communication_s == pytest.approx(G_f * 47 / 48 + rs_f)
    assert over_f.communication_s == pytest.approx(G_f / 48)        # the first layer's gather of each pass


def test_overlap_changes_nothing_for_inference_or_one_device():
    h100 = get_hardware("h100")
    wl = get_workload("llama2-70b")
    a, _ = step(h100, wl, Layout(devices=8, tp=8))
    b, _ = step(h100, wl, Layout(devices=8, tp=8, overlap=True))
    assert a == b


def test_overlap_streams_offloaded_state_a_layer_ahead():
    from roofsim.parallel import plan
    h100 = get_hardware("h100")
    # GPT-2 XL training, batch 8, optimizer states offloaded to host memory (ZeRO-Offload): every step
    # the fp16 gradients go down and the fp16 weights come back, 1,557,611,200 x (2 + 2) B = 6.23 GB over
    # PCIe 5 at 64 GB/s x 0.85 = 54.4 GB/s: 114.53 ms. With --overlap all but the first of the 48 layers'
    # share streams behind the step's compute (164 ms of it: enough to cover the rest). The transfer
    # also pays the fixed cost of one non-GEMM kernel in series (efficiency.per_call.default: unset in
    # the H100 file, whose measurements are all GEMMs, so 0 us).
    wl = get_workload("gpt2-xl", overrides={"phase": "training", "batch": 8})
    T = 1_557_611_200 * 4 / (64e9 * 0.85) + h100.efficiency.call_seconds("default")
    plain = plan(h100, wl, Layout(), offload=("optimizer",))
    over = plan(h100, wl, Layout(overlap=True), offload=("optimizer",))
    assert float(plain.frame.loc[plain.frame["op"] == "offload.optimizer", "time_s"].sum()) == pytest.approx(T)
    assert over.step.hidden_communication_s == pytest.approx(T * 47 / 48)
    assert over.step.total_s == pytest.approx(float(plain.frame["time_s"].sum()) - T * 47 / 48)

    # Llama-2 70B decode with its 138 GB of weights streamed from host: ~2.5 s of transfer against
    # 63 ms of compute: prefetching hides the compute behind the transfer, and the step takes the
    # transfer time alone (plain: transfer + compute)
    wl = get_workload("llama2-70b")
    plain = plan(h100, wl, Layout(), offload=("weights",))
    over = plan(h100, wl, Layout(overlap=True), offload=("weights",))
    t = plain.frame.set_index("op")["time_s"]
    T, decode = float(t["offload.weights"]), float(t.drop("offload.weights").sum())
    assert T > 30 * decode
    assert over.step.total_s == pytest.approx(T)
    assert over.step.hidden_communication_s == pytest.approx(decode)
