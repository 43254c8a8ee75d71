"""Condensation methods: one iteration of DC, DSA and DM on a synthetic set.

Each method is a function ``step(problem, generator) -> loss`` registered in
:data:`METHODS`; it builds nothing but the random network of its iteration (the
caller seeds torch's global RNG for the initialisation) and makes exactly the
image updates of one reference iteration. DSA is DC with a Siamese augmentation
strategy; the difference lives in the settings, not in a second code path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .accel import EAGER, FastNet, Speed
from .augment import apply, sample
from .data import RealData
from .errors import CondenseError
from .matching import DISTANCES, match_loss, matched_parameters
from .networks import build_model, has_batchnorm
from .registry import Registry
from .train import train_epoch

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


@dataclass(frozen=True)
class DistillSettings:
    """Everything that determines a condensation run besides the data and the seed."""

    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = 1000
    lr_img: float = 0.1
    lr_net: float = 0.01
    batch_real: int = 256
    batch_train: int = 256
    init: str = "noise"
    dis_metric: str = "ours"
    strategy: str = "none"  # resolved DSA strategy; "none" = no augmentation
    outer_loop: int = 1
    inner_loop: int = 1
    bn_images_per_class: int = 16  # real images per class that set BatchNorm statistics (reference BNSizePC)

    def to_dict(self) -> dict:
        return asdict(self)


# Reference defaults per method (DESIGN.md §3; the official main.py / main_DM.py arguments).
REFERENCE = {
    "dc": dict(iterations=1000, lr_img=0.1, init="noise", augment="none"),
    "dsa": dict(iterations=1000, lr_img=0.1, init="real", augment="dsa"),
    "dm": dict(iterations=20000, lr_img=1.0, init="real", augment="dsa"),
}


@dataclass
class Problem:
    """What an iteration works on: the real data, the learnable synthetic images and their optimiser."""

    data: RealData
    images: Tensor  # leaf tensor, requires_grad
    labels: Tensor
    optimizer: torch.optim.Optimizer
    settings: DistillSettings
    speed: Speed = EAGER
    _net: FastNet | None = field(default=None, init=False, repr=False)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    def class_slice(self, c: int) -> slice:
        return slice(c * self.settings.ipc, (c + 1) * self.settings.ipc)

    def new_network(self) -> FastNet:
        """This iteration's random network (initialised from torch's global RNG), loaded into the
        one reused instance so compiled graphs survive across iterations."""
        fresh = build_model(self.settings.model, self.data.channel, self.data.num_classes, self.data.im_size)
        if self._net is None:
            self._net = FastNet(fresh.to(self.images.device), self.speed)
            return self._net
        return self._net.load_(fresh)

    def siamese(self, real: Tensor, syn: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One augmentation draw shared by the real and the synthetic batch (and all their images)."""
        if self.settings.strategy == "none":
            return real, syn
        draw = sample(self.settings.strategy, 1, generator, device=real.device, per_image=False)
        return apply(real, draw), apply(syn, draw)

    def image_step(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


METHODS: Registry[Callable[[Problem, torch.Generator], Tensor]] = Registry("condensation method")


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


def class_gradients(net: Callable[[Tensor], Tensor], params: list[Tensor], images: Tensor, label: int, create_graph: bool) -> tuple[Tensor, ...]:
    target = torch.full((images.shape[0],), label, dtype=torch.long, device=images.device)
    loss = F.cross_entropy(net(images), target)
    return torch.autograd.grad(loss, params, create_graph=create_graph)


def matching_loss(problem: Problem, fast: FastNet, params: list[Tensor], generator: torch.Generator) -> Tensor:
    """Σ_c distance(grad of syn_c, grad of real_c), class by class as the reference does."""
    s = problem.settings
    loss = torch.zeros((), device=problem.images.device)
    for c in range(problem.num_classes):
        real = problem.data.sample_class(c, s.batch_real, generator)
        real, syn = problem.siamese(real, problem.images[problem.class_slice(c)], generator)
        # The real side is the bulk of the work and needs no second derivative: the compiled view.
        gw_real = [g.detach() for g in class_gradients(fast.forward, params, problem.speed.layout(real), c, create_graph=False)]
        gw_syn = class_gradients(fast.eager, params, syn, c, create_graph=True)
        loss = loss + match_loss(gw_syn, gw_real, s.dis_metric)
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


def distribution_matching(problem: Problem, generator: torch.Generator) -> Tensor:
    """One DM iteration: Σ_c ‖mean embed(aug(real_c)) − mean embed(aug(syn_c))‖² on a fresh frozen network.

    Real embeddings need no gradient: class by class under no_grad (one class at a time keeps the
    activations cache-sized; one 2,560-image batch ran slower). The synthetic images of all classes
    go through the network in one batch; for per-sample norms (instance norm) this equals the
    reference's per-class loop, for BatchNorm it is the reference's BN branch."""
    s = problem.settings
    fast = problem.new_network()
    fast.eager.train().requires_grad_(False)
    mean_real, syns = [], []
    for c in range(problem.num_classes):
        real = problem.data.sample_class(c, s.batch_real, generator)
        real, syn = problem.siamese(real, problem.images[problem.class_slice(c)], generator)
        with torch.no_grad():
            mean_real.append(fast.embed(problem.speed.layout(real)).mean(0))
        syns.append(syn)
    emb_syn = fast.eager.embed(torch.cat(syns))
    mean_syn = emb_syn.reshape(problem.num_classes, s.ipc, -1).mean(1)
    loss = ((torch.stack(mean_real) - mean_syn) ** 2).sum()
    problem.image_step(loss)
    return loss.detach() / problem.num_classes


METHODS.add("dc", gradient_matching)
METHODS.add("dsa", gradient_matching)
METHODS.add("dm", distribution_matching)


def real_images_per_iteration(settings: DistillSettings, num_classes: int) -> int:
    outer = settings.outer_loop if settings.method in ("dc", "dsa") else 1
    return outer * num_classes * settings.batch_real


def check_settings(settings: DistillSettings) -> None:
    METHODS.get(settings.method)
    DISTANCES.get(settings.dis_metric)
    if settings.init not in ("noise", "real"):
        raise CondenseError(f"--init {settings.init!r} is not noise or real")
    for name in ("iterations", "batch_real", "batch_train", "outer_loop", "inner_loop"):
        if getattr(settings, name) < (0 if name == "iterations" else 1):
            raise CondenseError(f"--{name.replace('_', '-')} {getattr(settings, name)} is out of range; use a positive value")
