"""Tests of condense.augment (differentiable Siamese augmentation)."""

from __future__ import annotations

import ast
import os
import warnings
from pathlib import Path

import pytest
import torch

from condense.core.errors import CondenseError
from condense.data.augment import (
    DEFAULT_STRATEGY,
    FAMILIES,
    AugmentParams,
    Draw,
    apply,
    augment,
    augment_siamese,
    parse_strategy,
    sample,
    strategy_for,
)

ALL = ("color", "crop", "cutout", "flip", "scale", "rotate")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 4, c: int = 3, h: int = 8, w: int = 8, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=gen(seed)).to(device)


# ------------------------------------------------------------------ strategies


def test_registry_and_parse():
    assert FAMILIES.names() == sorted(ALL)
    assert parse_strategy(DEFAULT_STRATEGY) == ALL
    for identity in (None, "", "none", "None"):
        assert parse_strategy(identity) == ()


@pytest.mark.parametrize("bad, name", [("color_blur", "blur"), ("blur", "blur"), ("crop__flip", "")])
def test_unknown_family_raises(bad, name):
    with pytest.raises(CondenseError) as err:
        parse_strategy(bad)
    assert repr(name) in str(err.value)
    assert "crop" in str(err.value) and "rotate" in str(err.value)
    with pytest.raises(CondenseError):
        augment(images(), bad, gen())


def test_unknown_mode_raises():
    with pytest.raises(CondenseError, match="'X'"):
        sample("crop", 2, gen(), params=AugmentParams(aug_mode="X"))


def test_strategy_for():
    assert strategy_for("CIFAR10") == "color_crop_cutout_flip_scale_rotate"
    assert strategy_for("FashionMNIST") == "color_crop_cutout_flip_scale_rotate"
    for digits in ("MNIST", "mnist", "SVHN"):
        assert strategy_for(digits) == "color_crop_cutout_scale_rotate"


def test_defaults_match_official():
    p = AugmentParams()
    assert (p.aug_mode, p.prob_flip, p.ratio_scale, p.ratio_rotate) == ("S", 0.5, 1.2, 15.0)
    assert (p.ratio_crop_pad, p.ratio_cutout, p.brightness, p.saturation, p.contrast) == (0.125, 0.5, 1.0, 2.0, 0.5)


# ------------------------------------------------------------- generic behaviour


@pytest.mark.parametrize("strategy", [None, "", "none", "None"])
def test_identity(strategy):
    x = images()
    assert apply(x, sample(strategy, 4, gen())) is x
    assert augment(x, strategy, gen()) is x
    y = x[:1]
    out_x, out_y = augment_siamese([x, y], strategy, gen())
    assert out_x is x and out_y is y


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("family", ALL)
def test_each_family_changes_input_keeps_shape(family, dtype, device):
    x = images(n=8, device=device).to(dtype)
    out = augment(x, family, gen(1))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert not torch.equal(out, x)


def test_single_mode_picks_one_family_uniformly():
    g = gen(3)
    counts = dict.fromkeys(ALL, 0)
    for _ in range(300):
        draw = sample(DEFAULT_STRATEGY, 2, g)
        assert len(draw.steps) == 1
        counts[draw.family] += 1
    assert all(20 < c < 80 for c in counts.values()), counts


def test_multiple_mode_applies_every_family_in_order():
    draw = sample("flip_crop_color", 2, gen(), params=AugmentParams(aug_mode="M"))
    assert draw.families == ("flip", "crop", "color")
    x = images(n=2)
    manual = x
    for step in draw.steps:
        manual = apply(manual, Draw((step,), draw.params))
    torch.testing.assert_close(apply(x, draw), manual, rtol=0, atol=0)


def test_determinism_same_seed():
    x = images(n=5)
    g1, g2, g3 = gen(7), gen(7), gen(8)
    outs1 = [augment(x, DEFAULT_STRATEGY, g1) for _ in range(6)]
    outs2 = [augment(x, DEFAULT_STRATEGY, g2) for _ in range(6)]
    outs3 = [augment(x, DEFAULT_STRATEGY, g3) for _ in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(outs1, outs2))
    assert not all(torch.equal(a, c) for a, c in zip(outs1, outs3))


