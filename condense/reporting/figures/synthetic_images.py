"""Figure 4 of the paper: the synthetic images of every condensed set, rows = method, columns = IPC."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.errors import CondenseError
from ...data.records import SyntheticSet
from ...data.store import denormalize, read_stored
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def dataset_info(path: Path) -> dict:
    """Name, class names, mean and std of a stored dataset (for de-normalising and labelling)."""
    stored = read_stored(path)
    return {key: stored[key] for key in ("name", "classes", "mean", "std")}


def set_grid(images, labels, mean, std, num_classes: int) -> np.ndarray:
    """H×W×3 array in [0, 1]: the set de-normalised (as ``condense distill --grid``) and laid out with one
    column per class and one row per image index (a class with fewer images leaves its cell white)."""
    import torch
    from torchvision.utils import make_grid

    shown = denormalize(images.float(), mean, std)
    per_class = [shown[labels == c] for c in range(num_classes)]
    depth = max((x.shape[0] for x in per_class), default=0)
    blank = torch.ones_like(shown[0])
    cells = [per_class[c][j] if j < per_class[c].shape[0] else blank for j in range(depth) for c in range(num_classes)]
    return make_grid(torch.stack(cells), nrow=num_classes, padding=2, pad_value=1.0).permute(1, 2, 0).numpy()


def draw_synthetic_images(paths: list[Path], context: FigureContext):
    """Rows = method (and seed, when several are given), columns = IPC; in a panel one column per class."""
    info = dataset_info(context.data)
    classes = list(info["classes"])
    panels = {}
    for path in paths:
        synthetic = SyntheticSet.load(path)
        images, labels, made = synthetic.images, synthetic.labels, synthetic.provenance
        if made.dataset != info["name"]:
            raise CondenseError(f"image set {str(path)!r} is from {made.dataset}, not {info['name']}; pass sets of one dataset")
        if labels.numel() == 0 or int(labels.min()) < 0 or int(labels.max()) >= len(classes):
            raise CondenseError(f"image set {str(path)!r} has labels outside the {len(classes)} classes of {info['name']} (or no images)")
        method, ratio, ipc = made.method, made.mask_ratio, made.ipc
        panels[((context.key(method, ratio), made.seed), ipc)] = (
            context.label(method, ratio),
            set_grid(images, labels, info["mean"], info["std"], len(classes)),
        )
    rows = sorted({key for key, _ in panels}, key=lambda k: (k[0], k[1] if k[1] is not None else -1))
    ipcs = sorted({ipc for _, ipc in panels})
    several_seeds = len({seed for _, seed in rows}) > 1
    labels_of = {row: next(panels[(row, i)][0] for i in ipcs if (row, i) in panels) for row in rows}
    heights = [max(panels[(r, i)][1].shape[0] for i in ipcs if (r, i) in panels) for r in rows]
    width = max(grid.shape[1] for _, grid in panels.values())  # every panel: one column per class
    scale = min(1 / 45, 16 / (width * len(ipcs)), 40 / sum(heights))  # inches per pixel, figure size capped
    plt = pyplot()
    fig, axes = plt.subplots(
        len(rows),
        len(ipcs),
        squeeze=False,
        figsize=(width * len(ipcs) * scale + 1.5, sum(heights) * scale + 0.25 * len(rows) + 2.0),
        gridspec_kw={"height_ratios": heights},
    )
    centres = [(2 + (width - 2) / len(classes) * (c + 0.5)) for c in range(len(classes))]
    for r, row in enumerate(rows):
        for c, ipc in enumerate(ipcs):
            ax = axes[r, c]
            ax.set_yticks([])
            ax.set_xticks(centres if r == 0 else [])
            if r == 0:
                ax.xaxis.tick_top()
                ax.set_xticklabels(classes, rotation=90, fontsize=7)
                ax.set_title(f"IPC {ipc}", fontsize=10)
            if c == 0:
                ax.set_ylabel(labels_of[row] + (f"\nseed {row[1]}" if several_seeds else ""), fontsize=9)
            if (row, ipc) not in panels:
                ax.imshow(np.ones((heights[r], width, 3)))
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.5")
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            ax.imshow(panels[(row, ipc)][1], interpolation="nearest")
    suptitle(
        fig,
        f"{info['name']}: synthetic images (de-normalised): rows = method, columns = IPC; "
        "in each panel one column per class and one row per image",
    )
    fig.tight_layout()
    return fig


register_figure("synthetic_images", Figure(draw_synthetic_images, "image-set files (.pt), with --data", needs_data=True))
