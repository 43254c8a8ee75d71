"""Shared fixtures: small datasets in the stored format of `condense download`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from condense.core.fileio import save_torch

# The official code the cross-checks import (MIT-licensed copies beside a project checkout, read-only: the tests
# patch scratch copies). A variable set by the caller wins; without either, those tests skip and say so.
REFERENCE_CODE = Path(__file__).resolve().parents[2] / "shared" / "reference-code"
OFFICIAL_CHECKOUTS = {"CONDENSE_OFFICIAL_DIR": "DatasetCondensation"}
for _variable, _folder in OFFICIAL_CHECKOUTS.items():
    if not os.environ.get(_variable) and (REFERENCE_CODE / _folder).is_dir():
        os.environ[_variable] = str(REFERENCE_CODE / _folder)


def pytest_terminal_summary(terminalreporter):
    """Where the cross-checks found the official code (printed under -q too, so a CI log shows whether they ran)."""
    for variable in (*OFFICIAL_CHECKOUTS, "CONDENSE_DATADAM_DIR"):
        terminalreporter.write_line(f"{variable}: {os.environ.get(variable) or 'not set: its cross-checks were skipped'}")


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
