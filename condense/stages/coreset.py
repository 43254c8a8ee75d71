"""Coreset baselines: real training images picked per class (random, herding, ...), saved as an image set.

Herding takes ``--order`` (the picks of ``condense herding-order``, embedded once for every IPC)
or ``--embed-model`` (a network from ``condense full-baseline``, embedding for this IPC alone).
"""

from __future__ import annotations

import argparse
import logging
import sys

import torch

from ..baselines.coreset import SELECTORS, CoresetInputs, check_ipc, read_herding_order
from ..core.checks import AT_LEAST_ONE
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import make_generator, resolve_device
from ..data.records import Provenance, SyntheticSet
from ..data.store import load_data
from ..models.store import load_network
from ._args import add_common_arguments, add_number, add_path

log = logging.getLogger("condense.coreset")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help=f"one of: {', '.join(SELECTORS.names())}")
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_number(parser, "--ipc", int, AT_LEAST_ONE, required=True, help="images per class")
    add_path(parser, "--embed-model", INPUT, default=None, help="herding: trained network from `condense full-baseline`")
    add_path(parser, "--order", INPUT, default=None, help="herding: picks from `condense herding-order` (instead of --embed-model)")
    add_path(parser, "--out", OUTPUT, required=True, help="image set file (.pt)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    selector = SELECTORS.get(args.method)
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    check_ipc(data, args.ipc)
    inputs = CoresetInputs(
        order=read_herding_order(args.order, data)[0] if args.order is not None else None,
        embed_net=load_network(args.embed_model, device, kind="classifier") if args.embed_model is not None else None,
    )
    picks = selector.select(data, args.ipc, make_generator(args.seed), inputs)
    idx = torch.cat(picks)
    made = Provenance(data.name, args.method, args.ipc, args.seed, indices=tuple(idx.cpu().tolist()))
    SyntheticSet(data.train_images[idx], data.train_labels[idx], made).save(args.out)
    log.info("%s coreset: %d images (%d per class) -> %s", args.method, idx.numel(), args.ipc, args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
