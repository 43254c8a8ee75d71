"""A set's evaluation networks trained as one ensemble equal the one-by-one runs (CPU, float tolerance)."""

import json

import pytest
import torch
from conftest import write_set

from condense.cli import main
from condense.core.accel import Speed, make_speed
from condense.data.store import load_data
from condense.training.evaluation import evaluate_set
from condense.training.protocol import TrainSettings


@pytest.fixture
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def toy_set(data_file, dtype):
    data = load_data(data_file)
    gen = torch.Generator().manual_seed(0)
    images = torch.cat([data.sample_class(c, 3, gen) for c in range(data.num_classes)]).to(dtype)
    labels = torch.arange(data.num_classes).repeat_interleave(3)
    return data, images, labels


@pytest.mark.parametrize("model, augment", [("convnet_w32", "none"), ("convnet_w32", "flip_scale_rotate"), ("mlp", "color_crop")])
def test_ensemble_equals_networks_one_by_one(data_file, model, augment, float64):
    data, images, labels = toy_set(data_file, torch.float64)
    # 5 passes with a learning-rate drop after pass 3, batches of 4: several steps per pass, a last short batch
    settings = TrainSettings(epochs=4, lr=0.05, batch_size=4, augment=augment)
    runs = {}
    for ensemble in (False, True):
        runs[ensemble] = evaluate_set(
            images,
            labels,
            data.test_images.double(),
            data.test_labels,
            model=model,
            num_classes=data.num_classes,
            num_nets=3,
            settings=settings,
            seed=7,
            speed=Speed(ensemble=ensemble),
        )
    one, many = runs[False], runs[True]
    assert [r["seed"] for r in one] == [r["seed"] for r in many]
    assert [r["test_acc"] for r in many] == [r["test_acc"] for r in one]
    for a, b in zip(one, many):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-9) and b["train_acc"] == a["train_acc"]
        assert b["ensemble"] is True and b["diverged"] is False
    assert len({r["train_loss"] for r in one}) == 3  # the networks differ from each other


def test_batchnorm_networks_stay_one_by_one(data_file):
    data, images, labels = toy_set(data_file, torch.float32)
    runs = evaluate_set(
        images,
        labels,
        data.test_images,
        data.test_labels,
        model="convnet_bn",
        num_classes=data.num_classes,
        num_nets=2,
        settings=TrainSettings(epochs=1, batch_size=4),
        seed=0,
        speed=Speed(ensemble=True),
    )
    assert len(runs) == 2 and not any(r.get("ensemble") for r in runs)


def test_evaluate_stage_ensemble_flag(data_file, tmp_path):
    data, images, labels = toy_set(data_file, torch.float32)
    path = tmp_path / "set.pt"
    write_set(path, images, labels, method="random", ipc=3, seed=0)
    results = {}
    for flag in ("off", "on"):
        out = tmp_path / f"{flag}.json"
        assert (
            main(
                [
                    "evaluate",
                    "--data",
                    str(data_file),
                    "--set",
                    str(path),
                    "--model",
                    "convnet_w32",
                    "--num-nets",
                    "2",
                    "--epochs",
                    "3",
                    "--batch-size",
                    "4",
                    "--device",
                    "cpu",
                    "--ensemble",
                    flag,
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
        results[flag] = json.loads(out.read_text())["runs"]
    for a, b in zip(results["off"], results["on"]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert abs(b["test_acc"] - a["test_acc"]) <= 1 / 12  # at most one of the 12 test images flips in float32
    assert make_speed(False, "cpu").ensemble is False and make_speed(False, "cuda").ensemble is True
