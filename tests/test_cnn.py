"""conv2d, pooling, batch norm and the cnn builder (ResNet-50, MobileNetV2) against published counts."""
import math

import pytest

from roofsim.errors import SpecError
from roofsim.ops import kinds
from roofsim.ops.cnn import build_cnn, cnn_ops
from roofsim.traffic import dense_bytes
from roofsim.workloads import get_workload


def forward_macs(model):
    ops, params = cnn_ops(model, batch=1, dtype="fp32")
    return sum(op.total_flops for op in ops if op.kind in ("conv2d", "gemm")) / 2, params


def test_resnet50_parameters_and_flops_per_image():
    macs, params = forward_macs("resnet50")
    # torchvision.models.resnet50 (v1.5): 25,557,032 parameters; 4.09 GMAC ("4.09 GFLOPS") per 224x224 image
    assert params == 25_557_032
    assert macs / 1e9 == pytest.approx(4.09, abs=0.005)
    assert 2 * macs / 1e9 == pytest.approx(8.18, abs=0.01)     # = 8.2 GFLOP


def test_mobilenet_v2_parameters_and_flops_per_image():
    macs, params = forward_macs("mobilenet_v2")
    # torchvision.models.mobilenet_v2: 3,504,872 parameters; 0.30 GMAC per image (Sandler et al.: 300M)
    assert params == 3_504_872
    assert macs / 1e6 == pytest.approx(300, rel=0.01)


# torchvision's model table ("Params", "GFLOPS" = multiply-adds of convolutions and linear layers per
# 224x224 image), https://pytorch.org/vision/stable/models.html
TORCHVISION = {
    "alexnet": (61_100_840, 0.71), "vgg19": (143_667_240, 19.63), "resnet152": (60_192_808, 11.51),
    "resnext101_64x4d": (83_455_272, 15.46), "densenet201": (20_013_928, 4.29),
}


@pytest.mark.parametrize("model", sorted(TORCHVISION))
def test_torchvision_parameters_and_macs(model):
    macs, params = forward_macs(model)
    assert params == TORCHVISION[model][0]
    assert macs / 1e9 == pytest.approx(TORCHVISION[model][1], abs=0.005)


def test_alexnet_2012_parameters_and_first_layers_by_hand():
    # Krizhevsky et al. 2012 (Figure 2) on 227x227 crops, the two towers as groups of 2:
    # conv1 96 x 3 x 11 x 11 + 96 = 34,944; conv2 256 x 48 x 5 x 5 + 256 = 307,456;
    # conv3 384 x 256 x 9 + 384 = 885,120; conv4 384 x 192 x 9 + 384 = 663,936; conv5 256 x 192 x 9 + 256 = 442,624;
    # fc 9216 x 4096 + 4096 = 37,752,832, 4096 x 4096 + 4096 = 16,781,312, 4096 x 1000 + 1000 = 4,097,000
    # = 60,965,224 (Caffe's bvlc_alexnet has the same count)
    ops, params = cnn_ops("alexnet_2012", batch=1, image=227, dtype="fp32")
    assert params == 34_944 + 307_456 + 885_120 + 663_936 + 442_624 + 37_752_832 + 16_781_312 + 4_097_000 \
        == 60_965_224
    by = {op.name: op for op in ops}
    # conv1: (227 - 11) / 4 + 1 = 55; LRN over 96 x 55 x 55, 2 x 5 + 4 FLOPs per element
    assert by["norm1"].total_flops == 14 * 96 * 55 * 55
    # conv2 has 2 groups: 2 x 256 x 27 x 27 x (96 / 2) x 25 FLOPs
    assert by["conv2"].total_flops == 2 * 256 * 27 * 27 * 48 * 25
    assert "norm1.grad" not in by      # inference: no backward, and no dropout
    assert not any(op.kind == "dropout" for op in ops)


def test_dropout_stores_a_byte_mask_and_max_pool_its_indices():
    # training dropout on 4096 fp32 values: output 4 x 4096 B and mask 1 x 4096 B
    d = kinds.dropout("d", 4096, "fp32")
    assert [t.bytes for t in d.writes] == [4 * 4096, 4096] and d.total_flops == 2 * 4096
    # a training max pool keeps an int64 argmax per output (PyTorch): 64 x 56 x 56 x 8 B beside the output
    p = kinds.pool2d("p", 1, 64, 112, 112, 3, 3, stride=2, padding=1, dtype="fp32", indices=True)
    assert [t.bytes for t in p.writes] == [64 * 56 * 56 * 4, 64 * 56 * 56 * 8]


