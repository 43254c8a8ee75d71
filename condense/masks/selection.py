"""Which training images are masked at a mask ratio r under the ``fixed`` scheme (paper §3.2, Figure 3).

For every class c, exactly ``floor(r · n_c)`` of its n_c training images, uniformly at random
without replacement (CPU generator seeded by the mask seed). The ``mask`` stage stores only that
selection: a bool tensor over the training set in its stored order, with the ratio, seed and
dataset; images are never copied per ratio.

For one seed the selections are nested across ratios (the same per-class random order is cut at
``floor(r · n_c)``), so the images masked at r = 0.25 are also masked at r = 0.5, which lowers the
noise of a mask-ratio curve.

Relation to the authors' code: there, ``floor(r · n)`` images of every real batch of n drawn for a
class are masked while condensing, so across iterations every real image is sometimes seen masked
and sometimes raw. Here the masked subset is fixed once per (ratio, seed): the expected fraction of
masked images in a batch is the same (about r), but a given image is always masked or always raw.
r = 0 and r = 1 are identical in both schemes.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch

SELECTION_FORMAT = 2


def check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not 0.0 <= ratio <= 1.0:  # also rejects NaN
        raise CondenseError(f"mask ratio {ratio!r} is outside [0, 1]; give the fraction of images to mask, e.g. --ratio 0.5")
    return ratio


def masked_count(n: int, ratio: float) -> int:
    """floor(ratio · n), robust to float round-off (0.29 · 100 counts as 29, not 28)."""
    return min(n, math.floor(ratio * n + 1e-9))


def select_masked(labels: torch.Tensor, num_classes: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Bool tensor over ``labels`` (CPU) with exactly floor(ratio·n_c) True entries in each class c."""
    ratio = check_ratio(ratio)
    labels = labels.cpu()
    selected = torch.zeros(labels.shape[0], dtype=torch.bool)
    for c in range(num_classes):
        idx = torch.nonzero(labels == c).flatten()
        order = torch.randperm(idx.numel(), generator=generator, device=generator.device).cpu()
        selected[idx[order[: masked_count(idx.numel(), ratio)]]] = True
    return selected


def save_selection(
    path: str | Path, selected: torch.Tensor, labels: torch.Tensor, num_classes: int, ratio: float, seed: int, dataset: str
) -> list[int]:
    """Write a selection file; returns the masked count per class."""
    per_class = [int(selected[labels == c].sum()) for c in range(num_classes)]
    save_torch(
        {
            "selected": selected,
            "ratio": ratio,
            "seed": seed,
            "dataset": dataset,
            "num_train": int(labels.shape[0]),
            "per_class_masked": per_class,
            "format": SELECTION_FORMAT,
        },
        path,
    )
    return per_class


def load_selection(path: str | Path, dataset: str | None = None, num_train: int | None = None) -> dict:
    """Read a selection file written by the ``mask`` stage, checked against a dataset when given."""
    stored = load_torch(path, what="mask selection")
    if not isinstance(stored, dict) or not isinstance(stored.get("selected"), torch.Tensor) or stored["selected"].dtype != torch.bool:
        raise CondenseError(f"mask selection file {str(path)!r} has no bool 'selected' tensor; rerun `condense mask`")
    if dataset is not None and stored.get("dataset") not in (None, dataset):
        raise CondenseError(
            f"mask selection {str(path)!r} was made for dataset {stored['dataset']!r}, not {dataset!r}; rerun `condense mask` for it"
        )
    if num_train is not None and tuple(stored["selected"].shape) != (num_train,):
        raise CondenseError(
            f"mask selection {str(path)!r} covers {tuple(stored['selected'].shape)} images, but the training set has {num_train}; "
            "rerun `condense mask` on this dataset"
        )
    return stored
