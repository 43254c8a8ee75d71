"""Fetch a dataset (or read it from a local mirror), verify its checksums and store it as uint8 tensors.

``condense download --dataset fashionmnist --out results/fashionmnist/data.pt
--mirror /usr/share/datasets/fashion-mnist`` reads Debian's copy; without
``--mirror`` torchvision downloads into ``--root``. ``--md5-file`` overrides the
expected digests (see :mod:`condense.data.sources`). The output is one torch file
holding the dict :func:`condense.data.sources.prepare` returns, written atomically.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import save_torch
from ..core.paths import INPUT, OUTPUT, OUTPUT_DIR
from ..core.runtime import log
from ..data.sources import DATASETS, get_spec, prepare
from ._args import add_common_arguments, add_path


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS.names())}")
    add_path(parser, "--out", OUTPUT, required=True, help="output torch file, e.g. results/fashionmnist/data.pt")
    add_path(
        parser, "--root", OUTPUT_DIR, default=Path("data"), help="directory for the original files in torchvision's layout (default: data)"
    )
    add_path(
        parser,
        "--mirror",
        INPUT,
        default=None,
        help="directory holding the published files (e.g. cifar-10-python.tar.gz); read them there instead of downloading",
    )
    add_path(
        parser,
        "--md5-file",
        INPUT,
        default=None,
        help="JSON {file name: md5} overriding the expected digests (private mirrors, `condense fixture` output)",
    )
    add_common_arguments(parser, seed=False, device=False)


def run(args) -> None:
    get_spec(args.dataset)  # unknown name: fail before any work
    if args.out.is_dir():
        raise CondenseError(f"--out {str(args.out)!r} is a directory; give a file path such as {args.out / 'data.pt'}")
    data = prepare(args.dataset, args.root, mirror=args.mirror, md5_file=args.md5_file)
    k = len(data["classes"])
    for split in ("train", "test"):
        labels = data[f"{split}_labels"]
        counts = torch.bincount(labels, minlength=k).tolist()
        log.info(
            "%s %s: %d images %s, per class min %d max %d",
            data["name"],
            split,
            labels.numel(),
            "×".join(map(str, data[f"{split}_images"].shape[1:])),
            min(counts),
            max(counts),
        )
    save_torch(data, args.out)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
