"""Class-incremental learning with a set as memory (condense/evaluations/continual.py, the CL_DM.py protocol)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_stored_dataset

from condense.cli import main
from condense.core.fileio import read_json, save_torch
from condense.data.records import Provenance, SyntheticSet
from condense.data.store import load_data
from condense.evaluations.continual import class_order

COMMON = ["--model", "convnet_w32", "--num-nets", "2", "--epochs", "20", "--augment", "none", "--device", "cpu", "--quiet"]


@pytest.fixture
def four_classes(tmp_path):
    path = tmp_path / "data.pt"
    save_torch(make_stored_dataset(n_per_class=6, n_test_per_class=5, num_classes=4), path)
    return path


def whole_training_set(data_file, path):
    """The perfect memory: every training image, in the data file's order."""
    data = load_data(data_file, with_train=True)
    SyntheticSet(data.train_images, data.train_labels, Provenance("fashionmnist", "whole", 6, 0)).save(path)
    return path


def test_class_orders_are_cl_dms():
    for seed_cl in range(5):
        np.random.seed(seed_cl)
        assert class_order(seed_cl, 10) == np.random.permutation(10).tolist()


def test_a_perfect_memory_reaches_joint_training_at_the_last_step_and_one_class_is_always_right(four_classes, tmp_path):
    memory = whole_training_set(four_classes, tmp_path / "whole.pt")
    out = tmp_path / "continual.json"
    argv = ["evaluate", "--kind", "continual", "--data", str(four_classes), "--set", str(memory), "--steps", "4", "--class-orders", "2"]
    assert main([*argv, *COMMON, "--out", str(out)]) == 0
    record = read_json(out)
    joint = tmp_path / "joint.json"
    assert main(["evaluate", "--data", str(four_classes), "--set", str(memory), *COMMON, "--out", str(joint)]) == 0
    # class order 0's last step trains on every class: the accuracy evaluation of the same set, network by network
    order0 = [r for r in record["runs"] if r["order"] == 0]
    assert [r["test_acc"] for r in order0] == [r["test_acc"] for r in read_json(joint)["runs"]]
    assert all(len(r["step_accs"]) == 4 and r["step_accs"][-1] == r["test_acc"] for r in record["runs"])
    # after the first step the memory and the test hold one class: every prediction is that class
    assert all(r["step_accs"][0] == 1.0 for r in record["runs"])
    per_step = record["per_step"]
    assert [s["classes_seen"] for s in per_step] == [1, 2, 3, 4] and all(s["n"] == 4 for s in per_step)
    assert per_step[0]["mean"] == pytest.approx(100.0) and per_step[0]["std"] == pytest.approx(0.0)
    assert record["class_orders"] == [class_order(0, 4), class_order(1, 4)]
    assert record["mean"] == pytest.approx(100 * np.mean([r["test_acc"] for r in record["runs"]]))


def test_the_memory_at_each_step_is_the_sets_images_of_the_classes_seen(four_classes, tmp_path, monkeypatch):
    import condense.evaluations.continual as continual

    seen = []

    def record_memory(images, labels, test_images, test_labels, **kwargs):
        seen.append((sorted(set(labels.tolist())), sorted(set(test_labels.tolist())), int(labels.numel())))
        return [{"net": 0, "seed": 0, "test_acc": 0.5, "diverged": False, "seconds": 0.0}]

    monkeypatch.setattr(continual, "evaluate_set", record_memory)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    path = tmp_path / "set.pt"
    SyntheticSet(torch.zeros(8, 1, 28, 28), labels, Provenance("fashionmnist", "dm", 2, 0)).save(path)
    argv = ["evaluate", "--kind", "continual", "--data", str(four_classes), "--set", str(path), "--steps", "2", "--class-orders", "1"]
    assert main([*argv, *COMMON, "--num-nets", "1", "--out", str(tmp_path / "c.json")]) == 0
    first = sorted(class_order(0, 4)[:2])
    assert seen == [(first, first, 4), ([0, 1, 2, 3], [0, 1, 2, 3], 8)]


def test_steps_that_do_not_divide_the_classes_are_one_line(four_classes, tmp_path, capsys):
    memory = whole_training_set(four_classes, tmp_path / "whole.pt")
    argv = ["evaluate", "--kind", "continual", "--data", str(four_classes), "--set", str(memory), "--steps", "3"]
    assert main([*argv, *COMMON, "--out", str(tmp_path / "c.json")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(err) == 1 and "--steps 3 does not divide the 4 classes" in err[0] and not (tmp_path / "c.json").exists()


def test_the_figure_draws_each_memorys_mean_per_step_against_the_classes_seen(four_classes, tmp_path):
    from condense.data.records import EvalRecord
    from condense.reporting.figures import FigureContext
    from condense.reporting.figures.continual import draw_continual

    records = []
    for method, per_class in (("random", 1), ("herding", 3)):
        data = load_data(four_classes, with_train=True)
        keep = torch.cat([data.class_indices[c][:per_class] for c in range(4)])
        path = tmp_path / f"{method}.pt"
        SyntheticSet(data.train_images[keep], data.train_labels[keep], Provenance("fashionmnist", method, per_class, 0)).save(path)
        out = tmp_path / f"{method}.json"
        argv = ["evaluate", "--kind", "continual", "--data", str(four_classes), "--set", str(path), "--steps", "2", "--class-orders", "2"]
        assert main([*argv, *COMMON, "--epochs", "3", "--out", str(out)]) == 0
        records.append(out)
    fig = draw_continual([*records, tmp_path / "random.json"], FigureContext())  # a record given twice counts twice
    ax = fig.axes[0]
    lines = {bars.get_label(): bars.lines[0] for bars in ax.containers}  # errorbar: (data line, caps, bars)
    assert set(lines) == {"random, IPC 1 (n = 8)", "herding, IPC 3 (n = 4)"}
    for label, path in (("herding, IPC 3 (n = 4)", records[1]), ("random, IPC 1 (n = 8)", records[0])):
        per_step = EvalRecord.load(path).extra["per_step"]
        assert list(lines[label].get_xdata()) == [2, 4]
        assert list(lines[label].get_ydata()) == pytest.approx([s["mean"] for s in per_step])
