"""Embed the training set once and store the first K herding picks of every class.

Herding's greedy order is nested and seed-free: the IPC-k coreset is the first k picks of each
class for any k <= K. This stage pays the embedding of the whole training set (through the
whole-dataset baseline's network) once; ``condense coreset --method herding --order FILE --ipc k``
then slices the file. The file holds ``picks`` (int64, classes x K, indices into the training set
in greedy order) and ``dataset``, ``ipc`` (K), ``embed_model`` and ``format``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..baselines.coreset import check_ipc, herding_picks, save_herding_order
from ..core.checks import AT_LEAST_ONE
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import resolve_device
from ..data.store import load_data
from ..models.store import load_network
from ._args import add_common_arguments, add_number, add_path

log = logging.getLogger("condense.herding_order")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_path(parser, "--embed-model", INPUT, required=True, help="trained network from `condense full-baseline`")
    add_number(parser, "--ipc", int, AT_LEAST_ONE, required=True, help="K: picks per class to store (the largest IPC needed)")
    add_path(parser, "--out", OUTPUT, required=True, help="herding order file (.pt)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    check_ipc(data, args.ipc)
    picks = herding_picks(data, load_network(args.embed_model, device, kind="classifier"), args.ipc)
    save_herding_order(args.out, picks, data, args.ipc, str(args.embed_model))
    log.info("herding order: %d picks for each of %d classes of %s -> %s", args.ipc, data.num_classes, data.name, args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
