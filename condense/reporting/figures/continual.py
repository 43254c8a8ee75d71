"""Class-incremental learning: accuracy on the classes seen against how many have been seen (``CL_DM.py``'s
curve), from evaluation JSONs of kind ``continual``.

One line per set (method, mask, IPC), one panel per evaluation network; each point the mean ± std over every
class order, network and condensation seed (the runs' ``step_accs``; diverged networks left out), so
condensed, herding and random memories at equal IPC sit on one axis.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from ...core.errors import CondenseError
from ...data.records import EvalRecord
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle


def draw_continual(paths: list[Path], context: FigureContext):
    curves: dict = {}  # (model, method, ratio, variant, ipc) -> {"classes": [...], "accs": [[per step], ...]}
    datasets = set()
    for path in paths:
        record = EvalRecord.load(path)
        if record.kind != "continual":
            continue
        made = record.set
        key = (record.model, made.method, made.mask_ratio, made.mask.label if made.mask else "", made.ipc)
        curve = curves.setdefault(key, {"classes": [s["classes_seen"] for s in record.extra["per_step"]], "accs": []})
        curve["accs"] += [[100 * a for a in run["step_accs"]] for run in record.runs if not run.get("diverged")]
        datasets.add(record.dataset)
    if not curves:
        raise CondenseError("continual: no evaluation record of kind 'continual' among the inputs (condense evaluate --kind continual)")
    models = sorted({key[0] for key in curves})
    plt = pyplot()
    fig, axes = plt.subplots(1, len(models), figsize=(5.6 * len(models), 4.4), squeeze=False)
    for ax, model in zip(axes.flat, models, strict=True):
        keys = sorted((k for k in curves if k[0] == model), key=lambda k: (context.key(k[1], k[2]), k[3], k[4]))
        for key in keys:
            _, method, ratio, variant, ipc = key
            curve = curves[key]
            steps = list(zip(*curve["accs"], strict=True))
            means = [statistics.fmean(step) for step in steps]
            stds = [statistics.pstdev(step) for step in steps]
            ax.errorbar(curve["classes"], means, yerr=stds, marker="o", capsize=3,
                        label=f"{context.label(method, ratio, variant)}, IPC {ipc} (n = {len(curve['accs'])})")  # fmt: skip
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("classes seen")
        ax.set_ylabel("test accuracy on the classes seen (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    suptitle(fig, f"{', '.join(sorted(datasets))}: class-incremental learning with the set as memory (mean ± std over class orders, "
                  "networks and seeds)", fontsize=11)  # fmt: skip
    fig.tight_layout()
    return fig


register_figure("continual", Figure(draw_continual, "evaluation JSONs of kind continual"))
