"""Saliency score vs condensed accuracy: does the map that finds the object make the better masked set?

Inputs: a ``condense score-saliency --out-json`` file and evaluation JSONs. One panel per (method,
IPC, model); one point per (source, fill) of the sets masked at ratio 1 — x the source's share of
map mass inside the foreground, y the test accuracy (mean ± std over networks) — and the unmasked
set's accuracy as a line (its band: ± std).
"""

from __future__ import annotations

from pathlib import Path

from ...core.errors import CondenseError
from ...core.fileio import read_json
from ..tables import load_rows, summarize
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle

MARKERS = {"mean": "o", "black": "s", "other": "^"}


def draw_score_vs_accuracy(paths: list[Path], context: FigureContext):
    scores, evals = {}, []
    for path in paths:
        content = read_json(path, what="scores or evaluation")
        if "rows" in content and "runs" not in content:
            scores = {row["source"]: row for row in content["rows"]}
        else:
            evals.append(path)
    if not scores or not evals:
        raise CondenseError("score_vs_accuracy needs a `condense score-saliency --out-json` file and evaluation JSONs")
    table = summarize(load_rows(evals))
    table = table[table["ipc"] != "whole"]
    masked = table[(table["mask_ratio"] == 1.0) & (table["mask_source"].isin(list(scores)))]
    keys = sorted({(r.method, r.ipc, r.model) for r in masked.itertuples()}, key=lambda k: (context.key(k[0]), int(k[1]), k[2]))
    if not keys:
        raise CondenseError("score_vs_accuracy: no set masked at ratio 1 by a scored source among the evaluations")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.8 * len(keys), 4.2), squeeze=False)
    for ax, (method, ipc, model) in zip(axes[0], keys):
        plain = table[(table["method"] == method) & (table["ipc"] == ipc) & (table["model"] == model) & (table["mask_ratio"] == 0)]
        if not plain.empty:
            p = plain.iloc[0]
            ax.axhline(p["mean"], color="0.3", linestyle="--", label=f"no mask ({p['mean']:.1f} ± {p['std']:.1f})")
            ax.axhspan(p["mean"] - p["std"], p["mean"] + p["std"], color="0.85")
        rows = masked[(masked["method"] == method) & (masked["ipc"] == ipc) & (masked["model"] == model)]
        for fill, group in rows.groupby("mask_fill"):
            xs = [scores[s]["mass"] for s in group["mask_source"]]
            ax.errorbar(xs, group["mean"], yerr=group["std"], fmt=MARKERS.get(fill, "D"), capsize=3, label=f"{fill} fill")
            for x, y, source in zip(xs, group["mean"], group["mask_source"]):
                ax.annotate(source, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
        ax.set_title(f"{context.labels.get(method, method)}, IPC {ipc}, {model}", fontsize=10)
        ax.set_xlabel("map mass inside the foreground")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    datasets = ", ".join(sorted(set(table["dataset"])))
    suptitle(fig, f"{datasets}: saliency score vs accuracy of the set masked at ratio 1 (mean ± std over networks)", fontsize=11)
    fig.tight_layout()
    return fig


register_figure("score_vs_accuracy", Figure(draw_score_vs_accuracy, "a saliency-scores JSON and evaluation JSONs"))
