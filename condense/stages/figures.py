"""Draw one registered figure (``condense/reporting/figures/``) from an explicit list of input files.

``condense figures NAME FILE... --out FIG.png`` writes the PNG and a PDF beside it (same stem).
Method labels and order come from the registries (coresets first, then condensation methods).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..baselines.coreset import SELECTORS
from ..core.checks import AT_LEAST_ONE
from ..core.errors import CondenseError
from ..core.fileio import save_figure
from ..core.paths import INPUT, OUTPUT
from ..masks.application import mask_images
from ..masks.fills import FILLS
from ..masks.variant import MaskVariant
from ..methods import METHODS
from ..reporting.figures import FIGURES, FigureContext
from ..reporting.figures._style import pyplot
from ._args import add_common_arguments, add_number, add_path, pdf_beside

log = logging.getLogger("condense.figures")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("figure", choices=FIGURES.names(), help="which figure to draw")
    add_path(
        parser,
        "inputs",
        INPUT,
        nargs="*",
        help="input files: " + "; ".join(f"{name}: {FIGURES.get(name).inputs}" for name in FIGURES.names()),
    )
    add_path(parser, "--out", OUTPUT, also=pdf_beside, required=True, help="PNG path; the PDF is written beside it")
    add_path(parser, "--data", INPUT, default=None, help="dataset file (synthetic_images, saliency_maps: mean/std and class names)")
    add_number(parser, "--per-class", int, AT_LEAST_ONE, default=2, help="saliency_maps: images per class")
    add_common_arguments(parser, seed=False, device=False)


def mask_with(images, maps, source, fill, mean, std, others):
    return mask_images(images, maps, MaskVariant(source=source, fill=fill), mean, std, others)


def context(data: Path | None, per_class: int = 2) -> FigureContext:
    labels = {name: s.label for name, s in SELECTORS.items()} | {name: s.label for name, s in METHODS.items()}
    order = SELECTORS.in_order() + METHODS.in_order()
    return FigureContext(
        data=data,
        labels=labels,
        order=tuple(order),
        loss_labels={name: s.loss_label for name, s in METHODS.items()},
        mask_images=mask_with,
        fills=tuple(FILLS.in_order()),
        per_class=per_class,
    )


def run(args: argparse.Namespace) -> None:
    figure = FIGURES.get(args.figure)
    if not args.inputs:
        raise CondenseError(f"figure {args.figure} needs input files ({figure.inputs}); none were given")
    if figure.needs_data and args.data is None:
        raise CondenseError(f"figure {args.figure} needs --data (the dataset file, for de-normalising and class names)")
    missing = [str(p) for p in args.inputs if not p.is_file()]
    if missing:
        raise CondenseError(
            f"figure {args.figure}: input file {missing[0]!r} does not exist"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; run the stage that makes it first"
        )
    if args.out.suffix.lower() != ".png":
        raise CondenseError(f"--out {str(args.out)!r} must end in .png (the PDF is written beside it)")
    if args.per_class < 1:
        raise CondenseError(f"--per-class {args.per_class} must be at least 1")
    fig = figure.draw(list(args.inputs), context(args.data, args.per_class))
    png, pdf = save_figure(fig, args.out)
    pyplot().close(fig)
    log.info("%s from %d files -> %s, %s", args.figure, len(args.inputs), png, pdf)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
