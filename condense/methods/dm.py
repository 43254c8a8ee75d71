"""DM: Dataset Condensation with Distribution Matching (Zhao & Bilen, WACV 2023).

One iteration: a fresh random ConvNet with frozen weights; Σ_c ‖mean embed(aug(real_c)) −
mean embed(aug(syn_c))‖², one image update. Reference defaults (official ``main_DM.py``):
20000 iterations, lr_img 1.0, 256 real images per class, real initialisation, DSA always on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.settings import setting
from ..models.classifiers import has_batchnorm
from .problem import Problem
from .spec import MethodSpec, register_method, resolve_augment


@dataclass(frozen=True)
class DMSettings:
    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(20000, "condensation iterations (0..N are run)", bounds=NON_NEGATIVE)
    lr_img: float = setting(1.0, "learning rate of the synthetic images (SGD, momentum 0.5)", bounds=POSITIVE)
    batch_real: int = setting(256, "real images per class per iteration", bounds=AT_LEAST_ONE)
    init: str = setting("real", "initial synthetic images: noise or real", choices=("noise", "real"))
    strategy: str = setting("dsa", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)

    def to_dict(self) -> dict:
        return asdict(self)


def distribution_matching(problem: Problem, generator: torch.Generator) -> Tensor:
    """One DM iteration: Σ_c ‖mean embed(aug(real_c)) − mean embed(aug(syn_c))‖² on a fresh frozen network.

    Real embeddings need no gradient (no_grad). The synthetic images of all classes go through the
    network in one batch. For per-sample norms (instance norm, the default ConvNet) the real side goes
    class by class (one class at a time keeps the activations cache-sized; one 2,560-image batch ran
    slower), which equals the reference's per-class loop. A network with BatchNorm takes the real
    batches of all classes in one forward, as the reference's BN branch does (``main_DM.py``), so the
    batch statistics span every class on both sides."""
    s = problem.settings
    fast = problem.new_network()
    fast.eager.train().requires_grad_(False)
    reals, syns = problem.class_batches(generator)
    with torch.no_grad():
        if has_batchnorm(fast.eager):
            everything = fast.embed(problem.speed.layout(torch.cat(reals)))
            mean_real = torch.stack([chunk.mean(0) for chunk in everything.split([r.shape[0] for r in reals])])
        else:
            mean_real = torch.stack([fast.embed(problem.speed.layout(real)).mean(0) for real in reals])
    emb_syn = fast.eager.embed(torch.cat(syns))
    mean_syn = emb_syn.reshape(problem.num_classes, s.ipc, -1).mean(1)
    loss = ((mean_real - mean_syn) ** 2).sum()
    problem.image_step(loss)
    return loss.detach() / problem.num_classes


SPEC = register_method(
    MethodSpec(
        name="dm",
        label="DM",
        settings=DMSettings,
        step=distribution_matching,
        eval_augment="dsa",
        loss_label="‖Δ mean embedding‖² (per class)",
        real_images_per_iteration=lambda settings, num_classes: num_classes * settings.batch_real,
        summary="distribution matching of mean embeddings",
    )
)
