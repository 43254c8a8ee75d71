"""The networks used for condensation and evaluation (design brief §3).

Every model maps an image batch ``(N, C, H, W)`` to logits ``(N, num_classes)``
and has ``embed(x)``: the flattened penultimate features, exactly what its final
linear layer (``model.classifier``) consumes.  Models are built by name through
the :data:`MODELS` registry; each entry is a factory
``f(channel, num_classes, im_size) -> nn.Module``.

The architectures (and hence parameter counts) follow the official DC/DSA/DM
code, including its single-channel conventions: on 1-channel inputs the first
layer of ConvNet and VGG uses padding 3, AlexNet padding 4 and LeNet padding 2,
so 28x28 images reach the layers that follow as 32x32 maps.  Unlike the official
code, the size of every classifier is computed from ``im_size``, so other image
sizes work too.

Inputs may be in any memory format (channels-last included): nothing here uses
``Tensor.view``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import CondenseError
from ..core.registry import Registry
from .spec import NetworkSpec

__all__ = [
    "MODELS",
    "build_model",
    "has_batchnorm",
    "ConvNetConfig",
    "ConvNet",
    "AlexNet",
    "AlexCifarNet",
    "MLP",
    "LeNet",
    "VGG",
    "ResNet",
]

ImSize = tuple[int, int]
ModelFactory = Callable[[int, int, ImSize], nn.Module]

MODELS: Registry[ModelFactory] = Registry("model")


# --------------------------------------------------------------------------- helpers


def _out_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Spatial output size of a convolution or pooling layer (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


def _out_hw(hw: ImSize, kernel: int, stride: int = 1, padding: int = 0) -> ImSize:
    return (_out_size(hw[0], kernel, stride, padding), _out_size(hw[1], kernel, stride, padding))


def _check_hw(hw: ImSize, model: str, im_size: ImSize) -> None:
    if hw[0] < 1 or hw[1] < 1:
        raise CondenseError(
            f"image size {im_size[0]}x{im_size[1]} is too small for model {model!r} "
            f"(its feature map shrinks to {hw[0]}x{hw[1]}); use larger images, e.g. 32x32"
        )


def _instance_norm(channels: int) -> nn.Module:
    """Instance norm with a learnable per-channel affine, as the official code writes it."""
    return nn.GroupNorm(channels, channels, affine=True)


class _Classifier(nn.Module):
    """Shared ``forward``/``embed``: ``body`` yields flat features, ``classifier`` maps them to logits."""

    body: nn.Module
    classifier: nn.Linear

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


# --------------------------------------------------------------------------- ConvNet

# Each table maps a setting's name to a constructor; "none" maps to None (layer omitted).
CONVNET_NORMS: Registry[Callable[[int, ImSize], nn.Module] | None] = Registry("convnet norm")
CONVNET_NORMS.add("instancenorm", lambda c, hw: _instance_norm(c))
CONVNET_NORMS.add("batchnorm", lambda c, hw: nn.BatchNorm2d(c))
# The official "layernorm" normalises over (C, H, W) with an element-wise affine of that shape.
CONVNET_NORMS.add("layernorm", lambda c, hw: nn.LayerNorm([c, hw[0], hw[1]]))
CONVNET_NORMS.add("groupnorm", lambda c, hw: nn.GroupNorm(4, c, affine=True))
CONVNET_NORMS.add("none", None)

CONVNET_ACTS: Registry[Callable[[], nn.Module]] = Registry("convnet activation")
CONVNET_ACTS.add("relu", nn.ReLU)
CONVNET_ACTS.add("sigmoid", nn.Sigmoid)
CONVNET_ACTS.add("leakyrelu", lambda: nn.LeakyReLU(negative_slope=0.01))
CONVNET_ACTS.add("swish", nn.SiLU)  # swish(x) = x * sigmoid(x)

CONVNET_POOLS: Registry[Callable[[], nn.Module] | None] = Registry("convnet pooling")
CONVNET_POOLS.add("avgpooling", lambda: nn.AvgPool2d(kernel_size=2, stride=2))
CONVNET_POOLS.add("maxpooling", lambda: nn.MaxPool2d(kernel_size=2, stride=2))
CONVNET_POOLS.add("none", None)


@dataclass(frozen=True)
class ConvNetConfig:
    """ConvNet settings; the defaults are the official ``get_default_convnet_setting``."""

    width: int = 128
    depth: int = 3
    act: str = "relu"
    norm: str = "instancenorm"
    pooling: str = "avgpooling"


class ConvNet(_Classifier):
    """``depth`` blocks of [3x3 conv -> norm -> activation -> 2x2 pool], then one linear layer."""

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (32, 32), config: ConvNetConfig = ConvNetConfig()):
        super().__init__()
        self.config = config
        make_norm = CONVNET_NORMS.get(config.norm)
        make_act = CONVNET_ACTS.get(config.act)
        make_pool = CONVNET_POOLS.get(config.pooling)

        layers: list[nn.Module] = []
        activations: list[int] = []  # the index in ``body`` of each block's activation (block_features)
        in_channels, hw = channel, tuple(im_size)
        for depth in range(config.depth):
            padding = 3 if channel == 1 and depth == 0 else 1
            layers.append(nn.Conv2d(in_channels, config.width, kernel_size=3, padding=padding))
            hw = _out_hw(hw, 3, 1, padding)
            if make_norm is not None:
                layers.append(make_norm(config.width, hw))
            activations.append(len(layers))
            layers.append(make_act())
            if make_pool is not None:
                layers.append(make_pool())
                hw = _out_hw(hw, 2, 2)
            _check_hw(hw, "convnet", im_size)
            in_channels = config.width
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(config.width * hw[0] * hw[1], num_classes)
        self._activations = frozenset(activations)  # a plain attribute: the state dict is unchanged

    def block_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each block's activation output (before its pooling), then the embedding (``embed(x)``): the
        multi-scale features CAFE aligns. One forward pass; ``forward`` and ``embed`` are unchanged."""
        features = []
        for index, layer in enumerate(self.body):
            x = layer(x)
            if index in self._activations:
                features.append(x)
        features.append(x)
        return features


