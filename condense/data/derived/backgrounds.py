"""Garments on textured backgrounds: a benchmark where backgrounds matter and the foreground is known exactly.

From the FashionMNIST data file (any 1-channel dataset with a black background works): each real
garment (its foreground = its nonzero pixels, exactly) is tinted with a random colour and placed
at a random offset on a 3×32×32 background drawn from one of the texture families of
:mod:`~condense.data.derived.textures`. The derived data file holds, besides the images,
``train_foreground`` / ``test_foreground`` (bool N×32×32) and ``train_background`` /
``test_background`` (the family id of each image), and a content ``digest``.

Variants (in the tradition of Colored MNIST, Waterbirds and the ImageNet-9 background challenge):

- ``independent``: every image's family is uniform, independent of the class, in train and test;
- ``correlated``: in the training split the family equals the class (families are numbered like
  the classes) with probability ``rho``, else one of the other families uniformly; the test split
  stays independent. The networks get a background shortcut that only the foreground defeats.

Traits: the full DSA strategy (a garment flipped is still that garment), no published numbers apply.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import torch

from ...core.checks import NON_NEGATIVE, UNIT
from ...core.errors import CondenseError
from ...core.settings import setting
from ..augment import DEFAULT_STRATEGY
from ..traits import DatasetTraits
from . import Derivation, register_derivation
from .textures import TEXTURES, draw

SIZE = 32


@dataclass(frozen=True)
class BackgroundSettings:
    variant: str = setting(
        "independent",
        "independent (family uniform) or correlated (train family = class with probability rho)",
        choices=("independent", "correlated"),
    )
    rho: float = setting(0.9, "correlated: probability that a training image's background family is its class's", bounds=UNIT)
    per_class: int = setting(500, "training garments per class (0 = all)", bounds=NON_NEGATIVE)
    test_per_class: int = setting(0, "test garments per class (0 = all)", bounds=NON_NEGATIVE)

    def to_dict(self) -> dict:
        return asdict(self)


def _pick(labels: torch.Tensor, per_class: int, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``per_class`` random images of every class in stored order (all when 0)."""
    if per_class == 0:
        return torch.arange(labels.numel())
    picks = []
    for c in range(num_classes):
        idx = torch.nonzero(labels == c).flatten()
        if per_class > idx.numel():
            raise CondenseError(f"--per-class {per_class} exceeds the {idx.numel()} images of class {c}; lower it or use 0 for all")
        picks.append(idx[torch.randperm(idx.numel(), generator=generator)[:per_class]].sort().values)
    return torch.cat(picks)


def families_for(labels: torch.Tensor, correlated: bool, rho: float, generator: torch.Generator) -> torch.Tensor:
    """Each image's background family: uniform, or its class's with probability rho and else another uniformly."""
    k = len(TEXTURES.in_order())
    if not correlated:
        return torch.randint(k, (labels.numel(),), generator=generator)
    other = (labels + torch.randint(1, k, (labels.numel(),), generator=generator)) % k  # uniform over the other k - 1
    return torch.where(torch.rand(labels.numel(), generator=generator) < rho, labels % k, other)


def compose(garments: torch.Tensor, families: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, 32, 32) and bool foregrounds (N, 32, 32): each garment (uint8 N×1×h×w, black
    background) tinted with a random colour, at a random offset, on a background of its family."""
    n, _, h, w = garments.shape
    if h > SIZE or w > SIZE:
        raise CondenseError(f"garments of {h}x{w} do not fit a {SIZE}x{SIZE} canvas")
    backgrounds = torch.empty(n, 3, SIZE, SIZE)
    for family in range(len(TEXTURES.in_order())):  # family by family, in a fixed order, from one generator
        idx = torch.nonzero(families == family).flatten()
        if idx.numel():
            backgrounds[idx] = draw(family, idx.numel(), SIZE, SIZE, generator)
    tint = 0.35 + 0.65 * torch.rand(n, 3, 1, 1, generator=generator)
    dy = torch.randint(0, SIZE - h + 1, (n,), generator=generator)
    dx = torch.randint(0, SIZE - w + 1, (n,), generator=generator)
    canvas = torch.zeros(n, 1, SIZE, SIZE)
    for i in range(n):  # placement only: cheap next to drawing the textures
        canvas[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] = garments[i].float() / 255.0
    foreground = canvas[:, 0] > 0
    images = torch.where(foreground.unsqueeze(1), canvas * tint, backgrounds)
    return images.mul(255.0).round_().clamp_(0, 255).to(torch.uint8), foreground


def digest(stored: dict) -> str:
    h = hashlib.sha256()
    for key in ("train_images", "train_labels", "test_images", "test_labels", "train_foreground", "test_foreground"):
        h.update(stored[key].contiguous().numpy().tobytes())
    return h.hexdigest()


def derive(base: dict, settings: BackgroundSettings, generator: torch.Generator) -> dict:
    if base["train_images"].shape[1] != 1:
        raise CondenseError(
            f"the backgrounds derivation takes 1-channel garments on black (FashionMNIST), not {base['name']}'s "
            f"{base['train_images'].shape[1]} channels"
        )
    num_classes = len(base["classes"])
    out: dict = {"classes": list(base["classes"]), "format": 1}
    for split, per_class, correlated in (
        ("train", settings.per_class, settings.variant == "correlated"),
        ("test", settings.test_per_class, False),
    ):
        labels = base[f"{split}_labels"].long()
        idx = _pick(labels, per_class, num_classes, generator)
        families = families_for(labels[idx], correlated, settings.rho, generator)
        images, foreground = compose(base[f"{split}_images"][idx], families, generator)
        out.update(
            {
                f"{split}_images": images,
                f"{split}_labels": labels[idx].clone(),
                f"{split}_foreground": foreground,
                f"{split}_background": families,
                f"{split}_source_index": idx,
            }
        )
    pixels = out["train_images"].float().div(255.0)
    out["mean"] = [float(v) for v in pixels.mean(dim=(0, 2, 3))]
    out["std"] = [float(v) for v in pixels.std(dim=(0, 2, 3))]
    out["background_families"] = TEXTURES.in_order()
    out["traits"] = DatasetTraits(dsa_strategy=DEFAULT_STRATEGY, flip_safe=True, published_as=None, base=base["name"]).to_dict()
    out["digest"] = digest(out)
    return out


DERIVATION = register_derivation(
    Derivation(
        name="backgrounds",
        summary="garments tinted on textured backgrounds (independent of the class, or correlated in training), exact foregrounds",
        settings=BackgroundSettings,
        derive=derive,
        foregrounds=True,
    )
)
