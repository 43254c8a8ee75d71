"""Coreset baselines: real training images picked per class, saved as an image set.

``random`` draws IPC images of each class uniformly without replacement.
``herding`` (Welling 2009, the coreset baseline of the DC paper) greedily picks,
per class, the image that keeps the running mean of the picked embeddings closest
to the class mean; embeddings come from the whole-dataset baseline's network.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable

import torch

from .data import RealData, load_data, subset_per_class
from .errors import CondenseError
from .registry import Registry
from .runtime import add_common_arguments, make_generator, resolve_device
from .synset import save_set

log = logging.getLogger("condense.coreset")

# name -> selector(data, ipc, generator, args) -> list of per-class index tensors into data.train_images
SELECTORS: Registry[Callable] = Registry("coreset method")


def herding_order(features: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of ``k`` rows picked greedily so the mean of the picked rows tracks the mean of all rows."""
    mu = features.mean(0)
    picked_sum = torch.zeros_like(mu)
    available = torch.ones(features.shape[0], dtype=torch.bool, device=features.device)
    order = []
    for step in range(1, k + 1):
        dist = ((mu - (picked_sum + features) / step) ** 2).sum(1)
        dist = dist.masked_fill(~available, float("inf"))
        i = torch.argmin(dist)
        order.append(i)
        picked_sum += features[i]
        available[i] = False
    return torch.stack(order)


@SELECTORS.register("random")
def select_random(data: RealData, ipc: int, generator: torch.Generator, args) -> list[torch.Tensor]:
    return list(subset_per_class(data.train_labels, ipc, data.num_classes, generator).split(ipc))


@SELECTORS.register("herding")
def select_herding(data: RealData, ipc: int, generator: torch.Generator, args) -> list[torch.Tensor]:
    from .full_baseline import load_trained

    if args.embed_model is None:
        raise CondenseError("herding needs --embed-model (a network from `condense full-baseline`)")
    net = load_trained(args.embed_model, data.train_images.device)
    picks = []
    with torch.no_grad():
        for idx in data.class_indices:
            feats = torch.cat([net.embed(data.train_images[chunk]) for chunk in idx.split(1024)])
            picks.append(idx[herding_order(feats, ipc)])
    return picks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help=f"one of: {', '.join(SELECTORS.names())}")
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--ipc", type=int, required=True, help="images per class")
    parser.add_argument("--embed-model", type=Path, default=None, help="herding: trained network from `condense full-baseline`")
    parser.add_argument("--out", type=Path, required=True, help="image set file (.pt)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    select = SELECTORS.get(args.method)
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    smallest = min(data.class_size(c) for c in range(data.num_classes))
    if not 1 <= args.ipc <= smallest:
        raise CondenseError(f"--ipc {args.ipc} is outside 1..{smallest} (the smallest class of {data.name}); lower it")
    picks = select(data, args.ipc, make_generator(args.seed), args)
    idx = torch.cat(picks)
    meta = {"dataset": data.name, "method": args.method, "ipc": args.ipc, "seed": args.seed, "indices": idx.cpu().tolist()}
    save_set(args.out, data.train_images[idx], data.train_labels[idx], meta)
    log.info("%s coreset: %d images (%d per class) -> %s", args.method, idx.numel(), args.ipc, args.out)


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
