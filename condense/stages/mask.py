"""Choose which training images are masked at a mask ratio r (the ``fixed`` scheme; paper §3.2, Figure 3).

Stores only the selection (see :mod:`condense.masks.selection`): for every class exactly
``floor(r · n_c)`` images, nested across ratios for one seed. It does not depend on the mask
source, so one selection serves the maps of every source.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..core.checks import UNIT
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import make_generator
from ..data.store import read_stored
from ..masks.selection import check_ratio, save_selection, select_masked
from ._args import add_common_arguments, add_number, add_path

log = logging.getLogger("condense.mask")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_number(parser, "--ratio", float, UNIT, required=True, help="mask ratio r in [0, 1]: floor(r·n_c) images of each class are masked")
    add_path(parser, "--out", OUTPUT, required=True, help="mask selection (.pt; no images)")
    add_common_arguments(parser, device=False)


def run(args: argparse.Namespace) -> None:
    ratio = check_ratio(args.ratio)
    stored = read_stored(args.data)
    labels = stored["train_labels"].long()
    num_classes = len(stored["classes"])
    selected = select_masked(labels, num_classes, ratio, make_generator(args.seed))
    per_class = save_selection(args.out, selected, labels, num_classes, ratio, args.seed, stored["name"])
    log.info(
        "mask ratio %g: %d of %d training images masked (%s per class) -> %s",
        ratio,
        int(selected.sum()),
        labels.shape[0],
        per_class,
        args.out,
    )


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
