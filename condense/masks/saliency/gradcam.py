"""Grad-CAM (Selvaraju et al., ICCV 2017) of the whole-dataset classifier, through Captum's ``LayerGradCam``.

At the rectified feature maps of the network's last convolutional block (:func:`last_conv_block`),
for the image's own label, ReLU on the weighted sum (``relu_attributions``), upsampled bilinearly
to the image size, then :func:`to_unit_map`.
"""

from __future__ import annotations

import torch

from . import SaliencySource, register_source
from ._attribution import frozen, last_conv_block, to_unit_map


def attribute(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    from captum.attr import LayerAttribution, LayerGradCam

    network = frozen(network)
    cam = LayerGradCam(network, last_conv_block(network)).attribute(images, target=labels, relu_attributions=True)
    return to_unit_map(LayerAttribution.interpolate(cam, tuple(images.shape[-2:]), interpolate_mode="bilinear"))


SOURCE = register_source(
    SaliencySource(
        name="gradcam",
        label="Grad-CAM",
        needs="classifier",
        attribute=attribute,
        summary="Grad-CAM of the whole-dataset network at its last convolutional block, own label, ReLU, bilinear upsampling",
    )
)