_CONVNET_VARIANTS = {
    "convnet": ConvNetConfig(),
    "convnet_bn": ConvNetConfig(norm="batchnorm"),
    "convnet_ln": ConvNetConfig(norm="layernorm"),
    "convnet_nn": ConvNetConfig(norm="none"),
    "convnet_gn": ConvNetConfig(norm="groupnorm"),
    "convnet_w32": ConvNetConfig(width=32),
    "convnet_w64": ConvNetConfig(width=64),
    "convnet_w256": ConvNetConfig(width=256),
    "convnet_d1": ConvNetConfig(depth=1),
    "convnet_d2": ConvNetConfig(depth=2),
    "convnet_d4": ConvNetConfig(depth=4),
    "convnet_maxpool": ConvNetConfig(pooling="maxpooling"),
    "convnet_nopool": ConvNetConfig(pooling="none"),
    "convnet_sigmoid": ConvNetConfig(act="sigmoid"),
    "convnet_leakyrelu": ConvNetConfig(act="leakyrelu"),
}


def _convnet_factory(config: ConvNetConfig) -> ModelFactory:
    def make(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
        return ConvNet(channel, num_classes, im_size, config)

    return make


for _name, _config in _CONVNET_VARIANTS.items():
    MODELS.add(_name, _convnet_factory(_config))


# --------------------------------------------------------------------------- AlexNet

# (out_channels, kernel, padding, pool after) for the official CIFAR AlexNet.
_ALEXNET_LAYERS = ((128, 5, 2, True), (192, 5, 2, True), (256, 3, 1, False), (192, 3, 1, False), (192, 3, 1, True))


class AlexNet(_Classifier):
    """The official CIFAR AlexNet: five convolutions, three 2x2 max pools, one linear layer."""

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (32, 32), batchnorm: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, hw = channel, tuple(im_size)
        for index, (out_channels, kernel, padding, pool) in enumerate(_ALEXNET_LAYERS):
            if index == 0 and channel == 1:
                padding = 4  # 28x28 digits become 32x32 maps
            layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel, padding=padding))
            hw = _out_hw(hw, kernel, 1, padding)
            if batchnorm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
            if pool:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                hw = _out_hw(hw, 2, 2)
            _check_hw(hw, "alexnet", im_size)
            in_channels = out_channels
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_channels * hw[0] * hw[1], num_classes)


