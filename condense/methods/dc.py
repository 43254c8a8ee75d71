"""DC: Dataset Condensation with Gradient Matching (Zhao, Mopuri & Bilen, ICLR 2021).

Reference defaults: the official ``main.py`` (``--method DC``): 1000 iterations, lr_img 0.1,
lr_net 0.01, batches of 256, noise initialisation, no augmentation; sets evaluated without
augmentation for 300 epochs.
"""

from __future__ import annotations

from .gradient_matching import LOSS_LABEL, GradientMatchingSettings, gradient_matching, real_images_per_iteration
from .spec import MethodSpec, register_method

SPEC = register_method(
    MethodSpec(
        name="dc",
        label="DC",
        settings=GradientMatchingSettings,
        step=gradient_matching,
        eval_augment="none",
        loss_label=LOSS_LABEL,
        real_images_per_iteration=real_images_per_iteration,
        summary="gradient matching",
    )
)
