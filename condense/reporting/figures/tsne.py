"""Synthetic sets in feature space (the DM paper's figure): real test images and each set's synthetic images
of a few classes, embedded by the whole-dataset network and projected with t-SNE (scikit-learn).

Inputs: the whole-dataset network (``condense full-baseline``) and condensed set files, with ``--data``.
One panel per set (its own t-SNE of the real points and its synthetic ones); real points small and
coloured by class, synthetic images as stars with a dark edge. Classes: the first ``TSNE_CLASSES``;
real points: ``TSNE_PER_CLASS`` test images of each, one fixed random subset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...core.errors import CondenseError
from ...core.fileio import load_torch
from ...core.runtime import make_generator
from ...data.records import SyntheticSet
from ...data.store import load_data, subset_per_class
from ...models.store import load_network
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle

TSNE_CLASSES = 5
TSNE_PER_CLASS = 200


@torch.no_grad()
def embed(net, images: torch.Tensor, batch: int = 500) -> np.ndarray:
    return torch.cat([net.embed(images[i : i + batch]) for i in range(0, images.shape[0], batch)]).cpu().numpy()


def draw_tsne(paths: list[Path], context: FigureContext):
    from sklearn.manifold import TSNE

    networks = [p for p in paths if isinstance(load_torch(p, what="t-SNE input"), dict) and "kind" in load_torch(p, what="t-SNE input")]
    sets = [p for p in paths if p not in networks]
    if len(networks) != 1 or not sets:
        raise CondenseError("tsne needs the whole-dataset network (condense full-baseline) and at least one set file")
    data = load_data(context.data, with_train=False)
    net = load_network(networks[0], kind="classifier")
    classes = min(TSNE_CLASSES, data.num_classes)
    keep = data.test_labels < classes
    idx = subset_per_class(data.test_labels[keep], min(TSNE_PER_CLASS, int(keep.sum()) // classes), classes, make_generator(0))
    real_x, real_y = data.test_images[keep][idx], data.test_labels[keep][idx]
    real_f = embed(net, real_x)
    panels = []
    for path in sets:
        synthetic = SyntheticSet.load(path)
        images, labels, made = synthetic.images, synthetic.labels, synthetic.provenance
        mine = labels < classes
        if not bool(mine.any()):
            continue
        syn_f = embed(net, images[mine])
        both = np.concatenate([real_f, syn_f])
        xy = TSNE(n_components=2, init="pca", perplexity=min(30.0, (both.shape[0] - 1) / 3), random_state=0).fit_transform(both)
        name = context.labels.get(made.method, made.method)
        panels.append((f"{name}, IPC {made.ipc}", xy[: len(real_f)], xy[len(real_f) :], labels[mine].numpy()))
    if not panels:
        raise CondenseError(f"tsne: no set has images of the first {classes} classes")
    plt = pyplot()
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.4 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, (title, real_xy, syn_xy, syn_y) in zip(axes.flat, panels):
        for c in range(classes):
            ax.scatter(*real_xy[real_y.numpy() == c].T, s=4, alpha=0.35, color=colours(c), label=data.classes[c])
            ax.scatter(*syn_xy[syn_y == c].T, s=160, marker="*", color=colours(c), edgecolors="black", linewidths=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, markerscale=2, loc="best")
    suptitle(
        fig,
        f"{data.name}: real test images (dots) and synthetic images (stars) of {classes} classes in the "
        f"whole-dataset network's feature space (t-SNE, one per set)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


register_figure("tsne", Figure(draw_tsne, "the whole-dataset network (.pt) and condensed set files, with --data", needs_data=True))
