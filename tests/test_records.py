"""The typed records between stages: round trips, the optional fields, format-1 files, refusals."""

from __future__ import annotations

import json

import pytest
import torch

from condense.core.errors import CondenseError
from condense.core.fileio import save_torch, write_json
from condense.data.records import ACCURACY_COLUMNS, EvalRecord, MaskInfo, Provenance, SyntheticSet

MASK = MaskInfo("fcn-r1.0-mean-soft-fixed", "fcn, mean fill, soft, fixed", 1.0, True, "fcn", "mean")


def made(**changes) -> Provenance:
    return Provenance(**{"dataset": "fashionmnist", "method": "dm", "ipc": 2, "seed": 3, "model": "convnet",
                         "settings": {"lr_img": 1.0}, "mask": MASK, "inputs": {"data": "ab" * 32}, "iteration": 5,
                         "losses": (3.0, 2.5), "seconds": 1.5, "cost": {"seconds": 1.5}, "device": "cpu", **changes})  # fmt: skip


def test_a_set_round_trips_with_every_optional_field(tmp_path):
    images, labels = torch.randn(4, 1, 5, 5), torch.tensor([0, 0, 1, 1])
    soft = torch.softmax(torch.randn(4, 2), dim=1)
    original = SyntheticSet(images, labels, made(), soft_labels=soft, learned_lr=0.0125, decoder={"name": "multi", "factor": 2})
    original.save(tmp_path / "s.pt")
    back = SyntheticSet.load(tmp_path / "s.pt")
    assert torch.equal(back.images, images) and torch.equal(back.labels, labels) and torch.equal(back.soft_labels, soft)
    assert back.provenance == made() and back.learned_lr == 0.0125 and back.decoder == {"name": "multi", "factor": 2}
    assert back.provenance.mask_ratio == 1.0
    plain = SyntheticSet(images, labels, made(mask=None))
    plain.save(tmp_path / "p.pt")
    loaded = SyntheticSet.load(tmp_path / "p.pt")
    assert loaded.soft_labels is None and loaded.learned_lr is None and loaded.decoder is None
    assert loaded.provenance.mask is None and loaded.provenance.mask_ratio == 0.0


def test_a_format_1_set_loads_with_its_meta_and_what_it_lacks_stated(tmp_path):
    meta = {"dataset": "fashionmnist", "method": "random", "ipc": 2, "seed": 0, "indices": [4, 1, 9, 7]}
    save_torch({"images": torch.zeros(4, 1, 5, 5), "labels": torch.tensor([0, 0, 1, 1]), "meta": meta}, tmp_path / "old.pt")
    made_ = SyntheticSet.load(tmp_path / "old.pt").provenance
    assert made_ == Provenance("fashionmnist", "random", 2, 0, indices=(4, 1, 9, 7))
    assert made_.final and made_.model is None and made_.losses == () and made_.cost is None


@pytest.mark.parametrize(
    "stored, needle",
    [
        ({"images": torch.zeros(2, 1, 5, 5), "labels": torch.tensor([0, 1]), "meta": {"dataset": "x"}}, "records no method, ipc, seed"),
        ({"images": torch.zeros(2, 1, 5, 5), "labels": torch.tensor([0, 1])}, "lacks images/labels/meta"),
        ({"format": 9, "images": torch.zeros(2, 1, 5, 5), "labels": torch.tensor([0, 1]), "meta": {}}, "format 9, newer"),
        ({"images": torch.zeros(2, 5, 5), "labels": torch.tensor([0, 1]), "meta": {}}, "expected N×C×H×W"),
    ],
)
def test_a_set_file_that_is_not_one_is_a_one_line_error(stored, needle, tmp_path):
    save_torch(stored, tmp_path / "bad.pt")
    with pytest.raises(CondenseError, match=needle.replace("(", r"\(")):
        SyntheticSet.load(tmp_path / "bad.pt")


def record(**changes) -> EvalRecord:
    runs = ({"net": 0, "seed": 11, "test_acc": 0.5, "diverged": False, "seconds": 1.0},
            {"net": 1, "seed": 12, "test_acc": 0.1, "diverged": True, "seconds": 1.0})  # fmt: skip
    return EvalRecord(**{"kind": "accuracy", "dataset": "fashionmnist", "published_as": "fashionmnist", "model": "convnet",
                         "set": made(mask=None), "set_path": "s.pt", "settings": {"epochs": 300}, "eval_seed": 0, "device": "cpu",
                         "runs": runs, "summary": {"mean": 50.0, "std": 0.0, "n": 1, "diverged": 1}, "cost": {"seconds": 2.0},
                         "extra": {"test_images": 100, "compile": False}, **changes})  # fmt: skip


def test_an_evaluation_record_round_trips_and_keeps_format_1_keys(tmp_path):
    original = record()
    original.save(tmp_path / "e.json")
    flat = json.loads((tmp_path / "e.json").read_text())
    for key in ("method", "mask_ratio", "ipc", "set_seed", "iteration", "final", "set_seconds", "test_images", "mean", "runs"):
        assert key in flat, key  # what every reader of format 1 found there
    assert flat["kind"] == "accuracy" and flat["set_model"] == "convnet" and flat["columns"] == [dict(c) for c in ACCURACY_COLUMNS]
    back = EvalRecord.load(tmp_path / "e.json")
    assert back.set == Provenance("fashionmnist", "dm", 2, 3, model="convnet", iteration=5, seconds=1.5)  # what a record keeps of a set
    assert (back.kind, back.model, back.runs, back.summary, back.extra) == (original.kind, "convnet", original.runs,
                                                                            original.summary, original.extra)  # fmt: skip
    values = back.values(back.value)
    assert values[0] == 0.5 and values[1] != values[1] and back.scale == 100.0  # a diverged network's value is NaN


def test_a_format_1_evaluation_and_a_whole_dataset_record_load(tmp_path):
    flat = record().to_json()
    for key in ("format", "kind", "columns", "set_model"):
        del flat[key]
    write_json(flat, tmp_path / "old.json")
    old = EvalRecord.load(tmp_path / "old.json")
    assert old.kind == "accuracy" and old.value == "test_acc" and old.set.model is None
    full = {"dataset": "fashionmnist", "model": "convnet", "seed": 0, "per_class": 0, "settings": {}, "published_as": "fashionmnist",
            "method": "full", "ipc": None, "runs": [{"net": 0, "seed": 0, "test_acc": 0.9}]}  # fmt: skip
    write_json(full, tmp_path / "full.json")
    whole = EvalRecord.load(tmp_path / "full.json")
    assert whole.set.method == "full" and whole.set.ipc is None and whole.extra == {"per_class": 0}
    del full["published_as"]
    write_json(full, tmp_path / "broken.json")
    with pytest.raises(CondenseError, match="lacks 'published_as'"):
        EvalRecord.load(tmp_path / "broken.json")
