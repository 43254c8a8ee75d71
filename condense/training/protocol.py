"""The reference training protocol's settings and optimiser (docs/reference-protocol.md), shared by the one-by-one
evaluation (:mod:`condense.training.evaluation`), the ensemble (:mod:`condense.training.ensemble`) and the
whole-dataset baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 300
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    augment: str = "none"  # a DSA strategy string, e.g. color_crop_cutout_flip_scale_rotate, or "none"

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def decay_after(self) -> int:
        """The pass after which the learning rate drops × 0.1 (with a fresh optimiser), as the reference does."""
        return self.epochs // 2 + 1


def make_optimizer(net, lr: float, s: TrainSettings) -> torch.optim.Optimizer:
    """The reference SGD over ``net.parameters()`` (a module or anything that has them, e.g. an ensemble)."""
    return torch.optim.SGD(net.parameters(), lr=lr, momentum=s.momentum, weight_decay=s.weight_decay)
