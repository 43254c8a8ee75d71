"""What one condensation iteration works on: the real data, the learnable synthetic images, their optimiser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..core.accel import EAGER, FastNet, Speed
from ..data.augment import apply, sample
from ..models.classifiers import build_model


@dataclass
class Problem:
    """``data``: what real batches are drawn from (a RealData, or the masked view of one: anything with
    ``num_classes``, ``channel``, ``im_size`` and ``sample_class(c, n, generator)``)."""

    data: Any
    images: Tensor  # leaf tensor, requires_grad
    labels: Tensor
    optimizer: torch.optim.Optimizer
    settings: Any  # the method's settings dataclass
    speed: Speed = EAGER
    artifacts: dict = field(default_factory=dict)  # the method's required artifacts by kind (MethodSpec.requires)
    learned: dict = field(default_factory=dict)  # what the method learns besides the images (MethodSpec.state)
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

    def class_batches(self, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]:
        """Class by class, in order: a real batch of ``settings.batch_real`` images and the class's synthetic
        images under one shared augmentation draw (every method's draws come in this order)."""
        reals, syns = [], []
        for c in range(self.num_classes):
            real = self.data.sample_class(c, self.settings.batch_real, generator)
            real, syn = self.siamese(real, self.images[self.class_slice(c)], generator)
            reals.append(real)
            syns.append(syn)
        return reals, syns

    def image_step(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def initial_images(data, settings, seed: int) -> tuple[Tensor, Tensor]:
    """The synthetic set before iteration 0: ``settings.ipc`` real images per class (``init real``;
    raw images, as the authors' code starts from) or Gaussian noise, from the run seed alone."""
    from ..core.runtime import derive_seed, make_generator

    gen = make_generator(derive_seed(seed, -1))
    device = data.train_images.device
    labels = torch.arange(data.num_classes, device=device).repeat_interleave(settings.ipc)
    if settings.init == "real":
        images = torch.cat([data.sample_class(c, settings.ipc, gen) for c in range(data.num_classes)])
    else:
        images = torch.randn((labels.numel(), data.channel, *data.im_size), generator=gen).to(device)
    return images.clone(), labels


def exact_copies(data, settings, images: Tensor) -> Tensor:
    """Which of ``data``'s training images the set ``images`` started from (a bool per training image): those
    it holds exactly, as ``init real`` copies them; noise matches none. The membership audit's default."""
    flat = data.train_images.flatten(1)
    found = torch.zeros(flat.shape[0], dtype=torch.bool, device=flat.device)
    for image in images.flatten(1).to(flat.device):
        found |= (flat == image).all(1)
    return found
