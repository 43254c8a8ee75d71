"""MTT: Dataset Distillation by Matching Training Trajectories (Cazenavette et al., CVPR 2022).

Two parts, as in the official code (``GeorgeCazenavette/mtt-distillation``):

* the artifact kind ``experts`` (``buffer.py``): N networks trained on the real data for E epochs (SGD lr 0.01,
  no momentum, no weight decay, batch 256, DSA on every batch), each one's flattened parameters kept after every
  epoch, epoch 0 being the initialisation (``timestamps``);
* the method ``mtt`` (``distill.py``): each iteration takes an expert and a start epoch t < ``max_start_epoch``,
  runs ``syn_steps`` differentiable SGD steps on the synthetic set from θ*_t with the learned learning rate
  (on flat parameters, as its ``ReparamModule``; here ``torch.func.functional_call``), and minimises
  ‖θ̂ − θ*_{t+M}‖² / ‖θ*_t − θ*_{t+M}‖² (M = ``expert_epochs``). The images (SGD ``lr_img``, momentum 0.5) and the
  learning rate (SGD ``lr_lr``, momentum 0.5) learn together; the learned rate is the set's ``learned_lr``,
  with which its evaluation trains (the official ``args.lr_net = syn_lr.item()``).

Defaults are the official argparse defaults of ``distill.py`` and ``buffer.py``; the per-IPC CIFAR-10 settings of
the paper are in docs/mtt.md. ZCA whitening is not supported (docs/deviations.md A23).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, check_number
from ..core.errors import CondenseError
from ..core.runtime import derive_seed, make_generator
from ..core.settings import setting
from ..data.augment import AugmentParams, parse_strategy
from ..data.augment import augment as dsa_augment
from ..data.store import RealData
from ..models.classifiers import MODELS, build_model
from ..training.loop import train_epoch
from .artifacts import ArtifactKind, register_artifact
from .parts import PartStore
from .problem import Problem
from .spec import MethodSpec, MethodState, register_method, resolve_augment

log = logging.getLogger("condense.mtt")

# MTT's utils.py samples scale and rotate with align_corners=True (the DC/DSA code with torch's default, False);
# its DiffAugment is otherwise the DSA one, called with seed -1: one family per call, parameters per image.
MTT_AUGMENT = AugmentParams(align_corners=True)


def _augment(value, context):
    """``dsa`` → the dataset's DSA strategy; the config check resolves artifact settings without a dataset."""
    if context.get("traits") is None:
        parse_strategy(None if value == "dsa" else value)
        return value
    return resolve_augment(value, context)


def flat_parameters(net: nn.Module) -> Tensor:
    """The parameters as one vector, in ``net.parameters()`` order: the official
    ``torch.cat([p.data.reshape(-1) for p in net.parameters()])`` (buffers, e.g. BatchNorm statistics, excluded)."""
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def parameter_layout(net: nn.Module) -> list[list]:
    """[name, shape] of each parameter in flattening order (what an experts file records, checked against the
    condensation network)."""
    return [[name, list(p.shape)] for name, p in net.named_parameters()]


def unflatten(net: nn.Module, flat: Tensor) -> dict[str, Tensor]:
    """``flat`` as {name: view} in the network's parameter shapes (the official ``ReparamModule._unflatten_param``)."""
    names, shapes = zip(*[(name, p.shape) for name, p in net.named_parameters()])
    pieces = flat.split([shape.numel() for shape in shapes])
    return {name: piece.view(shape) for name, piece, shape in zip(names, pieces, shapes)}


def per_image_augmenter(strategy: str):
    """The official ``DiffAugment(x, strategy, param=ParamDiffAug())`` (seed -1): one family per call, per-image
    parameters, MTT's grid convention; None for ``none``."""
    if not parse_strategy(strategy):
        return None
    return lambda x, generator: dsa_augment(x, strategy, generator, params=MTT_AUGMENT, per_image=True)


# ----------------------------------------------------------------------------------------- expert trajectories


