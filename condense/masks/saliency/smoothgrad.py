"""SmoothGrad (Smilkov et al., 2017) of the whole-dataset classifier: Captum's ``NoiseTunnel(Saliency)``.

The gradient of the image's own logit with respect to the input, averaged over ``samples`` noisy
copies of the image; the noise's standard deviation is ``noise`` times the value range of the
batch (the paper's noise level σ / (x_max − x_min); it finds 10–20 % and n = 50 work well).
Absolute gradients (Captum's ``Saliency`` default), then :func:`to_unit_map`. The noise comes from
torch's global generator, which :func:`~condense.masks.saliency.compute_maps` seeds per batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ...core.checks import AT_LEAST_ONE, POSITIVE
from ...core.settings import setting
from . import SaliencySource, register_source
from ._attribution import frozen, to_unit_map


@dataclass(frozen=True)
class SmoothGradSettings:
    samples: int = setting(50, "SmoothGrad: noisy copies per image (Smilkov et al.: 50)", bounds=AT_LEAST_ONE)
    noise: float = setting(0.15, "SmoothGrad: noise std as a fraction of the value range (Smilkov et al.: 0.1-0.2)", bounds=POSITIVE)

    def to_dict(self) -> dict:
        return asdict(self)


def attribute(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    from captum.attr import NoiseTunnel, Saliency

    s = context.settings
    stdev = float(s.noise * (images.max() - images.min()))
    per_forward = max(1, min(s.samples, 512 // max(1, images.shape[0])))  # noisy copies per forward: about 512 images
    grads = NoiseTunnel(Saliency(frozen(network))).attribute(
        images, nt_type="smoothgrad", nt_samples=s.samples, nt_samples_batch_size=per_forward, stdevs=stdev, target=labels
    )
    return to_unit_map(grads)


SOURCE = register_source(
    SaliencySource(
        name="smoothgrad",
        label="SmoothGrad",
        needs="classifier",
        attribute=attribute,
        settings=SmoothGradSettings,
        summary="input gradients of the own logit averaged over noisy copies (NoiseTunnel(Saliency))",
    )
)
