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
ARS_WEIGHT = 0.5  # DD-Ranking's default ars_lambda (γ: the gain with augmentation against the gain without)
RANDOM, WHOLE = "random", "full"  # the random-subset coreset, and the whole-dataset baseline's records
AUGMENTATION = "augmentation"  # the evaluation kind that trains each network with and without augmentation
AUGMENTATION_COLUMNS = ("test_acc_aug", "test_acc_naug")


def normalised(score: float) -> float:
    """DD-Ranking's map of a score in [−1, 1] onto [0, 1]: (e^s − e^−1) / (e − e^−1)."""
    return (math.exp(score) - math.exp(-1)) / (math.exp(1) - math.exp(-1))


def lrs(ior: float, hlr: float, weight: float = LRS_WEIGHT) -> float:
    """The label-robust score of an improvement over random and a hard-label recovery gap, both fractions."""
    return normalised(weight * ior - (1 - weight) * hlr)


def ars(gain_aug: float, gain_naug: float, weight: float = ARS_WEIGHT) -> float:
    """The augmentation-robust score of a set's gains over a random subset trained with and without augmentation
    (fractions): β = γ·gain_aug + (1 − γ)·gain_naug, normalised like LRS (``aug_robust.py`` lines 577–580)."""
    return normalised(weight * gain_aug + (1 - weight) * gain_naug)


def _means(cells: pd.DataFrame, *, of_random: bool) -> dict:
    """The summarised cells' means: the random subsets' by (dataset, model, ipc), the sets' by (dataset, model, method, mask, ipc)."""
    kept = cells[cells["n"] > 0]
    if of_random:
        return {(r.dataset, r.model, r.ipc): r.mean for r in kept[(kept["method"] == RANDOM) & (kept["mask_ratio"] == 0)].itertuples()}
    return {(r.dataset, r.model, r.method, r.mask, r.ipc): r.mean for r in kept.itertuples()}


def relative_frame(table: pd.DataFrame, missing: str, augmented: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per judged set (``table``: the summarised cells, accuracy in percent) other than the random subsets
    and the whole-data networks: its accuracy, the random subset's at its IPC and the whole data's (same dataset and
    evaluation network), IOR and HLR in points, and LRS; ``missing`` where a reference was not evaluated. With
    ``augmented`` (the ``augmentation`` evaluation's cells per column of :data:`AUGMENTATION_COLUMNS`): the set's
    gains over the random subset with and without augmentation, in points, and ARS."""
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
            "_key": (r.dataset, r.model, r.method, r.mask, r.ipc),
            "dataset": r.dataset, "model": r.model, "method": r.method, "mask": r.mask_label or "none", "mask_ratio": r.mask_ratio,
            "ipc": r.ipc, "ours": r.ours, "random": missing if rdm is None else f"{rdm:.1f}",
            "whole data": missing if full is None else f"{full:.1f}",
            "IOR (points)": missing if ior is None else f"{ior:+.1f}", "HLR (points)": missing if hlr is None else f"{hlr:.1f}",
            "LRS": missing if score is None else f"{score:.3f}",
        })  # fmt: skip
    columns = ["dataset", "model", "method", "mask", "mask_ratio", "ipc", "ours", "random", "whole data", "IOR (points)",
               "HLR (points)", "LRS"]  # fmt: skip
    if augmented is not None:
        gains = _gains(augmented)
        for row in rows:
            gain = gains.get(row.pop("_key"))
            row["gain aug (points)"] = missing if gain is None else f"{gain[0]:+.1f}"
            row["gain no aug (points)"] = missing if gain is None else f"{gain[1]:+.1f}"
            row["ARS"] = missing if gain is None else f"{ars(gain[0] / 100, gain[1] / 100):.3f}"
        columns += ["gain aug (points)", "gain no aug (points)", "ARS"]
    return pd.DataFrame(rows, columns=columns)


def _gains(augmented: dict[str, pd.DataFrame]) -> dict:
    """(gain with augmentation, gain without) in points per set key, where the set and the random subset of its IPC
    were both evaluated both ways."""
    sets = {name: _means(cells, of_random=False) for name, cells in augmented.items()}
    randoms = {name: _means(cells, of_random=True) for name, cells in augmented.items()}
    gains = {}
    for key in sets[AUGMENTATION_COLUMNS[0]]:
        dataset, model, _, _, ipc = key
        values = [sets[name].get(key) for name in AUGMENTATION_COLUMNS]
        references = [randoms[name].get((dataset, model, ipc)) for name in AUGMENTATION_COLUMNS]
        if None not in values and None not in references:
            gains[key] = tuple(v - r for v, r in zip(values, references))
    return gains
