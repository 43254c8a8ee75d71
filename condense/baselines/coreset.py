"""Coreset baselines: real training images picked per class (registry :data:`SELECTORS`).

``random`` draws IPC images of each class uniformly without replacement. ``herding`` (Welling
2009, the coreset baseline of the DC paper) greedily picks, per class, the image that keeps the
running mean of the picked embeddings closest to the class mean; embeddings come from the
whole-dataset baseline's network.

The greedy order is nested (the first k picks for IPC k are the first k for any larger IPC) and
does not depend on the seed, so :func:`herding_picks` can embed the training set once and store
the first K picks of every class (``condense herding-order``); the IPC-k coreset is then the
first k of them (:func:`read_herding_order`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch
from ..core.registry import Registry
from ..data.store import RealData, subset_per_class

ORDER_FORMAT = 1


@dataclass(frozen=True)
class CoresetInputs:
    """What a selector may need besides the data: herding's stored order or its embedding network."""

    order: torch.Tensor | None = None  # classes × K picks from a herding order file
    embed_net: torch.nn.Module | None = None


@dataclass(frozen=True)
class Selector:
    name: str
    label: str
    select: Callable[[RealData, int, torch.Generator, CoresetInputs], list[torch.Tensor]]  # per-class index tensors
    summary: str = ""


SELECTORS: Registry[Selector] = Registry("coreset method")


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


def save_herding_order(path: str | Path, picks: list[torch.Tensor], data: RealData, k: int, embed_model: str) -> None:
    save_torch(
        {"format": ORDER_FORMAT, "dataset": data.name, "ipc": k, "embed_model": embed_model, "picks": torch.stack(picks).long().cpu()}, path
    )


def read_herding_order(path: str | Path, data: RealData) -> tuple[torch.Tensor, int]:
    """(picks, K) of a herding order file, checked against ``data``."""
    stored = load_torch(path, what="herding order")
    if not isinstance(stored, dict) or not {"dataset", "ipc", "picks"} <= set(stored) or not torch.is_tensor(stored["picks"]):
        raise CondenseError(f"herding order file {str(path)!r} lacks dataset/ipc/picks; rerun `condense herding-order`")
    if stored["dataset"] != data.name:
        raise CondenseError(
            f"herding order file {str(path)!r} is for dataset {stored['dataset']!r}, not {data.name!r}; "
            f"rerun `condense herding-order --data` with this dataset"
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
    return picks, int(stored["ipc"])


def _random(data: RealData, ipc: int, generator: torch.Generator, inputs: CoresetInputs) -> list[torch.Tensor]:
    return list(subset_per_class(data.train_labels, ipc, data.num_classes, generator, flag="--ipc", zero_for_all=False).split(ipc))


def _herding(data: RealData, ipc: int, generator: torch.Generator, inputs: CoresetInputs) -> list[torch.Tensor]:
    if inputs.order is None and inputs.embed_net is None:
        raise CondenseError(
            "herding needs --order (from `condense herding-order`) or --embed-model (a network from `condense full-baseline`)"
        )
    if inputs.order is not None and inputs.embed_net is not None:
        raise CondenseError("herding takes --order or --embed-model, not both; drop one")
    if inputs.order is not None:
        if ipc > inputs.order.shape[1]:
            raise CondenseError(
                f"--ipc {ipc} exceeds the {inputs.order.shape[1]} picks per class in the herding order file; "
                f"rerun `condense herding-order --ipc {ipc}` (or larger)"
            )
        return list(inputs.order[:, :ipc])
    return herding_picks(data, inputs.embed_net, ipc)


SELECTORS.add("random", Selector("random", "random", _random, "IPC real images per class, uniformly without replacement"))
SELECTORS.add("herding", Selector("herding", "herding", _herding, "greedy herding in the whole-dataset network's feature space"))
