"""Inputs that must be refused in one line with exit status 2 before any work: sets holding NaN or infinity, a full
disk or file-size limit while a torch file is written, config filters naming nothing that runs; plus the small
wording fixes (the membership flag, the t-SNE input)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import write_set

from condense.cli import main
from condense.data.records import Provenance, SyntheticSet
from condense.evaluations import EVALUATIONS

FAST_EVAL = ["--model", "convnet_w32", "--num-nets", "1", "--epochs", "1", "--device", "cpu", "--quiet", "--threads", "1"]


def _error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


def _images(bad: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    if bad is not None:
        images[3, 0, 5, 7] = bad
    return images, torch.tensor([0, 0, 1, 1, 2, 2])


# ---------------------------------------------------------------------------------------------- non-finite sets


def _condense_file(tmp_path, images, labels, **extra):
    path = tmp_path / "set.pt"
    SyntheticSet(images, labels, Provenance("fashionmnist", "dm", 2, 0), **extra).save(path)
    return path


def _official_file(tmp_path, images, labels):
    path = tmp_path / "res_DM_FashionMNIST_ConvNet_2ipc.pt"
    torch.save({"data": [[images, labels]], "accs_all_exps": {}}, path)
    return path


def _mtt_directory(tmp_path, images, labels):
    path = tmp_path / "logged_files"
    path.mkdir()
    torch.save(images, path / "images_best.pt")
    torch.save(labels, path / "labels_best.pt")
    return path


def _tensor_file(tmp_path, images, labels):
    path = tmp_path / "pair.pt"
    torch.save({"images": images, "labels": labels}, path)
    return path


SET_WRITERS = {"condense": _condense_file, "official": _official_file, "mtt": _mtt_directory, "tensors": _tensor_file}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("fmt", sorted(SET_WRITERS))
def test_a_set_with_non_finite_images_is_refused_by_evaluate_in_every_format(data_file, tmp_path, capsys, fmt, bad):
    path = SET_WRITERS[fmt](tmp_path, *_images(bad))
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(out)])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1, err
    assert str(path) in err[0] and "non-finite" in err[0] and "images" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("kind", EVALUATIONS.names())
def test_every_evaluation_kind_refuses_a_nan_set_before_training(data_file, tmp_path, capsys, monkeypatch, kind):
    trained = []  # the kind's training, replaced by a spy: the set must be refused before it is reached
    spy = dataclasses.replace(EVALUATIONS.get(kind), run=lambda *a, **k: trained.append(a) or ([], {}))
    monkeypatch.setitem(EVALUATIONS._items, kind, spy)
    path = _condense_file(tmp_path, *_images(math.nan))
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--kind", kind, "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(out)])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and "non-finite" in err[0], err
    assert trained == [] and not out.exists()


def test_export_refuses_a_nan_set_and_writes_nothing(data_file, tmp_path, capsys):
    path = _tensor_file(tmp_path, *_images(math.nan))
    out = tmp_path / "export"
    code = main(["export", "--data", str(data_file), "--set", str(path), "--out", str(out), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "non-finite" in err[0], err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data.pt", "pair.pt"]


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"soft_labels": torch.tensor([[1.0, 0.0, math.nan]] * 6)}, "in its soft_labels"),
        ({"learned_lr": math.inf}, "learned_lr inf"),
        ({"learned_lr": math.nan}, "learned_lr nan"),
        ({"decoder": {"name": "multiformation", "factor": 2, "pad": [math.nan]}}, "finite pad values"),
    ],
)
def test_a_set_with_non_finite_soft_labels_learning_rate_or_pad_is_refused(data_file, tmp_path, capsys, extra, needle):
    path = _condense_file(tmp_path, *_images(), **extra)
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(out)])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and needle in err[0] and str(path) in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("text", ["inf", "nan"])
def test_an_mtt_learning_rate_file_holding_infinity_is_refused_naming_it(data_file, tmp_path, capsys, text):
    path = _mtt_directory(tmp_path, *_images())
    (path / "synthetic_lr").write_text(text)
    code = main(["evaluate", "--data", str(data_file), "--set", str(path), *FAST_EVAL, "--out", str(tmp_path / "e.json")])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(path / "synthetic_lr") in err[0] and "finite positive" in err[0], err


def test_figures_refuse_a_nan_set_file(data_file, tmp_path, capsys):
    path = write_set(tmp_path / "dm_ipc2_seed0.pt", *_images(math.nan), method="dm")
    out = tmp_path / "grid.png"
    code = main(["figures", "synthetic_images", str(path), "--data", str(data_file), "--out", str(out), "--quiet"])
    err = _error_lines(capsys)
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "non-finite" in err[0], err
    assert not out.exists()
