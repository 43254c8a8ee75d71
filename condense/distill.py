"""Condense a dataset into a few synthetic images per class with DC, DSA or DM.

Iteration ``it`` draws everything random from seeds derived from (run seed, it):
the network initialisation and a generator for real batches and augmentation.
A checkpoint therefore only needs the images, the optimiser state, the loss curve
and the next iteration; a killed run resumed from it ends with exactly the tensors
of an uninterrupted run. As in the reference code, ``--iterations N`` runs
iterations 0..N inclusive (N + 1 image-update rounds).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from .accel import add_speed_argument, speed_from_args
from .augment import strategy_for
from .data import RealData, denormalize, load_data
from .errors import CondenseError
from .fileio import atomic_path, load_torch, save_torch
from .methods import METHODS, REFERENCE, DistillSettings, Problem, check_settings, loops_for, real_images_per_iteration
from .runtime import add_common_arguments, derive_seed, make_generator, progress, resolve_device
from .synset import save_set

log = logging.getLogger("condense.distill")
CHECKPOINT_FORMAT = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS.names())}")
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--ipc", type=int, required=True, help="synthetic images per class")
    parser.add_argument("--model", default="convnet", help="network used for matching")
    ref = "default: the method's reference value"
    parser.add_argument("--iterations", type=int, default=None, help=f"DC/DSA 1000, DM 20000 ({ref})")
    parser.add_argument("--lr-img", type=float, default=None, help=f"DC/DSA 0.1, DM 1.0 ({ref})")
    parser.add_argument("--lr-net", type=float, default=0.01)
    parser.add_argument("--batch-real", type=int, default=256)
    parser.add_argument("--batch-train", type=int, default=256)
    parser.add_argument("--init", choices=["noise", "real"], default=None, help=f"DC noise, DSA/DM real ({ref})")
    parser.add_argument("--dis-metric", default="ours", help="gradient distance: ours, mse or cos")
    parser.add_argument("--augment", default=None, help=f"none, dsa (the dataset's DSA strategy) or a strategy ({ref})")
    parser.add_argument("--outer-loop", type=int, default=None, help="default: reference table by IPC")
    parser.add_argument("--inner-loop", type=int, default=None, help="default: reference table by IPC")
    parser.add_argument("--mask", type=Path, default=None, help="mask selection from `condense mask`: real batches come from the masked data")
    parser.add_argument("--maps", type=Path, default=None, help="attention maps for --mask (default: the file named in the mask)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="resume from / save to this file")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="iterations between checkpoints")
    parser.add_argument("--log-every", type=int, default=10, help="iterations between log lines")
    parser.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # tests: simulate a kill
    parser.add_argument("--out", type=Path, required=True, help="synthetic image set (.pt)")
    parser.add_argument("--grid", type=Path, default=None, help="PNG grid of the synthetic images")
    add_speed_argument(parser)
    add_common_arguments(parser)


def resolve_settings(args: argparse.Namespace, data: RealData) -> DistillSettings:
    reference = REFERENCE.get(args.method)
    if reference is None:
        METHODS.get(args.method)  # raises the unknown-name error
    augment = args.augment if args.augment is not None else reference["augment"]
    outer, inner = loops_for(args.ipc)
    settings = DistillSettings(
        method=args.method,
        ipc=args.ipc,
        model=args.model,
        iterations=args.iterations if args.iterations is not None else reference["iterations"],
        lr_img=args.lr_img if args.lr_img is not None else reference["lr_img"],
        lr_net=args.lr_net,
        batch_real=args.batch_real,
        batch_train=args.batch_train,
        init=args.init or reference["init"],
        dis_metric=args.dis_metric,
        strategy=strategy_for(data.name) if augment == "dsa" else augment,
        outer_loop=args.outer_loop or outer,
        inner_loop=args.inner_loop or inner,
    )
    check_settings(settings)
    smallest = min(data.class_size(c) for c in range(data.num_classes))
    if settings.ipc > smallest and settings.init == "real":
        raise CondenseError(f"--ipc {settings.ipc} exceeds the {smallest} images of the smallest class; lower it or use --init noise")
    return settings


def initial_images(data: RealData, settings: DistillSettings, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = make_generator(derive_seed(seed, -1))
    device = data.train_images.device
    labels = torch.arange(data.num_classes, device=device).repeat_interleave(settings.ipc)
    if settings.init == "real":
        images = torch.cat([data.sample_class(c, settings.ipc, gen) for c in range(data.num_classes)])
    else:
        images = torch.randn((labels.numel(), data.channel, *data.im_size), generator=gen).to(device)
    return images.clone(), labels


def load_checkpoint(path: Path | None, identity: dict) -> dict | None:
    """The checkpoint at ``path`` if it belongs to this run (same format, settings, seed and mask), else None."""
    if path is None or not path.exists():
        return None
    state = load_torch(path, what="checkpoint")
    if state.get("format") != CHECKPOINT_FORMAT or state.get("identity") != identity:
        log.warning("checkpoint %s was made with other settings, seed or mask; starting from scratch", path)
        return None
    return state


def save_grid(path: Path, images: torch.Tensor, data: RealData, ipc: int) -> None:
    from torchvision.utils import save_image

    with atomic_path(path) as tmp:
        save_image(denormalize(images.detach().cpu(), data.mean, data.std), tmp, nrow=ipc if ipc > 1 else data.num_classes, format="png")


def run(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    settings = resolve_settings(args, data)
    step = METHODS.get(settings.method)
    # `init real` draws raw images (as the authors' code does); matching draws from the masked data.
    images, labels = initial_images(data, settings, args.seed)
    real, mask_ratio = data, 0.0
    if args.mask is not None:
        from .mask import apply_masks, load_mask

        mask = load_mask(args.mask)
        maps = args.maps if args.maps is not None else mask.get("maps")
        if not maps:
            raise CondenseError(f"mask {str(args.mask)!r} names no maps file; pass --maps")
        real, mask_ratio = apply_masks(data, mask, maps), float(mask["ratio"])
        log.info("matching against %s: ratio %.2f, %d of %d images masked", args.mask, mask_ratio,
                 int(mask["selected"].sum()), data.train_images.shape[0])
    images.requires_grad_(True)
    optimizer = torch.optim.SGD([images], lr=settings.lr_img, momentum=0.5)
    start, losses, seconds = 0, [], 0.0
    identity = {"settings": settings.to_dict(), "seed": args.seed, "mask": str(args.mask) if args.mask else None}
    state = load_checkpoint(args.checkpoint, identity)
    if state is not None:
        with torch.no_grad():
            images.copy_(state["images"].to(device))
        optimizer.load_state_dict(state["optimizer"])
        start, losses, seconds = state["next_iteration"], list(state["losses"]), state["seconds"]
        log.info("resumed from %s at iteration %d", args.checkpoint, start)
    problem = Problem(real, images, labels, optimizer, settings, speed_from_args(args, device))
    log.info("%s: %s", settings.method, settings.to_dict())
    per_iteration = real_images_per_iteration(settings, data.num_classes)
    last = settings.iterations if args.stop_after is None else min(settings.iterations, args.stop_after)
    bar = progress(range(start, last + 1), desc=f"{settings.method} ipc {settings.ipc}", total=last + 1 - start)
    for it in bar:
        began = time.perf_counter()
        torch.manual_seed(derive_seed(args.seed, it, 0))  # this iteration's random network
        loss = float(step(problem, make_generator(derive_seed(args.seed, it, 1))))
        took = time.perf_counter() - began
        seconds += took
        losses.append(loss)
        bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{per_iteration / took:.0f}")
        if it % args.log_every == 0 or it == settings.iterations:
            log.info("iter %d/%d loss %.4f (%.2f s/iter, %.0f real images/s)", it, settings.iterations, loss, took, per_iteration / took)
        if args.checkpoint is not None and (it + 1) % args.checkpoint_every == 0 and it < settings.iterations:
            save_torch(
                {"format": CHECKPOINT_FORMAT, "identity": identity, "next_iteration": it + 1,
                 "images": images.detach().cpu(), "optimizer": optimizer.state_dict(), "losses": losses, "seconds": seconds},
                args.checkpoint,
            )
    if last < settings.iterations:
        log.info("stopped after iteration %d as asked; the checkpoint holds the state", last)
        return
    meta = {"dataset": data.name, "method": settings.method, "mask_ratio": mask_ratio, "ipc": settings.ipc, "seed": args.seed,
            "settings": settings.to_dict(), "losses": losses, "seconds": seconds, "device": str(device)}
    save_set(args.out, images, labels, meta)
    if args.grid is not None:
        save_grid(args.grid, images, data, settings.ipc)
    if args.checkpoint is not None and args.checkpoint.exists():
        args.checkpoint.unlink()
    log.info("%s ipc %d: %d iterations in %.0f s, final loss %.4f -> %s", settings.method, settings.ipc, len(losses), seconds, losses[-1], args.out)


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
