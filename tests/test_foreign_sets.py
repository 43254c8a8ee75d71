"""Sets from elsewhere (the official DC/DSA/DM result files, MTT's output, plain tensor pairs) are judged exactly
as ours, and `condense export` hands a set to anyone (ImageFolder, one tensor file, a dataset card)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import write_set
from PIL import Image
from torchvision.datasets import ImageFolder

from condense.cli import main
from condense.core.fileio import read_json
from condense.data.set_formats import ReadOptions, read_set
from condense.data.store import denormalize, load_data

EVAL = ["--model", "convnet_w32", "--num-nets", "2", "--epochs", "3", "--device", "cpu", "--quiet"]


@pytest.fixture
def tensors():
    gen = torch.Generator().manual_seed(3)
    return torch.randn(6, 1, 28, 28, generator=gen), torch.tensor([0, 0, 1, 1, 2, 2])


def evaluate(data_file, set_path, out, *extra) -> dict:
    assert main(["evaluate", "--data", str(data_file), "--set", str(set_path), *EVAL, *extra, "--out", str(out)]) == 0
    return read_json(out)


def accuracies(record: dict) -> list[float]:
    return [r["test_acc"] for r in record["runs"]]


def test_an_official_result_file_is_judged_exactly_as_the_same_tensors_in_our_format(data_file, tmp_path, tensors):
    images, labels = tensors
    ours = evaluate(data_file, write_set(tmp_path / "ours.pt", images, labels), tmp_path / "ours.json")
    # main.py's save: one [images, labels] pair per experiment, accuracies as numpy floats (evaluate_synset's)
    official = tmp_path / "res_DC_FashionMNIST_ConvNet_2ipc.pt"
    other = torch.zeros_like(images)
    torch.save({"data": [[other, labels], [images, labels]], "accs_all_exps": {"ConvNet": [np.float64(0.5), np.float64(0.6)]}}, official)
    theirs = evaluate(data_file, official, tmp_path / "theirs.json", "--set-experiment", "1")
    assert accuracies(theirs) == accuracies(ours)
    assert theirs["method"] == "official-dc" and theirs["ipc"] == 2 and theirs["set_seed"] == 1
    assert theirs["settings"] == ours["settings"]
    first = read_set(official, ReadOptions("fashionmnist", experiment=0))
    assert torch.equal(first.images, other)  # the experiment index picks the pair
    assert first.provenance.model == "convnet" and first.provenance.settings["imported"]["published_accuracies"] == {"ConvNet": [0.5, 0.6]}


def test_an_mtt_directory_uses_its_learned_learning_rate_and_a_tensor_pair_its_tensors(data_file, tmp_path, tensors):
    images, labels = tensors
    ours = evaluate(data_file, write_set(tmp_path / "ours.pt", images, labels), tmp_path / "ours.json", "--lr", "0.03")
    mtt = tmp_path / "logged_files"
    mtt.mkdir()
    torch.save(images, mtt / "images_best.pt")
    torch.save(labels, mtt / "labels_best.pt")
    torch.save(torch.tensor(0.03), mtt / "synthetic_lr")
    theirs = evaluate(data_file, mtt, tmp_path / "mtt.json")
    assert theirs["method"] == "mtt" and theirs["settings"]["lr"] == pytest.approx(0.03)
    assert accuracies(theirs) == accuracies(ours)  # the learned lr, not the default 0.01, trained the networks
    for i, content in enumerate([(images, labels), {"images": images, "labels": labels}]):
        torch.save(content, tmp_path / f"pair{i}.pt")
        pair = evaluate(data_file, tmp_path / f"pair{i}.pt", tmp_path / f"pair{i}.json", "--lr", "0.03")
        assert accuracies(pair) == accuracies(ours) and pair["method"] == "imported"


@pytest.mark.parametrize(
    "content, fmt, needle",
    [
        ({"weights": torch.zeros(3)}, "auto", "is no image set this package reads (condense: "),
        ((torch.zeros(6, 1, 28, 28), torch.zeros(6, 3)), "auto", "has soft labels (6, 3); evaluation trains on hard labels only"),
        ((torch.zeros(6, 28, 28), torch.zeros(6).long()), "auto", "has images (6, 28, 28) and labels (6,); expected N×C×H×W and N"),
        ((torch.zeros(6, 3, 32, 32), torch.zeros(6).long()), "auto", "holds (3, 32, 32) images but fashionmnist has (1, 28, 28)"),
        ({"data": [], "accs_all_exps": {}}, "auto", "holds no experiment in 'data'"),
        ((torch.zeros(6, 1, 28, 28), torch.zeros(6).long()), "official", "is not a result file of the official DC/DSA/DM code"),
    ],
)
def test_anything_else_is_one_line_and_exit_2(data_file, tmp_path, capsys, content, fmt, needle):
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    out = tmp_path / "e.json"
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), "--set-format", fmt, *EVAL, "--out", str(out)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_an_official_file_of_another_dataset_or_experiment_is_refused(data_file, tmp_path, capsys, tensors):
    images, labels = tensors
    path = tmp_path / "res_DM_CIFAR10_ConvNet_2ipc.pt"
    torch.save({"data": [[images, labels]], "accs_all_exps": {}}, path)
    assert main(["evaluate", "--data", str(data_file), "--set", str(path), *EVAL, "--out", str(tmp_path / "e.json")]) == 2
    assert "was made from cifar10, not fashionmnist" in capsys.readouterr().err
    assert (
        main(["evaluate", "--data", str(data_file), "--set", str(path), "--set-experiment", "3", *EVAL, "--out", str(tmp_path / "e.json")])
        == 2
    )
    assert "holds experiments 0..0, not 3" in capsys.readouterr().err


def test_export_writes_an_imagefolder_in_label_order_a_tensor_file_that_reads_back_and_a_card(data_file, tmp_path, tensors):
    images, labels = tensors
    made = write_set(tmp_path / "set.pt", images, labels, method="dm", model="convnet", seed=4)
    record = evaluate(data_file, made, tmp_path / "eval.json")
    out = tmp_path / "export"
    assert (
        main(["export", "--data", str(data_file), "--set", str(made), "--eval", str(tmp_path / "eval.json"), "--out", str(out), "--quiet"])
        == 0
    )
    data = load_data(data_file, with_train=False)
    # ImageFolder (sorted folder names) gives back our class indices, and each PNG is the image in 8-bit pixels
    folder = ImageFolder(str(out / "images"))
    assert [label for _, label in folder.samples] == labels.tolist()
    pixels = denormalize(images, data.mean, data.std)
    for (path, _), expected in zip(folder.samples, pixels, strict=True):
        png = torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32) / 255.0)
        assert png.shape == (28, 28) and (png - expected[0]).abs().max() <= 0.5 / 255 + 1e-6
    # the tensor file holds the exact images and judges the same
    stored = torch.load(out / "set.pt", weights_only=True)
    assert torch.equal(stored["images"], images) and torch.equal(stored["labels"], labels) and stored["classes"] == data.classes
    again = evaluate(data_file, out / "set.pt", tmp_path / "again.json")
    assert accuracies(again) == accuracies(record) and again["method"] == "dm" and again["set_seed"] == 4
    card = json.loads((out / "card.json").read_text())
    assert card["method"] == "dm" and card["condensation_model"] == "convnet" and card["images_per_class"] == [2, 2, 2]
    assert card["accuracy"][0]["mean"] == pytest.approx(record["mean"]) and card["accuracy"][0]["n"] == 2
    readme = (out / "README.md").read_text()
    assert f"{record['mean']:.2f} ± {record['std']:.2f}" in readme and "T.Normalize([0.5], [0.25])" in readme
    # a second export replaces the first; a directory that is not an export is never replaced
    assert main(["export", "--data", str(data_file), "--set", str(made), "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "card.json").read_text())["accuracy"] == []
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    assert main(["export", "--data", str(data_file), "--set", str(made), "--out", str(other), "--quiet"]) == 2
    assert (other / "notes.txt").read_text() == "keep" and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_refuses_a_record_of_another_set(data_file, tmp_path, capsys, tensors):
    images, labels = tensors
    made = write_set(tmp_path / "set.pt", images, labels, method="dm")
    other = write_set(tmp_path / "other.pt", images, labels, method="dc")
    evaluate(data_file, other, tmp_path / "other.json")
    out = tmp_path / "export"
    assert main(["export", "--data", str(data_file), "--set", str(made), "--eval", str(tmp_path / "other.json"), "--out", str(out)]) == 2
    assert "judged dc IPC 2 seed 0 of fashionmnist, not this set" in capsys.readouterr().err and not out.exists()
