"""Saliency sources: where a per-image map A in [0, 1] comes from, one file per source.

A :class:`SaliencySource` names what it reads (``needs``: the attention FCN, or the whole-dataset
classifier) and has one verb, ``attribute(network, images, labels) -> A`` (B×H×W in [0, 1]), as
Captum gives each attribution method one ``attribute``. :func:`compute_maps` runs any source over
a training set in batches and stores uint8 maps (``condense saliency``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from ...core.registry import Registry
from ...core.runtime import progress
from ..maps import to_uint8


@dataclass(frozen=True)
class SaliencySource:
    name: str
    label: str
    needs: str  # "fcn" (condense train-attention) or "classifier" (condense full-baseline)
    attribute: Callable[[torch.nn.Module, Tensor, Tensor], Tensor]
    summary: str = ""
    settings: Optional[dict] = None  # the source's own parameters, recorded in the maps file


SOURCES: Registry[SaliencySource] = Registry("saliency source")


def register_source(source: SaliencySource) -> SaliencySource:
    SOURCES.add(source.name, source)
    return source


def compute_maps(source: SaliencySource, network: torch.nn.Module, images: Tensor, labels: Tensor,
                 batch_size: int = 512, desc: Optional[str] = None) -> Tensor:
    """uint8 maps (N, H, W) on the CPU for normalised images (N, C, H, W), in batches."""
    network.eval()
    chunks = []
    for start in progress(range(0, images.shape[0], batch_size), desc=desc or f"{source.name} maps", unit="batch"):
        stop = start + batch_size
        chunks.append(to_uint8(source.attribute(network, images[start:stop], labels[start:stop])).cpu())
    if not chunks:
        return torch.zeros((0, *images.shape[2:]), dtype=torch.uint8)
    return torch.cat(chunks)


from . import fcn  # noqa: E402,F401  (registers "fcn")
