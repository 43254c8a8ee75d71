"""``condense <stage> ...``: one subcommand per pipeline stage.

Each stage module defines ``add_arguments(parser)`` and ``run(args)``; stages
are imported lazily so ``condense --help`` stays fast. ``python -m condense.<stage>``
runs the same code through :func:`stage_main`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

import torch

from .errors import CondenseError
from .runtime import set_progress, setup_logging

# command name -> module; add a stage by adding a line here.
STAGES = {
    "download": "condense.download",
    "fixture": "condense.fixtures",
    "full-baseline": "condense.full_baseline",
    "train-attention": "condense.train_attention",
    "attention-maps": "condense.attention_maps",
    "mask": "condense.mask",
    "herding-order": "condense.herding_order",
    "coreset": "condense.coreset",
    "distill": "condense.distill",
    "evaluate": "condense.evaluate",
    "table": "condense.table",
    "figures": "condense.figures",
}

def _describe(module) -> str:
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def _run(module, parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "log", None))
    set_progress(not getattr(args, "quiet", False))
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    try:
        module.run(args)
    except CondenseError as exc:
        logging.getLogger("condense").error(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="condense", description=__doc__.strip().splitlines()[0])
    sub = parser.add_subparsers(dest="stage", metavar="STAGE")
    sub.required = True
    for name, module_name in STAGES.items():
        module = importlib.import_module(module_name)
        stage_parser = sub.add_parser(name, help=_describe(module), description=module.__doc__)
        module.add_arguments(stage_parser)
        stage_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in STAGES:
        module = importlib.import_module(STAGES[argv[0]])
        parser = argparse.ArgumentParser(prog=f"condense {argv[0]}", description=module.__doc__)
        module.add_arguments(parser)
        return _run(module, parser, argv[1:])
    build_parser().parse_args(argv)  # prints help or the unknown-stage error
    return 2


def stage_main(module_name: str, argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m condense.<stage>``."""
    module = importlib.import_module(module_name)
    name = module.__spec__.name if module.__spec__ else module_name  # "__main__" under python -m
    parser = argparse.ArgumentParser(prog=f"python -m {name}", description=module.__doc__)
    module.add_arguments(parser)
    return _run(module, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
