"""The maps file: one saliency map per training image, from any source.

``{"maps": uint8 N×H×W, "dataset", "source", "settings", "format": 2}``: map ``i`` belongs to
training image ``i`` in its stored order, stored as ``round(255·A)`` with A in [0, 1]
(``A = maps.float() / 255``); ``source`` names the saliency source and ``settings`` how it ran
(the network file, its parameters), so every consumer can check what it was given.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch

MAPS_FORMAT = 2


def to_uint8(attention: torch.Tensor) -> torch.Tensor:
    """Attention in [0, 1] → uint8 round(255·A)."""
    return attention.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def from_uint8(maps: torch.Tensor) -> torch.Tensor:
    """Stored uint8 maps → float attention in [0, 1]."""
    return maps.float().div_(255.0)


def save_maps(path: str | Path, maps: torch.Tensor, dataset: str, source: str, settings: dict) -> None:
    if maps.dtype != torch.uint8 or maps.dim() != 3:
        raise ValueError(f"maps must be uint8 N×H×W, got {tuple(maps.shape)} {maps.dtype}")
    save_torch({"maps": maps.cpu(), "dataset": dataset, "source": source, "settings": dict(settings), "format": MAPS_FORMAT}, path)


def load_maps(path: str | Path) -> dict:
    """Read a maps file, checking it holds uint8 N×H×W maps."""
    stored = load_torch(path, what="attention maps")
    if not isinstance(stored, dict) or not isinstance(stored.get("maps"), torch.Tensor):
        raise CondenseError(f"attention maps file {str(path)!r} has no 'maps' tensor; rerun `condense saliency`")
    maps = stored["maps"]
    if maps.dtype != torch.uint8 or maps.dim() != 3:
        raise CondenseError(
            f"attention maps file {str(path)!r} holds {tuple(maps.shape)} {maps.dtype} maps, expected uint8 N×H×W; "
            "rerun `condense saliency`"
        )
    return stored


def check_maps_fit(stored: dict, dataset: str, num_train: int, im_size, what: str = "attention maps") -> None:
    """The maps belong to ``dataset`` and cover its ``num_train`` training images of ``im_size``."""
    if stored.get("dataset") not in (None, dataset):
        raise CondenseError(
            f"{what} were made for dataset {stored['dataset']!r}, not {dataset!r}; rerun `condense saliency` for this dataset"
        )
    maps = stored["maps"]
    if tuple(maps.shape) != (num_train, *tuple(im_size)):
        raise CondenseError(
            f"{what} are {tuple(maps.shape)} but {dataset} has {num_train} training images of {im_size[0]}x{im_size[1]}; "
            "compute the maps for this dataset"
        )
