"""What fills the masked-out region of an image (registry :data:`FILLS`): one entry per fill, with its behaviour.

A fill takes normalised images (B×C×H×W), maps A in [0, 1] (B×1×H×W) and a :class:`FillContext`:
``mean`` x ⊙ A (the region goes to the dataset's mean colour; the authors' code), ``black``
normalise(x_pixel ⊙ A), ``other`` A ⊙ x + (1 − A) ⊙ x′ with x′ a training image drawn with the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.registry import Registry

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class FillContext:
    """What a fill may need besides the images and maps."""

    mean: Tensor  # (1, C, 1, 1) the dataset's per-channel mean (pixel scale)
    std: Tensor  # (1, C, 1, 1)
    others: Tensor | None = None  # (B, C, H, W) normalised images to fill from (``other``)


@dataclass(frozen=True)
class Fill:
    name: str
    summary: str
    apply: Callable[[Tensor, Tensor, FillContext], Tensor]  # (normalised images B×C×H×W, maps B×1×H×W, context)
    draws: bool = False  # needs an image drawn with the batch (x′)


def _mean(x: Tensor, a: Tensor, ctx: FillContext) -> Tensor:
    return x * a


def _black(x: Tensor, a: Tensor, ctx: FillContext) -> Tensor:
    pixels = x * ctx.std + ctx.mean
    return (pixels * a - ctx.mean) / ctx.std


def _other(x: Tensor, a: Tensor, ctx: FillContext) -> Tensor:
    return a * x + (1.0 - a) * ctx.others


FILLS: Registry[Fill] = Registry("mask fill")
FILLS.add("mean", Fill("mean", "x_norm ⊙ A: the masked-out region goes to the dataset's mean colour (the authors' code)", _mean))
FILLS.add("black", Fill("black", "normalise(x_pixel ⊙ A): the masked-out region goes black", _black))
FILLS.add("other", Fill("other", "A ⊙ x + (1 − A) ⊙ x′, x′ a random training image of any class drawn with the batch", _other, draws=True))
