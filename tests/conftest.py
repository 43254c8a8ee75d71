"""Shared fixtures: small datasets in the stored format of `condense download`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from condense.core.fileio import save_torch, write_json
from condense.data.records import EvalRecord, MaskInfo, Provenance, SyntheticSet

# The official code the cross-checks import (MIT-licensed copies beside a project checkout, read-only: the tests
# patch scratch copies). A variable set by the caller wins; without either, those tests skip and say so.
REFERENCE_CODE = Path(__file__).resolve().parents[2] / "shared" / "reference-code"
OFFICIAL_CHECKOUTS = {"CONDENSE_OFFICIAL_DIR": "DatasetCondensation", "CONDENSE_MTT_DIR": "MTT", "CONDENSE_IDC_DIR": "IDC"}
for _variable, _folder in OFFICIAL_CHECKOUTS.items():
    if not os.environ.get(_variable) and (REFERENCE_CODE / _folder).is_dir():
        os.environ[_variable] = str(REFERENCE_CODE / _folder)


# CAFE's official code has no licence, so no copy is shipped: a checkout extracted to ./official_cafe (git-ignored)
# or named by CONDENSE_CAFE_DIR is cross-checked against (tests/test_cafe.py).
_CAFE_CHECKOUT = Path(__file__).resolve().parents[1] / "official_cafe"
if not os.environ.get("CONDENSE_CAFE_DIR") and (_CAFE_CHECKOUT / "distill.py").is_file():
    os.environ["CONDENSE_CAFE_DIR"] = str(_CAFE_CHECKOUT)


def pytest_terminal_summary(terminalreporter):
    """Where the cross-checks found the official code (printed under -q too, so a CI log shows whether they ran)."""
    for variable in (*OFFICIAL_CHECKOUTS, "CONDENSE_DATADAM_DIR", "CONDENSE_CAFE_DIR"):
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


def write_set(path: Path, images: torch.Tensor, labels: torch.Tensor, **fields) -> Path:
    """A set file as a stage writes it: a random coreset of fashionmnist, seed 0, unless ``fields`` say otherwise
    (any :class:`~condense.data.records.Provenance` field)."""
    ipc = max(1, labels.numel() // max(1, int(labels.unique().numel())))
    made = Provenance(**{"dataset": "fashionmnist", "method": "random", "ipc": ipc, "seed": 0, **fields})
    SyntheticSet(images, labels, made).save(path)
    return path


def read_set(path: Path) -> tuple[torch.Tensor, torch.Tensor, Provenance]:
    """(images, labels, provenance) of a set file."""
    synthetic = SyntheticSet.load(path)
    return synthetic.images, synthetic.labels, synthetic.provenance


def mask_info(ratio: float, label: str = "fcn, mean fill, soft, fixed") -> MaskInfo | None:
    """The MaskInfo of a variant described as the evaluate stage labels it ("fcn, mean fill, soft, fixed"); ratio 0: None."""
    if not ratio:
        return None
    source, fill, shape, scheme = label.split(", ")
    fill = fill.removesuffix(" fill")
    return MaskInfo(f"{source}-r{float(ratio)!r}-{fill}-{shape}-{scheme}", label, float(ratio),
                    source == "fcn" and fill == "mean" and shape == "soft", source, fill)  # fmt: skip


def write_record(path: Path, accs, *, dataset="fashionmnist", model="convnet", method="random", ipc=1, ratio=0.0,
                 mask_label="fcn, mean fill, soft, fixed", seed=0, published_as=None, **made) -> Path:  # fmt: skip
    """An evaluation record as `condense evaluate` writes it (the whole-dataset baseline's for method 'full'),
    one network per accuracy in ``accs`` (fractions)."""
    runs = tuple({"net": i, "seed": i, "test_acc": a, "train_acc": 1.0, "diverged": False, "seconds": 1.0} for i, a in enumerate(accs))
    published_as = dataset if published_as is None else published_as
    if method == "full":
        # the whole-dataset baseline writes its own flat record, as condense full-baseline does
        write_json({"dataset": dataset, "model": model, "seed": seed, "per_class": 0, "settings": {}, "published_as": published_as,
                    "method": "full", "ipc": None, "runs": list(runs)}, path)  # fmt: skip
        return path
    provenance = Provenance(dataset, method, ipc, seed, mask=mask_info(ratio, mask_label), **made)
    mean = 100 * sum(accs) / len(accs)
    EvalRecord("accuracy", dataset, published_as, model, provenance, f"{path.stem}.pt", {"epochs": 300}, 0, "cpu", runs,
               {"mean": mean, "std": 0.0, "n": len(accs), "diverged": 0}, {"seconds": float(len(accs))}).save(path)  # fmt: skip
    return path
