"""Evaluate an image set: train fresh random networks on it, report their test accuracy.

Reference protocol (docs/reference-protocol.md; :mod:`condense.training.evaluation`): SGD lr 0.01,
momentum 0.9, weight decay 5e-4, batch 256, lr ×0.1 at half the epochs; 1000 epochs with DSA
augmentation (for DSA and DM sets), 300 without. Each network gets its own seed derived from the
run seed, so a run is reproducible network by network.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.errors import CondenseError
from ..core.fileio import write_json
from ..core.meters import EnergyMeter, peak_gpu_mb, peak_host_mb
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import make_generator, resolve_device
from ..data.augment import resolve_strategy
from ..data.imagesets import load_set
from ..data.store import load_data, subset_per_class
from ..training.evaluation import TrainSettings, evaluate_set, summarize_runs
from ._args import add_common_arguments, add_ensemble_argument, add_number, add_path, add_speed_argument, speed_of

log = logging.getLogger("condense.evaluate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download` (test set)")
    add_path(parser, "--set", INPUT, required=True, help="image set to train on (coreset or synthetic set)")
    parser.add_argument("--model", default="convnet", help="network to train (see condense.models.classifiers.MODELS)")
    add_number(parser, "--num-nets", int, AT_LEAST_ONE, default=5, help="random networks to train")
    add_number(parser, "--epochs", int, AT_LEAST_ONE, default=300, help="300 without augmentation, 1000 with DSA (reference)")
    parser.add_argument("--augment", default="none", help="none, dsa (the dataset's reference DSA strategy) or an explicit strategy string")
    add_number(parser, "--batch-size", int, AT_LEAST_ONE, default=256)
    add_number(parser, "--lr", float, POSITIVE, default=0.01)
    add_number(
        parser,
        "--test-per-class",
        int,
        NON_NEGATIVE,
        default=0,
        help="test on this many images per class, one fixed random subset (0 = the whole test set; for quick profiles)",
    )
    add_path(parser, "--out", OUTPUT, required=True, help="result JSON")
    add_speed_argument(parser)
    add_ensemble_argument(parser)
    add_common_arguments(parser)


def check_fits(path: Path, images, labels, meta: dict, data) -> None:
    """The set was made from this dataset (its recorded name), and its images and labels fit it; else one line."""
    where = f"image set {str(path)!r}"
    fix = "evaluate it against the dataset it was made from"
    made_from = meta.get("dataset")
    if made_from is not None and made_from != data.name:
        raise CondenseError(f"{where} was made from {made_from}, not {data.name}; {fix}")
    if tuple(images.shape[1:]) != (data.channel, *data.im_size):
        raise CondenseError(f"{where} holds {tuple(images.shape[1:])} images but {data.name} has {(data.channel, *data.im_size)}; {fix}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= data.num_classes):
        raise CondenseError(
            f"{where} has labels {int(labels.min())}..{int(labels.max())} but {data.name} has {data.num_classes} classes; {fix}"
        )


def run(args: argparse.Namespace) -> None:
    if args.num_nets < 1:
        raise CondenseError(f"--num-nets {args.num_nets} must be at least 1")
    device = resolve_device(args.device)
    data = load_data(args.data, device, with_train=False)  # the set is the training data here
    images, labels, meta = load_set(args.set)
    check_fits(args.set, images, labels, meta, data)
    images, labels = images.to(device), labels.to(device)
    settings = TrainSettings(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, augment=resolve_strategy(args.augment, data.traits)
    )
    # The same test subset for every set and network (its own fixed seed), so rows stay comparable.
    test = subset_per_class(data.test_labels, args.test_per_class, data.num_classes, make_generator(0))
    speed = speed_of(args, device)

    def report(result: dict) -> None:
        log.info(
            "net %d/%d: test acc %.4f, train acc %.4f, %.1f s",
            result["net"] + 1,
            args.num_nets,
            result["test_acc"],
            result["train_acc"],
            result["seconds"],
        )

    meter = EnergyMeter(device)
    meter.start()
    runs = evaluate_set(
        images,
        labels,
        data.test_images[test],
        data.test_labels[test],
        model=args.model,
        num_classes=data.num_classes,
        num_nets=args.num_nets,
        settings=settings,
        seed=args.seed,
        speed=speed,
        hooks=[report],
    )
    cost = {
        "seconds": sum(r["seconds"] for r in runs),
        "device": str(device),
        "peak_host_mb": peak_host_mb(),
        "peak_gpu_mb": peak_gpu_mb(device),
        "energy_j": meter.joules(),
        "energy_meter": meter.name,
    }
    summary = summarize_runs(runs)
    if summary["diverged"]:
        log.warning(
            "%d of %d networks diverged (non-finite training loss); their accuracies are left out of the mean",
            summary["diverged"],
            len(runs),
        )
    if summary["n"]:
        log.info("%s on %s: %.2f ± %.2f (%d nets)", args.model, args.set, summary["mean"], summary["std"], summary["n"])
    write_json(
        {
            "dataset": data.name,
            "published_as": data.traits.published_as,
            "method": meta.get("method"),
            "mask_ratio": meta.get("mask_ratio", 0.0),
            "mask": meta.get("mask"),
            "mask_label": meta.get("mask_label"),
            "mask_paper": meta.get("mask_paper"),
            "mask_source": meta.get("mask_source"),
            "mask_fill": meta.get("mask_fill"),
            "ipc": meta.get("ipc"),
            "set_seed": meta.get("seed"),
            "iteration": meta.get("iteration"),  # a snapshot's condensation iteration (the final set: the last)
            "final": meta.get("final", True),
            "set_seconds": meta.get("seconds"),  # condensation seconds to reach this set
            "set": str(args.set),
            "model": args.model,
            "eval_seed": args.seed,
            "device": str(device),
            "settings": settings.to_dict(),
            "test_images": int(test.numel()),
            "compile": speed.compile,
            **summary,
            "cost": cost,
            "runs": runs,
        },
        args.out,
    )


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
