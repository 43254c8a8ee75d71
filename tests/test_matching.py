import math

import pytest
import torch

from condense.core.errors import CondenseError
from condense.methods.matching import layer_distance, match_loss


def test_layer_distance_hand_computed():
    # rows: [1,0] vs [1,0] -> cos 1; [0,1] vs [1,1] -> cos 1/sqrt(2)
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    syn = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    expected = (1 - 1 / (1 + 1e-6)) + (1 - 1 / (math.sqrt(2) + 1e-6))
    assert layer_distance(real, syn).item() == pytest.approx(expected, abs=1e-6)


def test_conv_weights_are_compared_per_output_channel():
    real = torch.zeros(2, 1, 2, 2)
    real[0, 0, 0, 0] = 1.0
    real[1, 0, 1, 1] = 2.0
    syn = real.clone()
    syn[1] = -syn[1]  # opposite direction: 1 - (-1) = 2 for that row
    assert layer_distance(real, syn).item() == pytest.approx(2.0, abs=1e-5)


def test_one_dimensional_tensors_contribute_nothing():
    assert match_loss([torch.tensor([1.0, 2.0])], [torch.tensor([-5.0, 3.0])], "ours").item() == 0.0


def test_mse_and_cos_hand_computed():
    syn = [torch.tensor([[1.0, 2.0]]), torch.tensor([3.0])]
    real = [torch.tensor([[0.0, 2.0]]), torch.tensor([1.0])]
    assert match_loss(syn, real, "mse").item() == pytest.approx(1.0 + 0.0 + 4.0)
    # vectors (1,2,3) and (0,2,1): dot 7, norms sqrt(14), sqrt(5)
    assert match_loss(syn, real, "cos").item() == pytest.approx(1 - 7 / (math.sqrt(14) * math.sqrt(5) + 1e-6), abs=1e-6)


def test_ours_sums_layers_and_is_zero_for_identical_gradients():
    grads = [torch.randn(4, 3, 3, 3), torch.randn(4), torch.randn(10, 8)]
    assert match_loss(grads, grads, "ours").item() == pytest.approx(0.0, abs=1e-5)
    other = [g + 0.5 * torch.randn_like(g) for g in grads]
    total = layer_distance(grads[0], other[0]) + layer_distance(grads[2], other[2])
    assert match_loss(other, grads, "ours").item() == pytest.approx(total.item(), rel=1e-6)


def test_unknown_metric():
    with pytest.raises(CondenseError, match="unknown distance 'l1'"):
        match_loss([torch.ones(2, 2)], [torch.ones(2, 2)], "l1")


def test_ours_reads_only_weight_gradients_and_skipping_the_rest_keeps_the_loss():
    from condense.methods.matching import matched_parameters
    from condense.models.classifiers import build_model

    net = build_model("convnet_w32", 1, 3, (28, 28))
    params = list(net.parameters())
    weights = matched_parameters(params, "ours")
    assert weights and all(p.dim() > 1 for p in weights) and len(weights) < len(params)
    assert matched_parameters(params, "mse") == params and matched_parameters(params, "cos") == params
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])
    grads = lambda ps: torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), y), ps)
    g_all, g_all_other = grads(params), [torch.randn_like(p) for p in params]
    pick = [i for i, p in enumerate(params) if p.dim() > 1]
    full = match_loss(g_all, g_all_other, "ours")
    only = match_loss(grads(weights), [g_all_other[i] for i in pick], "ours")
    assert torch.allclose(full, only)
