"""Saliency maps scored against the exact foreground (datasets that store it: ``condense derive --kind backgrounds``).

Per image, with A the map and F the foreground (k = |F| pixels):

- ``mass``: the share of the map's mass inside the foreground, Σ_F A / Σ A (0 for an all-zero map);
- ``iou``: the IoU of the map's top-k pixels with the foreground;
- ``pointing``: the pointing game, whether the map's maximum lies in the foreground (with ties, the
  share of the maximal pixels that do).

``chance``: what a map that knows nothing scores — the foreground's share of the image, which is the
expected mass and pointing of a uniform map, and the expected top-k IoU k/(2N − k) of a random one.
"""

from __future__ import annotations

import torch
from torch import Tensor


def score_maps(maps: Tensor, foreground: Tensor, batch: int = 4096) -> dict:
    """Means over images of mass, iou and pointing, and their chance levels; ``maps`` uint8 or float N×H×W."""
    if maps.shape != foreground.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and foregrounds {tuple(foreground.shape)} differ")
    totals = {"mass": 0.0, "iou": 0.0, "pointing": 0.0, "chance_mass": 0.0, "chance_iou": 0.0}
    n = maps.shape[0]
    for start in range(0, n, batch):
        a = maps[start : start + batch].float().flatten(1)
        f = foreground[start : start + batch].bool().flatten(1)
        pixels = a.shape[1]
        k = f.sum(1)
        total = a.sum(1)
        inside = (a * f).sum(1)
        totals["mass"] += float(torch.where(total > 0, inside / total.clamp_min(1e-12), torch.zeros_like(total)).sum())
        order = a.argsort(dim=1, descending=True, stable=True)
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(pixels).expand_as(order))
        top = rank < k.unsqueeze(1)
        inter = (top & f).sum(1).float()
        union = (top | f).sum(1).float()
        totals["iou"] += float(torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(union)).sum())
        is_max = a == a.amax(dim=1, keepdim=True)
        totals["pointing"] += float(((is_max & f).sum(1).float() / is_max.sum(1).float()).sum())
        share = k.float() / pixels
        totals["chance_mass"] += float(share.sum())
        totals["chance_iou"] += float((k.float() / (2 * pixels - k.float()).clamp_min(1)).sum())
    return {key: value / max(n, 1) for key, value in totals.items()} | {"images": n}
