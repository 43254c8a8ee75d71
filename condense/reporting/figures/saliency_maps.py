"""The saliency-map grid: for a few images per class, panels side by side (the image, its map, the masked image, ...).

The caller decides the panels (a stage computes maps and masked images with the masks library);
this module only draws them: one row per class, one group of panels per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...core.errors import CondenseError
from ...data.store import RealData, denormalize
from ._style import pyplot


@dataclass(frozen=True)
class Panel:
    """One panel per image: ``values`` holds it for every picked image, in the order of the picks
    (classes in turn); ``kind`` "image" (normalised images, N×C×H×W) or "map" (N×H×W in [0, 1])."""

    title: str
    kind: str
    values: torch.Tensor


def first_per_class(data: RealData, per_class: int) -> list[torch.Tensor]:
    """The first ``per_class`` training images of every class (indices): the same images for every figure."""
    picks = [idx[:per_class].cpu() for idx in data.class_indices]
    if max((p.numel() for p in picks), default=0) == 0:
        raise CondenseError("no training images to draw; check the dataset file")
    return picks


def draw_saliency_maps(data: RealData, picks: list[torch.Tensor], panels: Sequence[Panel], title: str):
    """One row per picked image (classes in turn, the class named on its first image), one column per panel:
    images de-normalised, maps on a [0, 1] scale."""
    plt = pyplot()
    rows, cols = sum(p.numel() for p in picks), len(panels)
    fig, axes = plt.subplots(rows, cols, figsize=(0.62 * cols + 1.6, 0.62 * rows + 1.8), squeeze=False)
    gray = data.channel == 1
    mappable = None
    shown = []
    for panel in panels:
        values = panel.values.float().cpu()
        shown.append(denormalize(values, data.mean, data.std) if panel.kind == "image" else values)
    names = [data.classes[c] for c, idx in enumerate(picks) for _ in range(idx.numel())]
    first = {sum(p.numel() for p in picks[:c]) for c in range(len(picks))}
    for r in range(rows):
        for ax, panel, values in zip(axes[r], panels, shown):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if panel.kind == "map":
                mappable = ax.imshow(values[r].numpy(), cmap="inferno", vmin=0.0, vmax=1.0)
            elif gray:
                ax.imshow(values[r][0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
            else:
                ax.imshow(values[r].permute(1, 2, 0).numpy())
            if r == 0:
                ax.set_title(panel.title, fontsize=6, rotation=60, ha="left", va="bottom")
        if r in first:
            axes[r, 0].set_ylabel(names[r], fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.09, right=0.9, top=1 - 1.6 / (0.62 * rows + 1.8), bottom=0.01, wspace=0.04, hspace=0.06)
    if mappable is not None:
        cax = fig.add_axes((0.92, 0.2, 0.012, 0.6))
        fig.colorbar(mappable, cax=cax, label="map A")
    return fig


def source_panels(data: RealData, picks: list[torch.Tensor], maps_files: Sequence[dict], mask_images, fills: Sequence[str]) -> list[Panel]:
    """The image, then for each maps file its map and the image masked with each fill (x′ of the
    ``other`` fill: the previous picked image, so the figure needs no random draw). ``mask_images(images,
    maps, source, fill, mean, std, others)`` is the masks library's, passed in by the stage."""
    idx = torch.cat(picks)
    images = data.train_images[idx.to(data.train_images.device)].float().cpu()
    others = images.roll(1, dims=0)
    panels = [Panel("image", "image", images)]
    for stored in maps_files:
        source, maps = stored.get("source", "?"), stored["maps"][idx]
        panels.append(Panel(f"{source}: A", "map", maps.float().div(255.0)))
        for fill in fills:
            panels.append(Panel(f"{fill} fill", "image", mask_images(images, maps, source, fill, data.mean, data.std, others)))
    return panels


def draw_saliency_sources(paths: list, context) -> object:
    """Every given source's maps of the same images (the first per class), and the images masked by each fill."""
    from ...data.maps import load_maps
    from ...data.store import load_data

    data = load_data(context.data)
    maps_files = [load_maps(path) for path in paths]
    for path, stored in zip(paths, maps_files):
        if stored.get("dataset") not in (None, data.name) or stored["maps"].shape[0] != data.train_images.shape[0]:
            raise CondenseError(f"maps file {str(path)!r} does not belong to {data.name}; pass the maps of this dataset")
    picks = first_per_class(data, context.per_class)
    panels = source_panels(data, picks, maps_files, context.mask_images, context.fills)
    sources = ", ".join(m.get("source", "?") for m in maps_files)
    return draw_saliency_maps(
        data,
        picks,
        panels,
        f"{data.name}: saliency maps ({sources}) of the same images, and the images masked with each fill ({', '.join(context.fills)})",
    )


from . import Figure, register_figure  # noqa: E402

register_figure(
    "saliency_maps", Figure(draw_saliency_sources, "maps files from `condense saliency` (one per source), with --data", needs_data=True)
)
