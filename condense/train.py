"""Train a network on an image set and measure its accuracy: the reference evaluation protocol.

The official ``evaluate_synset`` (DC/DSA/DM code) runs ``epochs + 1`` passes over
the data, multiplies the learning rate by 0.1 after pass ``epochs // 2 + 1`` and
builds a fresh SGD optimiser at that point (so the momentum buffer restarts).
We follow it exactly; the final-pass test accuracy is what gets reported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .accel import EAGER, Speed
from .augment import augment

log = logging.getLogger("condense.train")


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


def _optimizer(net: nn.Module, lr: float, s: TrainSettings) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=lr, momentum=s.momentum, weight_decay=s.weight_decay)


def train_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    strategy: str = "none",
    speed: Speed = EAGER,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One shuffled pass; returns (mean loss, accuracy) as device tensors so nothing syncs per batch."""
    net.train()
    n = images.shape[0]
    order = torch.randperm(n, generator=generator, device=generator.device).to(images.device, non_blocking=True)  # no stream sync per epoch on CUDA
    loss_sum = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        x, y = images[idx], labels[idx]
        if strategy != "none":
            x = augment(x, strategy, generator)
        out = net(speed.layout(x))
        loss = F.cross_entropy(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * y.shape[0]
        correct += (out.detach().argmax(1) == y).sum()
    return loss_sum / n, correct / n


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000, speed: Speed = EAGER) -> float:
    """Test accuracy in large no-grad batches, network in eval mode. The default batch divides the
    10,000-image test sets, so a compiled network sees one batch shape."""
    net.eval()
    correct = torch.zeros((), device=images.device)
    for start in range(0, images.shape[0], batch_size):
        out = net(speed.layout(images[start : start + batch_size]))
        correct += (out.argmax(1) == labels[start : start + batch_size]).sum()
    return float(correct) / images.shape[0]


def train_network(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    generator: torch.Generator,
    desc: str = "train",
    speed: Speed = EAGER,
) -> dict:
    """Train ``net`` in place with the reference protocol; returns final train loss/accuracy and seconds."""
    from .runtime import progress

    lr = settings.lr
    optimizer = _optimizer(net, lr, settings)
    decay_after = settings.epochs // 2 + 1
    started = time.perf_counter()
    loss = acc = torch.zeros(())
    for ep in progress(range(settings.epochs + 1), desc=desc, unit="epoch"):
        loss, acc = train_epoch(net, optimizer, images, labels, settings.batch_size, generator, settings.augment, speed)
        if ep == decay_after:
            lr *= 0.1
            optimizer = _optimizer(net, lr, settings)
    return {"train_loss": float(loss), "train_acc": float(acc), "train_seconds": time.perf_counter() - started}
