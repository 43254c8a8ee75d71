"""The reference evaluation protocol: train fresh random networks on an image set, test them on real images.

The official ``evaluate_synset`` (DC/DSA/DM code) runs ``epochs + 1`` passes over the data,
multiplies the learning rate by 0.1 after pass ``epochs // 2 + 1`` and builds a fresh SGD
optimiser at that point (so the momentum buffer restarts). We follow it exactly; the
final-pass test accuracy is what gets reported (docs/reference-protocol.md).

:func:`evaluate_set` works on tensors (as DD-Ranking's evaluator does): any caller with an image
set and a test split gets the same per-network numbers the ``evaluate`` stage writes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

from ..core.accel import EAGER, FastNet, Speed
from ..core.runtime import derive_seed, make_generator
from ..data.augment import apply, sample_idc
from ..models.classifiers import build_model
from .cutmix import draw_box, mixed_loss, paste
from .ensemble import can_stack, evaluate_as_ensemble
from .loop import accuracy, fit
from .protocol import TrainSettings, make_optimizer


def train_network(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    generator: torch.Generator,
    desc: str = "train",
    speed: Speed = EAGER,
) -> dict:
    """Train ``net`` in place with the settings' protocol (:data:`TRAINERS`); returns final train loss/accuracy and seconds."""
    return TRAINERS[settings.protocol](net, images, labels, settings, generator, desc, speed)


def train_network_reference(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    generator: torch.Generator,
    desc: str = "train",
    speed: Speed = EAGER,
) -> dict:
    """The reference protocol (the official ``evaluate_synset``)."""
    lr = [settings.lr]

    def drop_lr(epoch, stats, bar):
        if epoch == settings.decay_after:
            lr[0] *= 0.1
            return make_optimizer(net, lr[0], settings)
        return None

    started = time.perf_counter()
    stats = fit(
        net,
        images,
        labels,
        passes=settings.epochs + 1,
        batch_size=settings.batch_size,
        generator=generator,
        optimizer=make_optimizer(net, settings.lr, settings),
        augment=settings.augment,
        speed=speed,
        after_epoch=drop_lr,
        desc=desc,
    )
    return {"train_loss": float(stats.loss), "train_acc": float(stats.accuracy), "train_seconds": time.perf_counter() - started}


def train_network_idc(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    settings: TrainSettings,
    generator: torch.Generator,
    desc: str = "train",
    speed: Speed = EAGER,
) -> dict:
    """IDC's evaluation training (official ``train.py train``, ``test.py``): ``epochs`` passes of SGD, lr × 0.2 after
    2/3 and 5/6 of them (MultiStepLR, the momentum kept), each batch augmented per image in IDC's order (no
    gradient) and then CutMixed with probability ``cutmix``."""
    boxes: list = [None]

    def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            x = apply(x, sample_idc(settings.augment, x.shape[0], gen, x.device, per_image=True))
        boxes[0] = draw_box(x, gen, settings.beta, settings.cutmix) if settings.cutmix > 0 else None
        return paste(x, boxes[0]) if boxes[0] is not None else x

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return mixed_loss(logits, y, boxes[0], images.shape[2], images.shape[3])

    optimizer = make_optimizer(net, settings.lr, settings)

    def step_lr(epoch, stats, bar):
        if epoch + 1 in settings.milestones:
            for group in optimizer.param_groups:
                group["lr"] *= 0.2
        return None

    started = time.perf_counter()
    stats = fit(net, images, labels, passes=settings.epochs, batch_size=settings.batch_size, generator=generator, optimizer=optimizer,
                augment=augment, speed=speed, loss_fn=loss_fn, after_epoch=step_lr, desc=desc)  # fmt: skip
    return {"train_loss": float(stats.loss), "train_acc": float(stats.accuracy), "train_seconds": time.perf_counter() - started}


# TrainSettings.protocol -> its training loop (every name in condense.training.protocol.PROTOCOLS)
TRAINERS = {"reference": train_network_reference, "idc": train_network_idc}


def evaluate_set(
    images: torch.Tensor,
    labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    model: str,
    num_classes: int,
    num_nets: int,
    settings: TrainSettings,
    seed: int,
    speed: Speed = EAGER,
    hooks: Sequence[Callable[[dict], None]] = (),
) -> list[dict]:
    """Train ``num_nets`` fresh ``model`` networks on (images, labels) and test each; one dict per network.

    Network ``i`` is initialised and trained from ``derive_seed(seed, i)`` alone, so the runs are
    reproducible one by one. One module instance is reused and re-initialised in place, so a compiled
    graph is built once. Each hook is called with a network's result as soon as it is known. With
    ``speed.ensemble`` the networks train as one ensemble (:mod:`condense.training.ensemble`): the same
    per-network results within float tolerance; BatchNorm networks still one by one."""
    channel, im_size = int(images.shape[1]), (int(images.shape[2]), int(images.shape[3]))
    if speed.ensemble and num_nets > 1 and settings.protocol == "reference" and can_stack(model, channel, num_classes, im_size):
        runs = evaluate_as_ensemble(
            images,
            labels,
            test_images,
            test_labels,
            model=model,
            num_classes=num_classes,
            num_nets=num_nets,
            settings=settings,
            seed=seed,
        )
        for run in runs:
            for hook in hooks:
                hook(run)
        return runs
    fast: FastNet | None = None
    runs = []
    for i in range(num_nets):
        net_seed = derive_seed(seed, i)
        started = time.perf_counter()
        torch.manual_seed(net_seed)  # network initialisation
        fresh = build_model(model, channel, num_classes, im_size).to(images.device)
        fast = FastNet(fresh, speed) if fast is None else fast.load_(fresh)
        stats = train_network(fast.forward, images, labels, settings, make_generator(net_seed), desc=f"net {i + 1}/{num_nets}", speed=speed)
        test_acc = accuracy(fast.forward, test_images, test_labels, speed=speed)
        diverged = not math.isfinite(stats["train_loss"])  # its accuracy is chance, not a measurement of the set
        runs.append(
            {"net": i, "seed": net_seed, "test_acc": test_acc, "diverged": diverged, **stats, "seconds": time.perf_counter() - started}
        )
        for hook in hooks:
            hook(runs[-1])
    return runs


def summarize(accs: list[float]) -> dict:
    """Mean and population std (numpy's default, as the reference code reports) in percent."""
    mean = statistics.fmean(accs)
    return {"mean": 100 * mean, "std": 100 * statistics.pstdev(accs), "n": len(accs)}


def summarize_runs(runs: list[dict]) -> dict:
    """:func:`summarize` over the networks that did not diverge, plus the ``diverged`` count; mean and std
    are None when every network diverged."""
    accs = [r["test_acc"] for r in runs if not r.get("diverged")]
    diverged = len(runs) - len(accs)
    if not accs:
        return {"mean": None, "std": None, "n": 0, "diverged": diverged}
    return {**summarize(accs), "diverged": diverged}
