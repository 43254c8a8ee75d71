"""Guided Backpropagation (Springenberg et al., ICLR 2015 workshop) of the whole-dataset classifier, through Captum.

Input gradients of the image's own logit where every ReLU also passes back only positive
gradients; Captum overrides ``nn.ReLU`` modules (the project's networks use modules, not the
functional form). Then :func:`to_unit_map`.
"""

from __future__ import annotations

import torch

from . import SaliencySource, register_source
from ._attribution import frozen, to_unit_map


def attribute(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    from captum.attr import GuidedBackprop

    return to_unit_map(GuidedBackprop(frozen(network)).attribute(images.clone(), target=labels))


SOURCE = register_source(
    SaliencySource(
        name="guided_backprop",
        label="Guided Backprop",
        needs="classifier",
        attribute=attribute,
        summary="input gradients with ReLUs passing back positive gradients only",
    )
)