@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("family", ALL)
def test_gradient_flows(family, per_image):
    x = images(n=3).requires_grad_(True)
    out = augment(x, family, gen(2), per_image=per_image)
    weights = torch.randn(out.shape, generator=gen(5))
    (out * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("family", ALL)
def test_batch_of_one(family, per_image):
    x = images(n=1)
    out = augment(x, family, gen(4), per_image=per_image)
    assert out.shape == x.shape


def test_per_image_draw_needs_matching_batch():
    draw = sample("rotate", 4, gen(), per_image=True)
    with pytest.raises(CondenseError, match="per_image=False"):
        apply(images(n=3), draw)


# ---------------------------------------------------------------- siamese / per image


@pytest.mark.parametrize("family", ALL)
def test_siamese_shares_one_draw(family):
    draw = sample(family, 1, gen(11), per_image=False)
    assert draw.size == 1
    assert all(v.shape == (1,) for v in draw.steps[0].values.values())
    img = images(n=1, seed=3)
    one = apply(img, draw)
    five = apply(img.expand(5, -1, -1, -1).clone(), draw)
    for i in range(5):
        torch.testing.assert_close(five[i], one[0], rtol=0, atol=1e-6)


def test_siamese_helper_real_and_synthetic_batches():
    real = images(n=5, seed=1)
    syn = real[2:3].clone()  # the synthetic batch holds one of the real images
    for seed in range(12):  # covers every family
        aug_real, aug_syn = augment_siamese([real, syn], DEFAULT_STRATEGY, gen(seed))
        torch.testing.assert_close(aug_syn[0], aug_real[2], rtol=0, atol=1e-6)


@pytest.mark.parametrize("family", ["color", "crop", "cutout", "scale", "rotate"])
def test_per_image_params_differ(family):
    draw = sample(family, 6, gen(5), per_image=True)
    assert draw.size == 6
    for value in draw.steps[0].values.values():
        assert value.shape == (6,) and value.unique().numel() == 6
    out = apply(images(n=1).expand(6, -1, -1, -1).clone(), draw)
    assert not torch.equal(out[0], out[1])


# ----------------------------------------------------------- known draws (hand math)


def test_flip_probability_one_and_zero():
    x = images(n=3)
    torch.testing.assert_close(apply(x, Draw.of("flip", flip=0.0)), torch.flip(x, dims=[3]), rtol=0, atol=0)
    torch.testing.assert_close(apply(x, Draw.of("flip", flip=0.999)), x, rtol=0, atol=0)
    always = augment(x, "flip", gen(), AugmentParams(prob_flip=1.0))
    torch.testing.assert_close(always, torch.flip(x, dims=[3]), rtol=0, atol=0)
    mixed = apply(x, Draw.of("flip", flip=[0.2, 0.7, 0.4]))  # per image: flip, keep, flip
    assert torch.equal(mixed[0], x[0].flip(2)) and torch.equal(mixed[1], x[1]) and torch.equal(mixed[2], x[2].flip(2))


def test_brightness_adds_known_value():
    x = images(n=2)
    # saturation uniform 0.5 -> factor 1, contrast uniform 0.5 -> factor 1: brightness alone
    draw = Draw.of("color", brightness=0.8, saturation=0.5, contrast=0.5)
    torch.testing.assert_close(apply(x, draw), x + 0.3, rtol=0, atol=1e-6)
    draw = Draw.of("color", brightness=[0.0, 0.75], saturation=0.5, contrast=0.5, params=AugmentParams(brightness=2.0))
    out = apply(x, draw)
    torch.testing.assert_close(out[0], x[0] - 1.0, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[1], x[1] + 0.5, rtol=0, atol=1e-6)


def test_saturation_hand_computed():
    # one image, 3 channels, 1x2 pixels; channel means per pixel: 2 and 6
    x = torch.tensor([[[[1.0, 3.0]], [[2.0, 6.0]], [[3.0, 9.0]]]])
    # saturation uniform 0.25 -> factor 0.25 * 2 = 0.5 about the channel mean
    draw = Draw.of("color", brightness=0.5, saturation=0.25, contrast=0.5)
    expected = torch.tensor([[[[1.5, 4.5]], [[2.0, 6.0]], [[2.5, 7.5]]]])
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=1e-6)


