"""Train the attention FCN: BCE between pooled class maps and the one-hot label (paper §3.2, eq. 2).

The recipe (pooling, augmentation, cosine schedule) is :mod:`condense.masks.fcn_training`; this
stage reads the dataset, trains and writes the network (the one format of
:mod:`condense.models.store`) and, optionally, a metrics JSON.
"""

from __future__ import annotations

import argparse
import sys

from ..core.fileio import write_json
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import resolve_device
from ..core.settings import build_settings
from ..data.store import load_data
from ..masks.fcn_training import FCNTrainingSettings, train_fcn
from ..models.store import save_network
from ._args import add_common_arguments, add_path, add_settings_arguments, given_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_settings_arguments(parser, [FCNTrainingSettings], title="FCN training (default: the authors' setting)")
    add_path(parser, "--out", OUTPUT, required=True, help="trained FCN (.pt)")
    add_path(parser, "--out-json", OUTPUT, default=None, help="metrics JSON (test accuracy, losses, time, settings)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    settings = build_settings(FCNTrainingSettings, given_settings(args, [FCNTrainingSettings]), owner="train-attention")
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
