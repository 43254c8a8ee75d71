"""Coreset baselines: real training images picked per class, saved as an image set.

``random`` draws IPC images of each class uniformly without replacement.
``herding`` (Welling 2009, the coreset baseline of the DC paper) greedily picks,
per class, the image that keeps the running mean of the picked embeddings closest
to the class mean; embeddings come from the whole-dataset baseline's network.

The greedy order is nested (the first k picks for IPC k are the first k for any
larger IPC) and does not depend on the seed, so ``condense herding-order`` embeds
the training set once and stores the first K picks of every class; ``coreset
--method herding --order FILE`` then takes the first k of them. ``--embed-model``
instead computes the order for k directly.
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
from .fileio import load_torch
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


ORDER_FORMAT = 1


def check_ipc(data: RealData, ipc: int) -> None:
    """IPC must be 1..the smallest class of ``data``."""
    smallest = min(data.class_size(c) for c in range(data.num_classes))
    if not 1 <= ipc <= smallest:
        raise CondenseError(f"--ipc {ipc} is outside 1..{smallest} (the smallest class of {data.name}); lower it")


def herding_picks(data: RealData, net: torch.nn.Module, k: int) -> list[torch.Tensor]:
    """Per class, the first ``k`` herding picks (in greedy order) as indices into ``data.train_images``."""
    picks = []
    with torch.no_grad():
        for idx in data.class_indices:
            feats = torch.cat([net.embed(data.train_images[chunk]) for chunk in idx.split(1024)])
            picks.append(idx[herding_order(feats, k)])
    return picks


def load_herding_order(path: str | Path, data: RealData, ipc: int) -> list[torch.Tensor]:
    """The first ``ipc`` picks of every class from a ``condense herding-order`` file, checked against ``data``."""
    stored = load_torch(path, what="herding order")
    if not isinstance(stored, dict) or not {"dataset", "ipc", "picks"} <= set(stored) or not torch.is_tensor(stored["picks"]):
        raise CondenseError(f"herding order file {str(path)!r} lacks dataset/ipc/picks; rerun `condense herding-order`")
    if stored["dataset"] != data.name:
        raise CondenseError(
            f"herding order file {str(path)!r} is for dataset {stored['dataset']!r}, not {data.name!r}; "
            f"rerun `condense herding-order --data` with this dataset"
        )
    if ipc > stored["ipc"]:
        raise CondenseError(
            f"--ipc {ipc} exceeds the {stored['ipc']} picks per class in herding order file {str(path)!r}; "
            f"rerun `condense herding-order --ipc {ipc}` (or larger)"
        )
    picks = stored["picks"].to(data.train_labels.device)
    if picks.shape != (data.num_classes, stored["ipc"]) or int(picks.max()) >= data.train_labels.numel():
        raise CondenseError(
            f"herding order file {str(path)!r} holds picks {tuple(picks.shape)} that do not fit the training set of "
            f"{data.name} ({data.num_classes} classes, {data.train_labels.numel()} images); rerun `condense herding-order`"
        )
    labels = data.train_labels[picks]
    if not torch.equal(labels, torch.arange(data.num_classes, device=labels.device).unsqueeze(1).expand_as(labels)):
        raise CondenseError(
            f"herding order file {str(path)!r} picks images of the wrong class for this copy of {data.name}; "
            f"rerun `condense herding-order` on this dataset file"
        )
    return list(picks[:, :ipc])


@SELECTORS.register("herding")
def select_herding(data: RealData, ipc: int, generator: torch.Generator, args) -> list[torch.Tensor]:
    order, embed_model = getattr(args, "order", None), getattr(args, "embed_model", None)
    if order is None and embed_model is None:
        raise CondenseError(
            "herding needs --order (from `condense herding-order`) or --embed-model (a network from `condense full-baseline`)"
        )
    if order is not None and embed_model is not None:
        raise CondenseError("herding takes --order or --embed-model, not both; drop one")
    if order is not None:
        return load_herding_order(order, data, ipc)
    from .full_baseline import load_trained

    return herding_picks(data, load_trained(embed_model, data.train_images.device), ipc)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help=f"one of: {', '.join(SELECTORS.names())}")
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--ipc", type=int, required=True, help="images per class")
    parser.add_argument("--embed-model", type=Path, default=None, help="herding: trained network from `condense full-baseline`")
    parser.add_argument("--order", type=Path, default=None, help="herding: picks from `condense herding-order` (instead of --embed-model)")
    parser.add_argument("--out", type=Path, required=True, help="image set file (.pt)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    select = SELECTORS.get(args.method)
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    check_ipc(data, args.ipc)
    picks = select(data, args.ipc, make_generator(args.seed), args)
    idx = torch.cat(picks)
    meta = {"dataset": data.name, "method": args.method, "ipc": args.ipc, "seed": args.seed, "indices": idx.cpu().tolist()}
    save_set(args.out, data.train_images[idx], data.train_labels[idx], meta)
    log.info("%s coreset: %d images (%d per class) -> %s", args.method, idx.numel(), args.ipc, args.out)


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
