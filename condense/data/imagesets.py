"""The labelled image set that every method produces and ``evaluate`` consumes.

One file per wildcard set: float32 normalised images (N×C×H×W), int64 labels,
and a ``meta`` dict (dataset, method, ipc, seed, the resolved settings, ...).
Coresets, distilled sets and masked variants all share this format.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch


def save_set(path: str | Path, images: torch.Tensor, labels: torch.Tensor, meta: dict) -> None:
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    save_torch(
        {"images": images.detach().float().cpu().contiguous(), "labels": labels.detach().long().cpu(), "meta": dict(meta)},
        path,
    )


def load_set(path: str | Path) -> tuple[torch.Tensor, torch.Tensor, dict]:
    stored = load_torch(path, what="image set")
    if not isinstance(stored, dict) or not {"images", "labels", "meta"} <= set(stored):
        raise CondenseError(f"image set file {str(path)!r} lacks images/labels/meta; rerun the stage that made it")
    images, labels = stored["images"], stored["labels"]
    if images.dim() != 4 or labels.shape != (images.shape[0],):
        raise CondenseError(
            f"image set file {str(path)!r} has images {tuple(images.shape)} and labels {tuple(labels.shape)}; expected N×C×H×W and N"
        )
    return images, labels, stored["meta"]
