"""Membership inference by the likelihood-ratio attack (LiRA; Carlini et al., "Membership Inference Attacks From
First Principles", IEEE S&P 2022), on tensors: the math ``condense membership`` runs over its shadow pipelines.

Membership inference judges a pipeline rather than one set (each shadow condenses its own half of a pool), so
it is a stage of its own; what it computes from the shadows' confidences lives here, free of any network:

- :func:`keep_matrix`: which pool images each of K shadows trains on, as the paper's construction: each image
  IN for exactly K/2 shadows, drawn independently per image, so that no image's membership pattern says
  anything about another's (classes stay balanced per shadow only approximately);
- :func:`logit_confidence`: φ = log p_y − log(1 − p_y) computed stably from logits (the paper's §V-A scaling,
  which makes the per-image distributions close to Gaussian);
- :func:`lira_scores`: for target shadow k and image i, Gaussians fitted to φ of the other shadows, less one
  more so that the IN and OUT groups are equal (:func:`balancing_partner`; unequal groups bias the score even
  on pure noise); online: score = log N(φ_k,i; μ_in, σ_in) − log N(φ_k,i; μ_out, σ_out); offline (OUT shadows only):
  the paper's one-sided test, log Pr[Z ≤ φ_k,i] for Z ~ N(μ_out, σ_out). Several queries per image (a mirror
  image, shifts: the paper's augmented queries) are fitted one Gaussian each and their log-likelihoods
  averaged, as the paper's code does. With few shadows the paper fixes the variance across images
  (``fixed_variance``, the default below 64 shadows in :mod:`condense.stages.membership`);
- :func:`roc` and :func:`tpr_at`: the ROC over every (target, image) pair, its AUC (Mann–Whitney, ties half)
  and the TPR at a false-positive rate (the largest FPR strictly below it, as the paper's code reads it);
- :func:`bootstrap_intervals`: percentile intervals of AUC and TPRs, resampling images or targets.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def keep_matrix(labels: Tensor, shadows: int, generator: torch.Generator) -> Tensor:
    """K×N bool: shadow k trains on pool image i. Every image is IN for exactly K/2 shadows (K even), a uniformly
    random half drawn independently for each image (the paper's design). Independence is the point: a design
    whose images share IN/OUT patterns (neighbours in a cycle) lets a pipeline driven by class composition
    separate an image's IN and OUT shadows without ever depending on the image itself (tests/test_membership.py's
    null pipeline). ``labels`` (N) only sizes the matrix; per-class counts per shadow vary around half."""
    if shadows < 2 or shadows % 2:
        raise ValueError(f"shadows must be an even number of at least 2, got {shadows}")
    ranks = torch.rand((labels.numel(), shadows), generator=generator).argsort(dim=1)
    return (ranks < shadows // 2).T.contiguous()


def logit_confidence(logits: Tensor, labels: Tensor) -> Tensor:
    """φ = log p_y − log(1 − p_y) = z_y − logsumexp_{j≠y} z_j, in float64 so a confident network does not round to ∞."""
    z = logits.double()
    own = z.gather(1, labels.long().view(-1, 1)).squeeze(1)
    others = z.scatter(1, labels.long().view(-1, 1), -math.inf)
    return own - torch.logsumexp(others, dim=1)


def _normal_logpdf(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)


def _normal_logcdf(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return torch.special.log_ndtr((x - mean) / std)


def balancing_partner(keep: Tensor) -> Tensor:
    """K×N: for target shadow k and image i, the shadow also left out of the fit so that the IN and OUT groups
    both hold K/2 − 1 shadows: the first shadow after k (cyclically) whose membership of i is the opposite of k's.

    Leaving out the target alone leaves K/2 − 1 shadows in its own group and K/2 in the other, whatever the
    pipeline; the smaller group's mean is the noisier, so a target sits nearer the other group's Gaussian on
    average, and even confidences of pure noise score AUC 0.47 with 16 shadows (the paper's code, fitting on all
    but the target models, has the same imbalance). With equal groups the score of a null pipeline is
    symmetric about zero. The choice depends on ``keep`` only, never on confidences."""
    shadows = keep.shape[0]
    partner = torch.full(keep.shape, -1, dtype=torch.long)
    for k in range(shadows):
        for step in range(1, shadows):
            j = (k + step) % shadows
            take = (partner[k] < 0) & (keep[j] != keep[k])
            partner[k][take] = j
    return partner


def _fit(conf: Tensor, weight: Tensor, left_out: Tensor, fixed_variance: bool) -> tuple[Tensor, Tensor]:
    """Per (target, image, query) (mean, std) of ``conf`` (K×N×Q) over the shadows where ``weight`` (K×N×1) is 1,
    less the target and ``left_out`` (K×N×Q: the partner's confidence, weighted); fixed: one variance per
    target and query, the mean of the images' variances."""
    partner_conf, partner_weight = left_out
    n = weight.sum(0) - weight - partner_weight
    if (n < 2).any():
        raise ValueError("every image needs at least 2 IN and 2 OUT shadows besides the target; use at least 6 shadows")
    mean = ((conf * weight).sum(0) - conf * weight - partner_conf * partner_weight) / n
    square = (conf**2 * weight).sum(0) - conf**2 * weight - partner_conf**2 * partner_weight
    var = (square / n - mean**2).clamp_min(0)
    if fixed_variance:
        var = var.mean(1, keepdim=True).expand_as(var)
    return mean, (var + 1e-12).sqrt()


def lira_scores(conf: Tensor, keep: Tensor, fixed_variance: bool = True, online: bool = True) -> Tensor:
    """K×N scores, each from the other shadows (higher: more likely IN): the target and its balancing partner
    (:func:`balancing_partner`) are left out, so IN and OUT Gaussians are fitted on K/2 − 1 shadows each.
    ``conf``: K×N φ, or K×N×Q for Q queries per image; ``keep``: K×N bool. A non-finite confidence is an error:
    it would turn every score of its image NaN (every score under a fixed variance) and the ROC into a silent,
    meaningless number."""
    if conf.dim() == 2:
        conf = conf.unsqueeze(-1)
    if conf.shape[:2] != keep.shape:
        raise ValueError(f"confidences {tuple(conf.shape)} and keep {tuple(keep.shape)} differ in shadows or images")
    bad = ~torch.isfinite(conf)
    if bad.any():
        k, i = bad.nonzero()[0, :2].tolist()
        raise ValueError(f"confidence of image {i} under shadow {k} is {conf[k, i].flatten()[0].item()}; a diverged network")
    conf, inside = conf.double(), keep.double().unsqueeze(-1)
    partner = balancing_partner(keep)
    images = torch.arange(keep.shape[1]).expand_as(partner)
    partner_conf = conf[partner, images]  # K×N×Q
    partner_in = inside[partner, images]  # K×N×1: the partner is in the group opposite the target's
    mu_out, std_out = _fit(conf, 1.0 - inside, (partner_conf, 1.0 - partner_in), fixed_variance)
    if not online:
        return _normal_logcdf(conf, mu_out, std_out).mean(-1)
    mu_in, std_in = _fit(conf, inside, (partner_conf, partner_in), fixed_variance)
    return (_normal_logpdf(conf, mu_in, std_in) - _normal_logpdf(conf, mu_out, std_out)).mean(-1)


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
    """The TPR at the largest FPR strictly below ``at`` (the paper's code: ``tpr[np.where(fpr < .001)[0][-1]]``)."""
    return float(tpr[fpr < at].max())


def bootstrap_intervals(scores: Tensor, members: Tensor, statistics, over: str, resamples: int, generator: torch.Generator,
                        level: float = 0.95) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Percentile intervals of ``statistics(scores, members)`` (a mapping name -> number, all computed from one
    resample, so that several numbers of one ROC cost one ROC) under resampling with replacement of the images
    (columns; the attack's sampling unit) or of the targets (rows)."""
    axis = {"images": 1, "targets": 0}[over]
    size = scores.shape[axis]
    values: dict[str, list[float]] = {}
    for _ in range(resamples):
        pick = torch.randint(0, size, (size,), generator=generator)
        for name, value in statistics(scores.index_select(axis, pick), members.index_select(axis, pick)).items():
            values.setdefault(name, []).append(value)
    quantiles = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    out = {}
    for name, drawn in values.items():
        low, high = torch.tensor(drawn, dtype=torch.float64).quantile(quantiles)
        out[name] = (float(low), float(high))
    return out


def bootstrap_interval(scores: Tensor, members: Tensor, statistic, over: str, resamples: int, generator: torch.Generator,
                       level: float = 0.95) -> tuple[float, float]:  # fmt: skip
    """:func:`bootstrap_intervals` of one number ``statistic(scores, members)``."""
    one = bootstrap_intervals(scores, members, lambda s, m: {"value": statistic(s, m)}, over, resamples, generator, level)
    return one["value"]


def auc_of(scores: Tensor, members: Tensor) -> float:
    return roc(scores, members)[2]


def roc_statistics(fprs) -> Callable[[Tensor, Tensor], dict[str, float]]:
    """``statistics`` for :func:`bootstrap_intervals`: the AUC and the TPR at each FPR of ``fprs`` (``tpr@<fpr>``),
    from one ROC."""

    def statistics(scores: Tensor, members: Tensor) -> dict[str, float]:
        fpr, tpr, auc = roc(scores, members)
        return {"auc": auc, **{f"tpr@{at}": tpr_at(fpr, tpr, at) for at in fprs}}

    return statistics
