"""Saliency sources: where a per-image map A in [0, 1] comes from, one file per source.

A :class:`SaliencySource` names what it reads (``needs``: the attention FCN, or the whole-dataset
classifier), its own settings dataclass (samples, steps; defaults from each method's paper or
Captum's documentation) and has one verb, ``attribute(network, images, labels, context) -> A``
(B×H×W in [0, 1]), as Captum gives each attribution method one ``attribute``.
:func:`compute_maps` runs any source over a training set in batches, seeded per batch, and
returns uint8 maps (``condense saliency``).

- ``fcn``: the paper's attention FCN, A = sigmoid(logsumexp of its class maps);
- ``gradcam``, ``smoothgrad``, ``integrated_gradients``, ``guided_backprop``: attributions of the
  whole-dataset network for the image's own label (Captum), turned into maps by one per-image
  normalisation (``_attribution.to_unit_map``);
- ``gt``: the exact foreground as the map, an oracle, for datasets that store it (``backgrounds``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ...core.registry import Registry
from ...core.runtime import derive_seed, progress
from ...data.maps import to_uint8


@dataclass(frozen=True)
class SaliencyContext:
    """What ``attribute`` gets besides the network and the batch."""

    mean: Sequence[float]  # the dataset's normalisation: the black image is (0 - mean) / std
    std: Sequence[float]
    settings: Any = None  # the source's settings dataclass instance (None for a source without settings)
    foreground: Tensor | None = None  # the batch's exact foregrounds (B×H×W bool), for datasets that store them


@dataclass(frozen=True)
class SaliencySource:
    name: str
    label: str
    needs: str  # "fcn" (condense train-attention), "classifier" (condense full-baseline) or "foreground" (the data file's)
    attribute: Callable[[torch.nn.Module, Tensor, Tensor, SaliencyContext], Tensor]
    settings: type | None = None  # frozen dataclass of the source's parameters (fields made with `setting`)
    summary: str = ""


SOURCES: Registry[SaliencySource] = Registry("saliency source")


def register_source(source: SaliencySource) -> SaliencySource:
    SOURCES.add(source.name, source)
    return source


def compute_maps(
    source: SaliencySource,
    network: torch.nn.Module | None,
    images: Tensor,
    labels: Tensor,
    context: SaliencyContext,
    batch_size: int = 512,
    seed: int = 0,
    desc: str | None = None,
    foreground: Tensor | None = None,
) -> Tensor:
    """uint8 maps (N, H, W) on the CPU for normalised images (N, C, H, W), in batches. Torch's global
    generator is seeded from (seed, batch start) before each batch, so a source that draws noise
    (SmoothGrad) gives the same maps for the same seed and batch size. ``foreground``: the images'
    exact foregrounds (N×H×W), handed to the source batch by batch."""
    if network is not None:
        network.eval()
    chunks = []
    for start in progress(range(0, images.shape[0], batch_size), desc=desc or f"{source.name} maps", unit="batch"):
        stop = start + batch_size
        torch.manual_seed(derive_seed(seed, start))
        batch_context = context if foreground is None else replace(context, foreground=foreground[start:stop])
        chunks.append(to_uint8(source.attribute(network, images[start:stop], labels[start:stop], batch_context)).cpu())
    if not chunks:
        return torch.zeros((0, *images.shape[2:]), dtype=torch.uint8)
    return torch.cat(chunks)


# isort: off
# registration order is display order (tables, figures): keep it as written
from . import fcn  # noqa: E402, F401  (registers the source)
from . import gradcam  # noqa: E402, F401  (registers the source)
from . import smoothgrad  # noqa: E402, F401  (registers the source)
from . import integrated_gradients  # noqa: E402, F401  (registers the source)
from . import guided_backprop  # noqa: E402, F401  (registers the source)
from . import gt  # noqa: E402, F401  (registers the source)
# isort: on
