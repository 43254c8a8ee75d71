"""Membership inference: the LiRA ROC curves on log-log axes (the low false-positive end is what matters,
Carlini et al. 2022, §III), from ``condense membership`` records; one line per pipeline, chance dashed."""

from __future__ import annotations

from pathlib import Path

from ...data.records import MembershipRecord
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def draw_membership(paths: list[Path], context: FigureContext):
    records = [MembershipRecord.load(path) for path in paths]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    low = 1e-5
    for r in records:
        # the points a log axis can show: FPR 0 (the curve's start) has no place on it
        points = [(f, max(t, low)) for f, t in zip(r.roc["fpr"], r.roc["tpr"], strict=True) if f > 0]
        ax.plot(
            [f for f, _ in points], [t for _, t in points], label=f"{r.label}: AUC {r.auc:.3f}, TPR {100 * r.tpr['0.001']:.1f}% at 0.1% FPR"
        )
    ax.plot([low, 1], [low, 1], linestyle="--", color="grey", label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1.05)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    datasets = ", ".join(sorted({r.dataset for r in records}))
    suptitle(fig, f"{datasets}: membership inference (LiRA, {records[0].shadows} shadows) against networks trained on each", 10)
    fig.tight_layout()
    return fig


register_figure("membership", Figure(draw_membership, "membership records (condense membership --out)"))
