"""Membership-inference records (``condense membership``) as a table and a figure: how much each pipeline's
networks reveal about which real images they were made from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.records import MembershipRecord

TITLE = "Membership inference (LiRA): how well an attacker tells members of the pool from non-members"
NOTES = (
    "AUC and TPR at 1 % / 0.1 % FPR of the online LiRA attack, leave-one-out over the shadows (each in turn the target), "
    "over every (target, pool image) pair; 0.5 / 1 % / 0.1 % is chance; 95 % bootstrap intervals resample the pool "
    "images, then the targets. offline AUC: the attack from OUT shadows only. queries: views per image (itself, mirror, shifts). utility: the targets' test accuracy (%). "
    "init images: the images a set was initialised from, against non-members (the other members' AUC beside it).",
)


def _interval(record: MembershipRecord, statistic: str, fmt: str) -> str:
    """'lo–hi; lo–hi': the bootstrap intervals over images and over targets ('' for a record without them)."""
    if not record.intervals:
        return ""
    return "; ".join("–".join(fmt.format(v) for v in record.intervals[over][statistic]) for over in ("images", "targets"))


def membership_frame(paths: list[Path]) -> pd.DataFrame:
    rows = []
    for path in paths:
        r = MembershipRecord.load(path)
        audit = r.init_audit
        rows.append({
            "dataset": r.dataset, "trained on": r.label, "network": r.model, "shadows": r.shadows,
            "pool": f"{r.pool_per_class}/class", "AUC": f"{r.auc:.3f}", "TPR @ 1% FPR": f"{100 * r.tpr['0.01']:.1f}%",
            "TPR @ 0.1% FPR": f"{100 * r.tpr['0.001']:.1f}%",
            "AUC 95% (images; targets)": _interval(r, "auc", "{:.3f}"),
            "TPR @ 0.1% 95% (images; targets)": _interval(r, "tpr@0.001", "{:.1%}"),
            "offline AUC": "" if r.offline is None else f"{r.offline['auc']:.3f}",
            "queries": "" if r.queries is None else len(r.queries),
            "utility": f"{r.utility['mean']:.1f} ± {r.utility['std']:.1f}",
            "init images AUC (other members)": "" if audit is None else
            f"{audit['init_vs_nonmembers']['auc']:.3f} ({audit['other_members_vs_nonmembers']['auc']:.3f})",
        })  # fmt: skip
    return pd.DataFrame(rows)


def render_membership(paths: list[Path], title: str | None):
    frame = membership_frame(paths)
    return frame, frame, title or TITLE, NOTES
