"""Evaluate an image set: train fresh random networks on it, report their test accuracy.

Reference protocol (DESIGN.md §3): SGD lr 0.01, momentum 0.9, weight decay 5e-4,
batch 256, lr ×0.1 at half the epochs; 1000 epochs with DSA augmentation (for DSA
and DM sets), 300 without. Each network gets its own seed derived from the run seed,
so a run is reproducible network by network.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

from .accel import FastNet, add_speed_argument, speed_from_args
from .augment import strategy_for
from .data import load_data, subset_per_class
from .errors import CondenseError
from .fileio import write_json
from .networks import build_model
from .runtime import add_common_arguments, derive_seed, make_generator, resolve_device
from .synset import load_set
from .train import TrainSettings, accuracy, train_network

log = logging.getLogger("condense.evaluate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download` (test set)")
    parser.add_argument("--set", type=Path, required=True, help="image set to train on (coreset or synthetic set)")
    parser.add_argument("--model", default="convnet", help="network to train (see condense.networks.MODELS)")
    parser.add_argument("--num-nets", type=int, default=5, help="random networks to train")
    parser.add_argument("--epochs", type=int, default=300, help="300 without augmentation, 1000 with DSA (reference)")
    parser.add_argument(
        "--augment", default="none", help="none, dsa (the dataset's reference DSA strategy) or an explicit strategy string"
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument(
        "--test-per-class", type=int, default=0,
        help="test on this many images per class, one fixed random subset (0 = the whole test set; for quick profiles)",
    )
    parser.add_argument("--out", type=Path, required=True, help="result JSON")
    add_speed_argument(parser)
    add_common_arguments(parser)


def resolve_strategy(augment: str, dataset: str) -> str:
    return strategy_for(dataset) if augment == "dsa" else augment


def summarize(accs: list[float]) -> dict:
    """Mean and population std (numpy's default, as the reference code reports) in percent."""
    mean = statistics.fmean(accs)
    return {"mean": 100 * mean, "std": 100 * statistics.pstdev(accs), "n": len(accs)}


def run(args: argparse.Namespace) -> None:
    if args.num_nets < 1:
        raise CondenseError(f"--num-nets {args.num_nets} must be at least 1")
    device = resolve_device(args.device)
    data = load_data(args.data, device, with_train=False)  # the set is the training data here
    images, labels, meta = load_set(args.set)
    if tuple(images.shape[1:]) != (data.channel, *data.im_size):
        raise CondenseError(
            f"image set {str(args.set)!r} holds {tuple(images.shape[1:])} images but {data.name} has "
            f"{(data.channel, *data.im_size)}; evaluate it against the dataset it was made from"
        )
    images, labels = images.to(device), labels.to(device)
    settings = TrainSettings(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, augment=resolve_strategy(args.augment, data.name)
    )
    # The same test subset for every set and network (its own fixed seed), so rows stay comparable.
    test = subset_per_class(data.test_labels, args.test_per_class, data.num_classes, make_generator(0))
    test_images, test_labels = data.test_images[test], data.test_labels[test]
    speed = speed_from_args(args, device)
    fast = None  # one network instance, re-initialised per run, so a compiled graph is reused
    runs = []
    for i in range(args.num_nets):
        net_seed = derive_seed(args.seed, i)
        started = time.perf_counter()
        torch.manual_seed(net_seed)  # network initialisation
        fresh = build_model(args.model, data.channel, data.num_classes, data.im_size).to(device)
        fast = FastNet(fresh, speed) if fast is None else fast.load_(fresh)
        stats = train_network(fast.forward, images, labels, settings, make_generator(net_seed), desc=f"net {i + 1}/{args.num_nets}", speed=speed)
        test_acc = accuracy(fast.forward, test_images, test_labels, speed=speed)
        runs.append({"net": i, "seed": net_seed, "test_acc": test_acc, **stats, "seconds": time.perf_counter() - started})
        log.info("net %d/%d: test acc %.4f, train acc %.4f, %.1f s", i + 1, args.num_nets, test_acc, stats["train_acc"], runs[-1]["seconds"])
    summary = summarize([r["test_acc"] for r in runs])
    log.info("%s on %s: %.2f ± %.2f (%d nets)", args.model, args.set, summary["mean"], summary["std"], summary["n"])
    write_json(
        {
            "dataset": data.name,
            "method": meta.get("method"),
            "mask_ratio": meta.get("mask_ratio", 0.0),
            "ipc": meta.get("ipc"),
            "set_seed": meta.get("seed"),
            "set": str(args.set),
            "model": args.model,
            "eval_seed": args.seed,
            "device": str(device),
            "settings": settings.to_dict(),
            "test_images": int(test.numel()),
            "compile": speed.compile,
            **summary,
            "runs": runs,
        },
        args.out,
    )


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
