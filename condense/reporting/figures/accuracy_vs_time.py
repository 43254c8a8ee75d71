"""Test accuracy over the course of condensation, against condensation seconds and against iterations.

Inputs: evaluation JSONs of snapshots (``condense distill --snapshot-at``) and of the final sets. One
line per unmasked method and IPC (mean ± std over every network of every seed at a point), as the DM
paper compares DSA and DM on one time axis: the left panel's x is the condensation seconds it took to
reach the set (log scale), the right panel's the iteration.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from ...core.errors import CondenseError
from ...data.records import EvalRecord
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def draw_accuracy_vs_time(paths: list[Path], context: FigureContext):
    points: dict = {}
    datasets, models = set(), set()
    for path in paths:
        record = EvalRecord.load(path)
        made = record.set
        if record.kind != "accuracy" or made.mask is not None or made.iteration is None or made.seconds is None:
            continue  # other kinds, masked sets, coresets and whole-dataset runs are not on these axes
        accs = [record.scale * v for v in record.values(record.value) if v == v]  # diverged networks (NaN) left out
        key = (made.method, int(made.ipc), record.model)
        point = points.setdefault(key, {}).setdefault(int(made.iteration), {"accs": [], "seconds": []})
        point["accs"] += accs
        point["seconds"].append(float(made.seconds))
        datasets.add(record.dataset)
        models.add(record.model)
    if not points:
        raise CondenseError("accuracy_vs_time: no evaluation of an unmasked condensed set with its iteration and seconds")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), squeeze=False)
    several_models = len(models) > 1
    for key in sorted(points, key=lambda k: (context.key(k[0]), k[1], k[2])):
        method, ipc, model = key
        its = sorted(points[key])
        xs_s = [statistics.fmean(points[key][i]["seconds"]) for i in its]
        ys = [statistics.fmean(points[key][i]["accs"]) if points[key][i]["accs"] else float("nan") for i in its]
        es = [statistics.pstdev(points[key][i]["accs"]) if len(points[key][i]["accs"]) > 1 else 0.0 for i in its]
        label = f"{context.labels.get(method, method)}, IPC {ipc}" + (f", {model}" if several_models else "")
        line = axes[0, 0].errorbar([max(x, 1e-3) for x in xs_s], ys, yerr=es, marker="o", capsize=3, label=label)
        axes[0, 1].errorbar(its, ys, yerr=es, marker="o", capsize=3, color=line[0].get_color(), label=label)
    axes[0, 0].set_xscale("log")
    axes[0, 0].set_xlabel("condensation seconds (log scale)")
    axes[0, 1].set_xlabel("condensation iteration")
    for ax in axes[0]:
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    suptitle(
        fig,
        f"{', '.join(sorted(datasets))}: test accuracy over the course of condensation "
        f"(mean ± std over networks and seeds; the last point is the final set)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


register_figure("accuracy_vs_time", Figure(draw_accuracy_vs_time, "evaluation JSONs of snapshots and final sets"))
