"""Privacy against utility: each pipeline's TPR at 0.1 % FPR (how many members LiRA finds at almost no false
alarms) against its networks' test accuracy, from ``condense membership`` records. This is the comparison
Carlini et al. ("No Free Lunch in 'Privacy for Free'", 2022) argue is the fair one for condensed sets: a set
protects privacy only if it sits below the curve that random real subsets of several sizes and DP-SGD
trace, not merely below one random subset of its own size.

Random subsets are joined by a line in order of accuracy (the real-data frontier), DP-SGD networks by another;
condensed sets are single markers. Vertical bars: the bootstrap interval over pool images (where the record
has one); horizontal bars: the networks' accuracy spread over shadows.
"""

from __future__ import annotations

from pathlib import Path

from ...data.records import MembershipRecord
from . import Figure, FigureContext, register_figure
from ._style import pyplot, suptitle

AT = "0.001"
STATISTIC = "tpr@0.001"
FLOOR = 1e-4  # a TPR of 0 drawn on the log axis's floor


def _family(record: MembershipRecord) -> str:
    return {"random": "random real subsets", "half": "random real subsets", "dpsgd": "DP-SGD (whole half)"}.get(
        record.source, f"{record.method} sets"
    )


def _tag(record: MembershipRecord) -> str:
    if record.source == "half":
        return "half"
    if record.source == "dpsgd":
        return f"ε {record.settings['dp']['epsilon']:g}"
    return f"IPC {record.ipc}"


def draw_privacy_utility(paths: list[Path], context: FigureContext):
    records = [MembershipRecord.load(path) for path in paths]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    families: dict[str, list[MembershipRecord]] = {}
    for r in records:
        families.setdefault(_family(r), []).append(r)
    for name, members in families.items():
        members.sort(key=lambda r: r.utility["mean"])
        x = [r.utility["mean"] for r in members]
        y = [max(r.tpr[AT], FLOOR) for r in members]
        low = [y_ - max(r.intervals["images"][STATISTIC][0], FLOOR) if r.intervals else 0 for r, y_ in zip(members, y, strict=True)]
        high = [max(r.intervals["images"][STATISTIC][1], FLOOR) - y_ if r.intervals else 0 for r, y_ in zip(members, y, strict=True)]
        joined = name in ("random real subsets", "DP-SGD (whole half)")
        container = ax.errorbar(x, y, yerr=[low, high], xerr=[r.utility["std"] for r in members], fmt="o-" if joined else "s",
                                capsize=2, label=name, linewidth=1 if joined else 0, elinewidth=0.8)  # fmt: skip
        colour = container[0].get_color()
        for r, x_, y_ in zip(members, x, y, strict=True):
            ax.annotate(_tag(r), (x_, y_), textcoords="offset points", xytext=(4, 4), fontsize=7, color=colour)
    ax.axhline(0.001, linestyle="--", color="grey", linewidth=0.8, label="chance (0.1 %)")
    ax.set_yscale("log")
    ax.set_ylim(FLOOR * 0.8, 1.05)
    ax.set_xlabel("test accuracy of the target networks (%)")
    ax.set_ylabel("TPR at 0.1 % FPR (LiRA, online)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    datasets = ", ".join(sorted({r.dataset for r in records}))
    suptitle(fig, f"{datasets}: privacy against utility ({records[0].shadows} shadows, pool {records[0].pool_per_class}/class)", 10)
    fig.tight_layout()
    return fig


register_figure("privacy_utility", Figure(draw_privacy_utility, "membership records (condense membership --out) of several pipelines"))
