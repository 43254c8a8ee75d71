"""Tests for condense.networks: the model zoo, its registry and its parameter counts.

The expected parameter counts were computed from the official DC/DSA/DM
``networks.py`` classes (10 classes); ``alexcifarnet`` has no official class and
its 3x32x32 count is the one the design brief fixes.
"""

import pytest
import torch
from torch import nn

from condense.core.errors import CondenseError
from condense.models.classifiers import MODELS, ConvNet, ConvNetConfig, build_model, has_batchnorm

RGB32 = (3, (32, 32))
GRAY28 = (1, (28, 28))
SHAPES = {"rgb32": RGB32, "gray28": GRAY28}

# name -> (params on 3x32x32, params on 1x28x28), 10 classes.
EXPECTED_PARAMS = {
    "convnet": (320_010, 317_706),
    "convnet_bn": (320_010, 317_706),
    "convnet_ln": (663_306, 661_002),
    "convnet_nn": (319_242, 316_938),
    "convnet_gn": (320_010, 317_706),
    "convnet_w32": (24_714, 24_138),
    "convnet_w64": (86_282, 85_130),
    "convnet_w256": (1_229_834, 1_225_226),
    "convnet_d1": (331_530, 329_226),
    "convnet_d2": (233_610, 231_306),
    "convnet_d4": (452_490, 450_186),
    "convnet_maxpool": (320_010, 317_706),
    "convnet_nopool": (1_610_250, 1_607_946),
    "convnet_sigmoid": (320_010, 317_706),
    "convnet_leakyrelu": (320_010, 317_706),
    "alexnet": (1_872_202, 1_865_802),
    "alexnet_bn": (1_874_122, 1_867_722),
    "alexcifarnet": (1_756_426, 1_384_586),
    "mlp": (411_146, 118_282),
    "lenet": (62_006, 61_706),
    "vgg11": (9_231_114, 9_229_962),
    "vgg11_bn": (9_231_114, 9_229_962),
    "resnet18": (11_173_962, 11_172_810),
    "resnet18_bn": (11_173_962, 11_172_810),
    "resnet18_bn_ap": (11_250_762, 11_213_770),
}

BATCHNORM_MODELS = {"convnet_bn", "alexnet_bn", "vgg11_bn", "resnet18_bn", "resnet18_bn_ap"}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build(name, shape, seed=0):
    channel, im_size = shape
    torch.manual_seed(seed)
    return build_model(name, channel, 10, im_size)


def test_registered_names():
    assert set(MODELS.names()) == set(EXPECTED_PARAMS)


def test_reference_param_counts():
    # The numbers the design brief pins down.
    assert n_params(build("convnet", RGB32)) == 320_010
    assert n_params(build("convnet", GRAY28)) == 317_706
    assert n_params(build("alexnet", RGB32)) == 1_872_202
    assert n_params(build("alexcifarnet", RGB32)) == 1_756_426


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_param_counts_match_official(name):
    rgb, gray = EXPECTED_PARAMS[name]
    assert n_params(build(name, RGB32)) == rgb
    assert n_params(build(name, GRAY28)) == gray


@pytest.mark.parametrize("shape_name", sorted(SHAPES))
@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_forward_embed_and_channels_last(name, shape_name):
    channel, im_size = SHAPES[shape_name]
    model = build(name, (channel, im_size))
    assert isinstance(model.classifier, nn.Linear)
    torch.manual_seed(1)
    x = torch.randn(2, channel, *im_size)
    with torch.no_grad():
        logits = model(x)
        feats = model.embed(x)
        assert logits.shape == (2, 10)
        assert feats.ndim == 2 and feats.shape == (2, model.classifier.in_features)
        torch.testing.assert_close(model.classifier(feats), logits, rtol=1e-5, atol=1e-6)
        assert torch.isfinite(logits).all()
        # Channels-last must give the same numbers; float64 keeps the comparison tight even
        # where batch norm on a batch of 2 amplifies float32 summation-order noise.
        model, x = model.double(), x.double()
        x_cl = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(model(x_cl), model(x), rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(model.embed(x_cl), model.embed(x), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_seeded_construction_is_deterministic(name):
    a, b = build(name, RGB32, seed=123), build(name, RGB32, seed=123)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = build(name, RGB32, seed=124)
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_unknown_name_raises_condense_error():
    with pytest.raises(CondenseError, match="no_such_net") as info:
        build_model("no_such_net", 3, 10)
    message = str(info.value)
    assert "\n" not in message and "convnet" in message


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_has_batchnorm(name):
    assert has_batchnorm(build(name, GRAY28)) == (name in BATCHNORM_MODELS)


def test_default_convnet_architecture():
    model = build("convnet", RGB32)
    assert model.config == ConvNetConfig(width=128, depth=3, act="relu", norm="instancenorm", pooling="avgpooling")
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 3 and all(m.num_groups == m.num_channels == 128 and m.affine for m in norms)
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 3
    assert model.classifier.in_features == 128 * 4 * 4
    first_conv = next(m for m in build("convnet", GRAY28).modules() if isinstance(m, nn.Conv2d))
    assert first_conv.padding == (3, 3)


@pytest.mark.parametrize(
    "name", ["convnet", "convnet_ln", "alexnet", "alexcifarnet", "mlp", "lenet", "vgg11", "resnet18", "resnet18_bn_ap"]
)
def test_other_image_sizes(name):
    model = build(name, (3, (48, 40)))
    with torch.no_grad():
        out = model(torch.randn(2, 3, 48, 40))
    assert out.shape == (2, 10)


def test_too_small_image_raises():
    with pytest.raises(CondenseError, match="too small"):
        build_model("convnet_d4", 3, 10, (8, 8))


def test_bad_arguments_raise():
    with pytest.raises(CondenseError, match="num_classes"):
        build_model("convnet", 3, 0)
    with pytest.raises(CondenseError, match="im_size"):
        build_model("convnet", 3, 10, (32,))
    with pytest.raises(CondenseError, match="bogus"):
        ConvNet(3, 10, (32, 32), ConvNetConfig(norm="bogus"))
