"""Mask sources, fills, shapes and schemes: hand-made cases, invariants, determinism, resume and errors."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import make_stored_dataset, read_set
from torch import nn

from condense.cli import main
from condense.core.errors import CondenseError
from condense.core.fileio import save_torch
from condense.data.maps import load_maps, save_maps
from condense.data.store import load_data
from condense.masks.application import MaskedData, mask_images, masked_data, shape_maps
from condense.masks.fills import FILLS
from condense.masks.saliency import SOURCES, SaliencyContext
from condense.masks.saliency._attribution import last_conv_block, to_unit_map
from condense.masks.saliency.integrated_gradients import IntegratedGradientsSettings, black_image, raw_attribution
from condense.masks.saliency.smoothgrad import SmoothGradSettings
from condense.masks.selection import load_selection
from condense.masks.variant import MaskVariant, method_name, parse_variant, split_method
from condense.models.classifiers import build_model
from condense.models.store import save_network

H = W = 8
QUADRANT = (slice(0, H // 2), slice(0, W // 2))  # the top-left quarter


def quadrant_mask() -> torch.Tensor:
    m = torch.zeros(1, 1, H, W)
    m[..., QUADRANT[0], QUADRANT[1]] = 1.0
    return m


class QuadrantClassifier(nn.Module):
    """Logits that read only the top-left quadrant's pixels: keep the quadrant -> conv -> keep it -> ReLU -> spatial
    sum -> linear (the second keep zeroes the activations that see only padding, so Grad-CAM's maps are 0 there too)."""

    def __init__(self, classes: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        nn.init.constant_(self.conv.bias, 0.1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, classes)
        self.register_buffer("keep", quadrant_mask())

    def forward(self, x):
        return self.fc(self.relu(self.conv(x * self.keep) * self.keep).sum(dim=(2, 3)))


class QuadrantFCN(nn.Module):
    """Class maps that are high only in the top-left quadrant (the `fcn` source reads sigmoid(logsumexp))."""

    def forward(self, x):
        inside = quadrant_mask().to(x.device)
        maps = (x.abs() + 4.0) * inside - 8.0 * (1 - inside)
        return maps.repeat(1, 3, 1, 1)


def images(n: int = 6) -> torch.Tensor:
    return torch.rand(n, 1, H, W, generator=torch.Generator().manual_seed(1)) + 0.5


CONTEXTS = {
    "smoothgrad": SmoothGradSettings(samples=8, noise=0.1),
    "integrated_gradients": IntegratedGradientsSettings(steps=16),
}


@pytest.mark.parametrize("source", SOURCES.names())
def test_each_source_puts_its_map_mass_in_the_quadrant_the_logit_reads(source):
    spec = SOURCES.get(source)
    net = {"fcn": QuadrantFCN(), "classifier": QuadrantClassifier(), "foreground": None}[spec.needs]
    x, y = images(), torch.tensor([0, 1, 2, 0, 1, 2])
    foreground = quadrant_mask()[0, 0].bool().expand(6, H, W) if spec.needs == "foreground" else None  # gt: the truth itself
    context = SaliencyContext(mean=[0.0], std=[1.0], settings=CONTEXTS.get(source), foreground=foreground)
    torch.manual_seed(0)
    a = spec.attribute(net, x, y, context)
    assert a.shape == (6, H, W) and a.min() >= 0 and a.max() <= 1
    inside = a[:, QUADRANT[0], QUADRANT[1]].sum(dim=(1, 2))
    share = inside / a.sum(dim=(1, 2))
    assert (share > 0.9).all(), (source, share)


def test_gradcam_layer_is_the_last_conv_blocks_activation():
    net = build_model("convnet", 1, 10, (28, 28))
    relus = [m for m in net.body if isinstance(m, nn.ReLU)]
    assert last_conv_block(net) is relus[-1]
    quadrant = QuadrantClassifier()
    assert last_conv_block(quadrant) is quadrant.relu


def test_integrated_gradients_completeness():
    """Σ attributions ≈ f(x) − f(black image) for the image's own logit (Sundararajan et al.'s axiom)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Softplus(), nn.Flatten(), nn.Linear(4 * H * W, 3)).eval()
    x, y = images(4), torch.tensor([0, 1, 2, 1])
    context = SaliencyContext(mean=[0.3], std=[0.5], settings=IntegratedGradientsSettings(steps=64))
    attr = raw_attribution(net, x, y, context)
    baseline = black_image(x, [0.3], [0.5])
    assert torch.allclose(baseline, torch.full_like(x, -0.6))
    with torch.no_grad():
        delta = net(x).gather(1, y[:, None])[:, 0] - net(baseline).gather(1, y[:, None])[:, 0]
    torch.testing.assert_close(attr.sum(dim=(1, 2, 3)), delta, rtol=1e-3, atol=1e-4)


def test_unit_map_normalisation_hand_computed():
    raw = torch.zeros(1, 2, 10, 10)
    raw[0, 0].view(-1)[:] = torch.arange(100.0)  # channel 0: 0..99; channel 1: -2 times that
    raw[0, 1] = -2 * raw[0, 0]
    a = to_unit_map(raw)  # |.|, max over channels = 2·k, 99th percentile of 0, 2, ..., 198 is 196.02
    q = torch.quantile(2 * torch.arange(100.0), 0.99)
    assert a.shape == (1, 10, 10)
    torch.testing.assert_close(a[0].view(-1)[:50], (2 * torch.arange(50.0) / q))
    assert a.max() == 1.0 and (a[0].view(-1)[99] == 1.0)
    assert to_unit_map(torch.zeros(2, 1, 4, 4)).eq(0).all()  # an all-zero attribution stays zero


# --------------------------------------------------------------------------- fills and shapes

MEAN, STD = [0.25], [0.5]


def normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - MEAN[0]) / STD[0]


@pytest.mark.parametrize("fill", FILLS.names())
def test_every_fill_with_a_equal_1_gives_the_raw_image(fill):
    x = normalised(torch.rand(3, 1, H, W))
    others = normalised(torch.rand(3, 1, H, W))
    ones = torch.full((3, H, W), 255, dtype=torch.uint8)
    out = mask_images(x, ones, MaskVariant(fill=fill), MEAN, STD, others)
    torch.testing.assert_close(out, x)


def test_black_and_other_fills_with_a_equal_0():
    x = normalised(torch.rand(3, 1, H, W))
    others = normalised(torch.rand(3, 1, H, W))
    zeros = torch.zeros((3, H, W), dtype=torch.uint8)
    black = mask_images(x, zeros, MaskVariant(fill="black"), MEAN, STD)
    torch.testing.assert_close(black, torch.full_like(x, normalised(torch.tensor(0.0)).item()))  # pixel value 0
    torch.testing.assert_close(mask_images(x, zeros, MaskVariant(fill="other"), MEAN, STD, others), others)
    assert mask_images(x, zeros, MaskVariant(fill="mean"), MEAN, STD).eq(0).all()  # the mean colour: 0 in normalised space


@pytest.mark.parametrize("q", [0.1, 0.25, 0.5, 1.0])
def test_hard_maps_keep_exactly_the_top_q(q):
    a = torch.rand(4, H, W, generator=torch.Generator().manual_seed(2))
    kept = shape_maps(a, MaskVariant(shape="hard", q=q))
    k = round(q * H * W)
    assert set(kept.unique().tolist()) <= {0.0, 1.0}
    assert (kept.flatten(1).sum(1) == k).all()
    for i in range(4):  # every kept pixel is at least as salient as every dropped one
        if k < H * W:
            assert a[i][kept[i] == 1].min() >= a[i][kept[i] == 0].max()


def test_variant_grammar_round_trip_and_errors():
    for variant in (MaskVariant(), MaskVariant("gradcam", 0.25, "black", "hard", 0.5, "batch")):
        assert parse_variant(variant.build()) == variant
        assert split_method(method_name("dm", variant)) == ("dm", variant)
    assert MaskVariant("fcn", 1, "mean").build() == "fcn-r1.0-mean-soft-fixed"
    assert split_method("dsa") == ("dsa", None)
    with pytest.raises(CondenseError, match="canonical"):
        parse_variant("fcn-r1-mean-soft-fixed")
    with pytest.raises(CondenseError, match="unknown saliency source 'sobel'"):
        parse_variant("sobel-r1.0-mean-soft-fixed")
    with pytest.raises(CondenseError, match="does not read as"):
        parse_variant("fcn-mean")


# --------------------------------------------------------------------------- schemes, through distill

N_PER_CLASS = 8


@pytest.fixture
def mask_inputs(tmp_path):
    """A dataset, random maps for it and the fixed selections at ratios 0 and 1."""
    data_path = tmp_path / "data.pt"
    save_torch(make_stored_dataset(n_per_class=N_PER_CLASS), data_path)
    data = load_data(data_path)
    maps = tmp_path / "maps.pt"
    gen = torch.Generator().manual_seed(0)
    save_maps(
        maps, torch.randint(0, 256, (data.train_images.shape[0], *data.im_size), generator=gen, dtype=torch.uint8), data.name, "fcn", {}
    )
    selections = {}
    for ratio in ("0.0", "1.0", "0.5"):
        selections[ratio] = tmp_path / f"sel{ratio}.pt"
        assert main(["mask", "--data", str(data_path), "--ratio", ratio, "--seed", "0", "--out", str(selections[ratio]), "--quiet"]) == 0
    return data_path, maps, selections


def distill(data_path, out, *extra, method="dm"):
    return main(
        [
            "distill",
            "--method",
            method,
            "--data",
            str(data_path),
            "--model",
            "convnet_w32",
            "--batch-real",
            "4",
            "--ipc",
            "1",
            "--iterations",
            "2",
            "--seed",
            "3",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


@pytest.mark.parametrize("fill", ["mean", "other"])
def test_batch_scheme_at_ratio_0_and_1_equals_fixed(mask_inputs, tmp_path, fill):
    data_path, maps, selections = mask_inputs
    out = {}
    for ratio in ("0.0", "1.0"):
        for scheme in ("fixed", "batch"):
            path = tmp_path / f"{scheme}{ratio}.pt"
            selection = ["--selection", str(selections[ratio])] if scheme == "fixed" else []
            assert distill(data_path, path, "--maps", str(maps), "--mask", f"fcn-r{ratio}-{fill}-soft-{scheme}", *selection) == 0
            out[(scheme, ratio)] = read_set(path)[0]
    plain = tmp_path / "plain.pt"
    assert distill(data_path, plain) == 0
    assert torch.equal(out[("fixed", "1.0")], out[("batch", "1.0")])
    assert torch.equal(out[("fixed", "0.0")], out[("batch", "0.0")])
    assert torch.equal(out[("batch", "0.0")], read_set(plain)[0])
    assert not torch.equal(out[("batch", "1.0")], read_set(plain)[0])


def test_batch_scheme_masks_floor_r_n_of_each_drawn_batch(mask_inputs):
    data_path, maps, _ = mask_inputs
    data = load_data(data_path)
    stored = load_maps(maps)
    view = masked_data(data, stored, parse_variant("fcn-r0.5-black-soft-batch"))
    assert isinstance(view, MaskedData)
    gen, again = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    batch = view.sample_class(1, 5, gen)
    idx = data.sample_class_indices(1, 5, again)
    raw = data.train_images[idx]
    changed = [not torch.equal(batch[i], raw[i]) for i in range(5)]
    assert changed == [True, True, False, False, False]  # floor(0.5 · 5) = 2, the first of the random order
    expected = mask_images(raw[:2], stored["maps"][idx[:2]], parse_variant("fcn-r0.5-black-soft-batch"), data.mean, data.std)
    assert torch.equal(batch[:2], expected)


def sparse_and_dense(view: MaskedData, c: int, n: int, seed: int):
    """The same draw through the sparse (CPU) path and the dense (CUDA, no host read) path."""
    view.dense = False
    sparse = view.sample_class(c, n, torch.Generator().manual_seed(seed))
    view.dense = True
    return sparse, view.sample_class(c, n, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "mask", ["fcn-r0.5-black-soft-batch", "fcn-r0.5-mean-hard0.5-fixed", "fcn-r1.0-other-soft-fixed", "fcn-r1.0-other-soft-batch"]
)
def test_the_dense_path_gives_the_sparse_batch_when_it_draws_the_same(mask_inputs, mask):
    """No fill draws, or every image masked: the dense path draws what the sparse one does, so the batches are equal."""
    data_path, maps, selections = mask_inputs
    data, variant = load_data(data_path), parse_variant(mask)
    selected = load_selection(selections[str(variant.ratio)])["selected"] if variant.scheme == "fixed" else None
    view = MaskedData(data, load_maps(maps)["maps"], variant, selected)
    assert view.dense is False  # the CPU default
    sparse, dense = sparse_and_dense(view, 2, 6, seed=4)
    assert torch.equal(sparse, dense) and not torch.equal(
        dense, data.train_images[data.sample_class_indices(2, 6, torch.Generator().manual_seed(4))]
    )


def test_the_dense_path_masks_exactly_the_chosen_images(mask_inputs):
    """A drawing fill at ratio 0.5: the dense path keeps the unchosen images as they are and masks the chosen ones."""
    data_path, maps, _ = mask_inputs
    data = load_data(data_path)
    view = MaskedData(data, load_maps(maps)["maps"], parse_variant("fcn-r0.5-other-soft-batch"), None, dense=True)
    batch = view.sample_class(1, 6, torch.Generator().manual_seed(5))
    raw = data.train_images[data.sample_class_indices(1, 6, torch.Generator().manual_seed(5))]
    assert [not torch.equal(batch[i], raw[i]) for i in range(6)] == [True] * 3 + [False] * 3  # floor(0.5 · 6)


@pytest.mark.parametrize("mask", ["fcn-r0.5-other-soft-batch", "fcn-r0.5-black-hard0.5-batch"])
def test_kill_and_resume_under_the_batch_scheme_ends_with_the_same_tensors(mask_inputs, tmp_path, mask):
    data_path, maps, _ = mask_inputs
    common = ["--maps", str(maps), "--mask", mask, "--iterations", "3"]
    straight, resumed, ckpt = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "run.ckpt"
    assert distill(data_path, straight, *common) == 0
    assert distill(data_path, resumed, *common, "--checkpoint", str(ckpt), "--checkpoint-every", "2", "--stop-after", "2") == 0
    assert ckpt.exists() and not resumed.exists()
    assert distill(data_path, resumed, *common, "--checkpoint", str(ckpt), "--checkpoint-every", "2") == 0
    (a, _, ma), (b, _, mb) = read_set(straight), read_set(resumed)
    assert torch.equal(a, b) and ma.losses == mb.losses and ma.mask.variant == mask


# --------------------------------------------------------------------------- the saliency stage


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("saliency")
    data = root / "data.pt"
    save_torch(make_stored_dataset(n_per_class=6), data)
    network = root / "convnet.pt"
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
                str(network),
                "--out",
                str(root / "full.json"),
                "--quiet",
            ]
        )
        == 0
    )
    return root, data, network


def saliency(data, network, out, *extra):
    return main(
        [
            "saliency",
            "--data",
            str(data),
            "--network",
            str(network),
            "--out",
            str(out),
            "--batch-size",
            "7",
            "--device",
            "cpu",
            "--quiet",
            *extra,
        ]
    )


def test_smoothgrad_same_seed_same_maps_other_seed_other_maps(classifier, tmp_path):
    root, data, network = classifier
    paths = [tmp_path / f"{n}.pt" for n in ("a", "b", "c")]
    for path, seed in zip(paths, ("1", "1", "2")):
        assert saliency(data, network, path, "--source", "smoothgrad", "--samples", "4", "--seed", seed) == 0
    a, b, c = (load_maps(p) for p in paths)
    assert torch.equal(a["maps"], b["maps"]) and not torch.equal(a["maps"], c["maps"])
    assert a["source"] == "smoothgrad" and a["settings"]["samples"] == 4 and a["settings"]["noise"] == 0.15
    assert a["maps"].dtype == torch.uint8 and a["maps"].shape == (18, 28, 28)


@pytest.mark.parametrize("source", ["gradcam", "guided_backprop", "integrated_gradients"])
def test_attribution_maps_are_in_training_order_and_match_the_source(classifier, tmp_path, source):
    root, data, network = classifier
    out, figure = tmp_path / "maps.pt", tmp_path / "maps.png"
    extra = ["--steps", "8"] if source == "integrated_gradients" else []
    assert saliency(data, network, out, "--source", source, "--figure", str(figure), "--per-class-figure", "2", *extra) == 0
    stored = load_maps(out)
    from condense.models.store import load_network

    net = load_network(network)
    real = load_data(data)
    i = 7
    context = SaliencyContext(real.mean, real.std, IntegratedGradientsSettings(steps=8) if extra else None)
    by_hand = SOURCES.get(source).attribute(net, real.train_images[i : i + 1], real.train_labels[i : i + 1], context)[0]
    assert (stored["maps"][i].int() - (255 * by_hand).round().int()).abs().max() <= 1
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, lines
    return lines[0]


def test_unknown_source_missing_classifier_and_wrong_network_are_one_line_errors(classifier, tmp_path, capsys):
    root, data, network = classifier
    out = tmp_path / "maps.pt"
    assert saliency(data, network, out, "--source", "sobel") == 2 and not out.exists()
    assert "unknown saliency source 'sobel'" in error_line(capsys)
    assert saliency(data, tmp_path / "none.pt", out, "--source", "gradcam") == 2 and not out.exists()
    assert "does not exist" in error_line(capsys)
    torch.manual_seed(0)
    fcn = tmp_path / "fcn.pt"
    from condense.models.fcn import build_fcn

    save_network(fcn, build_fcn("small_fcn", 1, 3, (28, 28)), {"dataset": "fashionmnist"})
    assert saliency(data, fcn, out, "--source", "gradcam") == 2 and not out.exists()
    assert "holds a fcn (small_fcn), but a classifier is needed" in error_line(capsys)
    assert saliency(data, network, out, "--source", "gradcam", "--samples", "3") == 2 and not out.exists()
    assert "source gradcam takes no settings" in error_line(capsys)


def test_maps_of_another_dataset_are_a_one_line_error(mask_inputs, tmp_path, capsys):
    data_path, maps, selections = mask_inputs
    stored = load_maps(maps)
    other = tmp_path / "other.pt"
    save_maps(other, stored["maps"], "cifar10", "fcn", {})
    out = tmp_path / "x.pt"
    assert distill(data_path, out, "--maps", str(other), "--mask", "fcn-r1.0-mean-soft-fixed", "--selection", str(selections["1.0"])) == 2
    assert "made for dataset 'cifar10', not 'fashionmnist'" in error_line(capsys) and not out.exists()
    save_maps(other, stored["maps"][:-1], "fashionmnist", "fcn", {})
    assert distill(data_path, out, "--maps", str(other), "--mask", "fcn-r1.0-mean-soft-batch") == 2
    assert "compute the maps for this dataset" in error_line(capsys) and not out.exists()
    assert distill(data_path, out, "--maps", str(maps), "--mask", "gradcam-r1.0-mean-soft-batch") == 2
    assert "from source 'fcn', but mask" in error_line(capsys) and not out.exists()
    assert distill(data_path, out, "--maps", str(maps), "--mask", "fcn-r1.0-mean-soft-fixed") == 2
    assert "needs --selection" in error_line(capsys) and not out.exists()
    assert distill(data_path, out, "--maps", str(maps), "--mask", "fcn-r0.5-mean-soft-fixed", "--selection", str(selections["1.0"])) == 2
    assert "is for ratio 1.0" in error_line(capsys) and not out.exists()


# --------------------------------------------------------------------------- the FCN as the authors trained it


def test_imagenet_weights_come_from_the_torch_cache_without_a_download(tmp_path, monkeypatch):
    import hashlib

    from torchvision.models import resnet18

    import condense.models.fcn as fcn
    from condense.models.fcn import build_fcn

    torch.manual_seed(3)
    reference = resnet18(weights=None)
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    # The cached file must carry the sha256 prefix its published name states (a random net cannot have
    # f37072fd's), so publish it under a name that carries its own prefix.
    staged = tmp_path / "staged.pth"
    torch.save(reference.state_dict(), staged)
    name = f"resnet18-{hashlib.sha256(staged.read_bytes()).hexdigest()[:8]}.pth"
    staged.rename(cache / name)
    monkeypatch.setattr(fcn, "resnet18_imagenet_url", lambda: f"https://download.pytorch.org/models/{name}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    net = build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")
    assert torch.equal(net.body.layer2[0].conv1.weight, reference.layer2[0].conv1.weight)
    (cache / name).unlink()
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("no network")))
    with pytest.raises(CondenseError, match=f"copy the official file .*{name}"):
        build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")


def test_black_crop_fill_pads_with_pixel_value_zero():
    from condense.data.augment import AugmentParams
    from condense.masks.fcn_training import per_image_augment

    x = torch.full((2, 1, 8, 8), 0.7)
    fill = torch.full((1, 1, 1, 1), -0.5)
    params = AugmentParams(ratio_crop_pad=0.5)  # shifts of up to 4 px
    gen = torch.Generator().manual_seed(0)
    out = per_image_augment(("crop",), params, fill)(x, gen)
    values = out.flatten().tolist()
    assert all(math.isclose(v, 0.7, abs_tol=1e-6) or math.isclose(v, -0.5, abs_tol=1e-6) for v in values)
    assert any(math.isclose(v, -0.5, abs_tol=1e-6) for v in values)  # the padding is the fill, not 0
    plain = per_image_augment(("crop",), params)(x, torch.Generator().manual_seed(0))
    assert torch.equal(plain == 0, torch.isclose(out, torch.tensor(-0.5)))  # the same shifts, another fill
