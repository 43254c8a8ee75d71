"""DSA: Dataset Condensation with Differentiable Siamese Augmentation (Zhao & Bilen, ICML 2021).

Gradient matching with one augmentation draw shared by each class's real and synthetic batch;
the official ``main.py`` (``--method DSA``) starts from real images. Sets are evaluated with DSA
augmentation for 1000 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.settings import setting
from .gradient_matching import LOSS_LABEL, GradientMatchingSettings, gradient_matching, real_images_per_iteration
from .spec import MethodSpec, register_method, resolve_augment


@dataclass(frozen=True)
class DSASettings(GradientMatchingSettings):
    """DC's settings with DSA's defaults: real initialisation, the dataset's DSA strategy."""

    init: str = setting("real", "initial synthetic images: noise or real", choices=("noise", "real"))
    strategy: str = setting("dsa", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)


SPEC = register_method(
    MethodSpec(
        name="dsa",
        label="DSA",
        settings=DSASettings,
        step=gradient_matching,
        eval_augment="dsa",
        loss_label=LOSS_LABEL,
        real_images_per_iteration=real_images_per_iteration,
        summary="gradient matching with differentiable siamese augmentation",
    )
)
