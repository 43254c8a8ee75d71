"""Figure 3 of the paper: test accuracy vs mask ratio, from evaluation JSONs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...core.errors import CondenseError
from ..tables import load_rows, summarize
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def draw_mask_ratio(paths: list[Path], context: FigureContext):
    """One panel per model; one line per (method, mask variant, IPC) with at least one masked set, starting from
    the method's unmasked set at ratio 0; error bars = std over networks."""
    table = summarize(load_rows(paths))
    table = table[table["ipc"] != "whole"]
    if table.empty:
        raise CondenseError("mask_ratio: the evaluation files hold no condensed or coreset sets (only whole-dataset runs)")
    datasets = ", ".join(sorted(set(table["dataset"])))
    models = sorted(set(table["model"]))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = table[table["model"] == model]
        lines = 0
        for (method, ipc), group in sorted(rows.groupby(["method", "ipc"]), key=lambda kv: (context.key(kv[0][0], 0), int(kv[0][1]))):
            plain = group[group["mask_ratio"] == 0]
            variants = sorted(set(group.loc[group["mask_ratio"] > 0, "mask_label"]))  # none: not part of the ratio sweep
            for variant in variants:
                line = pd.concat([plain, group[(group["mask_ratio"] > 0) & (group["mask_label"] == variant)]]).sort_values("mask_ratio")
                name = context.label(method) + (f" + mask ({variant})" if len(variants) > 1 else "")
                ax.errorbar(100 * line["mask_ratio"], line["mean"], yerr=line["std"], marker="o", capsize=4,
                            label=f"{name}, IPC {ipc} (n = {'/'.join(str(n) for n in sorted(set(line['n'])))})")
                lines += 1
        if lines == 0:
            ax.text(0.5, 0.5, "no masked sets evaluated", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.legend(fontsize=8)
        ax.set_title(model)
        ax.set_xlabel("mask ratio (% of real images masked)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(-5, 105)
        ax.grid(alpha=0.3)
    suptitle(fig, f"{datasets}: test accuracy vs mask ratio\n(mean ± std over n networks; 0 % = the unmasked set)", fontsize=11)
    fig.tight_layout()
    return fig


register_figure("mask_ratio", Figure(draw_mask_ratio, "evaluation JSONs (masked and unmasked sets of the same methods)"))
