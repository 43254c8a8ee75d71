"""Re-score membership records from their raw scores with an independent implementation, and compare.

    python workflow/scripts/rescore_membership.py results/.../membership/*.json

For each record ``R.json`` it reads ``R.scores.pt`` (``confidence`` K×N×Q, ``keep`` K×N), recomputes the online
LiRA score of every (target, image) pair with plain loops, numpy and scipy (no code of
``condense.evaluations.lira``): per query, Gaussians fitted to the other shadows' confidences, IN and OUT groups
made equal by also leaving out the first shadow after the target (cyclically) in the opposite group, one
variance per target and query (the mean of the images' variances) where the record says ``fixed_variance``;
the log-likelihood ratios averaged over queries; then the ROC AUC with scikit-learn and the TPR at the largest
FPR strictly below 0.1 %. Prints one line per record and exits 1 if any AUC differs from the record's by more
than ``--tolerance`` (0.005).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve


def partner(keep: np.ndarray, k: int, i: int) -> int:
    shadows = keep.shape[0]
    for step in range(1, shadows):
        j = (k + step) % shadows
        if keep[j, i] != keep[k, i]:
            return j
    raise ValueError(f"image {i} is IN for every shadow or for none")


def rescore(conf: np.ndarray, keep: np.ndarray, fixed: bool) -> np.ndarray:
    shadows, images, queries = conf.shape
    mean = {g: np.zeros((shadows, images, queries)) for g in (True, False)}
    var = {g: np.zeros((shadows, images, queries)) for g in (True, False)}
    for k in range(shadows):
        for i in range(images):
            left_out = {k, partner(keep, k, i)}
            for group in (True, False):
                rows = [j for j in range(shadows) if j not in left_out and keep[j, i] == group]
                values = conf[rows, i, :]
                mean[group][k, i] = values.mean(axis=0)
                var[group][k, i] = values.var(axis=0)  # population variance, as the Gaussian's fit
    if fixed:
        for group in (True, False):
            var[group] = np.broadcast_to(var[group].mean(axis=1, keepdims=True), var[group].shape)
    std = {g: np.sqrt(var[g] + 1e-12) for g in (True, False)}
    ratio = norm.logpdf(conf, mean[True], std[True]) - norm.logpdf(conf, mean[False], std[False])
    return ratio.mean(axis=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.005)
    args = parser.parse_args(argv)
    worst = 0.0
    for path in args.records:
        record = json.loads(path.read_text())
        raw = torch.load(path.with_suffix(".scores.pt"), weights_only=True)
        conf, keep = raw["confidence"].double().numpy(), raw["keep"].numpy().astype(bool)
        scores = rescore(conf, keep, bool(raw["fixed_variance"])).ravel()
        members = keep.ravel()
        auc = roc_auc_score(members, scores)
        fpr, tpr, _ = roc_curve(members, scores)
        low = tpr[np.where(fpr < 0.001)[0][-1]]
        gap = abs(auc - record["auc"])
        worst = max(worst, gap)
        print(f"{path.name}: AUC {auc:.4f} (recorded {record['auc']:.4f}, |Δ| {gap:.1e}); "
              f"TPR at 0.1 % FPR {low:.4f} (recorded {record['tpr']['0.001']:.4f})")  # fmt: skip
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