@dataclass(frozen=True)
class ExpertSettings:
    """``buffer.py``'s arguments (their defaults)."""

    model: str = setting("convnet", "network the experts train (must be the condensation's --model)", choices=MODELS.names)
    num_experts: int = setting(100, "expert networks to train (buffer.py --num_experts)", bounds=AT_LEAST_ONE)
    train_epochs: int = setting(50, "epochs each expert trains; epochs 0..E are kept (buffer.py --train_epochs)", bounds=AT_LEAST_ONE)
    lr_teacher: float = setting(0.01, "SGD learning rate of the experts (buffer.py --lr_teacher)", bounds=POSITIVE)
    momentum: float = setting(0.0, "SGD momentum of the experts (buffer.py --mom)", bounds=NON_NEGATIVE)
    weight_decay: float = setting(0.0, "SGD weight decay of the experts (buffer.py --l2)", bounds=NON_NEGATIVE)
    batch_train: int = setting(256, "batch size of the experts' training (buffer.py --batch_train)", bounds=AT_LEAST_ONE)
    strategy: str = setting("dsa", "per-image augmentation of every batch: none, dsa (the dataset's DSA strategy) or a strategy "
                            "(buffer.py --dsa True)", flag="augment", resolve=_augment)  # fmt: skip

    def to_dict(self) -> dict:
        return asdict(self)


def train_expert(data: RealData, settings: ExpertSettings, seed: int, expert: int) -> dict:
    """Expert ``expert``: initialised and shuffled from seeds derived from (seed, expert), trained ``train_epochs``
    epochs on every training image; its flat parameters before training and after each epoch, its per-epoch
    training loss and accuracy, and the seconds it took."""
    began = time.perf_counter()
    augment = per_image_augmenter(settings.strategy) or "none"
    images, labels = data.train_images, data.train_labels
    torch.manual_seed(derive_seed(seed, expert, 0))
    net = build_model(settings.model, data.channel, data.num_classes, data.im_size).to(images.device)
    generator = make_generator(derive_seed(seed, expert, 1))
    optimizer = torch.optim.SGD(net.parameters(), lr=settings.lr_teacher, momentum=settings.momentum, weight_decay=settings.weight_decay)
    timestamps, stats = [flat_parameters(net).cpu()], []
    for _ in range(settings.train_epochs):
        done = train_epoch(net, optimizer, images, labels, settings.batch_train, generator, augment)
        timestamps.append(flat_parameters(net).cpu())
        stats.append(torch.stack([done.loss.detach(), done.accuracy.detach()]))
    stats = torch.stack(stats).cpu()
    return {"trajectory": torch.stack(timestamps), "train_loss": stats[:, 0], "train_acc": stats[:, 1],
            "seconds": time.perf_counter() - began, "layout": parameter_layout(net)}  # fmt: skip


def train_experts(data: RealData, settings: ExpertSettings, seed: int, device, parts: PartStore | None = None) -> dict:
    """``buffer.py``: ``num_experts`` experts (:func:`train_expert`), deterministic per seed. With ``parts`` each
    finished expert is kept there and a rerun trains only the missing ones, ending with the same content. The cost
    (seconds of training, summed over the experts whichever run trained them; bytes of the trajectories) is the
    content's ``cost``, which ``save_artifact`` keeps beside the file (wall times would make identical runs differ)."""
    experts = []
    for expert in range(settings.num_experts):
        made = parts.load(expert) if parts is not None else None
        if made is None:
            made = train_expert(data, settings, seed, expert)
            if parts is not None:
                parts.save(expert, made)
        experts.append(made)
        log.info("expert %d/%d: train accuracy %.4f after %d epochs", expert + 1, settings.num_experts, float(made["train_acc"][-1]),
                 settings.train_epochs)  # fmt: skip
    trajectories = torch.stack([made["trajectory"] for made in experts])
    return {
        "trajectories": trajectories,  # (experts, epochs + 1, parameters): buffer.py's timestamps, flattened
        "model": settings.model,
        "layout": experts[0]["layout"],
        "train_loss": torch.stack([made["train_loss"] for made in experts]),  # (experts, epochs), as buffer.py prints them
        "train_acc": torch.stack([made["train_acc"] for made in experts]),
        "cost": {
            "seconds": sum(made["seconds"] for made in experts),
            "bytes": trajectories.numel() * trajectories.element_size(),
            "device": str(device),
        },  # fmt: skip
    }


EXPERTS = register_artifact(
    ArtifactKind(
        "experts",
        "expert trajectories: networks trained on the real data, parameters after every epoch (MTT's buffer.py)",
        ExpertSettings,
        train_experts,
        resumable=True,  # one part per expert: a rerun after a kill trains only the missing experts
    )
)


# ----------------------------------------------------------------------------------------------- the method


