"""How a map masks an image, and the masked view of a dataset that condensation draws real batches from.

A map A (in [0, 1], H×W, broadcast over channels) masks a normalised image x in three steps, each
named in the variant (``condense/masks/variant.py``):

- **shape** — ``soft``: A as is; ``hard<q>``: 1 on the top q of the image's pixels by A (exactly
  round(q·H·W) of them, at least one), 0 elsewhere;
- **fill** (registry :data:`FILLS`) — what the masked-out region becomes:
  ``mean`` x ⊙ A (normalised space: the region goes to the dataset's mean colour; the authors' code),
  ``black`` normalise(x_pixel ⊙ A) (the region goes black, as FashionMNIST's backgrounds are),
  ``other`` A ⊙ x + (1 − A) ⊙ x′ with x′ a training image of any class drawn at random with the batch
  (natural-image content that no longer tells the class);
- **scheme** (registry :data:`SCHEMES`) — which real images are masked: ``fixed``, a stored selection
  of floor(r·n_c) images per class (``condense mask``); ``batch``, the authors' ``get_images``:
  floor(r·n) of every real batch of n drawn for a class, drawn afresh each time from the
  iteration's generator (the batch is already in random order; its first floor(r·n) are masked).

Every image that is not masked stays bit-identical. Fills that draw nothing (``mean``, ``black``)
under the ``fixed`` scheme are applied once to the whole training set; the rest are applied to
each drawn batch, from the same generator as the batch, so a resumed run stays exact.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from ..core.errors import CondenseError
from ..data.maps import check_maps_fit, from_uint8
from ..data.store import RealData
from .fills import FILLS, FillContext
from .schemes import SCHEMES
from .variant import MaskVariant


def hard_count(q: float, pixels: int) -> int:
    """Pixels a hard map keeps: round(q · pixels), at least one."""
    return max(1, min(pixels, int(round(q * pixels))))


def shape_maps(attention: Tensor, variant: MaskVariant) -> Tensor:
    """The maps a variant applies: ``soft`` as given; ``hard<q>`` 1 on each image's top round(q·H·W) pixels."""
    if variant.shape == "soft":
        return attention
    flat = attention.flatten(1)
    k = hard_count(variant.q, flat.shape[1])
    keep = torch.zeros_like(flat)
    keep.scatter_(1, flat.topk(k, dim=1).indices, 1.0)
    return keep.view_as(attention)


def fill_context(images: Tensor, mean, std, others: Tensor | None = None) -> FillContext:
    shape = (1, -1, 1, 1)
    return FillContext(
        torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(shape),
        torch.as_tensor(std, dtype=images.dtype, device=images.device).view(shape),
        others,
    )


def mask_images(images: Tensor, maps_uint8: Tensor, variant: MaskVariant, mean=None, std=None, others: Tensor | None = None) -> Tensor:
    """``images`` (normalised, B×C×H×W) masked by their uint8 maps (B×H×W) as ``variant`` says.
    ``mean``/``std``: the dataset's normalisation (``black``; lists, or tensors already on the images' device); ``others``: the x′ of ``other``."""
    fill = FILLS.get(variant.fill)
    if fill.draws and others is None:
        raise CondenseError(f"the {fill.name} fill needs the images to fill from")
    if mean is None:
        mean, std = [0.0] * images.shape[1], [1.0] * images.shape[1]
    attention = shape_maps(from_uint8(maps_uint8.to(images.device)), variant).unsqueeze(1)
    return fill.apply(images, attention, fill_context(images, mean, std, others))


