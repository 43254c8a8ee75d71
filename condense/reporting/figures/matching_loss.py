"""The matching loss per condensation iteration, one panel per base method."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.errors import CondenseError
from ...data.records import SyntheticSet
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def draw_matching_loss(paths: list[Path], context: FigureContext):
    """One panel per base method; a line per (method variant, IPC[, seed]); log y when every loss is positive."""
    curves = []
    for path in paths:
        made = SyntheticSet.load(path).provenance
        if not made.losses:
            raise CondenseError(f"image set {str(path)!r} has no loss curve; only `condense distill` sets have one")
        curves.append(
            (
                made.method,
                made.mask_ratio,
                made.ipc,
                made.seed,
                made.dataset,
                np.asarray(made.losses, dtype=float),
            )
        )
    curves.sort(key=lambda c: (context.key(c[0], c[1]), c[2] or 0, c[3] or 0))
    bases = sorted({c[0] for c in curves}, key=lambda m: context.key(m, 0))
    several_seeds = len({c[3] for c in curves}) > 1
    plt = pyplot()
    fig, axes = plt.subplots(1, len(bases), figsize=(5.2 * len(bases), 4.2), squeeze=False)
    for ax, base in zip(axes[0], bases):
        mine = [c for c in curves if c[0] == base]
        for method, ratio, ipc, seed, _, losses in mine:
            label = f"{context.label(method, ratio)}, IPC {ipc}" + (f", seed {seed}" if several_seeds else "")
            steps = np.arange(losses.size)
            window = max(1, losses.size // 20)
            if window > 1:  # a fresh random network every iteration: show the raw curve faintly and its running mean
                (raw,) = ax.plot(steps, losses, alpha=0.25, linewidth=0.8)
                smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
                ax.plot(steps[window - 1 :], smooth, color=raw.get_color(), label=f"{label} (running mean of {window})")
            else:
                ax.plot(steps, losses, marker="o", markersize=3, label=label)
        if all((c[5] > 0).all() for c in mine):
            ax.set_yscale("log")
        ax.set_title(f"{context.labels.get(base, base)}: {context.loss_labels.get(base, 'method-specific loss')}", fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("matching loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    datasets = ", ".join(sorted({c[4] for c in curves}))
    suptitle(fig, f"{datasets}: matching loss during condensation", fontsize=11)
    fig.tight_layout()
    return fig


register_figure("matching_loss", Figure(draw_matching_loss, "condensed image-set files (.pt) from `condense distill`"))
