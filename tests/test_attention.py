"""Tests for the attention pipeline: FCNs and poolings, train-attention, saliency and mask."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import make_stored_dataset

from condense.cli import main
from condense.core.errors import CondenseError
from condense.core.fileio import save_torch
from condense.data.maps import load_maps
from condense.data.store import load_data
from condense.masks.application import masked_data
from condense.masks.selection import load_selection, masked_count
from condense.masks.variant import MaskVariant
from condense.models.fcn import FCNS, attention_map, build_fcn, pool_logits
from condense.models.store import load_network, save_network

# --------------------------------------------------------------------------- FCNs


@pytest.mark.parametrize("name", FCNS.names())
@pytest.mark.parametrize("channel,im_size", [(1, (28, 28)), (3, (32, 32))])
def test_fcn_outputs_class_maps_at_input_resolution(name, channel, im_size):
    torch.manual_seed(0)
    net = build_fcn(name, channel, 5, im_size).eval()
    with torch.no_grad():
        out = net(torch.randn(2, channel, *im_size))
    assert out.shape == (2, 5, *im_size) and torch.isfinite(out).all()


def test_poolings_hand_computed():
    maps = torch.tensor([0.0, 2.0, 4.0, 6.0]).reshape(1, 1, 2, 2)
    assert pool_logits(maps, "avg").item() == pytest.approx(3.0)
    expected = 2 * math.log((1 + math.e + math.e**2 + math.e**3) / 4)  # 2·log(mean(exp(0.5·s)))
    assert pool_logits(maps, "lse").item() == pytest.approx(expected, rel=1e-6)
    big = torch.full((1, 2, 3, 3), 500.0)  # exp(250) overflows float32; the stable form gives 500
    assert pool_logits(big, "lse")[0].tolist() == pytest.approx([500.0, 500.0])
    with pytest.raises(CondenseError, match="pooling 'max'"):
        pool_logits(maps, "max")


def test_attention_map_hand_computed_and_in_unit_interval():
    maps = torch.zeros(1, 2, 1, 1)  # logsumexp(0, 0) = log 2, sigmoid(log 2) = 2/3
    assert attention_map(maps).item() == pytest.approx(2 / 3)
    torch.manual_seed(0)
    net = build_fcn("small_fcn", 1, 3, (28, 28)).eval()
    with torch.no_grad():
        out = net(torch.randn(4, 1, 28, 28))
        a = attention_map(out)
    assert a.shape == (4, 28, 28) and a.min() >= 0 and a.max() <= 1
    assert torch.allclose(a, torch.sigmoid(torch.logsumexp(out, dim=1)))


def test_pretrained_resnet18_from_local_file(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(1)
    reference = resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    net = build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained=path)
    assert torch.equal(net.body.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert torch.equal(net.body.bn1.running_var, reference.bn1.running_var)
    assert net.body.conv1.weight.shape == (64, 3, 3, 3)  # the 7x7 stem is not taken over

    with pytest.raises(CondenseError, match="does not exist"):
        build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained=tmp_path / "missing.pth")
    broken = {k: v for k, v in reference.state_dict().items() if not k.startswith("layer4")}
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(CondenseError, match="missing"):
        build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained=tmp_path / "broken.pth")
    with pytest.raises(CondenseError, match="no pretrained weights"):
        build_fcn("small_fcn", 3, 10, (32, 32), pretrained=path)


def test_save_load_fcn_round_trip(tmp_path):
    torch.manual_seed(0)
    net = build_fcn("small_fcn", 1, 3, (28, 28)).eval()
    save_network(tmp_path / "f.pt", net, {"dataset": "x"})
    loaded = load_network(tmp_path / "f.pt", kind="fcn")
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))
    assert loaded.meta == {"dataset": "x"} and not loaded.training


# --------------------------------------------------------------------------- stages

N_PER_CLASS = 8


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict:
    """A tiny dataset, an FCN trained on it for 2 epochs, and its attention maps (with a figure)."""
    root = tmp_path_factory.mktemp("attention")
    data = root / "data.pt"
    save_torch(make_stored_dataset(n_per_class=N_PER_CLASS), data)
    fcn, metrics, maps, fig = root / "fcn.pt", root / "fcn.json", root / "maps.pt", root / "maps.png"
    common = ["--device", "cpu", "--quiet"]
    assert (
        main(
            [
                "train-attention",
                "--model",
                "small_fcn",
                "--crop-pad",
                "4",
                "--crop-fill",
                "mean",
                "--data",
                str(data),
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--lr",
                "0.05",
                "--out",
                str(fcn),
                "--out-json",
                str(metrics),
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "saliency",
                "--source",
                "fcn",
                "--data",
                str(data),
                "--network",
                str(fcn),
                "--out",
                str(maps),
                "--figure",
                str(fig),
                "--per-class-figure",
                "2",
                "--batch-size",
                "5",
                *common,
            ]
        )
        == 0
    )
    return {"root": root, "data": data, "fcn": fcn, "metrics": metrics, "maps": maps, "figure": fig}


def test_train_attention_writes_fcn_and_metrics(artifacts):
    metrics = json.loads(artifacts["metrics"].read_text())
    assert 0.0 <= metrics["test_acc"] <= 1.0
    assert metrics["epochs"] == 2 and len(metrics["epoch_losses"]) == 2
    assert metrics["settings"]["pool"] == "lse" and metrics["settings"]["augment"] == "crop_flip"
    net = load_network(artifacts["fcn"], kind="fcn")
    assert net.network_spec.num_classes == 3 and net.meta["test_acc"] == metrics["test_acc"]


def test_train_attention_is_deterministic(artifacts, tmp_path):
    again = tmp_path / "fcn.pt"
    assert (
        main(
            [
                "train-attention",
                "--model",
                "small_fcn",
                "--crop-pad",
                "4",
                "--crop-fill",
                "mean",
                "--data",
                str(artifacts["data"]),
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--lr",
                "0.05",
                "--out",
                str(again),
                "--device",
                "cpu",
                "--quiet",
            ]
        )
        == 0
    )
    a, b = torch.load(artifacts["fcn"], weights_only=True), torch.load(again, weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_attention_maps_uint8_in_data_order(artifacts):
    stored = load_maps(artifacts["maps"])
    data = load_data(artifacts["data"])
    maps = stored["maps"]
    assert maps.dtype == torch.uint8 and maps.shape == (3 * N_PER_CLASS, 28, 28)
    assert stored["dataset"] == data.name and stored["settings"]["network"] == str(artifacts["fcn"]) and stored["format"] == 2
    assert stored["source"] == "fcn"
    net = load_network(artifacts["fcn"])
    i = 13
    with torch.no_grad():
        by_hand = torch.sigmoid(torch.logsumexp(net(data.train_images[i : i + 1]), dim=1))[0]
    assert (maps[i].int() - (255 * by_hand).round().int()).abs().max() <= 1
    assert artifacts["figure"].stat().st_size > 0 and artifacts["figure"].with_suffix(".pdf").exists()


def _mask(artifacts, out: Path, ratio: str, seed: str = "0") -> int:
    return main(["mask", "--data", str(artifacts["data"]), "--ratio", ratio, "--seed", seed, "--out", str(out), "--quiet"])


def apply_masks(data, selection: Path, maps: Path):
    """The fixed-scheme masked view (mean fill, soft maps: x ⊙ A) of a selection file."""
    stored = load_selection(selection)
    return masked_data(data, load_maps(maps), MaskVariant("fcn", float(stored["ratio"])), stored["selected"])


@pytest.mark.parametrize("ratio", [0.25, 0.5, 1.0])
def test_mask_selects_floor_ratio_per_class_and_applies_x_times_a(artifacts, tmp_path, ratio):
    out = tmp_path / "mask.pt"
    assert _mask(artifacts, out, str(ratio)) == 0
    mask = load_selection(out)
    data = load_data(artifacts["data"])
    selected = mask["selected"]
    for c in range(3):
        assert int(selected[data.train_labels == c].sum()) == math.floor(ratio * N_PER_CLASS)
    assert mask["ratio"] == ratio and mask["dataset"] == data.name and "images" not in mask
    maps = load_maps(artifacts["maps"])["maps"]
    masked = apply_masks(data, out, artifacts["maps"])
    assert torch.equal(masked.train_images[~selected], data.train_images[~selected])
    expected = data.train_images[selected] * (maps[selected].float() / 255).unsqueeze(1)
    assert torch.equal(masked.train_images[selected], expected)
    assert torch.equal(masked.train_labels, data.train_labels) and torch.equal(masked.test_images, data.test_images)


def test_mask_ratio_zero_is_raw_data(artifacts, tmp_path):
    out = tmp_path / "mask0.pt"
    assert _mask(artifacts, out, "0") == 0
    data = load_data(artifacts["data"])
    raw = data.train_images.clone()
    assert not load_selection(out)["selected"].any()
    assert torch.equal(apply_masks(data, out, artifacts["maps"]).train_images, raw)


def test_mask_same_seed_same_selection_other_seed_differs(artifacts, tmp_path):
    a, b, c = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "c.pt"
    assert _mask(artifacts, a, "0.5", "3") == 0 and _mask(artifacts, b, "0.5", "3") == 0
    assert _mask(artifacts, c, "0.5", "4") == 0
    first, second = load_selection(a), load_selection(b)
    assert first.keys() == second.keys() and torch.equal(first["selected"], second["selected"])
    assert all(first[k] == second[k] for k in first if k != "selected")
    assert not torch.equal(load_selection(a)["selected"], load_selection(c)["selected"])


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "nan"])
def test_bad_ratio_is_exit_2_without_output(artifacts, tmp_path, capsys, ratio):
    out = tmp_path / "bad.pt"
    assert _mask(artifacts, out, ratio) == 2
    assert not out.exists()
    assert "--ratio" in capsys.readouterr().err  # "--ratio 1.5 is out of range (must be >= 0 and <= 1)"


def test_masked_count_is_robust_to_round_off():
    assert masked_count(100, 0.29) == 29 and masked_count(8, 0.25) == 2 and masked_count(7, 1.0) == 7
