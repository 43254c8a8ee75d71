"""Figure 3 of the paper: test accuracy vs mask ratio, from evaluation JSONs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...core.errors import CondenseError
from ..tables import load_rows, summarize
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def draw_mask_ratio(paths: list[Path], context: FigureContext):
    """One panel per (model, method, IPC) with masked sets; one line per mask variant (source and options),
    starting from the method's unmasked set at ratio 0; error bars = std over networks (and seeds)."""
    table = summarize(load_rows(paths))
    table = table[table["ipc"] != "whole"]
    if table.empty:
        raise CondenseError("mask_ratio: the evaluation files hold no condensed or coreset sets (only whole-dataset runs)")
    datasets = ", ".join(sorted(set(table["dataset"])))
    keys = sorted(
        {(r.model, r.method, r.ipc) for r in table[table["mask_ratio"] > 0].itertuples()},
        key=lambda k: (k[0], context.key(k[1]), int(k[2])),
    )
    plt = pyplot()
    if not keys:
        fig, ax = plt.subplots(figsize=(5.2, 4.2))
        ax.text(0.5, 0.5, "no masked sets evaluated", ha="center", va="center", transform=ax.transAxes)
        suptitle(fig, f"{datasets}: test accuracy vs mask ratio", fontsize=11)
        return fig
    most = max(
        len(set(table[(table["model"] == m) & (table["method"] == me) & (table["ipc"] == i) & (table["mask_ratio"] > 0)]["mask_label"]))
        for m, me, i in keys
    )
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, (4.0 + 0.16 * most) * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    styles = ["-", "--", ":", "-."]
    # one colour per source and one line style per fill over every panel, so a source looks the same in each
    masked = table[table["mask_ratio"] > 0]
    sources, fills = sorted(set(masked["mask_source"])), sorted(set(masked["mask_fill"]))
    for ax, (model, method, ipc) in zip(axes.flat, keys):
        group = table[(table["model"] == model) & (table["method"] == method) & (table["ipc"] == ipc)]
        plain = group[group["mask_ratio"] == 0]
        variants = sorted(set(group.loc[group["mask_ratio"] > 0, "mask_label"]))
        for variant in variants:
            rows = group[(group["mask_ratio"] > 0) & (group["mask_label"] == variant)]
            line = pd.concat([plain, rows]).sort_values("mask_ratio")
            source, fill = rows["mask_source"].iloc[0], rows["mask_fill"].iloc[0]
            ax.errorbar(
                100 * line["mask_ratio"],
                line["mean"],
                yerr=line["std"],
                marker="o",
                capsize=3,
                color=colours(sources.index(source) % 10),
                linestyle=styles[fills.index(fill) % 4],
                label=f"{variant} (n = {'/'.join(str(n) for n in sorted(set(line['n'])))})",
            )
        ax.set_title(f"{context.labels.get(method, method)}, IPC {ipc}, {model}", fontsize=10)
        ax.set_xlabel("mask ratio (% of real images masked)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(-5, 105)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    suptitle(
        fig,
        f"{datasets}: test accuracy vs mask ratio (mean ± std over n networks; 0 % = the unmasked set; colour = source, line style = fill)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


register_figure("mask_ratio", Figure(draw_mask_ratio, "evaluation JSONs (masked and unmasked sets of the same methods)"))
