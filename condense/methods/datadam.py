"""DataDAM: Efficient Dataset Distillation with Attention Matching (Sajedi et al., ICCV 2023).

The other use of attention in condensation: not masks on the real images, but the spatial
attention of the network's activations matched between real and synthetic images. Each iteration
draws a fresh random network with frozen weights; the real and the synthetic images of every class
(one siamese DSA draw per class) go through it, all classes in one batch each; for every block but
the last, the attention map of its rectified activations, Σ_channels |a|^p flattened and
L2-normalised per image (``get_attention(param=1, exp=p, norm='l2')``), is averaged per class and
matched by the squared distance (SAM); the last block's output, the embedding, is matched the same
way (the complementary distribution term), weighted by ``task_balance``. Both terms are scaled by
100, as in the official ``main_DataDAM.py``, whose defaults these are (docs/reference-protocol.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.settings import setting
from .problem import Problem
from .spec import MethodSpec, register_method, resolve_augment

SCALE = 100.0  # the official code multiplies both terms by 100


@dataclass(frozen=True)
class DataDAMSettings:
    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(20000, "condensation iterations (0..N are run)", bounds=NON_NEGATIVE)
    lr_img: float = setting(
        1.0, "learning rate of the synthetic images (SGD, momentum 0.5; the official code: 10 for IPC >= 100)", bounds=POSITIVE
    )
    batch_real: int = setting(64, "real images per class per iteration", bounds=AT_LEAST_ONE)
    init: str = setting("real", "initial synthetic images: noise or real", choices=("noise", "real"))
    strategy: str = setting("dsa", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)
    task_balance: float = setting(0.01, "weight of the last-layer (embedding) term against the attention terms", bounds=NON_NEGATIVE)
    attention_power: float = setting(1.0, "p of the attention map Σ_channels |a|^p (the official exp=1)", bounds=POSITIVE)

    def to_dict(self) -> dict:
        return asdict(self)


def attention(activations: Tensor, power: float) -> Tensor:
    """(B, C, H, W) activations -> (B, H·W) attention: Σ over channels of |a|^power, L2-normalised per image."""
    return F.normalize(activations.abs().pow(power).sum(dim=1).flatten(1), p=2.0, dim=1)


def class_means(x: Tensor, num_classes: int) -> Tensor:
    """(classes·n, ...) rows, class by class -> (classes, features) per-class means."""
    return x.reshape(num_classes, x.shape[0] // num_classes, -1).mean(1)


def block_outputs(net: nn.Module, images: Tensor) -> tuple[list[Tensor], Tensor]:
    """(the output of every ReLU of the network's body, in order; the embedding)."""
    captured: list[Tensor] = []
    hooks = [
        m.register_forward_hook(lambda module, inputs, output: captured.append(output))
        for m in net.body.modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        embedding = net.embed(images)
    finally:
        for hook in hooks:
            hook.remove()
    return captured, embedding


def attention_matching(problem: Problem, generator: torch.Generator) -> Tensor:
    """One DataDAM iteration (see the module docstring); the loss returned is per class, as the official log."""
    s, k = problem.settings, problem.num_classes
    net = problem.new_network().eager.train().requires_grad_(False)
    reals, syns = problem.class_batches(generator)
    with torch.no_grad():
        real_blocks, real_embedding = block_outputs(net, torch.cat(reals))
    syn_blocks, syn_embedding = block_outputs(net, torch.cat(syns))
    loss = torch.zeros((), device=problem.images.device)
    for real_act, syn_act in zip(real_blocks[:-1], syn_blocks[:-1]):  # every block but the last: spatial attention
        diff = class_means(attention(real_act, s.attention_power), k) - class_means(attention(syn_act, s.attention_power), k)
        loss = loss + SCALE * (diff**2).sum()
    diff = class_means(real_embedding, k) - class_means(syn_embedding, k)
    loss = loss + SCALE * s.task_balance * (diff**2).sum()  # the last layer: the complementary distribution term
    problem.image_step(loss)
    return loss.detach() / k


SPEC = register_method(
    MethodSpec(
        name="datadam",
        label="DataDAM",
        settings=DataDAMSettings,
        step=attention_matching,
        eval_augment="dsa",
        loss_label="attention + embedding matching (per class)",
        real_images_per_iteration=lambda settings, num_classes: num_classes * settings.batch_real,
        summary="spatial attention of every block matched between real and synthetic images, plus the embedding",
    )
)
