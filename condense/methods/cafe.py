"""CAFE: Learning to Condense Dataset by Aligning Features (Wang et al., CVPR 2022).

One iteration (the official ``distill.py``, its argparse defaults): a fresh random ConvNet, then passes of

1. the loss: for each class a real batch of ``batch_real`` images and the class's synthetic images (one
   siamese DSA draw per class when augmenting), all through the network; the class means of the features at
   several scales aligned by the summed squared distance (``criterion_middle``): the activation of the last
   three blocks (before pooling) weighted ``fourth_weight``, ``third_weight``, ``second_weight`` from the
   shallowest, and the last block's pooled output (the embedding) weighted ``first_weight``; then the
   discrimination term: the real embeddings' logits against the synthetic class means (inner products),
   ``inner_weight`` × their summed cross-entropy, plus the embedding's class means aligned once more
   (weight 1); plus the cross-entropy of the network on the real batch (no gradient for the images: it only
   enters the logged loss, as in the official code, whose network gradients of it are zeroed before use);
2. one image update;
3. a probe: the network's accuracy on ``probe_per_class`` fresh real images of each class, kept in a window
   of the last ``window`` probes; once full, a window spanning less than ``lambda_1`` ends the iteration
   (the network has settled: "break outlooper");
4. otherwise the network trains on the synthetic set (SGD ``lr_net``, batches of ``batch_train``, DSA
   augmentation when augmenting), epoch after epoch, each followed by a probe, until a full window of
   those spans more than ``lambda_2`` ("break innerlooper"); then the next pass.

The probes follow the official running value, not a plain mean: ``acc ← (acc + Σ_c acc_c) / classes``,
reset only when its loop ends (as ``acc_test`` / ``acc_inner_test`` there). The image learning rate is
halved at iterations 1200, 1600 and 1800 (``adjust_learning_rate``, fixed iterations, whatever
``iterations`` is). ``cafe`` is the official default (``--method DC``: no augmentation); ``cafe_dsa`` its
``--method DSA`` with the dataset's DSA strategy (the official flag's default strategy is ``None``, which
would make it ``cafe``). Both start from noise (``--init noise``). Deviations: docs/deviations.md A29-A31.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.errors import CondenseError
from ..core.settings import setting
from ..models.classifiers import ConvNet, build_model, has_batchnorm
from ..training.loop import train_epoch
from .problem import Problem
from .spec import IMAGES, MethodSpec, MethodState, register_method, resolve_augment

LR_MILESTONES = (1200, 1600, 1800)  # the official adjust_learning_rate: lr_img × 0.5 at each, fixed iterations
LR_DECAY = 0.5
MATCHED_BLOCKS = 3  # the official ConvNet.forward returns the last three blocks' activations and the pooled output


@dataclass(frozen=True)
class CAFESettings:
    """The official ``distill.py`` argparse defaults (weights by their official names; see the module docstring)."""

    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(2000, "condensation iterations (0..N are run)", bounds=NON_NEGATIVE)
    # shared flags keep DC's help texts: `distill --help` shows one text per flag, with each method's default
    lr_img: float = setting(0.1, "learning rate of the synthetic images (SGD, momentum 0.5)", bounds=POSITIVE)  # halved: LR_MILESTONES
    lr_net: float = setting(0.01, "learning rate of the network's inner-loop training", bounds=POSITIVE)
    batch_real: int = setting(256, "real images per class per matching step", bounds=AT_LEAST_ONE)
    batch_train: int = setting(256, "batch size of the inner-loop training", bounds=AT_LEAST_ONE)
    init: str = setting("noise", "initial synthetic images: noise or real", choices=("noise", "real"))
    strategy: str = setting("none", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)
    first_weight: float = setting(
        1.0, "CAFE: weight of the last block's pooled output (the embedding) in the feature alignment", bounds=NON_NEGATIVE
    )
    second_weight: float = setting(1.0, "CAFE: weight of the last block's activation", bounds=NON_NEGATIVE)
    third_weight: float = setting(0.1, "CAFE: weight of the second-to-last block's activation", bounds=NON_NEGATIVE)
    fourth_weight: float = setting(0.1, "CAFE: weight of the third-to-last block's activation", bounds=NON_NEGATIVE)
    inner_weight: float = setting(
        0.01, "CAFE: weight of the discrimination cross-entropy (real embeddings vs synthetic class means)", bounds=NON_NEGATIVE
    )
    lambda_1: float = setting(
        0.04, "CAFE: an iteration ends once the last `window` probes span less than this (accuracy)", bounds=NON_NEGATIVE
    )
    lambda_2: float = setting(0.03, "CAFE: network training pauses once the last `window` probes span more than this", bounds=NON_NEGATIVE)
    window: int = setting(10, "CAFE: probes in each stopping window (the official code: 10)", bounds=AT_LEAST_ONE)
    probe_per_class: int = setting(128, "CAFE: real images per class in each accuracy probe (the official code: 128)", bounds=AT_LEAST_ONE)
    # Deviation A30: the official loops have no bound; these caps only guarantee that an iteration ends.
    max_passes: int = setting(1000, "CAFE: at most this many image updates per iteration (not in the official code)", bounds=AT_LEAST_ONE)
    max_epochs: int = setting(
        1000, "CAFE: at most this many network epochs between two image updates (not in the official code)", bounds=AT_LEAST_ONE
    )

    def to_dict(self) -> dict:
        return asdict(self)


def lr_at(settings, iteration: int) -> float:
    """The image learning rate of an iteration: ``lr_img`` halved at each milestone reached."""
    return settings.lr_img * LR_DECAY ** sum(iteration >= m for m in LR_MILESTONES)


def class_means(features: Tensor, sizes: list[int]) -> Tensor:
    """(Σ sizes, ...) rows, class by class -> (classes, features) per-class means (classes may differ in size)."""
    return torch.stack([chunk.flatten(1).mean(0) for chunk in features.split(sizes)])


def aligned(features: list[Tensor], settings) -> list[tuple[float, Tensor]]:
    """(weight, feature) of the aligned scales: the last three blocks' activations, shallowest first, then the
    embedding (the official ``real_features[-1..-4]``: fourth, third, second, first weight)."""
    weights = (settings.fourth_weight, settings.third_weight, settings.second_weight, settings.first_weight)
    return list(zip(weights, [*features[-1 - MATCHED_BLOCKS : -1], features[-1]]))


def real_statistics(net: nn.Module, reals: list[Tensor], settings) -> tuple[list[Tensor], Tensor, Tensor]:
    """Without gradients: the class means of every aligned real feature, every real embedding and the network's
    logits on them. Class by class for per-sample norms (the values of the official one batch, while the first
    block's activations of one class at a time stay small); one batch for BatchNorm, as the official."""
    with torch.no_grad():
        if has_batchnorm(net):
            features = aligned(net.block_features(torch.cat(reals)), settings)
            means = [class_means(f, [r.shape[0] for r in reals]) for _, f in features]
            embedding = features[-1][1]
        else:
            per_class = [aligned(net.block_features(real), settings) for real in reals]
            means = [torch.stack([scales[j][1].flatten(1).mean(0) for scales in per_class]) for j in range(MATCHED_BLOCKS + 1)]
            embedding = torch.cat([scales[-1][1] for scales in per_class])
        return means, embedding, net.classifier(embedding)


def cafe_loss(net: nn.Module, reals: list[Tensor], syns: list[Tensor], settings) -> Tensor:
    """The official loss of one pass (``loss_middle + loss_real + loss_output``), differentiable in ``syns``."""
    device = syns[0].device
    real_means, real_embedding, real_logits = real_statistics(net, reals, settings)
    real_labels = torch.cat([torch.full((r.shape[0],), c, dtype=torch.long, device=device) for c, r in enumerate(reals)])
    syn_features = net.block_features(torch.cat(syns))
    syn_sizes = [s.shape[0] for s in syns]
    loss = torch.zeros((), device=device)
    for (weight, feature), real_mean in zip(aligned(syn_features, settings), real_means):
        loss = loss + weight * ((real_mean - class_means(feature, syn_sizes)) ** 2).sum()  # criterion_middle: MSE, sum
    loss = loss + F.cross_entropy(real_logits, real_labels)  # loss_real: constant in the images
    syn_centres = class_means(syn_features[-1], syn_sizes)
    logits = real_embedding @ syn_centres.t()  # each real image against the synthetic class means
    loss = loss + ((syn_centres - real_means[-1]) ** 2).sum()  # the embedding aligned once more (loss_output)
    return loss + settings.inner_weight * F.cross_entropy(logits, real_labels, reduction="sum")


def probe(net: nn.Module, problem: Problem, generator: torch.Generator) -> Tensor:
    """Σ over classes of the network's accuracy on ``probe_per_class`` fresh real images of the class (the
    network in the mode it is in, as the official code, which probes in training mode)."""
    total = torch.zeros((), device=problem.images.device)
    with torch.no_grad():
        for c in range(problem.num_classes):
            real = problem.data.sample_class(c, problem.settings.probe_per_class, generator)
            total += (net(real).argmax(1) == c).float().mean()
    return total


def feature_alignment(problem: Problem, generator: torch.Generator) -> Tensor:
    """One CAFE iteration (see the module docstring); the loss returned is per class and image update."""
    s, k = problem.settings, problem.num_classes
    iteration = problem.learned["iteration"]
    for group in problem.optimizer.param_groups:
        group["lr"] = lr_at(s, iteration)
    fast = problem.new_network()
    net = fast.eager.train()
    net_optimizer = torch.optim.SGD(fast.parameters(), lr=s.lr_net)
    total = torch.zeros((), device=problem.images.device)
    watch: list[Tensor] = []
    acc = torch.zeros((), device=problem.images.device)
    for passes in range(1, s.max_passes + 1):
        net.requires_grad_(False)  # only the images learn from this loss
        reals, syns = problem.class_batches(generator)
        loss = cafe_loss(net, reals, syns, s)
        problem.image_step(loss)
        net.requires_grad_(True)
        total += loss.detach()
        acc = (acc + probe(net, problem, generator)) / k  # the official running value (module docstring)
        watch.append(acc)
        if len(watch) == s.window:
            low, high = torch.stack(watch).aminmax()
            if high - low < s.lambda_1:
                break
            watch.pop(0)
        if passes == s.max_passes:
            break
        train_network(fast, net, net_optimizer, problem, generator)
    problem.learned["iteration"] = iteration + 1
    return total / (k * passes)


def train_network(fast, net: nn.Module, optimizer: torch.optim.Optimizer, problem: Problem, generator: torch.Generator) -> None:
    """Epochs on the synthetic set as it stands, each followed by a probe, until the last ``window`` probes
    span more than ``lambda_2`` (or ``max_epochs``)."""
    s, k = problem.settings, problem.num_classes
    images = problem.images.detach().clone()
    watch: list[Tensor] = []
    acc = torch.zeros((), device=images.device)
    for _ in range(s.max_epochs):
        train_epoch(fast.forward, optimizer, images, problem.labels, s.batch_train, generator, s.strategy, problem.speed)
        acc = (acc + probe(net, problem, generator)) / k
        watch.append(acc)
        if len(watch) == s.window:
            low, high = torch.stack(watch).aminmax()
            if high - low > s.lambda_2:
                return
            watch.pop(0)


def _start(problem: Problem) -> None:
    """Refuse, before any work, a network without per-block features; count iterations (the learning-rate
    milestones need the iteration, and a resumed run must go on from its own)."""
    s, data = problem.settings, problem.data
    net = build_model(s.model, data.channel, data.num_classes, data.im_size)
    if not isinstance(net, ConvNet) or net.config.depth < MATCHED_BLOCKS:
        raise CondenseError(
            f"--model {s.model} has no {MATCHED_BLOCKS} ConvNet blocks whose features CAFE aligns; use a ConvNet of depth 3 or more (e.g. convnet)"
        )
    problem.learned["iteration"] = 0


def _save(problem: Problem) -> dict:
    return {**IMAGES.save(problem), "iteration": problem.learned["iteration"]}


def _load(problem: Problem, saved: dict) -> None:
    IMAGES.load(problem, saved)
    problem.learned["iteration"] = int(saved["iteration"])


STATE = MethodState(start=_start, save=_save, load=_load, export=lambda problem: {})


def real_images_per_iteration(settings, num_classes: int) -> int:
    """At least: ``window`` image updates, each with a real batch and a probe of every class (the loops are
    dynamic; the network epochs between them add probes)."""
    return settings.window * num_classes * (settings.batch_real + settings.probe_per_class)


@dataclass(frozen=True)
class CAFEDSASettings(CAFESettings):
    """CAFE's settings with the dataset's DSA strategy (the official ``--method DSA``)."""

    strategy: str = setting("dsa", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)


LOSS_LABEL = "feature alignment + discrimination (per class and image update)"
SUMMARY = "multi-scale class-mean features aligned, with a discrimination term, under a dynamic bi-level loop"

SPEC = register_method(
    MethodSpec(
        name="cafe",
        label="CAFE",
        settings=CAFESettings,
        step=feature_alignment,
        eval_augment="none",
        loss_label=LOSS_LABEL,
        real_images_per_iteration=real_images_per_iteration,
        summary=SUMMARY,
        state=STATE,
    )
)
DSA_SPEC = register_method(
    replace(SPEC, name="cafe_dsa", label="CAFE+DSA", settings=CAFEDSASettings, eval_augment="dsa", summary=SUMMARY + ", with DSA")
)
