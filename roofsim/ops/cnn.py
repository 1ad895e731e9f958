"""Convolutional networks: the ``cnn`` builder (ResNet-50, MobileNetV2), training and inference.

A network is written once as a sequence of layers on a running (channels, height, width) shape;
``_Net`` turns each layer into its forward ops, and for training its backward ops (in reverse
order: input and weight gradients of every convolution but the first one's input gradient, batch
norm, pooling and the classifier) and one optimizer step over all parameters. Batch norm carries
the activation that follows it (fused, as cuDNN and XLA run them).

Shapes follow torchvision: ResNet-50 v1.5 (stride 2 on the 3x3 convolution of a bottleneck; He et
al. 2016, torchvision.models.resnet50: 25,557,032 parameters, 4.09 GMAC per 224x224 image) and
MobileNetV2 (Sandler et al. 2018, Table 2; torchvision.models.mobilenet_v2: 3,504,872 parameters,
0.30 GMAC).
"""
from __future__ import annotations

from typing import Any, Optional

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES, DTYPES
from . import kinds
from .from_doc import register_builder
from .op import Op, Workload
from .params import choice_param, int_param

MODELS = ("resnet50", "mobilenet_v2")
PHASES = ("training", "inference")


class _Net:
    """Accumulates the ops and parameters of a network while its layers are declared."""

    def __init__(self, batch: int, c: int, h: int, w: int, dtype: str, training: bool):
        self.n, self.shape, self.dtype, self.training = batch, (c, h, w), dtype, training
        self.fwd: list[Op] = []
        self.bwd: list[Op] = []
        self.params = 0
        self.first_conv = True

    def conv(self, name: str, k: int, r: int, stride: int = 1, groups: int = 1, bn: bool = True) -> None:
        c, h, w = self.shape
        pad = (r - 1) // 2
        args = (self.n, c, h, w, k, r, r, stride, pad, 1, groups, self.dtype)
        self.fwd.append(kinds.conv2d(name, *args))
        p, q = kinds.conv_output(h, r, stride, pad, 1), kinds.conv_output(w, r, stride, pad, 1)
        self.params += k * (c // groups) * r * r
        back = [kinds.conv2d(f"{name}.wgrad", *args, pass_="wgrad")]
        if not self.first_conv:      # the image needs no gradient
            back.insert(0, kinds.conv2d(f"{name}.dgrad", *args, pass_="dgrad"))
        self.first_conv = False
        self.shape = (k, p, q)
        if bn:
            self.fwd.append(kinds.batchnorm(f"{name}.bn", self.n, k, p, q, self.dtype, self.training))
            self.params += 2 * k
            back.insert(0, kinds.batchnorm(f"{name}.bn.grad", self.n, k, p, q, self.dtype, backward=True))
        if self.training:
            self.bwd = back + self.bwd

    def pool(self, name: str, r: int, stride: int, padding: int = 0) -> None:
        c, h, w = self.shape
        self.fwd.append(kinds.pool2d(name, self.n, c, h, w, r, r, stride, padding, self.dtype))
        if self.training:
            self.bwd.insert(0, kinds.pool2d(f"{name}.grad", self.n, c, h, w, r, r, stride, padding, self.dtype,
                                            backward=True))
        self.shape = (c, kinds.conv_output(h, r, stride, padding, 1), kinds.conv_output(w, r, stride, padding, 1))

    def add(self, name: str) -> None:
        """A residual sum (and the ReLU after it, fused): two inputs, one output."""
        c, h, w = self.shape
        self.fwd.append(kinds.elementwise(name, self.n * c * h * w, self.dtype, inputs=2, flops_per_element=2))

    def fc(self, name: str, out: int) -> None:
        c, h, w = self.shape
        k = c * h * w
        self.fwd.append(kinds.gemm(name, self.n, out, k, self.dtype))
        self.params += k * out + out
        if self.training:
            self.bwd = [kinds.gemm(f"{name}.dgrad", self.n, k, out, self.dtype, phase="backward"),
                        kinds.gemm(f"{name}.wgrad", k, out, self.n, self.dtype, weight=None, phase="backward")] \
                + self.bwd
        self.shape = (out, 1, 1)


def _resnet50(net: _Net, classes: int) -> None:
    net.conv("conv1", 64, 7, stride=2)
    net.pool("maxpool", 3, 2, 1)
    for stage, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), 1):
        for b in range(blocks):
            s, name, entry = (stride if b == 0 else 1), f"layer{stage}.{b}", net.shape
            net.conv(f"{name}.conv1", width, 1)
            net.conv(f"{name}.conv2", width, 3, stride=s)
            net.conv(f"{name}.conv3", 4 * width, 1)
            if b == 0:   # projection shortcut from the block's input
                out = net.shape
                net.shape = entry
                net.conv(f"{name}.downsample", 4 * width, 1, stride=s)
                net.shape = out
            net.add(f"{name}.add")
    net.pool("avgpool", net.shape[1], 1)
    net.fc("fc", classes)


