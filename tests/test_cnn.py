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