def test_dense_concat_copies_every_earlier_map():
    # DenseNet-201's first block: 64 input channels + 6 layers of growth 32 = 256 channels at 56 x 56;
    # its closing concatenation reads the 7 pieces and writes one 256-channel tensor (a copy: no FLOPs)
    ops, _ = cnn_ops("densenet201", batch=1, dtype="fp16")
    cat = next(op for op in ops if op.name == "features.denseblock1.cat")
    assert cat.total_flops == 0 and cat.write_bytes == 256 * 56 * 56 * 2 == cat.read_bytes
    # the 6th layer's input concatenation holds 64 + 5 x 32 = 224 channels
    six = next(op for op in ops if op.name == "features.denseblock1.layer6.cat")
    assert six.write_bytes == 224 * 56 * 56 * 2
    with pytest.raises(SpecError):
        kinds.concat("c", ())
    with pytest.raises(SpecError):
        kinds.concat("c", (4, 0.5))


def test_resnext_groups_the_3x3_convolution():
    # ResNeXt-101 64x4d, first stage: width 64 x 4 / 64 x 64 = 256 channels in 64 groups of 4;
    # a 3x3 on 56 x 56: 2 x 56 x 56 x 256 x 4 x 9 FLOPs per image (1/64 of a dense 256 -> 256)
    ops, _ = cnn_ops("resnext101_64x4d", batch=1, dtype="fp16")
    conv = next(op for op in ops if op.name == "layer1.1.conv2")
    assert dict(conv.shape)["groups"] == 64
    assert conv.total_flops == 2 * 56 * 56 * 256 * 4 * 9


def test_named_workloads_load_and_batch_scales():
    wl = get_workload("resnet50")
    assert wl.parameters == 25_557_032 and dict(wl.params)["phase"] == "training"
    fwd = sum(op.total_flops for op in wl.ops if op.phase == "forward" and op.kind in ("conv2d", "gemm"))
    assert fwd == pytest.approx(256 * 2 * 4.089184256e9, rel=1e-9)
    inf = get_workload("mobilenet-v2")
    assert all(op.phase == "forward" for op in inf.ops)


def test_conv_flops_exact_for_strided_grouped_dilated_cases():
    # 3x3, stride 2, pad 1 on 56x56: P = Q = (56 + 2 - 2 - 1) // 2 + 1 = 28
    op = kinds.conv2d("c", n=2, c=64, h=56, w=56, k=128, r=3, s=3, stride=2, padding=1)
    assert op.total_flops == 2 * 2 * 128 * 28 * 28 * 64 * 9
    # depthwise (groups = C = K): 2 N C P Q R S, on the vector units
    dw = kinds.conv2d("dw", 1, 32, 112, 112, 32, 3, 3, 1, 1, groups=32)
    assert dw.total_flops == 2 * 32 * 112 * 112 * 9 and dw.flops[0].unit == "vector"
    # pointwise: a plain GEMM N H W x C x K
    pw = kinds.conv2d("pw", 1, 32, 112, 112, 16, 1, 1)
    assert pw.total_flops == 2 * 112 * 112 * 32 * 16
    # dilation 2 widens a 3x3 window to 5x5: P = (20 - 4 - 1) + 1 = 16
    dl = kinds.conv2d("dl", 1, 8, 20, 20, 8, 3, 3, dilation=2)
    assert dict(dl.shape)["dilation"] == 2 and dl.total_flops == 2 * 8 * 16 * 16 * 8 * 9


@pytest.mark.parametrize("pass_", ["forward", "dgrad", "wgrad"])
def test_conv_traffic_counts_the_tensors_not_an_im2col_copy(pass_):
    op = kinds.conv2d("c", n=8, c=64, h=56, w=56, k=64, r=3, s=3, padding=1, dtype="fp16", pass_=pass_)
    a = op.access
    ab, bb, cb = a.stored_bytes_per_element()
    # with room for everything (infinite capacity = nan: compulsory), traffic = input + weights + output
    x, wt, y = 8 * 64 * 56 * 56 * 2, 64 * 64 * 9 * 2, 8 * 64 * 56 * 56 * 2
    got = dense_bytes(a.m, a.n, a.k, ab, bb, cb, float("nan")) * a.batch
    assert got == pytest.approx(x + wt + y)
    assert got == pytest.approx(op.read_bytes + op.write_bytes)
    im2col = 8 * 56 * 56 * 64 * 9 * 2    # what an explicit im2col would materialise: 9x the input
    assert got < im2col