def test_contrast_hand_computed():
    # image mean = (1 + 3 + 2 + 6 + 3 + 9) / 6 = 4
    x = torch.tensor([[[[1.0, 3.0]], [[2.0, 6.0]], [[3.0, 9.0]]]])
    # contrast uniform 0.25 -> factor 0.25 + 0.5 = 0.75 about the image mean
    draw = Draw.of("color", brightness=0.5, saturation=0.5, contrast=0.25)
    expected = torch.tensor([[[[1.75, 3.25]], [[2.5, 5.5]], [[3.25, 7.75]]]])
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=1e-6)


def test_color_composes_in_official_order():
    x = torch.tensor([[[[1.0, 3.0]], [[2.0, 6.0]], [[3.0, 9.0]]]])
    # brightness +0.5 -> [[1.5,3.5],[2.5,6.5],[3.5,9.5]]; saturation 0.5 about the
    # channel means 2.5/6.5 -> [[2,5],[2.5,6.5],[3,8]]; contrast 0.75 about the mean 4.5
    draw = Draw.of("color", brightness=1.0, saturation=0.25, contrast=0.25)
    expected = torch.tensor([[[[2.625, 4.875]], [[3.0, 6.0]], [[3.375, 7.125]]]])
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=1e-6)


def _int_uniform(k: int, low: int, high: int) -> float:
    """The uniform that Draw maps to the integer k in [low, high]."""
    return (k - low + 0.5) / (high - low + 1)


def test_crop_tiny_known_shift():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    # side 4, ratio 0.125 -> shifts in [-1, 1]; out[i, j] = x[i + 1, j - 1], zero fill
    draw = Draw.of("crop", h=_int_uniform(1, -1, 1), w=_int_uniform(-1, -1, 1))
    expected = torch.tensor([[0.0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15], [0, 0, 0, 0]]).view(1, 1, 4, 4)
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=0)


def test_crop_known_shift_larger_image():
    x = images(n=2, h=16, w=16) + 10.0  # no zeros in the input
    # side 16 -> shifts in [-2, 2]; rows move by +2, columns by -2
    draw = Draw.of("crop", h=_int_uniform(2, -2, 2), w=_int_uniform(-2, -2, 2))
    expected = torch.zeros_like(x)
    expected[:, :, :14, 2:] = x[:, :, 2:, :14]
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=0)
    zero_shift = Draw.of("crop", h=_int_uniform(0, -2, 2), w=_int_uniform(0, -2, 2))
    torch.testing.assert_close(apply(x, zero_shift), x, rtol=0, atol=0)


def test_cutout_even_square():
    x = torch.ones(1, 2, 4, 4)
    # size int(4 * 0.5 + 0.5) = 2 (even) -> centre in [0, 4]; rows 0-1 (centre 1), column 3 (centre 4, clipped)
    draw = Draw.of("cutout", h=_int_uniform(1, 0, 4), w=_int_uniform(4, 0, 4))
    expected = torch.ones(1, 2, 4, 4)
    expected[:, :, 0:2, 3] = 0
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=0)


def test_cutout_odd_square():
    x = torch.ones(2, 1, 5, 5)
    # size int(5 * 0.5 + 0.5) = 3 (odd) -> centre in [0, 4]; centre (2, 2) per image 0, (0, 4) per image 1
    draw = Draw.of("cutout", h=[_int_uniform(2, 0, 4), _int_uniform(0, 0, 4)], w=[_int_uniform(2, 0, 4), _int_uniform(4, 0, 4)])
    expected = torch.ones(2, 1, 5, 5)
    expected[0, :, 1:4, 1:4] = 0
    expected[1, :, 0:2, 3:5] = 0
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=0)


def test_scale_and_rotate_neutral_draws_are_identity():
    x = images(n=2)
    r = 1.2
    unit = (1 - 1 / r) / (r - 1 / r)  # uniform giving scale factor 1
    torch.testing.assert_close(apply(x, Draw.of("scale", w=unit, h=unit)), x, rtol=0, atol=1e-5)
    torch.testing.assert_close(apply(x, Draw.of("rotate", angle=0.5)), x, rtol=0, atol=1e-5)


