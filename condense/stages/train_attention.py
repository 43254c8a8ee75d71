"""Train the attention FCN: BCE between pooled class maps and the one-hot label (paper §3.2, eq. 2).

The recipe (pooling, augmentation, cosine schedule) is :mod:`condense.masks.fcn_training`; this
stage reads the dataset, trains and writes the network (the one format of
:mod:`condense.models.store`) and, optionally, a metrics JSON.
"""

from __future__ import annotations

import argparse
import sys

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, UNIT
from ..core.fileio import write_json
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import resolve_device
from ..data.store import load_data
from ..masks.fcn_training import FCNTrainingSettings, train_fcn
from ..models.fcn import FCNS
from ..models.store import save_network
from ._args import add_common_arguments, add_number, add_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    parser.add_argument("--model", default="small_fcn", help=f"attention model, one of: {', '.join(FCNS.names())}")
    parser.add_argument("--pool", default="lse", help="spatial pooling of the class maps: lse (authors' code) or avg (paper)")
    add_number(parser, "--epochs", int, AT_LEAST_ONE, default=10)
    add_number(parser, "--lr", float, POSITIVE, default=0.1, help="initial learning rate (cosine-annealed to --eta-min over all steps)")
    add_number(parser, "--batch-size", int, AT_LEAST_ONE, default=128)
    add_number(parser, "--weight-decay", float, NON_NEGATIVE, default=1e-4)
    add_number(parser, "--momentum", float, UNIT, default=0.9)
    add_number(
        parser, "--per-class", int, NON_NEGATIVE, default=0, help="train on this many images per class (0 = all); for quick profiles"
    )
    parser.add_argument(
        "--augment",
        default="auto",
        help="'_'-joined families applied in turn with per-image parameters (crop, flip, ...), none, "
        "or auto (crop_flip; crop only where a flip changes the class, e.g. digits)",
    )
    add_number(parser, "--crop-pad", int, NON_NEGATIVE, default=4, help="random-crop padding in pixels")
    parser.add_argument(
        "--crop-fill", default="mean", help="what the crop's padding holds: mean (zero in normalised space) or black (the authors')"
    )
    add_number(parser, "--eta-min", float, NON_NEGATIVE, default=0.0, help="floor of the cosine schedule (the authors: 0.001)")
    parser.add_argument(
        "--pretrained",
        default=None,
        help="resnet18_fcn: imagenet (torchvision's weights API, cached or downloaded once) or a LOCAL resnet18 state dict",
    )
    add_path(parser, "--out", OUTPUT, required=True, help="trained FCN (.pt)")
    add_path(parser, "--out-json", OUTPUT, default=None, help="metrics JSON (test accuracy, losses, time, settings)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    settings = FCNTrainingSettings(
        model=args.model,
        pool=args.pool,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        momentum=args.momentum,
        per_class=args.per_class,
        augment=args.augment,
        crop_pad=args.crop_pad,
        crop_fill=args.crop_fill,
        eta_min=args.eta_min,
        pretrained=args.pretrained,
    )
    settings.check()
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    net, metrics = train_fcn(data, settings, args.seed)
    meta = {
        "dataset": data.name,
        "seed": args.seed,
        "n_train": metrics["n_train"],
        "test_acc": metrics["test_acc"],
        "settings": metrics["settings"],
    }
    save_network(args.out, net, meta)
    if args.out_json is not None:
        write_json({"dataset": data.name, "seed": args.seed, "device": str(device), **metrics, "fcn": str(args.out)}, args.out_json)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
