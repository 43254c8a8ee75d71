"""The one training loop: shuffled passes over tensors, for classifiers (cross-entropy) and the attention FCN
(BCE of pooled class maps) alike, and test accuracy in no-grad batches.

Randomness comes only from the explicit generator: each pass draws its permutation, then each
batch its augmentation, in that order, so a run is reproducible pass by pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..core.accel import EAGER, Speed
from ..core.runtime import progress
from ..data.augment import augment as dsa_augment

Augment = str | Callable[[Tensor, torch.Generator], Tensor] | None  # a DSA strategy, a function, or none


@dataclass
class EpochStats:
    """Sums over one pass, kept on the device so nothing synchronises per batch."""

    loss_sum: Tensor
    correct: Tensor
    count: int

    @property
    def loss(self) -> Tensor:
        return self.loss_sum / self.count

    @property
    def accuracy(self) -> Tensor:
        return self.correct / self.count


def augmenter(augment: Augment) -> Callable[[Tensor, torch.Generator], Tensor] | None:
    if augment is None or augment == "none":
        return None
    if isinstance(augment, str):
        return lambda x, generator: dsa_augment(x, augment, generator)
    return augment


def train_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    generator: torch.Generator,
    augment: Augment = "none",
    speed: Speed = EAGER,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    logits_fn: Callable[[Tensor], Tensor] | None = None,
    after_step: Callable[[], None] | None = None,
) -> EpochStats:
    """One shuffled pass. ``logits_fn`` turns the network's output into class logits (the FCN pools its
    maps), ``loss_fn(logits, labels)`` is minimised, ``after_step`` runs after each optimiser step
    (a per-step learning-rate schedule)."""
    net.train()
    n = images.shape[0]
    # the permutation is drawn on the generator's device and copied without a stream sync on CUDA
    order = torch.randperm(n, generator=generator, device=generator.device).to(images.device, non_blocking=True)
    aug = augmenter(augment)
    loss_sum = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        x, y = images[idx], labels[idx]
        if aug is not None:
            x = aug(x, generator)
        out = net(speed.layout(x))
        logits = out if logits_fn is None else logits_fn(out)
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        loss_sum += loss.detach() * y.shape[0]
        correct += (logits.detach().argmax(1) == y).sum()
    return EpochStats(loss_sum, correct, n)


def fit(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    passes: int,
    batch_size: int,
    generator: torch.Generator,
    optimizer: torch.optim.Optimizer,
    augment: Augment = "none",
    speed: Speed = EAGER,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    logits_fn: Callable[[Tensor], Tensor] | None = None,
    after_step: Callable[[], None] | None = None,
    after_epoch: Callable[[int, EpochStats, object], torch.optim.Optimizer | None] | None = None,
    desc: str = "train",
) -> EpochStats:
    """``passes`` epochs of :func:`train_epoch`; returns the last pass's stats.

    ``after_epoch(epoch, stats, bar)`` runs after every pass (logging, the progress bar's postfix); a
    returned optimiser replaces the current one (the reference evaluation's learning-rate drop)."""
    stats = EpochStats(torch.zeros(()), torch.zeros(()), 1)
    bar = progress(range(passes), desc=desc, unit="epoch")
    for epoch in bar:
        stats = train_epoch(net, optimizer, images, labels, batch_size, generator, augment, speed, loss_fn, logits_fn, after_step)
        if after_epoch is not None:
            replacement = after_epoch(epoch, stats, bar)
            if replacement is not None:
                optimizer = replacement
    return stats


@torch.no_grad()
def accuracy(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    batch_size: int = 1000,
    speed: Speed = EAGER,
    logits_fn: Callable[[Tensor], Tensor] | None = None,
) -> float:
    """Test accuracy in large no-grad batches, network in eval mode. The default batch divides the
    10,000-image test sets, so a compiled network sees one batch shape."""
    net.eval()
    correct = torch.zeros((), device=images.device)
    for start in range(0, images.shape[0], batch_size):
        out = net(speed.layout(images[start : start + batch_size]))
        logits = out if logits_fn is None else logits_fn(out)
        correct += (logits.argmax(1) == labels[start : start + batch_size]).sum()
    return float(correct) / max(images.shape[0], 1)