def test_conv_traffic_rereads_the_input_per_filter_tile():
    # a tile of 4096 output elements (8 KiB of fp16, 16 KiB capacity at the tile fraction) for
    # M = 8*56*56 = 25088 rows x N = 256 filters: square tiles of 64 x 64 -> ceil(256 / 64) = 4
    # passes over the input (and ceil(25088 / 64) = 392 over the small weights)
    op = kinds.conv2d("c", n=8, c=64, h=56, w=56, k=256, r=1, s=1, dtype="fp16")
    a = op.access
    ab, bb, cb = a.stored_bytes_per_element()
    got = dense_bytes(a.m, a.n, a.k, ab, bb, cb, 8192.0)
    x, wt, y = 8 * 64 * 56 * 56 * 2, 64 * 256 * 2, 8 * 256 * 56 * 56 * 2
    assert got == pytest.approx(4 * x + 392 * wt + y)


def test_pooling_and_batchnorm_bytes():
    p = kinds.pool2d("p", 1, 64, 112, 112, 3, 3, stride=2, padding=1)
    # 56 x 56 outputs per channel, 9 compares each; reads 112^2 x 64 x 2 B, writes 56^2 x 64 x 2 B
    assert p.total_flops == 64 * 56 * 56 * 9
    assert (p.read_bytes, p.write_bytes) == (64 * 112 * 112 * 2, 64 * 56 * 56 * 2)
    bn = kinds.batchnorm("bn", 2, 8, 4, 4, "fp32", training=True)
    # training reads the input twice (statistics, normalise): 2 x 256 x 4 B, + gamma/beta 2 x 8 x 4 B
    assert bn.read_bytes == 2 * 256 * 4 + 64 and bn.write_bytes == 256 * 4


@pytest.mark.parametrize("kw,path", [
    (dict(groups=3), "c.groups"), (dict(stride=0), "c.stride"), (dict(padding=-1), "c.padding"),
    (dict(r=99), "c.padding"), (dict(n=1.5), "c.n"), (dict(c=True), "c.c"),
])
def test_bad_conv_shapes(kw, path):
    args = dict(name="c", n=1, c=8, h=16, w=16, k=8, r=3, s=3)
    with pytest.raises(SpecError) as e:
        kinds.conv2d(**{**args, **kw})
    assert path in [p.path for p in e.value.problems]


@pytest.mark.parametrize("params,path", [
    ({"model": "vgg"}, "model"), ({"batch": 0}, "batch"), ({"batch": 2 ** 40}, "batch"),
    ({"image": 8}, "image"), ({"dtype": "fp17"}, "dtype"), ({"depth": 50}, "depth"),
    ({"phase": "decode"}, "phase"), ({"batch": float("nan")}, "batch"),
])
def test_bad_cnn_params(params, path):
    with pytest.raises(SpecError) as e:
        build_cnn(**params)
    assert path in [p.path for p in e.value.problems]


def test_conv_is_compute_bound_and_bn_memory_bound_on_an_a100():
    from roofsim.api import run
    df = run("a100", "resnet50").set_index("op")
    # a 3x3 convolution at batch 256: ~116 GFLOP on ~100 MB, far right of the ridge
    assert df.loc["layer2.1.conv2", "bound"] == "compute"
    # batch norm: 8 FLOPs per 6 bytes (fp16, input read twice + output): memory-bound
    assert df.loc["layer2.1.conv2.bn", "bound"].startswith("memory:")


@pytest.mark.parametrize("make", [
    lambda: kinds.lrn("l", 0, 96, 55, 55), lambda: kinds.lrn("l", 1, 96, 55, 55, size=0),
    lambda: kinds.lrn("l", 1, 96.5, 55, 55), lambda: kinds.lrn("l", 1, 96, 55, float("nan")),
    lambda: kinds.lrn("l", 1, 96, 55, 55, dtype="fp17"),
    lambda: kinds.dropout("d", 0), lambda: kinds.dropout("d", -4), lambda: kinds.dropout("d", float("inf")),
    lambda: kinds.dropout("d", 2 ** 60), lambda: kinds.dropout("d", True),
    lambda: kinds.concat("c", [4, 4]), lambda: kinds.concat("c", (4, -1)), lambda: kinds.concat("c", (4, "x")),
    lambda: kinds.pool2d("p", 1, 8, 4, 4, 5, 5, indices=True),      # a window larger than the map
])
def test_new_op_kinds_refuse_bad_shapes(make):
    with pytest.raises(SpecError):
        make()
