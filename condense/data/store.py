"""The stored dataset (``data.pt``, written by ``condense download`` or ``condense derive``) and its reader.

A data file is one torch dict: ``name``, ``classes``, ``mean``, ``std``, uint8 N×C×H×W
``train_images``/``test_images``, int64 ``train_labels``/``test_labels``, ``format`` and the
dataset's ``traits`` (:class:`~condense.data.traits.DatasetTraits`); derived datasets add their
own keys (a foreground mask, say). :func:`read_stored` is the one reader: every stage that needs
the file goes through it, and :func:`load_data` turns it into normalised tensors on a device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch
from .traits import DatasetTraits

REQUIRED_KEYS = ("name", "classes", "mean", "std", "train_images", "train_labels", "test_images", "test_labels")


def normalize(images_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 N×C×H×W → float32, scaled to [0, 1] then standardised per channel (torchvision's ToTensor+Normalize)."""
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=images_uint8.device).reshape(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=images_uint8.device).reshape(1, -1, 1, 1)
    return (images_uint8.float().div_(255.0) - mean_t) / std_t


def denormalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """Inverse of :func:`normalize`, clamped to [0, 1] for display."""
    mean_t = torch.as_tensor(mean, dtype=images.dtype, device=images.device).reshape(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=images.dtype, device=images.device).reshape(1, -1, 1, 1)
    return (images * std_t + mean_t).clamp(0.0, 1.0)


@dataclass
class RealData:
    """A dataset in memory: normalised images on ``device``, the indices of each class and the dataset's traits.

    ``extras`` holds a derived dataset's additional stored tensors (e.g. ``train_foreground``), on the CPU."""

    name: str
    classes: list[str]
    mean: list[float]
    std: list[float]
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_indices: list[torch.Tensor]
    traits: DatasetTraits
    extras: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channel(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def im_size(self) -> tuple[int, int]:
        return (int(self.train_images.shape[2]), int(self.train_images.shape[3]))

    def class_size(self, c: int) -> int:
        return int(self.class_indices[c].numel())

    def sample_class_indices(self, c: int, n: int, generator: torch.Generator) -> torch.Tensor:
        """Indices (into the training set) of ``n`` random images of class ``c`` without replacement
        (all of them if the class is smaller)."""
        idx = self.class_indices[c]
        perm = torch.randperm(idx.numel(), generator=generator, device=generator.device)[:n]
        return idx[perm.to(idx.device, non_blocking=True)]

    def sample_class(self, c: int, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` random images of class ``c`` without replacement (all of them if the class is smaller)."""
        return self.train_images[self.sample_class_indices(c, n, generator)]

    def images_at(self, idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The training images at ``idx`` as condensation sees them (a masked view masks them; ``generator``
        for what masking draws)."""
        return self.train_images[idx]


def subset_per_class(
    labels: torch.Tensor,
    per_class: int,
    num_classes: int,
    generator: torch.Generator,
    flag: str = "--per-class",
    zero_for_all: bool = True,
) -> torch.Tensor:
    """Indices of ``per_class`` random images of every class (all images when per_class is 0). ``flag``: the
    option that gave ``per_class`` and ``zero_for_all`` whether it takes 0, for the message when a class has fewer."""
    if per_class <= 0:
        return torch.arange(labels.shape[0], device=labels.device)
    picks = []
    for c in range(num_classes):
        idx = torch.nonzero(labels == c).flatten()
        if per_class > idx.numel():
            fix = "lower it or use 0 for all" if zero_for_all else "lower it"
            raise CondenseError(f"{flag} {per_class} exceeds the {idx.numel()} images of class {c}; {fix}")
        perm = torch.randperm(idx.numel(), generator=generator, device=generator.device).to(idx.device, non_blocking=True)
        picks.append(idx[perm[:per_class]])
    return torch.cat(picks)


def traits_of(stored: dict) -> DatasetTraits:
    """The stored traits; a data file written before traits were stored takes its dataset's registered ones."""
    if "traits" in stored:
        return DatasetTraits.from_dict(stored["traits"])
    from .sources import DATASETS

    if stored["name"] in DATASETS:
        return DATASETS.get(stored["name"]).traits
    raise CondenseError(f"dataset {stored['name']!r} stores no traits and is not a registered dataset; rerun the stage that made it")


def check_stored(stored: object, path: Path | str) -> dict:
    """``stored`` if it is a well-formed data file, else a one-line CondenseError naming what is wrong."""
    if not isinstance(stored, dict) or any(k not in stored for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(stored, dict) or k not in stored]
        raise CondenseError(
            f"dataset file {str(path)!r} lacks {', '.join(missing)}; it was not written by `condense download`, rerun that stage"
        )
    for split in ("train", "test"):
        images, labels = stored[f"{split}_images"], stored[f"{split}_labels"]
        if images.dtype != torch.uint8 or images.dim() != 4 or labels.shape != (images.shape[0],):
            raise CondenseError(
                f"dataset file {str(path)!r} has malformed {split} tensors (images {tuple(images.shape)} {images.dtype}, "
                f"labels {tuple(labels.shape)}); rerun `condense download`"
            )
    return stored


def read_stored(path: str | Path) -> dict:
    """The data file as stored (uint8 tensors on the CPU), checked."""
    return check_stored(load_torch(path, what="dataset"), path)


def load_data(path: str | Path, device: torch.device | str = "cpu", with_train: bool = True, stored: dict | None = None) -> RealData:
    """The data file, normalised on ``device``. ``with_train=False`` keeps an empty training set (shape
    and classes intact) for stages that only test: the float copy of the training images is 4x the
    stored uint8 (0.6 GB for CIFAR-10). ``stored``: the already-read file (skips reading it again)."""
    stored = dict(read_stored(path) if stored is None else stored)
    if not with_train:
        stored["train_images"], stored["train_labels"] = stored["train_images"][:0], stored["train_labels"][:0]
    mean, std = list(stored["mean"]), list(stored["std"])
    train_labels = stored["train_labels"].long().to(device)
    num_classes = len(stored["classes"])
    class_indices = [torch.nonzero(train_labels == c).flatten() for c in range(num_classes)]
    extras = {k: v for k, v in stored.items() if k not in REQUIRED_KEYS and k not in ("format", "traits")}
    return RealData(
        name=stored["name"],
        classes=list(stored["classes"]),
        mean=mean,
        std=std,
        train_images=normalize(stored["train_images"].to(device), mean, std),
        train_labels=train_labels,
        test_images=normalize(stored["test_images"].to(device), mean, std),
        test_labels=stored["test_labels"].long().to(device),
        class_indices=class_indices,
        traits=traits_of(stored),
        extras=extras,
    )
