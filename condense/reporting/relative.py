"""A set's accuracy relative to real data: its gain over a random real subset of the same size and its gap to
the whole-data network, combined as DD-Ranking's label-robust score (LRS).

DD-Ranking (Li et al., 2025; ``ddranking/metrics/hard_label.py`` at commit b8b09664, lines 380–383), with
accuracies as fractions:

    IOR = Acc(set) − Acc(random subset, same IPC)         improvement over random
    HLR = Acc(whole data) − Acc(set)                      hard-label recovery (the gap left)
    α   = w·IOR − (1 − w)·HLR,  w = 0.5                   the leaderboard's weight
    LRS = (e^α − e^−1) / (e − e^−1)                       in [0, 1]: 1 = the whole data's accuracy from nothing

Where ours differs (``docs/relative-scores.md``): DD-Ranking pairs each evaluation run of the set with a fresh
random subset and searches the learning rate of both; here the cells are the means over every evaluated
network of every condensation seed (the random set's seeds likewise), trained with the reference protocol's
fixed learning rate, and LRS is taken of the mean α rather than averaged over runs (e^α is convex, so ours is
at most that mean; with a spread of α of 0.01 the two differ by under 10⁻⁴).
"""

from __future__ import annotations

import math

import pandas as pd

LRS_WEIGHT = 0.5  # DD-Ranking's leaderboard default (w: IOR against HLR)
RANDOM, WHOLE = "random", "full"  # the random-subset coreset, and the whole-dataset baseline's records


def lrs(ior: float, hlr: float, weight: float = LRS_WEIGHT) -> float:
    """The label-robust score of an improvement over random and a hard-label recovery gap, both fractions."""
    alpha = weight * ior - (1 - weight) * hlr
    return (math.exp(alpha) - math.exp(-1)) / (math.exp(1) - math.exp(-1))


def relative_frame(table: pd.DataFrame, missing: str) -> pd.DataFrame:
    """One row per judged set (``table``: the summarised cells, accuracy in percent) other than the random subsets
    and the whole-data networks: its accuracy, the random subset's at its IPC and the whole data's (same dataset and
    evaluation network), IOR and HLR in points, and LRS; ``missing`` where a reference was not evaluated."""
    cells = table[table["n"] > 0]
    random = {(r.dataset, r.model, r.ipc): r.mean for r in cells[(cells["method"] == RANDOM) & (cells["mask_ratio"] == 0)].itertuples()}
    whole = {(r.dataset, r.model): r.mean for r in cells[cells["method"] == WHOLE].itertuples()}
    rows = []
    for r in cells[~cells["method"].isin([RANDOM, WHOLE]) | (cells["mask_ratio"] != 0)].itertuples():
        rdm, full = random.get((r.dataset, r.model, r.ipc)), whole.get((r.dataset, r.model))
        ior = None if rdm is None else r.mean - rdm
        hlr = None if full is None else full - r.mean
        score = None if ior is None or hlr is None else lrs(ior / 100, hlr / 100)
        rows.append({
            "dataset": r.dataset, "model": r.model, "method": r.method, "mask": r.mask_label or "none", "mask_ratio": r.mask_ratio,
            "ipc": r.ipc, "ours": r.ours, "random": missing if rdm is None else f"{rdm:.1f}",
            "whole data": missing if full is None else f"{full:.1f}",
            "IOR (points)": missing if ior is None else f"{ior:+.1f}", "HLR (points)": missing if hlr is None else f"{hlr:.1f}",
            "LRS": missing if score is None else f"{score:.3f}",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["dataset", "model", "method", "mask", "mask_ratio", "ipc", "ours", "random", "whole data",
                                       "IOR (points)", "HLR (points)", "LRS"])  # fmt: skip
