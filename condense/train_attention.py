"""Train the attention FCN: BCE between pooled class maps and the one-hot label (paper §3.2, eq. 2).

Loss: ``binary_cross_entropy_with_logits(pool_logits(φ(x), pool), one_hot(y))`` with
``--pool avg`` (the paper's text) or ``lse`` (smooth max, the authors' code).
SGD with momentum 0.9 and weight decay, a cosine learning-rate schedule over all
steps, random crops (zero padding of ``--crop-pad`` px on the normalised image, as
integer translations) and horizontal flips (not for digit datasets), both drawn
per image on a CPU generator and applied to the whole batch at once. The test-set
accuracy of the pooled logits (argmax) measures how well the FCN learned the task.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .augment import DIGIT_DATASETS, AugmentParams, apply, parse_strategy, sample
from .data import load_data, subset_per_class
from .errors import CondenseError
from .fcn import FCNS, POOLINGS, build_fcn, pool_logits, save_fcn
from .fileio import write_json
from .runtime import add_common_arguments, make_generator, progress, resolve_device

log = logging.getLogger("condense.train_attention")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--model", default="small_fcn", help=f"attention model, one of: {', '.join(FCNS.names())}")
    parser.add_argument("--pool", default="lse", help="spatial pooling of the class maps: lse (authors' code) or avg (paper)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1, help="initial learning rate (cosine-annealed to 0 over all steps)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--per-class", type=int, default=0, help="train on this many images per class (0 = all); for quick profiles")
    parser.add_argument(
        "--augment", default="auto",
        help="'_'-joined families applied in turn with per-image parameters (crop, flip, ...), none, "
             "or auto (crop_flip; crop only for digit datasets)",
    )
    parser.add_argument("--crop-pad", type=int, default=4, help="random-crop padding in pixels (zero fill)")
    parser.add_argument("--pretrained", type=Path, default=None, help="LOCAL torchvision resnet18 state dict (resnet18_fcn only)")
    parser.add_argument("--out", type=Path, required=True, help="trained FCN (.pt)")
    parser.add_argument("--out-json", type=Path, default=None, help="metrics JSON (test accuracy, losses, time, settings)")
    add_common_arguments(parser)


def resolve_augment(augment: str, dataset: str) -> tuple[str, ...]:
    if augment == "auto":
        return ("crop",) if dataset.strip().lower() in DIGIT_DATASETS else ("crop", "flip")
    return parse_strategy(augment)


def augment_batch(x: torch.Tensor, families: tuple[str, ...], generator: torch.Generator, params: AugmentParams) -> torch.Tensor:
    """Each family in turn, parameters drawn per image (vectorised over the batch)."""
    for family in families:
        x = apply(x, sample(family, x.shape[0], generator, x.device, params, per_image=True))
    return x


@torch.no_grad()
def pooled_accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, pool: str, batch_size: int = 512) -> float:
    """Classification accuracy of argmax(pool_logits(φ(x))), network in eval mode."""
    net.eval()
    correct = torch.zeros((), device=images.device)
    for start in range(0, images.shape[0], batch_size):
        logits = pool_logits(net(images[start : start + batch_size]), pool)
        correct += (logits.argmax(1) == labels[start : start + batch_size]).sum()
    return float(correct) / max(images.shape[0], 1)


def _check_args(args: argparse.Namespace) -> None:
    FCNS.get(args.model)
    POOLINGS.get(args.pool)
    for flag, value, low in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1), ("--crop-pad", args.crop_pad, 0)):
        if value < low:
            raise CondenseError(f"{flag} {value} must be at least {low}")
    if not args.lr > 0:
        raise CondenseError(f"--lr {args.lr} must be positive")


def run(args: argparse.Namespace) -> None:
    _check_args(args)
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    families = resolve_augment(args.augment, data.name)
    params = AugmentParams(ratio_crop_pad=args.crop_pad / data.im_size[0])  # int(H * ratio + 0.5) = crop_pad
    gen = make_generator(args.seed)
    idx = subset_per_class(data.train_labels, args.per_class, data.num_classes, gen)
    images, labels = data.train_images[idx], data.train_labels[idx]
    targets_eye = torch.eye(data.num_classes, device=device)

    torch.manual_seed(args.seed)
    net = build_fcn(args.model, data.channel, data.num_classes, data.im_size, pretrained=args.pretrained).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    n = images.shape[0]
    steps_per_epoch = -(-n // args.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch)
    log.info(
        "training %s (%s pooling, augment %s) on %d images of %s for %d epochs",
        args.model, args.pool, "_".join(families) or "none", n, data.name, args.epochs,
    )

    started = time.perf_counter()
    epoch_losses: list[float] = []
    train_acc = 0.0
    bar = progress(range(args.epochs), desc=f"train {args.model}", unit="epoch")
    for epoch in bar:
        net.train()
        order = torch.randperm(n, generator=gen).to(device, non_blocking=True)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for start in range(0, n, args.batch_size):
            batch = order[start : start + args.batch_size]
            x, y = images[batch], labels[batch]
            if families:
                x = augment_batch(x, families, gen, params)
            logits = pool_logits(net(x), args.pool)
            loss = F.binary_cross_entropy_with_logits(logits, targets_eye[y])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum()
        epoch_losses.append(float(loss_sum) / n)
        train_acc = float(correct) / n
        bar.set_postfix(loss=f"{epoch_losses[-1]:.4f}", acc=f"{train_acc:.3f}")
        log.info("epoch %d/%d: loss %.4f, running train accuracy %.4f, lr %.4g", epoch + 1, args.epochs, epoch_losses[-1],
                 train_acc, scheduler.get_last_lr()[0])
    train_seconds = time.perf_counter() - started

    test_acc = pooled_accuracy(net, data.test_images, data.test_labels, args.pool)
    log.info("test accuracy of the pooled maps %.4f (%.0f s of training)", test_acc, train_seconds)
    settings = {
        "model": args.model,
        "pool": args.pool,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "weight_decay": args.weight_decay,
        "momentum": args.momentum,
        "per_class": args.per_class,
        "augment": "_".join(families) or "none",
        "crop_pad": args.crop_pad,
        "pretrained": str(args.pretrained) if args.pretrained else None,
        "schedule": "cosine",
    }
    meta = {"dataset": data.name, "seed": args.seed, "n_train": n, "test_acc": test_acc, "settings": settings}
    save_fcn(args.out, net, meta)
    if args.out_json is not None:
        write_json(
            {
                "dataset": data.name,
                "seed": args.seed,
                "device": str(device),
                "n_train": n,
                "test_acc": test_acc,
                "train_loss": epoch_losses[-1],
                "train_acc": train_acc,
                "epochs": args.epochs,
                "epoch_losses": epoch_losses,
                "seconds": train_seconds,
                "settings": settings,
                "fcn": str(args.out),
            },
            args.out_json,
        )


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