def test_scale_hand_computed():
    # ratio 2, uniform 1 -> factor 2 on the width: output column j samples input
    # column 2j - 1.5 (align_corners=False): [0, (a0+a1)/2, (a2+a3)/2, 0]
    p = AugmentParams(ratio_scale=2.0)
    x = torch.tensor([1.0, 3.0, 5.0, 11.0]).repeat(4, 1).view(1, 1, 4, 4)
    draw = Draw.of("scale", w=1.0, h=1 / 3, params=p)  # h: factor 1/3 * 1.5 + 0.5 = 1
    expected = torch.tensor([0.0, 2.0, 8.0, 0.0]).repeat(4, 1).view(1, 1, 4, 4)
    torch.testing.assert_close(apply(x, draw), expected, rtol=0, atol=1e-5)


def test_rotate_quarter_turn():
    # ratio 90, uniform 1 -> +90 degrees: theta [[0, -1], [1, 0]], out[i, j] = x[j, W - 1 - i]
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = apply(x, Draw.of("rotate", angle=1.0, params=AugmentParams(ratio_rotate=90.0)))
    torch.testing.assert_close(out, torch.rot90(x, 1, dims=(2, 3)), rtol=0, atol=1e-5)


# --------------------------------------------------- cross-check with the official code


def _load_official():
    folder = os.environ.get("CONDENSE_OFFICIAL_DIR")
    if not folder:
        pytest.skip("set CONDENSE_OFFICIAL_DIR to the official DatasetCondensation checkout to cross-check")
    path = Path(folder) / "utils.py"
    # Only the augmentation code is taken out of utils.py: the module itself
    # imports scipy, torchvision and networks.py, which these checks do not need.
    tree = ast.parse(path.read_text(), str(path))
    wanted = {"ParamDiffAug", "set_seed_DiffAug", "DiffAugment"}
    body = [
        node
        for node in tree.body
        if (isinstance(node, (ast.FunctionDef, ast.ClassDef)) and (node.name in wanted or node.name.startswith("rand_")))
        or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "AUGMENT_FNS" for t in node.targets))
    ]
    import numpy as np
    import torch.nn.functional as F

    namespace = {"torch": torch, "np": np, "F": F}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def _official_draw(family: str, n: int, size: int, seed: int, siamese: bool) -> Draw:
    """Re-draw the uniforms that the official code draws under ``seed`` (seeded as it seeds)."""
    p = AugmentParams()
    crop, cut = int(size * p.ratio_crop_pad + 0.5), int(size * p.ratio_cutout + 0.5)
    makers = {  # key -> (draw of n values, map to our uniform)
        "crop": lambda: (torch.randint(-crop, crop + 1, (n,)), lambda t: _int_uniform(t, -crop, crop)),
        "cutout": lambda: (torch.randint(0, size + 1 - cut % 2, (n,)), lambda t: _int_uniform(t, 0, size - cut % 2)),
    }
    values = {}
    for i, key in enumerate(FAMILIES.get(family).keys):
        if siamese:
            torch.manual_seed(seed + 1 + i)  # DiffAugment seeds seed for the family pick, then +1 per draw
        elif i == 0:
            torch.manual_seed(seed)
        if family in makers:
            ints, to_u = makers[family]()
            vals = torch.tensor([to_u(int(t)) for t in ints])
        else:
            vals = torch.rand(n)
        values[key] = vals[:1] if siamese else vals
    return Draw.of(family, params=p, **values)


@pytest.mark.parametrize("siamese", [False, True])
@pytest.mark.parametrize("family", ALL)
def test_matches_official(family, siamese):
    off = _load_official()
    param = off["ParamDiffAug"]()
    x = images(n=4, h=16, w=16, seed=9)
    seed = 1234
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if siamese:
            theirs = off["DiffAugment"](x.clone(), family, seed=seed, param=param)
        else:
            param.Siamese, param.latestseed = False, -1
            torch.manual_seed(seed)
            theirs = x.clone()
            for fn in off["AUGMENT_FNS"][family]:
                theirs = fn(theirs, param)
    ours = apply(x, _official_draw(family, x.size(0), x.size(2), seed, siamese))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
