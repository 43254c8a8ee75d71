"""How a map masks an image, and the masked view of a dataset that condensation draws real batches from.

A map A (in [0, 1], H×W, broadcast over channels) masks a normalised image x by its variant's
*fill* (registry :data:`FILLS`: what the masked-out region becomes) after its *shape*
(``soft``: A as is). Its *scheme* (registry :data:`SCHEMES`) says which images are masked;
``fixed`` masks a stored selection (``condense mask``), so the masked images are computed once.
Every image that is not masked stays bit-identical, and nothing selected gives back the data itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from ..core.errors import CondenseError
from ..core.registry import Registry
from ..data.store import RealData
from .maps import check_maps_fit, from_uint8
from .variant import MaskVariant


@dataclass(frozen=True)
class Fill:
    name: str
    summary: str
    apply: Callable[[Tensor, Tensor], Tensor]  # (normalised images B×C×H×W, maps B×1×H×W) -> masked images


@dataclass(frozen=True)
class Scheme:
    name: str
    summary: str


FILLS: Registry[Fill] = Registry("mask fill")
FILLS.add("mean", Fill("mean", "x_norm ⊙ A: the masked-out region goes to the dataset's mean colour (the authors' code)",
                       lambda x, a: x * a))

SCHEMES: Registry[Scheme] = Registry("mask scheme")
SCHEMES.add("fixed", Scheme("fixed", "floor(r·n_c) fixed images per class are masked (a selection from `condense mask`)"))


def shape_maps(attention: Tensor, variant: MaskVariant) -> Tensor:
    """The maps a variant applies (``soft``: as stored)."""
    if variant.shape == "soft":
        return attention
    raise CondenseError(f"mask shape {variant.shape!r} is not available; use soft")


def mask_images(images: Tensor, maps_uint8: Tensor, variant: MaskVariant) -> Tensor:
    """``images`` (normalised, B×C×H×W) masked by their uint8 maps (B×H×W) as ``variant`` says."""
    attention = shape_maps(from_uint8(maps_uint8), variant).to(images.device).unsqueeze(1)
    return FILLS.get(variant.fill).apply(images, attention)


def masked_data(data: RealData, maps: dict, variant: MaskVariant, selected: Optional[Tensor] = None) -> RealData:
    """``data`` as condensation sees it under ``variant``: its training images masked per the scheme.

    ``maps``: a loaded maps file of ``data``; ``selected``: the ``fixed`` scheme's bool selection
    over the training set. With nothing selected (ratio 0) ``data`` itself is returned."""
    variant.validate()
    n = data.train_images.shape[0]
    check_maps_fit(maps, data.name, n, data.im_size)
    if maps.get("source") not in (None, variant.source):
        raise CondenseError(f"the maps are from source {maps['source']!r}, but mask {variant.build()!r} names {variant.source!r}; "
                            f"pass the {variant.source} maps")
    if variant.scheme != "fixed":
        raise CondenseError(f"mask scheme {variant.scheme!r} is not available; use fixed")
    if selected is None:
        raise CondenseError("the fixed mask scheme needs a selection (`condense mask`): pass --selection")
    if selected.dtype != torch.bool or tuple(selected.shape) != (n,):
        raise CondenseError(f"mask selection is {tuple(selected.shape)} {selected.dtype}, expected bool ({n},) over the training set of {data.name}")
    idx = torch.nonzero(selected.cpu()).flatten()
    if idx.numel() == 0:
        return data
    device = data.train_images.device
    idx_dev = idx.to(device)
    images = data.train_images.clone()
    images[idx_dev] = mask_images(images[idx_dev], maps["maps"][idx], variant)
    return dataclasses.replace(data, train_images=images)