@MODELS.register("alexnet")
def _alexnet(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return AlexNet(channel, num_classes, im_size)


@MODELS.register("alexnet_bn")
def _alexnet_bn(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return AlexNet(channel, num_classes, im_size, batchnorm=True)


class AlexCifarNet(_Classifier):
    """The AlexNet variant of the dataset-distillation work, with local response norm.

    conv 5x5 -> 64, ReLU, maxpool 3/2/1, LRN; conv 5x5 -> 64, ReLU, LRN, maxpool 3/2/1;
    linear -> 384, ReLU, 384 -> 192, ReLU, 192 -> classes.
    """

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (32, 32)):
        super().__init__()

        def lrn() -> nn.Module:
            return nn.LocalResponseNorm(size=4, alpha=0.001 / 9.0, beta=0.75, k=1.0)

        def pool() -> nn.Module:
            return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        hw = tuple(im_size)
        for _ in range(2):  # each stage: 5x5 conv (pad 2, size kept), then pool 3/2/1
            hw = _out_hw(_out_hw(hw, 5, 1, 2), 3, 2, 1)
        _check_hw(hw, "alexcifarnet", im_size)
        self.body = nn.Sequential(
            nn.Conv2d(channel, 64, kernel_size=5, padding=2),
            nn.ReLU(),
            pool(),
            lrn(),
            nn.Conv2d(64, 64, kernel_size=5, padding=2),
            nn.ReLU(),
            lrn(),
            pool(),
            nn.Flatten(),
            nn.Linear(64 * hw[0] * hw[1], 384),
            nn.ReLU(),
            nn.Linear(384, 192),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(192, num_classes)


@MODELS.register("alexcifarnet")
def _alexcifarnet(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return AlexCifarNet(channel, num_classes, im_size)


# --------------------------------------------------------------------------- MLP, LeNet


class MLP(_Classifier):
    """Two hidden layers of 128 ReLU units on the flattened image."""

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (32, 32)):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channel * im_size[0] * im_size[1], 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(128, num_classes)


@MODELS.register("mlp")
def _mlp(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return MLP(channel, num_classes, im_size)


class LeNet(_Classifier):
    """LeNet-5: two 5x5 conv + max-pool stages, then 120 and 84 hidden units."""

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (32, 32)):
        super().__init__()
        padding = 2 if channel == 1 else 0
        hw = _out_hw(_out_hw(tuple(im_size), 5, 1, padding), 2, 2)
        hw = _out_hw(_out_hw(hw, 5), 2, 2)
        _check_hw(hw, "lenet", im_size)
        self.body = nn.Sequential(
            nn.Conv2d(channel, 6, kernel_size=5, padding=padding),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(16 * hw[0] * hw[1], 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(84, num_classes)


@MODELS.register("lenet")
def _lenet(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return LeNet(channel, num_classes, im_size)


# --------------------------------------------------------------------------- VGG

_VGG11_PLAN: Sequence[int | str] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def _norm_layer(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else _instance_norm(channels)


class VGG(_Classifier):
    """VGG with 3x3 conv -> norm (instance or batch) -> ReLU blocks and "M" = 2x2 max pools."""

    def __init__(
        self, channel: int, num_classes: int, im_size: ImSize = (32, 32), plan: Sequence[int | str] = _VGG11_PLAN, batchnorm: bool = False
    ):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, hw = channel, tuple(im_size)
        for index, item in enumerate(plan):
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                hw = _out_hw(hw, 2, 2)
            else:
                padding = 3 if channel == 1 and index == 0 else 1
                layers += [nn.Conv2d(in_channels, int(item), kernel_size=3, padding=padding), _norm_layer(int(item), batchnorm), nn.ReLU()]
                hw = _out_hw(hw, 3, 1, padding)
                in_channels = int(item)
            _check_hw(hw, "vgg", im_size)
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_channels * hw[0] * hw[1], num_classes)


@MODELS.register("vgg11")
def _vgg11(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return VGG(channel, num_classes, im_size)


@MODELS.register("vgg11_bn")
def _vgg11_bn(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return VGG(channel, num_classes, im_size, batchnorm=True)


# --------------------------------------------------------------------------- ResNet


class _BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (1x1 conv + norm shortcut when the shape changes).

    ``avgpool_downsample`` is the official "_AP" variant: the strided conv becomes a stride-1
    conv followed by a 2x2 average pool, on both the main path and the shortcut.
    """

    def __init__(self, in_planes: int, planes: int, stride: int, batchnorm: bool, avgpool_downsample: bool):
        super().__init__()
        conv_stride = 1 if avgpool_downsample else stride
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=conv_stride, padding=1, bias=False)
        self.bn1 = _norm_layer(planes, batchnorm)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2) if avgpool_downsample and stride != 1 else nn.Identity()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = _norm_layer(planes, batchnorm)

        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            if avgpool_downsample:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, kernel_size=1, stride=1, bias=False),
                    nn.AvgPool2d(kernel_size=2, stride=2),
                    _norm_layer(planes, batchnorm),
                )
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                    _norm_layer(planes, batchnorm),
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(F.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _ResNetBody(nn.Module):
    def __init__(self, channel: int, blocks: Sequence[int], batchnorm: bool, avgpool_downsample: bool, final_pool: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channel, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = _norm_layer(64, batchnorm)
        stages = []
        in_planes = 64
        for stage, count in enumerate(blocks):
            planes = 64 * 2**stage
            stride = 1 if stage == 0 else 2
            layer = []
            for index in range(count):
                layer.append(_BasicBlock(in_planes, planes, stride if index == 0 else 1, batchnorm, avgpool_downsample))
                in_planes = planes
            stages.append(nn.Sequential(*layer))
        self.layers = nn.Sequential(*stages)
        self.final_pool = final_pool
        self.out_planes = in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        if self.final_pool > 1:
            out = F.avg_pool2d(out, self.final_pool)
        return out.flatten(1)


class ResNet(_Classifier):
    """The official CIFAR ResNet (BasicBlock) with instance or batch norm.

    Plain variant: strided convs and a final 4x4 average pool (512 features on 32x32 input).
    ``avgpool_downsample`` (the official ``ResNet*_AP``): average-pool downsampling and no
    final pool, so the classifier sees the whole 512x4x4 map.
    """

    def __init__(
        self,
        channel: int,
        num_classes: int,
        im_size: ImSize = (32, 32),
        blocks: Sequence[int] = (2, 2, 2, 2),
        batchnorm: bool = False,
        avgpool_downsample: bool = False,
    ):
        super().__init__()
        final_pool = 1 if avgpool_downsample else 4
        self.body = _ResNetBody(channel, blocks, batchnorm, avgpool_downsample, final_pool)
        hw = tuple(im_size)
        for _ in blocks[1:]:  # each later stage halves the map
            hw = _out_hw(hw, 2, 2) if avgpool_downsample else _out_hw(hw, 3, 2, 1)
        hw = _out_hw(hw, final_pool, final_pool)
        _check_hw(hw, "resnet", im_size)
        self.classifier = nn.Linear(self.body.out_planes * hw[0] * hw[1], num_classes)


@MODELS.register("resnet18")
def _resnet18(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return ResNet(channel, num_classes, im_size)


@MODELS.register("resnet18_bn")
def _resnet18_bn(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return ResNet(channel, num_classes, im_size, batchnorm=True)


@MODELS.register("resnet18_bn_ap")
def _resnet18_bn_ap(channel: int, num_classes: int, im_size: ImSize) -> nn.Module:
    return ResNet(channel, num_classes, im_size, batchnorm=True, avgpool_downsample=True)


# --------------------------------------------------------------------------- public API


def build_model(name: str, channel: int, num_classes: int, im_size: Sequence[int] = (32, 32)) -> nn.Module:
    """Build a freshly initialised model by registry name (on the CPU; move it with ``.to``).

    Seed with ``torch.manual_seed`` beforehand for a reproducible initialisation.
    """
    factory = MODELS.get(name)
    if int(channel) < 1:
        raise CondenseError(f"channel must be a positive integer, got {channel!r}")
    if int(num_classes) < 1:
        raise CondenseError(f"num_classes must be a positive integer, got {num_classes!r}")
    size = tuple(int(s) for s in im_size)
    if len(size) != 2 or min(size) < 1:
        raise CondenseError(f"im_size must be two positive integers (height, width), got {im_size!r}")
    net = factory(int(channel), int(num_classes), size)
    net.network_spec = NetworkSpec("classifier", name, int(channel), int(num_classes), size)
    return net


def has_batchnorm(model: nn.Module) -> bool:
    """True if any submodule is a BatchNorm layer (whose running statistics may need freezing)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
