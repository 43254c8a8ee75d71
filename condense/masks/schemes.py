"""Which real images are masked (registry :data:`SCHEMES`): one entry per scheme, with its behaviour.

``fixed``: a stored selection (``condense mask``) of floor(r·n_c) images per class, the same in every draw;
``batch``: the authors' ``get_images``, floor(r·n) of every real batch of n drawn for a class, drawn afresh
(the batch is already in random order; its first floor(r·n) are masked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..core.registry import Registry
from .selection import masked_count


@dataclass(frozen=True)
class Scheme:
    name: str
    summary: str
    # which images of a drawn batch are masked: (the batch's indices into the training set, in random order; the
    # stored selection over the training set or None; the ratio) -> bool per image
    which: Callable[[Tensor, Tensor | None, float], Tensor]
    needs_selection: bool = False  # reads a stored selection (`condense mask`, --selection, the workflow's selection file)
    same_images_every_draw: bool = False  # with a fill that draws nothing, the masked set can be made once, not per batch


def _selected(idx: Tensor, selected: Tensor | None, ratio: float) -> Tensor:
    return selected[idx]


def _first_of_batch(idx: Tensor, selected: Tensor | None, ratio: float) -> Tensor:
    which = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    which[: masked_count(idx.shape[0], ratio)] = True
    return which


SCHEMES: Registry[Scheme] = Registry("mask scheme")
SCHEMES.add("fixed", Scheme("fixed", "floor(r·n_c) fixed images per class are masked (a selection from `condense mask`)", _selected,
                            needs_selection=True, same_images_every_draw=True))  # fmt: skip
SCHEMES.add("batch", Scheme("batch", "floor(r·n) of every drawn real batch of n are masked, drawn afresh (the authors' get_images)",
                            _first_of_batch))  # fmt: skip
