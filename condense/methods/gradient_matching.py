"""Gradient matching (DC, Zhao et al. 2021), the step DC and DSA share; DSA differs only in its settings.

One iteration: a fresh random network; ``outer_loop`` times: for each class, the gradient of the
loss on a real batch of that class vs the gradient on that class's synthetic images
(differentiable), the per-class distances summed into one image update; then ``inner_loop``
epochs of training the network on the synthetic set (skipped after the last outer loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call, grad, vmap

from ..core.accel import FastNet
from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.errors import CondenseError
from ..core.settings import setting
from ..models.classifiers import has_batchnorm
from ..training.loop import train_epoch
from .matching import DISTANCES, match_loss, matched_parameters
from .problem import Problem
from .spec import resolve_augment

# (outer_loop, inner_loop) per IPC from the reference code's get_loops.
REFERENCE_LOOPS = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def loops_for(ipc: int) -> tuple[int, int]:
    """Reference (outer, inner) loops; an IPC outside the table takes the entry of the next larger
    tabulated IPC, and above 50 the (50, 10) setting (the reference code exits instead)."""
    if ipc < 1:
        raise CondenseError(f"--ipc {ipc} must be at least 1")
    for tabulated in sorted(REFERENCE_LOOPS):
        if ipc <= tabulated:
            return REFERENCE_LOOPS[tabulated]
    return REFERENCE_LOOPS[50]


def _outer(value, context):
    return loops_for(context["ipc"])[0] if value is None else value


def _inner(value, context):
    return loops_for(context["ipc"])[1] if value is None else value


@dataclass(frozen=True)
class GradientMatchingSettings:
    """DC's reference settings (the official main.py arguments; docs/reference-protocol.md)."""

    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(1000, "condensation iterations (0..N are run)", bounds=NON_NEGATIVE)
    lr_img: float = setting(0.1, "learning rate of the synthetic images (SGD, momentum 0.5)", bounds=POSITIVE)
    lr_net: float = setting(0.01, "learning rate of the network's inner-loop training", bounds=POSITIVE)
    batch_real: int = setting(256, "real images per class per matching step", bounds=AT_LEAST_ONE)
    batch_train: int = setting(256, "batch size of the inner-loop training", bounds=AT_LEAST_ONE)
    init: str = setting("noise", "initial synthetic images: noise or real", choices=("noise", "real"))
    dis_metric: str = setting("ours", "gradient distance", choices=DISTANCES.names)
    strategy: str = setting("none", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)
    outer_loop: int = setting(None, "image updates per iteration (default: reference table by IPC)", bounds=AT_LEAST_ONE, resolve=_outer)
    inner_loop: int = setting(None, "network epochs between them (default: reference table by IPC)", bounds=AT_LEAST_ONE, resolve=_inner)
    bn_images_per_class: int = setting(16, "real images per class that set BatchNorm statistics (reference BNSizePC)", bounds=AT_LEAST_ONE)

    def to_dict(self) -> dict:
        return asdict(self)


def freeze_batchnorm(net: nn.Module, problem: Problem, generator: torch.Generator) -> None:
    """Set BatchNorm running statistics from a real batch, then keep them fixed (modules in eval mode)."""
    n = problem.settings.bn_images_per_class
    real = torch.cat([problem.data.sample_class(c, n, generator) for c in range(problem.num_classes)])
    net.train()
    with torch.no_grad():
        net(real)
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def class_gradients(
    net: Callable[[Tensor], Tensor], params: list[Tensor], images: Tensor, label: int, create_graph: bool
) -> tuple[Tensor, ...]:
    target = torch.full((images.shape[0],), label, dtype=torch.long, device=images.device)
    loss = F.cross_entropy(net(images), target)
    return torch.autograd.grad(loss, params, create_graph=create_graph)


