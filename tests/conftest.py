"""Shared fixtures: small datasets in the stored format of `condense download`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from condense.core.fileio import save_torch


def make_stored_dataset(
    n_per_class: int = 8,
    n_test_per_class: int = 4,
    num_classes: int = 3,
    shape: tuple[int, int, int] = (1, 28, 28),
    name: str = "fashionmnist",
    seed: int = 0,
) -> dict:
    """A learnable toy dataset: each class has its own mean brightness, plus noise."""
    gen = torch.Generator().manual_seed(seed)

    def split(n):
        labels = torch.arange(num_classes).repeat_interleave(n)
        base = (40 + 180 * labels.float() / max(num_classes - 1, 1)).reshape(-1, 1, 1, 1)
        noise = 30 * torch.randn((labels.numel(), *shape), generator=gen)
        return (base + noise).clamp(0, 255).to(torch.uint8), labels

    train_images, train_labels = split(n_per_class)
    test_images, test_labels = split(n_test_per_class)
    return {
        "name": name,
        "classes": [f"class{c}" for c in range(num_classes)],
        "mean": [0.5] * shape[0],
        "std": [0.25] * shape[0],
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "format": 1,
    }


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.pt"
    save_torch(make_stored_dataset(), path)
    return path


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