def _batch_syn(value, context):
    if value is not None:
        check_number("--batch-syn", value, AT_LEAST_ONE)
    return value


@dataclass(frozen=True)
class MTTSettings:
    """``distill.py``'s arguments (their argparse defaults; the README's CIFAR commands set others, docs/mtt.md)."""

    method: str
    ipc: int
    model: str = "convnet"
    iterations: int = setting(5000, "condensation iterations (0..N are run; distill.py --Iteration)", bounds=NON_NEGATIVE)
    lr_img: float = setting(1000.0, "learning rate of the synthetic images (SGD, momentum 0.5)", bounds=POSITIVE)
    lr_lr: float = setting(1e-05, "learning rate of the learned learning rate (SGD, momentum 0.5)", bounds=POSITIVE)
    lr_teacher: float = setting(0.01, "initial learned learning rate (distill.py --lr_teacher; its --lr_init is unused)", bounds=POSITIVE)
    syn_steps: int = setting(20, "student SGD steps on the synthetic set per iteration", bounds=AT_LEAST_ONE)
    expert_epochs: int = setting(3, "expert epochs M the student's steps are matched to", bounds=AT_LEAST_ONE)
    max_start_epoch: int = setting(25, "start epochs are drawn from 0..this - 1", bounds=AT_LEAST_ONE)
    batch_syn: int = setting(None, "synthetic images per student step (default: all; lower it for memory)", resolve=_batch_syn)
    init: str = setting("real", "initial synthetic images: noise or real (distill.py --pix_init)", choices=("noise", "real"))
    strategy: str = setting("dsa", "none, dsa (the dataset's DSA strategy) or a strategy", flag="augment", resolve=resolve_augment)

    def to_dict(self) -> dict:
        return asdict(self)


def check_experts(problem: Problem, experts: dict) -> None:
    """The experts fit the run: same network and parameter layout, trajectories long enough for every start epoch."""
    s = problem.settings
    where = "the experts artifact"
    if experts.get("model") != s.model:
        raise CondenseError(
            f"{where} trained {experts.get('model')} networks, but --model is {s.model}; make experts with --model {s.model}"
        )
    net = build_model(s.model, problem.data.channel, problem.num_classes, problem.data.im_size)
    if experts.get("layout") != parameter_layout(net):
        raise CondenseError(f"{where} holds parameters of another shape than {s.model} on this dataset; remake it from this dataset")
    epochs = experts["trajectories"].shape[1] - 1
    if s.max_start_epoch - 1 + s.expert_epochs > epochs:
        raise CondenseError(
            f"--max-start-epoch {s.max_start_epoch} + --expert-epochs {s.expert_epochs} needs experts of at least "
            f"{s.max_start_epoch - 1 + s.expert_epochs} epochs, the artifact has {epochs}; lower them or train longer experts"
        )


def start(problem: Problem) -> None:
    """Check the inputs (before any compute) and make the learned learning rate and its optimiser."""
    if not isinstance(problem.data, RealData):
        # MTT draws no real batches: masking the real data would reach neither its loss nor its experts, which the
        # artifact rule trains on the unmasked data (docs/deviations.md A24).
        raise CondenseError(
            "--method mtt takes no --mask: it draws no real batches and its experts train on the unmasked data; drop --mask"
        )
    if "experts" not in problem.artifacts:  # a stage that condenses without artifacts (membership's shadows)
        raise CondenseError("--method mtt needs its expert trajectories (distill --artifact experts=FILE); this stage provides none")
    check_experts(problem, problem.artifacts["experts"])
    s = problem.settings
    syn_lr = torch.tensor(s.lr_teacher, dtype=torch.float32, device=problem.images.device).requires_grad_(True)
    problem.learned.update(syn_lr=syn_lr, lr_optimizer=torch.optim.SGD([syn_lr], lr=s.lr_lr, momentum=0.5))


def save(problem: Problem) -> dict:
    return {"images": problem.images.detach().cpu(), "optimizer": problem.optimizer.state_dict(),
            "syn_lr": problem.learned["syn_lr"].detach().cpu(), "lr_optimizer": problem.learned["lr_optimizer"].state_dict()}  # fmt: skip


def load(problem: Problem, saved: dict) -> None:
    with torch.no_grad():
        problem.images.copy_(saved["images"].to(problem.images.device))
        problem.learned["syn_lr"].copy_(saved["syn_lr"].to(problem.images.device))
    problem.optimizer.load_state_dict(saved["optimizer"])
    problem.learned["lr_optimizer"].load_state_dict(saved["lr_optimizer"])


