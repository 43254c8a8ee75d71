"""A few training images per class of a dataset that stores its foregrounds, each beside its exact foreground."""

from __future__ import annotations

from pathlib import Path

import torch

from ...core.errors import CondenseError
from ...data.store import load_data
from . import Figure, FigureContext, register_figure
from .saliency_maps import Panel, draw_saliency_maps, first_per_class


def draw_dataset_samples(paths: list[Path], context: FigureContext):
    if len(paths) != 1:
        raise CondenseError(f"dataset_samples draws one data file, got {len(paths)}")
    data = load_data(paths[0])
    if "train_foreground" not in data.extras:
        raise CondenseError(f"dataset {data.name!r} stores no foregrounds; dataset_samples draws derived datasets that do")
    picks = first_per_class(data, context.per_class)
    idx = torch.cat(picks)
    panels = [Panel("image", "image", data.train_images[idx]), Panel("foreground", "map", data.extras["train_foreground"][idx].float())]
    families = data.extras.get("background_families")
    note = f"; backgrounds: {', '.join(families)}" if families else ""
    return draw_saliency_maps(data, picks, panels, f"{data.name}: training images and their exact foregrounds{note}")


register_figure("dataset_samples", Figure(draw_dataset_samples, "the data file of a dataset with foregrounds"))
