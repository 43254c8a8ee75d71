"""The reference training protocol's settings and optimiser (docs/reference-protocol.md), shared by the one-by-one
evaluation (:mod:`condense.training.evaluation`), the ensemble (:mod:`condense.training.ensemble`) and the
whole-dataset baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

PROTOCOLS = ("reference", "idc")


@dataclass(frozen=True)
class TrainSettings:
    """``protocol``: ``reference`` (the DC/DSA/DM ``evaluate_synset``: epochs + 1 passes, lr × 0.1 with a fresh
    optimiser after half, DSA's one-family augmentation) or ``idc`` (IDC's ``train.py train``: epochs passes,
    lr × 0.2 after 2/3 and 5/6 of them (MultiStepLR), IDC's augmentation order, CutMix with probability
    ``cutmix`` and Beta(``beta``, ``beta``))."""

    epochs: int = 300
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    augment: str = "none"  # a DSA strategy string, e.g. color_crop_cutout_flip_scale_rotate, or "none"
    protocol: str = "reference"
    cutmix: float = 0.0  # probability a batch is CutMixed (the idc protocol)
    beta: float = 1.0

    def to_dict(self) -> dict:
        # the idc protocol's keys only where it is used, so the reference's records stay as they were written
        kept = asdict(self)
        if self.protocol == "reference":
            for key in ("protocol", "cutmix", "beta"):
                kept.pop(key)
        return kept

    @property
    def milestones(self) -> tuple[int, ...]:
        """The idc protocol's MultiStepLR milestones (passes after which lr × 0.2)."""
        return (2 * self.epochs // 3, 5 * self.epochs // 6)

    @property
    def decay_after(self) -> int:
        """The pass after which the learning rate drops × 0.1 (with a fresh optimiser), as the reference does."""
        return self.epochs // 2 + 1


def make_optimizer(net, lr: float, s: TrainSettings) -> torch.optim.Optimizer:
    """The reference SGD over ``net.parameters()`` (a module or anything that has them, e.g. an ensemble)."""
    return torch.optim.SGD(net.parameters(), lr=lr, momentum=s.momentum, weight_decay=s.weight_decay)