def student_batches(n: int, batch_syn: int | None, steps: int, generator: torch.Generator) -> list[Tensor]:
    """The image indices of each student step: a fresh permutation split into ``batch_syn`` chunks whenever the
    previous ones are used up, taken from the last chunk first (the official ``indices_chunks.pop()``)."""
    chunks: list[Tensor] = []
    taken = []
    for _ in range(steps):
        if not chunks:
            chunks = list(torch.randperm(n, generator=generator, device=generator.device).split(batch_syn or n))
        taken.append(chunks.pop())
    return taken


def unroll(net: nn.Module, start_params: Tensor, images: Tensor, labels: Tensor, syn_lr: Tensor, batches: list[Tensor],
           augment=None, generator: torch.Generator | None = None) -> Tensor:  # fmt: skip
    """θ_{k+1} = θ_k − syn_lr · ∇ CE(net(aug(x_k); θ_k), y_k) over ``batches``, differentiable in the images and
    the rate (create_graph), from a copy of ``start_params``; returns the last θ. Every θ_k's graph is kept until
    the loss's backward, so memory grows with the steps (benchmarks/mtt_memory.py)."""
    params = start_params.detach().clone().requires_grad_(True)
    for idx in batches:
        idx = idx.to(images.device, non_blocking=True)
        x, y = images[idx], labels[idx]
        if augment is not None:
            x = augment(x, generator)
        ce = F.cross_entropy(functional_call(net, unflatten(net, params), (x,)), y)
        grad = torch.autograd.grad(ce, params, create_graph=True)[0]
        params = params - syn_lr * grad
    return params


def normalised_distance(student: Tensor, start_params: Tensor, target: Tensor) -> Tensor:
    """(‖θ̂ − θ*_{t+M}‖² / P) / (‖θ*_t − θ*_{t+M}‖² / P), as ``distill.py`` computes it (sums, then both ÷ P)."""
    size = student.numel()
    loss = F.mse_loss(student, target, reduction="sum") / size
    dist = F.mse_loss(start_params, target, reduction="sum") / size
    return loss / dist


def trajectory_matching(problem: Problem, generator: torch.Generator) -> Tensor:
    """One MTT iteration: an expert and a start epoch drawn, ``syn_steps`` student steps, one update of the images
    and of the learned learning rate. The expert is drawn uniformly each iteration (the official ``--load_all``
    way), so an iteration depends on its seed alone and a resumed run equals an uninterrupted one."""
    s = problem.settings
    trajectories = problem.artifacts["experts"]["trajectories"]
    expert = int(torch.randint(trajectories.shape[0], (1,), generator=generator))
    start_epoch = int(torch.randint(s.max_start_epoch, (1,), generator=generator))
    device = problem.images.device
    # the artifact stays on the host; the two rows go over without a stream sync (the CPU rows are never written)
    start_params = trajectories[expert, start_epoch].to(device, non_blocking=True)
    target = trajectories[expert, start_epoch + s.expert_epochs].to(device, non_blocking=True)
    net = problem.new_network().eager.train()  # its structure only: the expert's parameters replace its own
    batches = student_batches(problem.images.shape[0], s.batch_syn, s.syn_steps, generator)
    student = unroll(net, start_params, problem.images, problem.labels, problem.learned["syn_lr"], batches,
                     per_image_augmenter(s.strategy), generator)  # fmt: skip
    loss = normalised_distance(student, start_params, target)
    problem.learned["lr_optimizer"].zero_grad(set_to_none=True)
    problem.image_step(loss)
    problem.learned["lr_optimizer"].step()
    return loss.detach()


SPEC = register_method(
    MethodSpec(
        name="mtt",
        label="MTT",
        settings=MTTSettings,
        step=trajectory_matching,
        eval_augment="dsa",
        loss_label="‖θ̂ − θ*_{t+M}‖² / ‖θ*_t − θ*_{t+M}‖²",
        real_images_per_iteration=lambda settings, num_classes: 0,  # the real data reaches it through the experts only
        summary="matching training trajectories of expert networks",
        requires=("experts",),
        state=MethodState(
            start=start, save=save, load=load, export=lambda problem: {"learned_lr": float(problem.learned["syn_lr"].detach())}
        ),
        produces=("learned_lr",),
    )
)
