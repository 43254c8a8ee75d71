"""Fully convolutional attention networks (FCNs): one score map per class (design brief §1, paper §3.2).

An FCN φ maps images ``(B, C, H, W)`` to class maps ``(B, N, H, W)`` at the input
resolution. It is trained with binary cross-entropy between a spatial pooling of
the maps and the one-hot label (:func:`pool_logits`); the attention map of an
image is ``A_x = sigmoid(logsumexp_j φ(x)_j)`` (:func:`attention_map`, paper eq. 3).

Models are built by name through the :data:`FCNS` registry; each entry is a
factory ``f(channel, num_classes, im_size, pretrained=None) -> nn.Module``:

* ``resnet18_fcn``: the paper authors' network: torchvision's ResNet-18 body with
  a 3×3 stride-1 stem conv, the stem max-pool replaced by ×2 bilinear upsampling,
  layers 1–4 (the maps reach H/4 × W/4), a 1×1 conv to the classes and bilinear
  upsampling back to H × W. ``pretrained``: ``imagenet`` (torchvision's published file: the torch
  cache, else one download; sha256-checked before it is read) or a local state-dict file.
* ``small_fcn``: a ~0.2 M-parameter FCN (two 2×2 max-pools, maps at H/4 × W/4 upsampled
  bilinearly) that trains on a 2-core CPU in minutes (for the quick profile and the tests).

Poolings (registry :data:`POOLINGS`): ``avg`` (the paper's eq. 2) and ``lse``
(the authors' code: ``2·log(mean(exp(0.5·s)))``, a smooth max).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import CondenseError
from ..core.fileio import load_torch
from ..core.registry import Registry
from .hub_weights import load_published_state
from .spec import NetworkSpec

__all__ = [
    "FCNS",
    "POOLINGS",
    "ResNet18FCN",
    "SmallFCN",
    "pool_logits",
    "attention_map",
    "build_fcn",
    "load_resnet18_weights",
]

ImSize = tuple[int, int]
FCNFactory = Callable[..., nn.Module]

FCNS: Registry[FCNFactory] = Registry("attention model")
POOLINGS: Registry[Callable[[torch.Tensor], torch.Tensor]] = Registry("pooling")


# --------------------------------------------------------------------------- poolings


@POOLINGS.register("avg")
def _avg_pool(maps: torch.Tensor) -> torch.Tensor:
    """Mean over H, W (the paper's eq. 2)."""
    return maps.mean(dim=(2, 3))


@POOLINGS.register("lse")
def _lse_pool(maps: torch.Tensor) -> torch.Tensor:
    """2·log(mean(exp(0.5·s))) over H, W (the authors' code), as 2·(logsumexp(0.5·s) − log(HW))."""
    flat = maps.flatten(2)
    return 2.0 * (torch.logsumexp(0.5 * flat, dim=2) - math.log(flat.shape[2]))


def pool_logits(maps: torch.Tensor, pool: str) -> torch.Tensor:
    """Class maps ``(B, N, H, W)`` → image logits ``(B, N)`` by the named pooling (``avg`` or ``lse``)."""
    return POOLINGS.get(pool)(maps)


def attention_map(maps: torch.Tensor) -> torch.Tensor:
    """``A = sigmoid(logsumexp over classes)``: class maps ``(B, N, H, W)`` → attention ``(B, H, W)`` in [0, 1]."""
    return torch.sigmoid(torch.logsumexp(maps, dim=1))


# --------------------------------------------------------------------------- models


def _upsample_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class ResNet18FCN(nn.Module):
    """torchvision's ResNet-18 as an FCN (the authors' architecture).

    ``body`` is a real ``torchvision.models.resnet18`` with ``conv1`` replaced by a
    3×3 stride-1 conv from ``channel`` inputs, ``maxpool`` by ×2 bilinear upsampling,
    and ``avgpool``/``fc`` by identities (unused); its parameter names are
    torchvision's, so ImageNet weights load by name. Maps leave ``layer4`` at
    H/4 × W/4 (512 channels), go through a 1×1 conv to the classes and are
    upsampled bilinearly to H × W.
    """

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (32, 32)):
        super().__init__()
        from torchvision.models import resnet18

        body = resnet18(weights=None)
        body.conv1 = nn.Conv2d(channel, 64, kernel_size=3, stride=1, padding=1, bias=False)
        body.maxpool = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        body.avgpool = nn.Identity()
        body.fc = nn.Identity()
        self.body = body
        self.classifier = nn.Conv2d(512, num_classes, kernel_size=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b = self.body
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        return b.layer4(b.layer3(b.layer2(b.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _upsample_to(self.classifier(self.features(x)), x.shape[-2:])


def _conv_bn(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallFCN(nn.Module):
    """A small FCN for CPUs (~0.2 M parameters), with the receptive field of a whole 28×28 image.

    conv 32 → conv 64 → 2×2 max-pool → conv 64 → conv 64 → 2×2 max-pool → dilated (2) conv 128
    → 1×1 conv to the classes (bias at the class prior) → bilinear upsampling to H × W.
    Every conv is 3×3 + BatchNorm + ReLU; the receptive field is 32 px.
    """

    def __init__(self, channel: int, num_classes: int, im_size: ImSize = (28, 28), width: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn(channel, width // 2),
            _conv_bn(width // 2, width),
            nn.MaxPool2d(2),
            _conv_bn(width, width),
            _conv_bn(width, width),
            nn.MaxPool2d(2),
            _conv_bn(width, 2 * width, dilation=2),
        )
        self.classifier = nn.Conv2d(2 * width, num_classes, kernel_size=1)
        _prior_bias(self.classifier, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _upsample_to(self.classifier(self.features(x)), x.shape[-2:])


def _prior_bias(conv: nn.Conv2d, num_classes: int) -> None:
    """Start every class score at the prior log-odds log(1 / (C - 1)), so a pooled sigmoid begins at 1/C.

    With BCE over C one-vs-rest targets, a zero bias starts every class at probability 0.5 and
    the first epoch is spent pushing the C - 1 negatives down; the prior start skips that."""
    if num_classes > 1 and conv.bias is not None:
        nn.init.constant_(conv.bias, -math.log(num_classes - 1))


def _no_pretrained(name: str, pretrained: Path | None) -> None:
    if pretrained is not None:
        raise CondenseError(f"attention model {name!r} has no pretrained weights; drop --pretrained or use resnet18_fcn")


@FCNS.register("resnet18_fcn")
def _resnet18_fcn(channel: int, num_classes: int, im_size: ImSize, pretrained: str | Path | None = None) -> nn.Module:
    net = ResNet18FCN(channel, num_classes, im_size)
    if pretrained is not None:
        load_resnet18_weights(net, pretrained)
    return net


@FCNS.register("small_fcn")
def _small_fcn(channel: int, num_classes: int, im_size: ImSize, pretrained: Path | None = None) -> nn.Module:
    _no_pretrained("small_fcn", pretrained)
    if min(im_size) < 4:
        raise CondenseError(f"small_fcn needs images of at least 4x4 (two 2x2 pools), got {im_size[0]}x{im_size[1]}")
    return SmallFCN(channel, num_classes, im_size)


# Parameters of torchvision's resnet18 state dict that the FCN does not take over:
# the 7x7 RGB stem conv (ours is 3x3 with any channel count) and the ImageNet classifier.
_SKIPPED = ("conv1.weight", "fc.weight", "fc.bias")


IMAGENET = "imagenet"  # `pretrained: imagenet`: torchvision's ResNet18_Weights.IMAGENET1K_V1


def resnet18_imagenet_url() -> str:
    """Where torchvision publishes ``ResNet18_Weights.IMAGENET1K_V1`` (its file name carries the sha256 prefix)."""
    from torchvision.models import ResNet18_Weights

    return ResNet18_Weights.IMAGENET1K_V1.url


def imagenet_resnet18_state() -> dict:
    """torchvision's ImageNet ResNet-18 weights: read from the torch cache
    (``$TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth``) when there, else downloaded once into it; either way
    the file's sha256 must start with the prefix its published name carries before it is loaded (weights only),
    see :mod:`condense.models.hub_weights`. Not torchvision's weights API: that unpickles a cached file unchecked."""
    return load_published_state(resnet18_imagenet_url(), what="ImageNet ResNet-18 weights")


def load_resnet18_weights(net: ResNet18FCN, source: str | Path) -> None:
    """Load torchvision ``resnet18`` weights into ``net.body``: ``imagenet`` (torchvision's published file, verified, see
    :func:`imagenet_resnet18_state`) or a LOCAL state-dict file (e.g. ``resnet18-f37072fd.pth``).

    The stem conv and ``fc`` are skipped; every other tensor must be present with its
    shape (strict), else a :class:`CondenseError` names what is wrong.
    """
    if str(source) == IMAGENET:
        path, stored = Path(IMAGENET), imagenet_resnet18_state()
    else:
        path = Path(source)
        stored = load_torch(path, what="pretrained resnet18 weights")
    if isinstance(stored, dict) and isinstance(stored.get("state_dict"), dict):
        stored = stored["state_dict"]
    if not isinstance(stored, dict) or not all(isinstance(v, torch.Tensor) for v in stored.values()):
        raise CondenseError(f"pretrained weights file {str(path)!r} is not a state dict; save torchvision's resnet18().state_dict() to it")
    state = {k.removeprefix("module."): v for k, v in stored.items() if k.removeprefix("module.") not in _SKIPPED}
    expected = {k: v for k, v in net.body.state_dict().items() if k not in _SKIPPED}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrongly shaped", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
        raise CondenseError(
            f"pretrained weights file {str(path)!r} does not match torchvision's resnet18: {'; '.join(parts)}; "
            "use the resnet18 ImageNet state dict (resnet18-f37072fd.pth)"
        )
    net.body.load_state_dict(state, strict=False)


# --------------------------------------------------------------------------- public API


def build_fcn(
    name: str,
    channel: int,
    num_classes: int,
    im_size: Sequence[int] = (32, 32),
    pretrained: str | Path | None = None,
) -> nn.Module:
    """Build an FCN by registry name (on the CPU); seed with ``torch.manual_seed`` first for a reproducible init.

    The returned module carries ``network_spec``, which :func:`condense.models.store.save_network`
    stores so :func:`~condense.models.store.load_network` can rebuild it.
    """
    factory = FCNS.get(name)
    if int(channel) < 1 or int(num_classes) < 1:
        raise CondenseError(f"channel and num_classes must be positive integers, got {channel!r} and {num_classes!r}")
    size = tuple(int(s) for s in im_size)
    if len(size) != 2 or min(size) < 1:
        raise CondenseError(f"im_size must be two positive integers (height, width), got {im_size!r}")
    if pretrained is not None and str(pretrained) != IMAGENET:
        pretrained = Path(pretrained)
        if not pretrained.is_file():
            raise CondenseError(
                f"pretrained weights file {str(pretrained)!r} does not exist; give a local torchvision resnet18 "
                "state dict, `imagenet` (torchvision's published weights, sha256-checked), or drop --pretrained"
            )
    net = factory(int(channel), int(num_classes), size, pretrained=pretrained)
    net.network_spec = NetworkSpec("fcn", name, int(channel), int(num_classes), size)
    return net