class MaskedData:
    """A dataset as condensation sees it under a mask variant: ``sample_class`` returns masked real batches.

    Everything else (``num_classes``, ``channel``, ``train_images``, ...) is the underlying data's."""

    def __init__(self, data: RealData, maps_uint8: Tensor, variant: MaskVariant, selected: Tensor | None, dense: bool | None = None):
        self.data, self.variant = data, variant
        self.maps = maps_uint8.to(data.train_images.device)
        self.selected = None if selected is None else selected.to(data.train_images.device)
        self.fill, self.scheme = FILLS.get(variant.fill), SCHEMES.get(variant.scheme)
        # the normalisation on the device once: made from the Python lists per batch, it is a blocking copy
        images = data.train_images
        self.fill_mean, self.fill_std = (torch.as_tensor(v, dtype=images.dtype, device=images.device) for v in (data.mean, data.std))
        # dense: mask whole batches and keep the chosen images, with no host read (the CUDA default;
        # the CPU keeps the sparse path, whose random stream the reference results were made with)
        self.dense = data.train_images.is_cuda if dense is None else dense

    def __getattr__(self, name):
        return getattr(self.data, name)

    def _which(self, idx: Tensor) -> Tensor:
        """Which of a drawn batch (indices in random order) are masked."""
        return self.scheme.which(idx, self.selected, self.variant.ratio)

    def sample_class(self, c: int, n: int, generator: torch.Generator) -> Tensor:
        return self.images_at(self.data.sample_class_indices(c, n, generator), generator)

    def images_at(self, idx: Tensor, generator: torch.Generator) -> Tensor:
        """The training images at ``idx`` (a drawn batch, in its random order), those the scheme picks masked."""
        images = self.data.train_images[idx]
        which = self._which(idx)
        if self.dense:
            return self._masked_densely(idx, images, which, generator)
        count = int(which.sum())
        if count == 0:
            return images
        picked = idx[which]
        others = self._others(count, generator)
        images = images.clone()
        images[which] = mask_images(images[which], self.maps[picked], self.variant, self.fill_mean, self.fill_std, others)
        return images

    def _others(self, count: int, generator: torch.Generator) -> Tensor | None:
        """x′ of a drawing fill: ``count`` training images drawn with the batch from the same generator."""
        if not self.fill.draws:
            return None
        j = torch.randint(self.data.train_images.shape[0], (count,), generator=generator, device=generator.device)
        return self.data.train_images[j.to(self.data.train_images.device, non_blocking=True)]

    def _masked_densely(self, idx: Tensor, images: Tensor, which: Tensor, generator: torch.Generator) -> Tensor:
        """The same batch without reading how many are masked on the host: every image is masked (and
        draws its x′), then the unselected ones are put back. Another random stream than the sparse path
        when fewer than all are masked (x′ drawn for every image), so it is only the CUDA default, where
        the count read would stop the device once per class and iteration."""
        others = self._others(idx.shape[0], generator)
        masked = mask_images(images, self.maps[idx], self.variant, self.fill_mean, self.fill_std, others)
        return torch.where(which.view(-1, 1, 1, 1), masked, images)


def masked_data(data: RealData, maps: dict, variant: MaskVariant, selected: Tensor | None = None):
    """``data`` as condensation sees it under ``variant``: a RealData with the masked training images
    when the fill draws nothing and the scheme is ``fixed`` (computed once), else a :class:`MaskedData`
    that masks each drawn batch. ``maps``: a loaded maps file of ``data``; ``selected``: the ``fixed``
    scheme's bool selection over the training set. Nothing masked (ratio 0) gives ``data`` itself."""
    variant.validate()
    n = data.train_images.shape[0]
    check_maps_fit(maps, data.name, n, data.im_size)
    if maps.get("source") not in (None, variant.source):
        raise CondenseError(
            f"the maps are from source {maps['source']!r}, but mask {variant.build()!r} names {variant.source!r}; "
            f"pass the {variant.source} maps"
        )
    scheme = SCHEMES.get(variant.scheme)
    if scheme.needs_selection:
        if selected is None:
            raise CondenseError(f"the {scheme.name} mask scheme needs a selection (`condense mask`): pass --selection")
        if selected.dtype != torch.bool or tuple(selected.shape) != (n,):
            raise CondenseError(
                f"mask selection is {tuple(selected.shape)} {selected.dtype}, expected bool ({n},) over the training set of {data.name}"
            )
        if not bool(selected.any()):
            return data
    elif variant.ratio == 0:
        return data
    if scheme.same_images_every_draw and not FILLS.get(variant.fill).draws:
        idx = torch.nonzero(selected.cpu()).flatten()
        idx_dev = idx.to(data.train_images.device)
        images = data.train_images.clone()
        images[idx_dev] = mask_images(images[idx_dev], maps["maps"][idx], variant, data.mean, data.std)
        return dataclasses.replace(data, train_images=images)
    return MaskedData(data, maps["maps"], variant, selected)
