"""Convolutional networks: the ``cnn`` builder, training and inference.

A network is written once as a sequence of layers on a running (channels, height, width) shape;
``_Net`` turns each layer into its forward ops, and for training its backward ops (in reverse
order: input and weight gradients of every convolution but the first one's input gradient, batch
norm, pooling, LRN, dropout, concatenation and the classifier) and one optimizer step over all
parameters. Batch norm carries the activation that follows it (fused, as cuDNN and XLA run them);
a convolution without batch norm carries its bias and ReLU (cuDNN's fused conv-bias-activation;
PyTorch runs that ReLU in place, so no second tensor is stored either way).

Networks and their sources (parameter counts and multiply-adds per 224x224 image are those of the
torchvision model table, "Params" and "GFLOPS", which counts multiply-adds of convolutions and
linear layers; tests/test_cnn.py checks every one):

- ``alexnet``: torchvision.models.alexnet, the single-tower variant of Krizhevsky, "One weird trick
  for parallelizing convolutional neural networks", arXiv:1404.5997 (64-192-384-256-256 filters, no
  LRN): 61,100,840 parameters, 0.71 GMAC;
- ``alexnet_2012``: the network of Krizhevsky, Sutskever & Hinton, NeurIPS 2012, section 3
  (96-256-384-384-256 filters, conv2/4/5 split over two GPUs as groups of 2, local response
  normalisation after conv1 and conv2) on its 227x227 crops: 60,965,224 parameters;
- ``vgg19``: Simonyan & Zisserman, ICLR 2015, Table 1 configuration E; torchvision.models.vgg19:
  143,667,240 parameters, 19.63 GMAC;
- ``resnet50``, ``resnet152``: He et al., CVPR 2016, Table 1, v1.5 (stride on the 3x3 convolution);
  torchvision.models.resnet50 / resnet152: 25,557,032 / 60,192,808 parameters, 4.09 / 11.51 GMAC;
- ``resnext101_64x4d``: Xie et al., "Aggregated Residual Transformations", CVPR 2017 (cardinality 64,
  bottleneck width 4 per group); torchvision.models.resnext101_64x4d: 83,455,272 parameters,
  15.46 GMAC;
- ``densenet201``: Huang et al., "Densely Connected Convolutional Networks", CVPR 2017, Table 1
  (DenseNet-BC, growth 32, blocks 6-12-48-32, compression 0.5); torchvision.models.densenet201
  (20,013,928 parameters, 4.29 GMAC), whose layers concatenate every earlier feature map into a new
  tensor (its default, ``memory_efficient=False``);
- ``mobilenet_v2``: Sandler et al. 2018, Table 2; torchvision.models.mobilenet_v2: 3,504,872
  parameters, 0.30 GMAC.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import Problem, SpecError
from ..specs import DTYPE_BYTES, DTYPES
from . import kinds
from .from_doc import register_builder
from .op import Op, Workload
from .params import choice_param, int_param

PHASES = ("training", "inference")


class _Net:
    """Accumulates the ops and parameters of a network while its layers are declared."""

    def __init__(self, batch: int, c: int, h: int, w: int, dtype: str, training: bool):
        self.n, self.shape, self.dtype, self.training = batch, (c, h, w), dtype, training
        self.fwd: list[Op] = []
        self.bwd: list[Op] = []
        self.params = 0
        self.first_conv = True

    @property
    def elements(self) -> int:
        c, h, w = self.shape
        return self.n * c * h * w

    def _backward(self, *ops: Op) -> None:
        """Backward ops run in reverse order of the layers: a layer's come before the earlier ones'."""
        if self.training:
            self.bwd = list(ops) + self.bwd

    def conv(self, name: str, k: int, r: int, stride: int = 1, groups: int = 1, bn: bool = True,
             padding: Optional[int] = None, bias: bool = False) -> None:
        """A convolution (+ its batch norm, or its bias; the ReLU after it is fused)."""
        c, h, w = self.shape
        pad = (r - 1) // 2 if padding is None else padding
        args = (self.n, c, h, w, k, r, r, stride, pad, 1, groups, self.dtype)
        self.fwd.append(kinds.conv2d(name, *args))
        p, q = kinds.conv_output(h, r, stride, pad, 1), kinds.conv_output(w, r, stride, pad, 1)
        self.params += k * (c // groups) * r * r + (k if bias else 0)
        back = [kinds.conv2d(f"{name}.wgrad", *args, pass_="wgrad")]
        if not self.first_conv:      # the image needs no gradient
            back.insert(0, kinds.conv2d(f"{name}.dgrad", *args, pass_="dgrad"))
        self.first_conv = False
        self.shape = (k, p, q)
        self._backward(*back)
        if bn:
            self.norm(f"{name}.bn")

    def norm(self, name: str) -> None:
        """Batch norm (+ ReLU) on the current tensor: 2 parameters per channel."""
        c, h, w = self.shape
        self.fwd.append(kinds.batchnorm(name, self.n, c, h, w, self.dtype, self.training))
        self.params += 2 * c
        self._backward(kinds.batchnorm(f"{name}.grad", self.n, c, h, w, self.dtype, backward=True))

    def lrn(self, name: str, size: int = 5) -> None:
        c, h, w = self.shape
        self.fwd.append(kinds.lrn(name, self.n, c, h, w, size, self.dtype))
        self._backward(kinds.lrn(f"{name}.grad", self.n, c, h, w, size, self.dtype, backward=True))

    def dropout(self, name: str) -> None:
        """Dropout exists only in training (the identity at inference)."""
        if self.training:
            self.fwd.append(kinds.dropout(name, self.elements, self.dtype))
            self._backward(kinds.dropout(f"{name}.grad", self.elements, self.dtype, backward=True))

    def pool(self, name: str, r: int, stride: int, padding: int = 0, max_pool: bool = True) -> None:
        """Max pooling keeps its argmax indices for the backward in training (PyTorch's, which
        the frameworks of the study's models use; see ``kinds.pool2d``); average pooling keeps none."""
        c, h, w = self.shape
        idx = max_pool and self.training
        self.fwd.append(kinds.pool2d(name, self.n, c, h, w, r, r, stride, padding, self.dtype, indices=idx))
        self._backward(kinds.pool2d(f"{name}.grad", self.n, c, h, w, r, r, stride, padding, self.dtype,
                                    backward=True, indices=idx))
        self.shape = (c, kinds.conv_output(h, r, stride, padding, 1), kinds.conv_output(w, r, stride, padding, 1))

    def adaptive_pool(self, name: str, size: int) -> None:
        """torchvision's AdaptiveAvgPool2d to size x size: the identity when the map already has that
        size (AlexNet, VGG at 224), else windows of stride h // size covering the map."""
        h = self.shape[1]
        if h == size and self.shape[2] == size:
            return
        if h < size:
            raise SpecError(Problem(None, "image", f"an image whose final feature map is at least {size} wide",
                                    f"a {h}-wide map before {name}"))
        stride = h // size
        self.pool(name, h - (size - 1) * stride, stride, max_pool=False)

    def concat(self, name: str, pieces: list[tuple[int, int, int]]) -> None:
        """A new tensor holding ``pieces`` (same height and width) along the channels."""
        _, h, w = pieces[0]
        elems = tuple(self.n * c * h * w for c, _, _ in pieces)
        self.fwd.append(kinds.concat(name, elems, self.dtype))
        self._backward(kinds.concat(f"{name}.grad", elems, self.dtype, backward=True))
        self.shape = (sum(c for c, _, _ in pieces), h, w)

    def add(self, name: str) -> None:
        """A residual sum (and the ReLU after it, fused): two inputs, one output, written in place
        over the block's last batch-norm output as torchvision does (``out += identity``), so it
        stores no new tensor."""
        self.fwd.append(kinds.elementwise(name, self.elements, self.dtype, inputs=2, flops_per_element=2,
                                          inplace=True))

    def fc(self, name: str, out: int) -> None:
        c, h, w = self.shape
        k = c * h * w
        self.fwd.append(kinds.gemm(name, self.n, out, k, self.dtype))
        self.params += k * out + out
        self._backward(kinds.gemm(f"{name}.dgrad", self.n, k, out, self.dtype, phase="backward"),
                       kinds.gemm(f"{name}.wgrad", k, out, self.n, self.dtype, weight=None, phase="backward"))
        self.shape = (out, 1, 1)


def _resnet(net: _Net, classes: int, blocks: tuple[int, ...], groups: int = 1, width_per_group: int = 64) -> None:
    """Bottleneck ResNet / ResNeXt v1.5 (torchvision's ``Bottleneck``): 1x1 to ``width``, 3x3 of
    ``groups`` groups with the stride, 1x1 to 4 x planes; a projection shortcut where the shape
    changes. ResNeXt's width is planes x width_per_group / 64 x groups (Xie et al. 2017, Table 1)."""
    net.conv("conv1", 64, 7, stride=2)
    net.pool("maxpool", 3, 2, 1)
    for stage, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), blocks, (1, 2, 2, 2)), 1):
        width = planes * width_per_group // 64 * groups
        for b in range(n):
            s, name, entry = (stride if b == 0 else 1), f"layer{stage}.{b}", net.shape
            net.conv(f"{name}.conv1", width, 1)
            net.conv(f"{name}.conv2", width, 3, stride=s, groups=groups)
            net.conv(f"{name}.conv3", 4 * planes, 1)
            if s != 1 or entry[0] != 4 * planes:   # projection shortcut from the block's input
                out = net.shape
                net.shape = entry
                net.conv(f"{name}.downsample", 4 * planes, 1, stride=s)
                net.shape = out
            net.add(f"{name}.add")
    net.pool("avgpool", net.shape[1], 1, max_pool=False)
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
    net.pool("avgpool", net.shape[1], 1, max_pool=False)
    net.dropout("classifier.0")
    net.fc("classifier.1", classes)


