"""What the attribution sources share: the network they explain, one normalisation to [0, 1], Grad-CAM's layer.

Every attribution source explains the whole-dataset classifier (``condense full-baseline``; the
workflow reuses that artifact) for the image's own label, through Captum, and turns its raw
attribution into a map A in [0, 1] by one documented per-image rule (:func:`to_unit_map`), so the
sources are comparable:

1. absolute value (the sign says which way a pixel pushes the logit, not whether it matters);
2. maximum over channels (one map per image, as the FCN's);
3. divided by the image's 99th percentile (robust to a few extreme pixels, as saliency maps are
   usually shown), then clipped to [0, 1].

An all-zero attribution stays all zero.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

QUANTILE = 0.99


def to_unit_map(attribution: Tensor) -> Tensor:
    """(B, C, H, W) or (B, H, W) raw attributions -> (B, H, W) maps in [0, 1] (see the module docstring)."""
    a = attribution.detach().abs()
    if a.dim() == 4:
        a = a.amax(dim=1)
    flat = a.flatten(1)
    scale = torch.quantile(flat, QUANTILE, dim=1).clamp_min(torch.finfo(a.dtype).tiny)
    return (a / scale.view(-1, 1, 1)).clamp_(0.0, 1.0)


ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.Sigmoid, nn.GELU, nn.Tanh)


def last_conv_block(network: nn.Module) -> nn.Module:
    """Grad-CAM's layer: the activation that follows the network's last convolution (the rectified
    feature maps of its last convolutional block, before that block's pooling), or the last
    convolution itself when no activation follows it."""
    leaves = [m for m in network.modules() if not list(m.children())]
    convs = [i for i, m in enumerate(leaves) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(network).__name__} has no convolution for Grad-CAM")
    after = next((m for m in leaves[convs[-1] + 1 :] if isinstance(m, ACTIVATIONS)), None)
    return after if after is not None else leaves[convs[-1]]


def frozen(network: nn.Module) -> nn.Module:
    """The network in eval mode with its parameters frozen: attributions need input gradients only."""
    return network.eval().requires_grad_(False)
