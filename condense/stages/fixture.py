"""Write tiny random data in a dataset's exact published file format, plus md5.json, for offline tests.

``condense fixture --dataset cifar10 --out DIR`` writes what the dataset's website serves (see
:mod:`condense.data.fixtures`), so ``condense download --mirror DIR --md5-file DIR/md5.json``
exercises the real extraction and loading code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.checks import AT_LEAST_ONE
from ..core.paths import OUTPUT_DIR
from ..core.runtime import log
from ..data.fixtures import write_fixture
from ..data.sources import DATASETS
from ._args import add_common_arguments, add_number, add_path


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS.names())}")
    add_path(parser, "--out", OUTPUT_DIR, required=True, help="directory for the published-format files and md5.json")
    add_number(parser, "--per-class", int, AT_LEAST_ONE, default=10, help="training images per class (default 10)")
    add_number(parser, "--test-per-class", int, AT_LEAST_ONE, default=5, help="test images per class (default 5)")
    add_common_arguments(parser, seed=True, device=False)


def run(args) -> None:
    result = write_fixture(args.dataset, args.out, per_class=args.per_class, test_per_class=args.test_per_class, seed=args.seed)
    log.info(
        "%s fixture: %d train, %d test images in %s (%s)",
        result["name"],
        result["train_labels"].numel(),
        result["test_labels"].numel(),
        args.out,
        ", ".join(f for f in result["md5"] if (Path(args.out) / f).exists()),
    )


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