def _mobilenet_v2(net: _Net, classes: int) -> None:
    net.conv("features.0", 32, 3, stride=2)
    i = 1
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)):
        for j in range(n):
            stride, cin, name = (s if j == 0 else 1), net.shape[0], f"features.{i}"
            hidden = cin * t
            if t != 1:
                net.conv(f"{name}.expand", hidden, 1)
            net.conv(f"{name}.depthwise", hidden, 3, stride=stride, groups=hidden)
            net.conv(f"{name}.project", c, 1)
            if stride == 1 and cin == c:
                net.add(f"{name}.add")
            i += 1
    net.conv(f"features.{i}", 1280, 1)
    net.pool("avgpool", net.shape[1], 1)
    net.fc("classifier", classes)


NETWORKS = {"resnet50": _resnet50, "mobilenet_v2": _mobilenet_v2}


def cnn_ops(model: str, batch: int = 32, image: int = 224, classes: int = 1000, dtype: str = "fp16",
            phase: str = "inference", optimizer: str = "sgd_momentum") -> tuple[list[Op], int]:
    net = _Net(batch, 3, image, image, dtype, phase == "training")
    NETWORKS[model](net, classes)
    ops = net.fwd
    if net.training:
        ops += [kinds.elementwise("loss_grad", batch * classes, dtype, inputs=2, flops_per_element=5,
                                  phase="backward")] + net.bwd
        ops.append(kinds.optimizer_step("optimizer", net.params, optimizer, "fp32"))
    return ops, net.params


@register_builder("cnn")
def build_cnn(name: str = "cnn", **params: Any) -> Workload:
    valid = ("model", "batch", "image", "classes", "dtype", "phase", "optimizer")
    p = [Problem(None, k, "a cnn parameter (" + ", ".join(valid) + ")", f"unknown parameter {k!r}")
         for k in params if k not in valid]
    get = params.get
    cfg = dict(model=choice_param(get("model", "resnet50"), "model", MODELS, p),
               batch=int_param(get("batch", 32), "batch", 1, p),
               image=int_param(get("image", 224), "image", 32, p),
               classes=int_param(get("classes", 1000), "classes", 1, p),
               dtype=choice_param(get("dtype", "fp16"), "dtype", DTYPES, p),
               phase=choice_param(get("phase", "inference"), "phase", PHASES, p),
               optimizer=choice_param(get("optimizer", "sgd_momentum"), "optimizer", kinds.OPTIMIZERS, p))
    if not p and (cfg["batch"] > 1 << 20 or cfg["image"] > 1 << 14):
        p.append(Problem(None, "batch", "at most 2^20 images of at most 16384 pixels a side",
                         f"{cfg['batch']} images of {cfg['image']}"))
    if p:
        raise SpecError(p)
    ops, n_params = cnn_ops(**cfg)
    return Workload(name=name, ops=tuple(ops), params=tuple({**cfg, "parameters": n_params}.items()),
                    parameters=float(n_params), tokens=float(cfg["batch"]))
