"""Membership inference by the likelihood-ratio attack (LiRA; Carlini et al., "Membership Inference Attacks From
First Principles", IEEE S&P 2022), on tensors: the math ``condense membership`` runs over its shadow pipelines.

Membership inference judges a pipeline rather than one set (each shadow condenses its own half of a pool), so
it is a stage of its own; what it computes from the shadows' confidences lives here, free of any network:

- :func:`keep_matrix`: which pool images each of K shadows trains on, each image in exactly K/2 of them (as
  the paper's construction) and, unlike its independent draws per image, every shadow holding half of every
  class, so that each shadow's half can be condensed at any IPC up to half the pool's;
- :func:`logit_confidence`: φ = log p_y − log(1 − p_y) computed stably from logits (the paper's §V-A scaling,
  which makes the per-image distributions close to Gaussian);
- :func:`lira_scores`: the online attack, leave-one-out: for target shadow k and image i, Gaussians fitted to
  φ of the other shadows that had i IN and that had it OUT; score = log N(φ_k,i; μ_in, σ_in) − log N(φ_k,i;
  μ_out, σ_out). With few shadows the paper fixes the variance globally (``fixed_variance``, the default
  below 64 shadows in :mod:`condense.stages.membership`);
- :func:`roc` and :func:`tpr_at`: the ROC over every (target, image) pair, its AUC (Mann–Whitney, ties half)
  and the TPR at a false-positive rate (the largest FPR not above it, as the paper's code reads it).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def keep_matrix(labels: Tensor, shadows: int, generator: torch.Generator) -> Tensor:
    """K×N bool: shadow k trains on pool image i. Every image is IN for exactly K/2 shadows (K even) and every
    shadow holds half of every class (to one image): within a class, image j of a random order is IN for the
    K/2 shadows (in a random order of the shadows) from position j mod K on, cyclically."""
    if shadows < 2 or shadows % 2:
        raise ValueError(f"shadows must be an even number of at least 2, got {shadows}")
    keep = torch.zeros((shadows, labels.numel()), dtype=torch.bool)
    offsets = torch.arange(shadows).view(-1, 1)
    for c in labels.unique().tolist():
        where = (labels == c).nonzero().flatten()
        images = where[torch.randperm(where.numel(), generator=generator)]
        order = torch.randperm(shadows, generator=generator)
        positions = torch.arange(where.numel()).view(1, -1)
        keep[order.view(-1, 1), images.view(1, -1)] = (positions + offsets) % shadows < shadows // 2
    return keep


def logit_confidence(logits: Tensor, labels: Tensor) -> Tensor:
    """φ = log p_y − log(1 − p_y) = z_y − logsumexp_{j≠y} z_j, in float64 so a confident network does not round to ∞."""
    z = logits.double()
    own = z.gather(1, labels.long().view(-1, 1)).squeeze(1)
    others = z.scatter(1, labels.long().view(-1, 1), -math.inf)
    return own - torch.logsumexp(others, dim=1)


def _normal_logpdf(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)


def lira_scores(conf: Tensor, keep: Tensor, fixed_variance: bool = True) -> Tensor:
    """K×N scores, each from the other K − 1 shadows (higher: more likely IN). ``conf``: K×N φ; ``keep``: K×N bool."""
    conf, keep = conf.double(), keep.double()
    out = 1.0 - keep
    sums_in, sums_out = (conf * keep).sum(0), (conf * out).sum(0)
    sq_in, sq_out = (conf**2 * keep).sum(0), (conf**2 * out).sum(0)
    n_in, n_out = keep.sum(0), out.sum(0)
    # leave shadow k out: subtract its own contribution (K×N at once)
    loo_n_in, loo_n_out = n_in - keep, n_out - out
    if (loo_n_in < 2).any() or (loo_n_out < 2).any():
        raise ValueError("every image needs at least 2 IN and 2 OUT shadows besides the target; use at least 6 shadows")
    mu_in = (sums_in - conf * keep) / loo_n_in
    mu_out = (sums_out - conf * out) / loo_n_out
    var_in = ((sq_in - conf**2 * keep) / loo_n_in - mu_in**2).clamp_min(0)
    var_out = ((sq_out - conf**2 * out) / loo_n_out - mu_out**2).clamp_min(0)
    if fixed_variance:  # one variance for every image (per target), as the paper with few shadows
        var_in, var_out = var_in.mean(1, keepdim=True).expand_as(var_in), var_out.mean(1, keepdim=True).expand_as(var_out)
    floor = 1e-12
    std_in, std_out = (var_in + floor).sqrt(), (var_out + floor).sqrt()
    return _normal_logpdf(conf, mu_in, std_in) - _normal_logpdf(conf, mu_out, std_out)


def roc(scores: Tensor, members: Tensor) -> tuple[Tensor, Tensor, float]:
    """(FPR, TPR, AUC) of ``scores`` (higher = member) against the bool ``members``, over every threshold."""
    s, m = scores.flatten().double(), members.flatten().bool()
    positives, negatives = int(m.sum()), int((~m).sum())
    if not positives or not negatives:
        raise ValueError("a ROC needs members and non-members")
    order = torch.argsort(s, descending=True, stable=True)
    s, m = s[order], m[order]
    tp, fp = torch.cumsum(m, 0).double(), torch.cumsum(~m, 0).double()
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # one point per distinct threshold (tied scores move together)
    tpr = torch.cat([torch.zeros(1, dtype=torch.float64), tp[last] / positives])
    fpr = torch.cat([torch.zeros(1, dtype=torch.float64), fp[last] / negatives])
    auc = float(torch.trapezoid(tpr, fpr))  # the trapezoid over distinct thresholds: Mann–Whitney with ties as half
    return fpr, tpr, auc


def tpr_at(fpr: Tensor, tpr: Tensor, at: float) -> float:
    """The TPR at the largest FPR not above ``at``."""
    return float(tpr[fpr <= at].max())
