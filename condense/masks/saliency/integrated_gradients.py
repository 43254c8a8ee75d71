"""Integrated Gradients (Sundararajan et al., ICML 2017) of the whole-dataset classifier, through Captum.

From the black image (pixel value 0, i.e. (0 − mean) / std in normalised space) to the image, for
its own label, ``steps`` points of Captum's Gauss–Legendre rule (Captum's default 50; the paper
uses 20–300 and checks completeness: the attributions sum to f(x) − f(baseline)). Then
:func:`to_unit_map`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ...core.checks import AT_LEAST_ONE
from ...core.settings import setting
from . import SaliencySource, register_source
from ._attribution import frozen, to_unit_map


@dataclass(frozen=True)
class IntegratedGradientsSettings:
    steps: int = setting(50, "Integrated Gradients: integration points (Captum's default 50)", bounds=AT_LEAST_ONE)

    def to_dict(self) -> dict:
        return asdict(self)


def black_image(images: torch.Tensor, mean, std) -> torch.Tensor:
    """The black image (pixel value 0) in normalised space, shaped like ``images``."""
    mean_t = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return ((0.0 - mean_t) / std_t).expand_as(images).contiguous()


def raw_attribution(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    """Captum's signed attributions (B, C, H, W), before the normalisation to a map."""
    from captum.attr import IntegratedGradients

    return IntegratedGradients(frozen(network)).attribute(
        images,
        baselines=black_image(images, context.mean, context.std),
        target=labels,
        n_steps=context.settings.steps,
        internal_batch_size=max(1, images.shape[0]),
    )  # one integration point of the batch per forward: cache-sized


def attribute(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    return to_unit_map(raw_attribution(network, images, labels, context))


SOURCE = register_source(
    SaliencySource(
        name="integrated_gradients",
        label="Integrated Gradients",
        needs="classifier",
        attribute=attribute,
        settings=IntegratedGradientsSettings,
        summary="path integral of input gradients from the black image, own label",
    )
)
