"""CutMix as IDC trains with it (Kim et al., ICML 2022; official ``train.py`` ``train_epoch`` and ``misc/utils.py``
``rand_bbox``): with probability ``prob`` a batch gets a box of a shuffled copy of itself pasted in, and the
loss mixes the two labels by the box's area. Used by IDC's network updates while condensing and by the
``idc`` evaluation protocol; every random number comes from the explicit generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Box:
    """A drawn CutMix: the rows ``x1:x2`` (dim 2) and columns ``y1:y2`` (dim 3) pasted from ``index``."""

    index: Tensor
    x1: int
    y1: int
    x2: int
    y2: int

    def ratio(self, height: int, width: int) -> float:
        """The share of each image left its own (the official ``ratio``, the first label's loss weight)."""
        return 1.0 - (self.x2 - self.x1) * (self.y2 - self.y1) / (width * height)


def rand_bbox(height: int, width: int, lam: float, cx: int, cy: int) -> tuple[int, int, int, int]:
    """The official ``rand_bbox(size, lam)`` with its centre given: ``W = size[2]``, ``H = size[3]``."""
    cut = math.sqrt(1.0 - lam)
    cut_w, cut_h = int(height * cut), int(width * cut)
    x1, y1 = int(np.clip(cx - cut_w // 2, 0, height)), int(np.clip(cy - cut_h // 2, 0, width))
    x2, y2 = int(np.clip(cx + cut_w // 2, 0, height)), int(np.clip(cy + cut_h // 2, 0, width))
    return x1, y1, x2, y2


def draw_box(x: Tensor, generator: torch.Generator, beta: float, prob: float) -> Box | None:
    """Whether this batch is mixed (a uniform below ``prob``, drawn for every batch as the official
    ``np.random.rand(1)``), and then λ ~ Beta(β, β), the partner order and the box centre."""
    r = float(torch.rand((), generator=generator, device=generator.device))
    if not r < prob:
        return None
    # torch has no seeded Beta sampler: numpy's, seeded from the generator (the same draws for the same seed)
    lam = float(np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator, device=generator.device))).beta(beta, beta))
    index = torch.randperm(x.shape[0], generator=generator, device=generator.device).to(x.device, non_blocking=True)
    cx = int(torch.randint(x.shape[2], (1,), generator=generator, device=generator.device))
    cy = int(torch.randint(x.shape[3], (1,), generator=generator, device=generator.device))
    return Box(index, *rand_bbox(x.shape[2], x.shape[3], lam, cx, cy))


def paste(x: Tensor, box: Box) -> Tensor:
    """The batch with the box of its shuffled copy pasted in (the official in-place assignment, on a copy)."""
    out = x.clone()
    out[:, :, box.x1 : box.x2, box.y1 : box.y2] = x[box.index, :, box.x1 : box.x2, box.y1 : box.y2]
    return out


def mixed_loss(logits: Tensor, y: Tensor, box: Box | None, height: int, width: int) -> Tensor:
    """CE(y) · ratio + CE(y[index]) · (1 − ratio), or plain cross-entropy for an unmixed batch."""
    if box is None:
        return F.cross_entropy(logits, y)
    ratio = box.ratio(height, width)
    return F.cross_entropy(logits, y) * ratio + F.cross_entropy(logits, y[box.index]) * (1.0 - ratio)


# argument.py: mix_p 0.5 for these datasets, its default 1.0 for the others
MIX_P_HALF = frozenset({"cifar10", "cifar100", "svhn", "mnist", "fashionmnist"})


def idc_mix_p(base_dataset: str) -> float:
    """IDC's CutMix probability for a dataset (its traits' ``base``)."""
    return 0.5 if base_dataset in MIX_P_HALF else 1.0
