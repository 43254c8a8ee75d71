"""The backgrounds benchmark: textures, exact foregrounds, the variants' background statistics, determinism,
the stages running on it, the gt source and saliency scored against the truth."""

from __future__ import annotations

import json

import pytest
import torch

from condense.cli import main
from condense.core.fileio import load_torch, save_torch
from condense.data.derived.backgrounds import BackgroundSettings, derive
from condense.data.derived.textures import TEXTURES, draw
from condense.data.maps import load_maps, save_maps
from condense.data.store import load_data
from condense.masks.scoring import score_maps

CLASSES = 10


def garments(n_per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """1×28×28 'garments' on exact black: a class-dependent rectangle of random brightness (1..255)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(CLASSES).repeat_interleave(n_per_class)
    images = torch.zeros(labels.numel(), 1, 28, 28, dtype=torch.uint8)
    for i, c in enumerate(labels.tolist()):
        h, w = 6 + 2 * (c % 5), 18 - 2 * (c % 5)
        top, left = 4 + c % 3, 5
        images[i, 0, top : top + h, left : left + w] = torch.randint(1, 256, (h, w), generator=gen, dtype=torch.uint8)
    return images, labels


def base_data(n_per_class: int = 30, test_per_class: int = 10) -> dict:
    train_images, train_labels = garments(n_per_class, 0)
    test_images, test_labels = garments(test_per_class, 1)
    return {
        "name": "fashionmnist",
        "classes": [f"c{c}" for c in range(CLASSES)],
        "mean": [0.3],
        "std": [0.3],
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "format": 1,
    }


@pytest.fixture(scope="module")
def base_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bg") / "base.pt"
    save_torch(base_data(), path)
    return path


def derived(base, **settings):
    return derive(base, BackgroundSettings(**settings), torch.Generator().manual_seed(settings.pop("seed", 0) if "seed" in settings else 0))


def test_ten_texture_families_in_unit_range_seeded_and_distinct():
    assert len(TEXTURES.in_order()) == 10
    draws = []
    for family in range(10):
        a = draw(family, 4, 32, 32, torch.Generator().manual_seed(0))
        b = draw(family, 4, 32, 32, torch.Generator().manual_seed(0))
        c = draw(family, 4, 32, 32, torch.Generator().manual_seed(1))
        assert a.shape == (4, 3, 32, 32) and a.min() >= 0 and a.max() <= 1
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert a.std() > 0.02  # a pattern, not a flat colour
        draws.append(a)
    for i in range(10):
        for j in range(i + 1, 10):
            assert not torch.allclose(draws[i], draws[j])


def test_foregrounds_are_exactly_the_garments_nonzero_pixels():
    base = base_data()
    out = derive(base, BackgroundSettings(per_class=0, test_per_class=0), torch.Generator().manual_seed(0))
    for split in ("train", "test"):
        images, fg, idx = out[f"{split}_images"], out[f"{split}_foreground"], out[f"{split}_source_index"]
        assert images.shape[1:] == (3, 32, 32) and images.dtype == torch.uint8 and fg.dtype == torch.bool
        garment = base[f"{split}_images"][idx]
        assert torch.equal(fg.sum(dim=(1, 2)), (garment > 0).sum(dim=(1, 2, 3)))  # as many pixels as the garment has
        for i in range(0, idx.numel(), 17):  # the foreground is the garment's support, placed somewhere on the canvas
            ys, xs = torch.nonzero(fg[i], as_tuple=True)
            dy, dx = (
                int(ys.min()) - int(torch.nonzero(garment[i, 0])[:, 0].min()),
                int(xs.min()) - int(torch.nonzero(garment[i, 0])[:, 1].min()),
            )
            placed = torch.zeros(32, 32, dtype=torch.bool)
            placed[dy : dy + 28, dx : dx + 28] = garment[i, 0] > 0
            assert torch.equal(placed, fg[i])
            tinted = images[i][:, fg[i]].float()  # every foreground pixel is the garment's value times one colour (to uint8)
            g = garment[i, 0][garment[i, 0] > 0].float().unsqueeze(0)
            tint = (tinted * g).sum(1, keepdim=True) / (g * g).sum()
            assert (tinted - tint * g).abs().max() <= 1.0


@pytest.mark.parametrize("variant, expected", [("independent", 0.1), ("correlated", 0.9)])
def test_background_family_statistics_of_the_variants(variant, expected):
    base = base_data(n_per_class=200, test_per_class=100)
    out = derive(base, BackgroundSettings(variant=variant, rho=0.9, per_class=0, test_per_class=0), torch.Generator().manual_seed(0))
    same = (out["train_background"] == out["train_labels"]).float().mean()
    assert abs(float(same) - expected) < 0.03
    assert abs(float((out["test_background"] == out["test_labels"]).float().mean()) - 0.1) < 0.04  # the test split stays independent
    counts = torch.bincount(out["test_background"], minlength=10).float()
    assert counts.min() > 0.6 * counts.mean()


def test_same_seed_same_file_other_seed_other_file_same_garments_across_variants(base_file, tmp_path):
    paths = {}
    for name, seed, variant in (("a", "0", "correlated"), ("b", "0", "correlated"), ("c", "1", "correlated"), ("d", "0", "independent")):
        paths[name] = tmp_path / f"{name}.pt"
        assert (
            main(
                [
                    "derive",
                    "--kind",
                    "backgrounds",
                    "--data",
                    str(base_file),
                    "--variant",
                    variant,
                    "--per-class",
                    "20",
                    "--test-per-class",
                    "5",
                    "--seed",
                    seed,
                    "--out",
                    str(paths[name]),
                    "--quiet",
                ]
            )
            == 0
        )
    a, b, c, d = (load_torch(p) for p in paths.values())
    assert a["digest"] == b["digest"] and torch.equal(a["train_images"], b["train_images"])
    assert a["digest"] != c["digest"]
    assert torch.equal(a["train_source_index"], d["train_source_index"])  # the same garments, other backgrounds
    assert a["traits"] == {
        "dsa_strategy": "color_crop_cutout_flip_scale_rotate",
        "flip_safe": True,
        "published_as": None,
        "base": "fashionmnist",
    }
    assert a["name"] == "fashionmnist-backgrounds" and a["derivation"]["settings"]["variant"] == "correlated"
    data = load_data(paths["a"])
    assert data.traits.published_as is None and data.channel == 3 and data.im_size == (32, 32)
    assert data.extras["train_foreground"].shape == (200, 32, 32)


def test_derive_errors_are_one_line(base_file, tmp_path, capsys):
    out = tmp_path / "x.pt"
    assert main(["derive", "--kind", "rotations", "--data", str(base_file), "--out", str(out)]) == 2
    assert "unknown dataset derivation 'rotations'" in capsys.readouterr().err and not out.exists()
    assert main(["derive", "--kind", "backgrounds", "--data", str(base_file), "--rho", "1.5", "--out", str(out)]) == 2
    assert "--rho 1.5 is out of range (must be >= 0 and <= 1)" in capsys.readouterr().err and not out.exists()
    assert main(["derive", "--kind", "backgrounds", "--data", str(base_file), "--per-class", "31", "--out", str(out)]) == 2
    assert "exceeds the 30 images" in capsys.readouterr().err and not out.exists()
    rgb = tmp_path / "rgb.pt"
    base = base_data()
    base["train_images"] = base["train_images"].repeat(1, 3, 1, 1)
    save_torch(base, rgb)
    assert main(["derive", "--kind", "backgrounds", "--data", str(rgb), "--out", str(out)]) == 2
    assert "1-channel garments" in capsys.readouterr().err and not out.exists()


def test_scores_hand_computed():
    fg = torch.zeros(1, 2, 4, dtype=torch.bool)
    fg[0, 0, :2] = True  # 2 of 8 pixels
    maps = torch.tensor([[[8, 2, 2, 0], [0, 0, 0, 4]]], dtype=torch.float32)
    s = score_maps(maps, fg)
    assert s["mass"] == pytest.approx(10 / 16)
    assert s["iou"] == pytest.approx(1 / 3)  # top-2 = {8, 4}: one of them in the foreground; union 3
    assert s["pointing"] == 1.0 and s["chance_mass"] == pytest.approx(0.25) and s["chance_iou"] == pytest.approx(2 / 14)
    ties = torch.tensor([[[5, 0, 0, 0], [0, 0, 0, 5]]], dtype=torch.float32)
    assert score_maps(ties, fg)["pointing"] == 0.5  # two maxima, one inside
    assert score_maps(torch.zeros(1, 2, 4), fg)["mass"] == 0.0


def test_gt_maps_score_perfectly_and_the_stages_run_on_the_derived_data(base_file, tmp_path):
    data = tmp_path / "bg.pt"
    assert (
        main(
            [
                "derive",
                "--kind",
                "backgrounds",
                "--data",
                str(base_file),
                "--per-class",
                "10",
                "--test-per-class",
                "5",
                "--variant",
                "correlated",
                "--out",
                str(data),
                "--quiet",
            ]
        )
        == 0
    )
    gt, fcn_maps = tmp_path / "gt.pt", tmp_path / "uniform.pt"
    assert main(["saliency", "--source", "gt", "--data", str(data), "--out", str(gt), "--device", "cpu", "--quiet"]) == 0
    stored = load_maps(gt)
    assert torch.equal(stored["maps"] == 255, load_data(data).extras["train_foreground"]) and stored["source"] == "gt"
    save_maps(fcn_maps, torch.full_like(stored["maps"], 128), "fashionmnist-backgrounds", "fcn", {})  # knows nothing
    md, csv, js = tmp_path / "s.md", tmp_path / "s.csv", tmp_path / "s.json"
    assert (
        main(
            [
                "score-saliency",
                str(gt),
                str(fcn_maps),
                "--data",
                str(data),
                "--out-md",
                str(md),
                "--out-csv",
                str(csv),
                "--out-json",
                str(js),
                "--out-html",
                str(tmp_path / "s.html"),
            ]
        )
        == 0
    )
    rows = {r["source"]: r for r in json.loads(js.read_text())["rows"]}
    assert rows["gt"]["mass"] == pytest.approx(1.0) and rows["gt"]["iou"] == pytest.approx(1.0) and rows["gt"]["pointing"] == 1.0
    assert rows["fcn"]["mass"] == pytest.approx(rows["fcn"]["chance_mass"], abs=1e-6)
    assert "exact foreground" in md.read_text()
    assert "<table" in (tmp_path / "s.html").read_text() and "pointing game" in (tmp_path / "s.html").read_text()
    # any stage runs on it: a masked DM run with the oracle mask, the whole-dataset network with its background-free test
    out = tmp_path / "dm.pt"
    assert (
        main(
            [
                "distill",
                "--method",
                "dm",
                "--data",
                str(data),
                "--ipc",
                "1",
                "--iterations",
                "1",
                "--batch-real",
                "4",
                "--model",
                "convnet_w32",
                "--maps",
                str(gt),
                "--mask",
                "gt-r1.0-black-soft-batch",
                "--device",
                "cpu",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    full = tmp_path / "full.json"
    assert (
        main(
            [
                "full-baseline",
                "--data",
                str(data),
                "--model",
                "convnet_w32",
                "--epochs",
                "1",
                "--device",
                "cpu",
                "--out-model",
                str(tmp_path / "full.pt"),
                "--out",
                str(full),
                "--quiet",
            ]
        )
        == 0
    )
    run = json.loads(full.read_text())["runs"][0]
    assert 0 <= run["test_acc_foreground_only"] <= 1 and json.loads(full.read_text())["published_as"] is None


def test_gt_on_a_dataset_without_foregrounds_is_a_one_line_error(data_file, tmp_path, capsys):
    out = tmp_path / "gt.pt"
    assert main(["saliency", "--source", "gt", "--data", str(data_file), "--out", str(out), "--device", "cpu"]) == 2
    assert "stores no foregrounds" in capsys.readouterr().err and not out.exists()
