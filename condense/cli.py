"""``condense <stage> ...``: one subcommand per pipeline stage.

Each stage module (``condense/stages/``) defines ``add_arguments(parser)`` and ``run(args)``;
stages are imported lazily so ``condense --help`` stays fast. ``python -m condense.stages.<stage>``
runs the same code through :func:`stage_main`. Plugins named in ``CONDENSE_PLUGINS`` are imported
first, so their methods, sources and datasets are in the registries the flags are built from.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

import torch

from .core import signals
from .core.allocator import apply_in_process
from .core.errors import CondenseError
from .core.plugins import load_plugins
from .core.runtime import set_progress, setup_logging
from .stages._args import OneLineParser, check_numbers, check_paths

# command name -> module; add a stage by adding a line here.
STAGES = {
    "download": "condense.stages.download",
    "fixture": "condense.stages.fixture",
    "derive": "condense.stages.derive",
    "full-baseline": "condense.stages.full_baseline",
    "train-attention": "condense.stages.train_attention",
    "saliency": "condense.stages.saliency",
    "score-saliency": "condense.stages.score_saliency",
    "mask": "condense.stages.mask",
    "herding-order": "condense.stages.herding_order",
    "coreset": "condense.stages.coreset",
    "artifact": "condense.stages.artifact",
    "distill": "condense.stages.distill",
    "evaluate": "condense.stages.evaluate",
    "table": "condense.stages.table",
    "cost": "condense.stages.cost",
    "figures": "condense.stages.figures",
    "export": "condense.stages.export",
    "membership": "condense.stages.membership",
}


def _describe(module) -> str:
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def _run(module, parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
        check_numbers(parser, args)  # every numeric flag in its range and finite, before any work
        check_paths(parser, args)  # no output overwrites an input or another output; every output writable
    except CondenseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    apply_in_process()  # the workflow's allocator setting for runs by hand too (core/allocator.py)
    setup_logging(getattr(args, "log", None))
    set_progress(not getattr(args, "quiet", False))
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    try:
        with signals.handled():  # SIGTERM/SIGUSR1: temporary files removed, a condensation checkpointed
            module.run(args)
    except CondenseError as exc:
        logging.getLogger("condense").error(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except signals.Terminated as exc:
        logging.getLogger("condense").warning(str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
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


def _plugins() -> bool:
    try:
        load_plugins()
    except CondenseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not _plugins():
        return 2
    if argv and argv[0] in STAGES:
        module = importlib.import_module(STAGES[argv[0]])
        parser = OneLineParser(prog=f"condense {argv[0]}", description=module.__doc__)
        module.add_arguments(parser)
        return _run(module, parser, argv[1:])
    build_parser().parse_args(argv)  # prints help or the unknown-stage error
    return 2


def stage_main(module_name: str, argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m condense.stages.<stage>``."""
    if not _plugins():
        return 2
    module = importlib.import_module(module_name)
    name = module.__spec__.name if module.__spec__ else module_name  # "__main__" under python -m
    parser = OneLineParser(prog=f"python -m {name}", description=module.__doc__)
    module.add_arguments(parser)
    return _run(module, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