def _classifier(net: _Net, classes: int, hidden: int = 4096) -> None:
    """AlexNet's and VGG's head: dropout, fc + ReLU, dropout, fc + ReLU, fc (torchvision's order)."""
    net.dropout("classifier.0")
    net.fc("classifier.1", hidden)
    net.dropout("classifier.3")
    net.fc("classifier.4", hidden)
    net.fc("classifier.6", classes)


def _alexnet(net: _Net, classes: int) -> None:
    for i, (k, r, stride, pad, pool) in enumerate(((64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
                                                   (256, 3, 1, 1, False), (256, 3, 1, 1, True))):
        net.conv(f"features.conv{i + 1}", k, r, stride=stride, padding=pad, bn=False, bias=True)
        if pool:
            net.pool(f"features.pool{i + 1}", 3, 2)
    net.adaptive_pool("avgpool", 6)
    _classifier(net, classes)


def _alexnet_2012(net: _Net, classes: int) -> None:
    """Krizhevsky et al. 2012, Figure 2: the two GPUs' halves as groups of 2 where the towers do
    not talk (conv2, conv4, conv5), LRN after the first two ReLUs, overlapping 3x3/2 max pooling."""
    for i, (k, r, stride, groups, norm, pool) in enumerate(((96, 11, 4, 1, True, True), (256, 5, 1, 2, True, True),
                                                            (384, 3, 1, 1, False, False), (384, 3, 1, 2, False, False),
                                                            (256, 3, 1, 2, False, True))):
        net.conv(f"conv{i + 1}", k, r, stride=stride, groups=groups, padding=0 if i == 0 else None, bn=False,
                 bias=True)
        if norm:
            net.lrn(f"norm{i + 1}")
        if pool:
            net.pool(f"pool{i + 1}", 3, 2)
    _classifier(net, classes)


def _vgg19(net: _Net, classes: int) -> None:
    """Configuration E: 3x3 convolutions with bias and ReLU, 2x2 max pooling between stages."""
    for stage, (k, n) in enumerate(((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)), 1):
        for j in range(n):
            net.conv(f"features.{stage}.{j}", k, 3, bn=False, bias=True)
        net.pool(f"features.pool{stage}", 2, 2)
    net.adaptive_pool("avgpool", 7)
    _classifier(net, classes)


def _densenet(net: _Net, classes: int, blocks: tuple[int, ...], growth: int = 32, bn_size: int = 4,
              init: int = 64) -> None:
    """DenseNet-BC (torchvision's ``_DenseLayer``, pre-activation): each layer concatenates every
    earlier map of its block into a new tensor, then BN-ReLU-1x1 (bn_size x growth) and
    BN-ReLU-3x3 (growth); a transition halves the channels (BN-ReLU-1x1) and the size (2x2 average)."""
    net.conv("features.conv0", init, 7, stride=2)
    net.pool("features.pool0", 3, 2, 1)
    for b, layers in enumerate(blocks, 1):
        maps = [net.shape]
        for i in range(1, layers + 1):
            name = f"features.denseblock{b}.layer{i}"
            if len(maps) > 1:
                net.concat(f"{name}.cat", maps)
            else:
                net.shape = maps[0]
            net.norm(f"{name}.norm1")
            net.conv(f"{name}.conv1", bn_size * growth, 1, bn=False)
            net.norm(f"{name}.norm2")
            net.conv(f"{name}.conv2", growth, 3, bn=False)
            maps.append(net.shape)
        net.concat(f"features.denseblock{b}.cat", maps)
        if b < len(blocks):
            net.norm(f"features.transition{b}.norm")
            net.conv(f"features.transition{b}.conv", net.shape[0] // 2, 1, bn=False)
            net.pool(f"features.transition{b}.pool", 2, 2, max_pool=False)
    net.norm("features.norm5")
    net.pool("avgpool", net.shape[1], 1, max_pool=False)
    net.fc("classifier", classes)


NETWORKS = {
    "alexnet": _alexnet,
    "alexnet_2012": _alexnet_2012,
    "vgg19": _vgg19,
    "resnet50": lambda net, classes: _resnet(net, classes, (3, 4, 6, 3)),
    "resnet152": lambda net, classes: _resnet(net, classes, (3, 8, 36, 3)),
    "resnext101_64x4d": lambda net, classes: _resnet(net, classes, (3, 4, 23, 3), groups=64, width_per_group=4),
    "densenet201": lambda net, classes: _densenet(net, classes, (6, 12, 48, 32)),
    "mobilenet_v2": _mobilenet_v2,
}
MODELS = tuple(NETWORKS)


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
    # weight_dtype: the footprint counts the declared parameters (biases included) at this dtype
    return Workload(name=name, ops=tuple(ops),
                    params=tuple({**cfg, "parameters": n_params, "weight_dtype": cfg["dtype"]}.items()),
                    parameters=float(n_params), tokens=float(cfg["batch"]))
