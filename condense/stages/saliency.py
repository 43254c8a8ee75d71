"""Per-image saliency maps from a registered source, for every training image (paper eq. 3 for ``fcn``).

``condense saliency --source NAME --network FILE --data data.pt --out maps.pt`` writes the maps file
of :mod:`condense.data.maps` (uint8 N×H×W = round(255·A) in the stored order of the training set,
plus the source and its settings), which ``condense distill --maps`` takes whatever the source.
``--network`` is what the source reads: the attention FCN (``condense train-attention``) for
``fcn``, the whole-dataset classifier (``condense full-baseline``) for the attribution sources.
Their parameters (``--samples``, ``--noise``, ``--steps``) default to each method's paper or
Captum's documentation. ``--figure`` also draws the image, its map and the image masked with
each fill for a few images per class (the same images for every source).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict

from ..core.checks import AT_LEAST_ONE
from ..core.errors import CondenseError
from ..core.fileio import save_figure
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import resolve_device
from ..core.settings import build_settings
from ..data.maps import from_uint8, save_maps
from ..data.store import load_data
from ..masks.application import mask_images
from ..masks.fills import FILLS
from ..masks.saliency import SOURCES, SaliencyContext, compute_maps
from ..masks.variant import MaskVariant
from ..models.store import load_network
from ..reporting.figures._style import pyplot
from ..reporting.figures.saliency_maps import draw_saliency_maps, first_per_class, source_panels
from ._args import add_common_arguments, add_number, add_path, add_settings_arguments, given_settings, pdf_beside

log = logging.getLogger("condense.saliency")


def _classes() -> list[type]:
    return [s.settings for _, s in SOURCES.items() if s.settings is not None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="fcn", help=f"saliency source, one of: {', '.join(SOURCES.names())}")
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_path(
        parser,
        "--network",
        INPUT,
        default=None,
        help="what the source reads: the FCN (`condense train-attention`) or the classifier (`condense full-baseline`); "
        "none for gt (the data file's foregrounds)",
    )
    add_path(parser, "--out", OUTPUT, required=True, help="maps file (.pt, uint8 N×H×W)")
    add_path(
        parser,
        "--figure",
        OUTPUT,
        also=pdf_beside,
        default=None,
        help="also draw image / map / masked images for a few images per class (PNG; a PDF beside it)",
    )
    add_number(parser, "--per-class-figure", int, AT_LEAST_ONE, default=4, help="images per class in the figure")
    add_number(parser, "--batch-size", int, AT_LEAST_ONE, default=512)
    add_settings_arguments(parser, _classes(), title="source settings (default: the source's own)")
    add_common_arguments(parser)


def mask_with(images, maps, source, fill, mean, std, others):
    """The masks library's masking of a figure's images: soft maps, the given fill."""
    return mask_images(images, maps, MaskVariant(source=source, fill=fill), mean, std, others)


def run(args: argparse.Namespace) -> None:
    source = SOURCES.get(args.source)
    if args.batch_size < 1:
        raise CondenseError(f"--batch-size {args.batch_size} must be at least 1")
    if args.per_class_figure < 1:
        raise CondenseError(f"--per-class-figure {args.per_class_figure} must be at least 1")
    given = {k: v for k, v in given_settings(args, _classes()).items() if v is not None}
    if source.settings is None:
        if given:
            raise CondenseError(f"source {source.name} takes no settings; drop --{next(iter(given)).replace('_', '-')}")
        settings = None
    else:
        settings = build_settings(source.settings, given, owner=f"source {source.name}")
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    foreground = data.extras.get("train_foreground")
    if source.needs == "foreground":
        if args.network is not None:
            raise CondenseError(f"source {source.name} reads the data file's foregrounds, not a network; drop --network")
        if foreground is None:
            raise CondenseError(
                f"dataset {data.name} stores no foregrounds, which source {source.name} needs; "
                "use a derived dataset that has them (condense derive --kind backgrounds)"
            )
        net = None
    else:
        if args.network is None:
            raise CondenseError(
                f"source {source.name} needs --network (the output of "
                f"{'`condense train-attention`' if source.needs == 'fcn' else '`condense full-baseline`'})"
            )
        net = load_network(args.network, device, kind=source.needs)
        spec = net.network_spec
        if (spec.channel, spec.num_classes) != (data.channel, data.num_classes):
            raise CondenseError(
                f"network {str(args.network)!r} takes {spec.channel}-channel images with {spec.num_classes} classes "
                f"but {data.name} has {data.channel} and {data.num_classes}; train it on this dataset"
            )
        trained_on = net.meta.get("dataset")
        if trained_on is not None and trained_on != data.name:
            raise CondenseError(f"network {str(args.network)!r} was trained on {trained_on}, not {data.name}; pass this dataset's network")
    context = SaliencyContext(mean=data.mean, std=data.std, settings=settings)
    maps = compute_maps(source, net, data.train_images, data.train_labels, context, args.batch_size, args.seed, foreground=foreground)
    recorded = {
        "network": str(args.network) if args.network else None,
        "seed": args.seed,
        "batch_size": args.batch_size,
        **(asdict(settings) if settings else {}),
    }
    save_maps(args.out, maps, data.name, source.name, recorded)
    mean_a = float(from_uint8(maps).mean()) if maps.numel() else float("nan")
    log.info("%d %s maps (%dx%d, mean %.3f) -> %s", maps.shape[0], source.name, maps.shape[1], maps.shape[2], mean_a, args.out)
    if args.figure is not None:
        picks = first_per_class(data, args.per_class_figure)
        panels = source_panels(data, picks, [{"source": source.name, "maps": maps}], mask_with, FILLS.in_order())
        fig = draw_saliency_maps(
            data, picks, panels, f"{data.name}: {source.label} maps ({source.summary}) and the images masked with each fill"
        )
        save_figure(fig, args.figure)
        pyplot().close(fig)
        log.info("figure -> %s (and %s)", args.figure, args.figure.with_suffix(".pdf"))


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
