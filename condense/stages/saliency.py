"""Per-image saliency maps from a registered source, for every training image (paper eq. 3 for ``fcn``).

``condense saliency --source fcn --network fcn.pt --data data.pt --out maps.pt`` writes the maps
file of :mod:`condense.masks.maps` (uint8 N×H×W = round(255·A) in the stored order of the training
set, plus the source and its settings), which ``condense distill --maps`` takes whatever the
source. ``--network`` is what the source reads: the attention FCN (``condense train-attention``)
or the whole-dataset classifier (``condense full-baseline``). ``--figure`` also draws the image,
its map and the masked image for a few images per class.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import save_figure
from ..core.runtime import resolve_device
from ..data.store import load_data
from ..masks.application import mask_images
from ..masks.maps import from_uint8, save_maps
from ..masks.saliency import SOURCES, compute_maps
from ..masks.variant import MaskVariant
from ..models.store import load_network
from ..reporting.figures._style import pyplot
from ..reporting.figures.saliency_maps import Panel, draw_saliency_maps, first_per_class
from ._args import add_common_arguments

log = logging.getLogger("condense.saliency")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="fcn", help=f"saliency source, one of: {', '.join(SOURCES.names())}")
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--network", type=Path, required=True,
                        help="what the source reads: the FCN (`condense train-attention`) or the classifier (`condense full-baseline`)")
    parser.add_argument("--out", type=Path, required=True, help="maps file (.pt, uint8 N×H×W)")
    parser.add_argument("--figure", type=Path, default=None, help="also draw image / map / masked image for a few images per class (PNG; a PDF beside it)")
    parser.add_argument("--per-class-figure", type=int, default=4, help="images per class in the figure")
    parser.add_argument("--batch-size", type=int, default=512)
    add_common_arguments(parser, seed=False)


def run(args: argparse.Namespace) -> None:
    source = SOURCES.get(args.source)
    if args.batch_size < 1:
        raise CondenseError(f"--batch-size {args.batch_size} must be at least 1")
    if args.per_class_figure < 1:
        raise CondenseError(f"--per-class-figure {args.per_class_figure} must be at least 1")
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    net = load_network(args.network, device, kind=source.needs)
    spec = net.network_spec
    if (spec.channel, spec.num_classes) != (data.channel, data.num_classes):
        raise CondenseError(
            f"network {str(args.network)!r} takes {spec.channel}-channel images with {spec.num_classes} classes "
            f"but {data.name} has {data.channel} and {data.num_classes}; train it on this dataset"
        )
    trained_on = net.meta.get("dataset")
    if trained_on is not None and trained_on != data.name:
        log.warning("network was trained on %s, maps are for %s", trained_on, data.name)
    maps = compute_maps(source, net, data.train_images, data.train_labels, args.batch_size)
    save_maps(args.out, maps, data.name, source.name, {"network": str(args.network), **(source.settings or {})})
    mean_a = float(from_uint8(maps).mean()) if maps.numel() else float("nan")
    log.info("%d %s maps (%dx%d, mean attention %.3f) -> %s", maps.shape[0], source.name, maps.shape[1], maps.shape[2], mean_a, args.out)
    if args.figure is not None:
        picks = first_per_class(data, args.per_class_figure)
        idx = torch.cat(picks)
        images = data.train_images[idx.to(device)].float().cpu()
        panels = [Panel("image", "image", images), Panel("attention A", "map", from_uint8(maps[idx])),
                  Panel("x ⊙ A", "image", mask_images(images, maps[idx], MaskVariant(source=source.name)))]
        fig = draw_saliency_maps(data, picks, panels,
                                 f"{data.name}: attention maps (A = sigmoid(logsumexp of class maps)) and masked images")
        save_figure(fig, args.figure)
        pyplot().close(fig)
        log.info("figure -> %s (and %s)", args.figure, args.figure.with_suffix(".pdf"))


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
