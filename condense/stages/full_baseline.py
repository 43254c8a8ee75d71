"""Whole-dataset baseline: train one network on all real training images, save it and its accuracy.

The trained network is also the embedding model for herding (and the network the attribution
mask sources explain), so the workflow reuses this artifact instead of training another network.
"""

from __future__ import annotations

import argparse
import logging
import sys

import torch

from ..core.accel import FastNet
from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE
from ..core.fileio import write_json
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import make_generator, resolve_device
from ..data.records import ACCURACY_COLUMNS, EVAL_FORMAT
from ..data.store import load_data, subset_per_class
from ..models.classifiers import build_model
from ..models.store import save_network
from ..training.evaluation import train_network
from ..training.loop import accuracy
from ..training.protocol import TrainSettings
from ._args import add_common_arguments, add_number, add_path, add_speed_argument, speed_of

log = logging.getLogger("condense.full_baseline")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    parser.add_argument("--model", default="convnet", help="network name (see condense.models.classifiers.MODELS)")
    add_number(parser, "--epochs", int, AT_LEAST_ONE, default=300, help="training epochs (reference protocol: 300)")
    add_number(
        parser, "--per-class", int, NON_NEGATIVE, default=0, help="train on this many images per class (0 = all); for quick profiles"
    )
    parser.add_argument("--augment", default="none", help="DSA strategy for training, or none")
    add_number(parser, "--batch-size", int, AT_LEAST_ONE, default=256)
    add_path(parser, "--out-model", OUTPUT, required=True, help="trained network (.pt)")
    add_path(parser, "--out", OUTPUT, required=True, help="accuracy JSON")
    add_speed_argument(parser)
    add_common_arguments(parser)


def foreground_only(data) -> torch.Tensor:
    """The test images with their backgrounds removed: every background pixel black (value 0), normalised."""
    mean = torch.as_tensor(data.mean, device=data.test_images.device).view(1, -1, 1, 1)
    std = torch.as_tensor(data.std, device=data.test_images.device).view(1, -1, 1, 1)
    keep = data.extras["test_foreground"].to(data.test_images.device).unsqueeze(1).float()
    return ((data.test_images * std + mean) * keep - mean) / std


def run(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, augment=args.augment)
    gen = make_generator(args.seed)
    idx = subset_per_class(data.train_labels, args.per_class, data.num_classes, gen)
    torch.manual_seed(args.seed)
    speed = speed_of(args, device)
    fast = FastNet(build_model(args.model, data.channel, data.num_classes, data.im_size).to(device), speed)
    log.info("training %s on %d images of %s for %d epochs", args.model, idx.numel(), data.name, args.epochs)
    stats = train_network(
        fast.forward, data.train_images[idx], data.train_labels[idx], settings, gen, desc=f"full {args.model}", speed=speed
    )
    test_acc = accuracy(fast.forward, data.test_images, data.test_labels, speed=speed)
    log.info("test accuracy %.4f (train accuracy %.4f, %.0f s)", test_acc, stats["train_acc"], stats["train_seconds"])
    extra = {}
    if "test_foreground" in data.extras:  # a dataset with known foregrounds: also test without the backgrounds
        extra["test_acc_foreground_only"] = accuracy(fast.forward, foreground_only(data), data.test_labels, speed=speed)
        log.info("test accuracy with the backgrounds removed (black) %.4f", extra["test_acc_foreground_only"])
    meta = {"dataset": data.name, "model": args.model, "seed": args.seed, "per_class": args.per_class, "settings": settings.to_dict()}
    save_network(args.out_model, fast.eager, meta)
    write_json(
        {
            **meta,
            "published_as": data.traits.published_as,
            "method": "full",
            "ipc": args.per_class or None,
            "runs": [{"net": 0, "seed": args.seed, "test_acc": test_acc, **extra, **stats}],
            "device": str(device),
            "format": EVAL_FORMAT,
            "kind": "accuracy",
            "columns": list(ACCURACY_COLUMNS),
        },
        args.out,
    )


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
