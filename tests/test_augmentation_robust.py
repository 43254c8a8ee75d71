"""Accuracy with and without augmentation (condense/evaluations/augmentation.py) and DD-Ranking's
augmentation-robust score in the relative table (condense/reporting/relative.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from conftest import write_record, write_set

from condense.cli import main
from condense.core.fileio import read_json
from condense.data.records import EvalRecord, Provenance
from condense.evaluations import EVALUATIONS
from condense.reporting.relative import ars
from condense.reporting.tables import MISSING


@pytest.fixture
def set_file(tmp_path):
    """Two images per class of the fixture's three classes."""
    generator = torch.Generator().manual_seed(0)
    return write_set(tmp_path / "set.pt", torch.randn(6, 1, 28, 28, generator=generator), torch.arange(3).repeat_interleave(2))


COMMON = ["--model", "convnet_w32", "--num-nets", "2", "--epochs", "6", "--device", "cpu", "--quiet"]


def test_each_network_is_the_accuracy_evaluation_with_and_without_augmentation(data_file, set_file, tmp_path):
    out, aug, naug = tmp_path / "both.json", tmp_path / "aug.json", tmp_path / "naug.json"
    assert main(["evaluate", "--kind", "augmentation", "--data", str(data_file), "--set", str(set_file), *COMMON, "--out", str(out)]) == 0
    accuracy = ["evaluate", "--data", str(data_file), "--set", str(set_file), *COMMON]
    assert main([*accuracy, "--augment", "dsa", "--out", str(aug)]) == 0
    assert main([*accuracy, "--augment", "none", "--out", str(naug)]) == 0
    record = read_json(out)
    # the same seeds as the accuracy evaluation: network i of each training is that evaluation's network i
    assert [r["test_acc_aug"] for r in record["runs"]] == [r["test_acc"] for r in read_json(aug)["runs"]]
    assert [r["test_acc_naug"] for r in record["runs"]] == [r["test_acc"] for r in read_json(naug)["runs"]]
    assert [c["name"] for c in record["columns"]] == ["test_acc_aug", "test_acc_naug"]
    assert record["mean"] == pytest.approx(100 * sum(r["test_acc_aug"] for r in record["runs"]) / 2)


def test_no_augmentation_to_compare_is_a_one_line_error(data_file, set_file, tmp_path, capsys):
    out = tmp_path / "none.json"
    argv = ["evaluate", "--kind", "augmentation", "--data", str(data_file), "--set", str(set_file), *COMMON, "--augment", "none"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "--augment none leaves nothing to compare" in capsys.readouterr().err and not out.exists()


def augmentation_record(path, accs_aug, accs_naug, *, method, ipc, model="convnet"):
    """An `augmentation` record as `condense evaluate --kind augmentation` writes it (fractions)."""
    kind = EVALUATIONS.get("augmentation")
    runs = tuple({"net": i, "seed": i, "test_acc_aug": a, "test_acc_naug": n, "diverged": False}
                 for i, (a, n) in enumerate(zip(accs_aug, accs_naug)))  # fmt: skip
    columns = tuple({"name": c.name, "label": c.label, "scale": c.scale} for c in kind.columns)
    EvalRecord("augmentation", "fashionmnist", "fashionmnist", model, Provenance("fashionmnist", method, ipc, 0), "s.pt", {}, 0,
               "cpu", runs, kind.summarize(list(runs)), {}, columns=columns).save(path)  # fmt: skip
    return path


def test_ars_joins_the_relative_table_where_the_set_and_its_random_subset_were_evaluated_both_ways(tmp_path):
    records = [
        write_record(tmp_path / "random1.json", [0.50], method="random", ipc=1),
        write_record(tmp_path / "dm1.json", [0.70], method="dm", ipc=1),
        write_record(tmp_path / "dc1.json", [0.66], method="dc", ipc=1),  # accuracy only: no ARS
        write_record(tmp_path / "full.json", [0.90], method="full"),
        augmentation_record(tmp_path / "random1.aug.json", [0.52, 0.54], [0.50, 0.50], method="random", ipc=1),
        augmentation_record(tmp_path / "dm1.aug.json", [0.72, 0.74], [0.60, 0.62], method="dm", ipc=1),
    ]
    csv = tmp_path / "relative.csv"
    assert main(["table", *map(str, records), "--layout", "relative", "--out-md", str(tmp_path / "r.md"), "--out-csv", str(csv)]) == 0
    rows = {r.method: r for _, r in pd.read_csv(csv, dtype=str, keep_default_na=False).iterrows()}
    # gain aug = 73 - 53 = 20 points, gain no aug = 61 - 50 = 11; beta = 0.5 * 0.20 + 0.5 * 0.11 = 0.155;
    # ARS = (e^0.155 - e^-1) / (e - e^-1) = (1.167658 - 0.367879) / 2.350402 = 0.34027
    dm = rows["dm"]
    assert (dm["gain aug (points)"], dm["gain no aug (points)"], dm["ARS"]) == ("+20.0", "+11.0", "0.340")
    assert dm["LRS"] == "0.269"  # the label-robust score from the accuracy records as before: alpha = 0.5*0.2 - 0.5*0.2 = 0
    assert (rows["dc"]["gain aug (points)"], rows["dc"]["ARS"]) == (MISSING, MISSING)
    assert "ARS = (e^β − e^−1)" in (tmp_path / "r.md").read_text()


def test_without_augmentation_records_the_relative_table_has_no_ars_columns(tmp_path):
    records = [write_record(tmp_path / "random1.json", [0.5], method="random"), write_record(tmp_path / "dm1.json", [0.7], method="dm")]
    csv = tmp_path / "relative.csv"
    assert main(["table", *map(str, records), "--layout", "relative", "--out-md", str(tmp_path / "r.md"), "--out-csv", str(csv)]) == 0
    assert list(pd.read_csv(csv).columns)[-1] == "LRS"


def test_the_augmentation_robust_score_is_dd_rankings():
    # aug_robust.py: beta = ars_lambda * with_aug_score + (1 - ars_lambda) * without_aug_score, normalised to [0, 1]
    assert ars(0.0, 0.0) == pytest.approx((1 - math.exp(-1)) / (math.e - math.exp(-1)))
    assert ars(1.0, -1.0, weight=1.0) == pytest.approx(1.0) and ars(1.0, -1.0, weight=0.0) == pytest.approx(0.0)
    assert ars(0.2, 0.0) == pytest.approx(ars(0.0, 0.2)) and ars(0.1, 0.1) < ars(0.2, 0.1)
