"""The evaluation networks of a set trained as one ensemble: stacked parameters, one ``vmap``-ed forward.

Each network keeps what makes it itself in :func:`~condense.training.evaluation.evaluate_set`: its
initialisation (torch's global RNG seeded with its own seed), its generator (its own batch order and
augmentation draws, in the same order), and its own SGD state. SGD with momentum and weight decay acts
element by element, so one optimiser over the stacked tensors is every network's own optimiser, and the
loss is the sum of the networks' mean losses, so each network's gradient is its own. Per-network
accuracies therefore equal the one-by-one run up to float rounding (fewer, larger kernels: the speed-up
is on a GPU, where N small networks are launch bound). BatchNorm networks are not stacked (their
running statistics are updated in place, which ``vmap`` cannot batch): :func:`can_stack` says so.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, stack_module_state, vmap

from ..core.runtime import derive_seed, make_generator, progress
from ..models.classifiers import build_model, has_batchnorm
from .loop import augmenter
from .protocol import make_optimizer


def can_stack(model: str, channel: int, num_classes: int, im_size: tuple[int, int]) -> bool:
    return not has_batchnorm(build_model(model, channel, num_classes, im_size))


class Ensemble:
    """N networks of one architecture as stacked tensors; ``forward(x)`` takes (N, B, ...) inputs."""

    def __init__(self, nets: Sequence[nn.Module]):
        params, buffers = stack_module_state(list(nets))
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.base = copy.deepcopy(nets[0]).to("meta")
        self.size = len(nets)

        def one(p, b, x):
            return functional_call(self.base, (p, b), (x,))

        self._forward = vmap(one)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward(self.params, self.buffers, x)

    def train(self, mode: bool = True) -> None:
        self.base.train(mode)

    def parameters(self) -> list[Tensor]:
        return list(self.params.values())


def train_ensemble(
    ensemble: Ensemble, images: Tensor, labels: Tensor, settings, generators: Sequence[torch.Generator], desc: str = "train ensemble"
) -> tuple[Tensor, Tensor]:
    """The reference protocol (``epochs + 1`` passes, lr × 0.1 and a fresh optimiser after pass
    ``epochs // 2 + 1``) for every network at once; returns the last pass's per-network loss and accuracy."""
    n, batch_size = images.shape[0], settings.batch_size
    aug = augmenter(settings.augment)
    lr = settings.lr
    optimizer = make_optimizer(ensemble, lr, settings)
    for epoch in progress(range(settings.epochs + 1), desc=desc, unit="epoch"):
        ensemble.train(True)
        # each network draws its permutation, then each batch its augmentation, from its own generator
        orders = [torch.randperm(n, generator=g, device=g.device).to(images.device, non_blocking=True) for g in generators]
        loss_sum = torch.zeros(ensemble.size, device=images.device)
        correct = torch.zeros(ensemble.size, device=images.device)
        for start in range(0, n, batch_size):
            xs, ys = [], []
            for order, g in zip(orders, generators):
                idx = order[start : start + batch_size]
                x = images[idx]
                xs.append(aug(x, g) if aug is not None else x)
                ys.append(labels[idx])
            x, y = torch.stack(xs), torch.stack(ys)
            logits = ensemble.forward(x)  # (N, B, classes)
            per_net = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape).mean(1)
            optimizer.zero_grad(set_to_none=True)
            per_net.sum().backward()
            optimizer.step()
            loss_sum += per_net.detach() * y.shape[1]
            correct += (logits.detach().argmax(-1) == y).sum(1)
        if epoch == settings.decay_after:
            lr *= 0.1
            optimizer = make_optimizer(ensemble, lr, settings)
    return loss_sum / n, correct / n


@torch.no_grad()
def ensemble_accuracy(ensemble: Ensemble, images: Tensor, labels: Tensor, batch_size: int = 1000) -> list[float]:
    ensemble.train(False)
    correct = torch.zeros(ensemble.size, device=images.device)
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size]
        logits = ensemble.forward(x.unsqueeze(0).expand(ensemble.size, *x.shape))
        correct += (logits.argmax(-1) == labels[start : start + batch_size]).sum(1)
    return [float(c) / max(images.shape[0], 1) for c in correct.tolist()]


def evaluate_as_ensemble(
    images: Tensor,
    labels: Tensor,
    test_images: Tensor,
    test_labels: Tensor,
    *,
    model: str,
    num_classes: int,
    num_nets: int,
    settings,
    seed: int,
) -> list[dict]:
    """:func:`~condense.training.evaluation.evaluate_set`'s result, every network trained at once."""
    channel, im_size = int(images.shape[1]), (int(images.shape[2]), int(images.shape[3]))
    seeds = [derive_seed(seed, i) for i in range(num_nets)]
    nets = []
    for net_seed in seeds:
        torch.manual_seed(net_seed)  # network initialisation, as one by one
        nets.append(build_model(model, channel, num_classes, im_size).to(images.device))
    ensemble = Ensemble(nets)
    started = time.perf_counter()
    losses, accs = train_ensemble(
        ensemble, images, labels, settings, [make_generator(s) for s in seeds], desc=f"{num_nets} nets as one ensemble"
    )
    trained = time.perf_counter() - started
    test_accs = ensemble_accuracy(ensemble, test_images, test_labels)
    seconds = time.perf_counter() - started
    runs = []
    for i, (net_seed, loss, acc, test_acc) in enumerate(zip(seeds, losses.tolist(), accs.tolist(), test_accs)):
        # time is shared: each network is charged its share of the ensemble's
        runs.append(
            {
                "net": i,
                "seed": net_seed,
                "test_acc": test_acc,
                "diverged": not math.isfinite(loss),
                "train_loss": loss,
                "train_acc": acc,
                "train_seconds": trained / num_nets,
                "seconds": seconds / num_nets,
                "ensemble": True,
            }
        )
    return runs