def matching_loss(problem: Problem, fast: FastNet, params: list[Tensor], generator: torch.Generator) -> Tensor:
    """Σ_c distance(grad of syn_c, grad of real_c): class by class as the reference does, or every class in
    one batched call when ``problem.speed.batch_classes`` is set. Both take the same real batches and
    augmentation draws (:meth:`Problem.class_batches`; the gradients draw nothing), so they give the same
    loss within float tolerance. Classes whose real batches differ in size (a class smaller than
    ``batch_real``) cannot be stacked: the loop runs then."""
    reals, syns = problem.class_batches(generator)
    if problem.speed.batch_classes and len({r.shape[0] for r in reals}) == 1:
        return batched_matching_loss(problem, fast, params, reals, syns)
    loss = torch.zeros((), device=problem.images.device)
    for c, (real, syn) in enumerate(zip(reals, syns)):
        # The real side is the bulk of the work and needs no second derivative: the compiled view.
        gw_real = [g.detach() for g in class_gradients(fast.forward, params, problem.speed.layout(real), c, create_graph=False)]
        gw_syn = class_gradients(fast.eager, params, syn, c, create_graph=True)
        loss = loss + match_loss(gw_syn, gw_real, problem.settings.dis_metric)
    return loss


def batched_matching_loss(problem: Problem, fast: FastNet, params: list[Tensor], reals: list[Tensor], syns: list[Tensor]) -> Tensor:
    """:func:`matching_loss` of equal-size class batches, the per-class gradients of all classes from one
    ``vmap(grad(...))`` call on each side. BatchNorm must be frozen (eval mode), as gradient matching keeps
    it; a BatchNorm in training mode would mix the classes' statistics."""
    net = fast.eager
    matched = {name: p for name, p in net.named_parameters() if any(p is q for q in params)}
    fixed = {name: p for name, p in net.named_parameters() if name not in matched}
    fixed.update(dict(net.named_buffers()))

    def class_loss(weights: dict, images: Tensor, label: Tensor) -> Tensor:
        out = functional_call(net, {**fixed, **weights}, (images,))
        return F.cross_entropy(out, label.expand(images.shape[0]))

    per_class = vmap(grad(class_loss), in_dims=(None, 0, 0))
    labels = torch.arange(problem.num_classes, device=problem.images.device)
    with torch.no_grad():
        g_real = per_class({k: v.detach() for k, v in matched.items()}, torch.stack(reals), labels)
    g_syn = per_class(matched, torch.stack(syns), labels)  # differentiable: the images' graph runs through it
    loss = torch.zeros((), device=problem.images.device)
    for c in range(problem.num_classes):
        loss = loss + match_loss([g_syn[n][c] for n in matched], [g_real[n][c] for n in matched], problem.settings.dis_metric)
    return loss


def gradient_matching(problem: Problem, generator: torch.Generator) -> Tensor:
    """One DC/DSA iteration: `outer_loop` image updates on a fresh network, `inner_loop` epochs of
    network training on the synthetic set between them (skipped after the last)."""
    s = problem.settings
    fast = problem.new_network()
    net = fast.eager.train()
    net_optimizer = torch.optim.SGD(fast.parameters(), lr=s.lr_net)
    params = matched_parameters(fast.parameters(), s.dis_metric)
    with_bn = has_batchnorm(net)
    total = torch.zeros((), device=problem.images.device)
    for outer in range(s.outer_loop):
        if with_bn:
            freeze_batchnorm(net, problem, generator)
        loss = matching_loss(problem, fast, params, generator)
        problem.image_step(loss)
        total += loss.detach()
        if outer == s.outer_loop - 1:
            break
        images = problem.images.detach()
        for _ in range(s.inner_loop):
            train_epoch(fast.forward, net_optimizer, images, problem.labels, s.batch_train, generator, s.strategy, problem.speed)
    return total / (problem.num_classes * s.outer_loop)


def real_images_per_iteration(settings, num_classes: int) -> int:
    return settings.outer_loop * num_classes * settings.batch_real


LOSS_LABEL = "gradient distance (per class and outer loop)"
