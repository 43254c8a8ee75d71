"""Gradient-matching distances between the real and synthetic gradients of one network.

``ours`` is the DC paper's layer-wise distance: each weight tensor is reshaped to
(out, -1) and contributes Σ_rows 1 − cos(g_real_row, g_syn_row), with 1e-6 added
to the denominator; 1-D tensors (biases, norm affines) contribute 0. ``mse`` and
``cos`` compare the whole flattened gradient vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..core.registry import Registry

EPS = 1e-6
DISTANCES: Registry[Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]] = Registry("distance")


def layer_distance(g_real: Tensor, g_syn: Tensor) -> Tensor:
    """Σ over output rows of 1 − cosine similarity; 0 for 1-D tensors (as the reference ignores them)."""
    if g_real.dim() == 1:
        return g_real.new_zeros(())
    rows_real = g_real.reshape(g_real.shape[0], -1)
    rows_syn = g_syn.reshape(g_syn.shape[0], -1)
    cos = (rows_real * rows_syn).sum(-1) / (rows_real.norm(dim=-1) * rows_syn.norm(dim=-1) + EPS)
    return (1 - cos).sum()


@DISTANCES.register("ours")
def distance_ours(gw_syn: Sequence[Tensor], gw_real: Sequence[Tensor]) -> Tensor:
    return torch.stack([layer_distance(r, s) for r, s in zip(gw_real, gw_syn)]).sum()


def _flat(grads: Sequence[Tensor]) -> Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


@DISTANCES.register("mse")
def distance_mse(gw_syn: Sequence[Tensor], gw_real: Sequence[Tensor]) -> Tensor:
    return ((_flat(gw_syn) - _flat(gw_real)) ** 2).sum()


@DISTANCES.register("cos")
def distance_cos(gw_syn: Sequence[Tensor], gw_real: Sequence[Tensor]) -> Tensor:
    real, syn = _flat(gw_real), _flat(gw_syn)
    return 1 - (real * syn).sum() / (real.norm() * syn.norm() + EPS)


def match_loss(gw_syn: Sequence[Tensor], gw_real: Sequence[Tensor], metric: str = "ours") -> Tensor:
    return DISTANCES.get(metric)(gw_syn, gw_real)


# Distances that read only the weight tensors (a 1-D gradient contributes 0 to them).
WEIGHTS_ONLY = {"ours"}


def matched_parameters(params: Sequence[Tensor], metric: str) -> list[Tensor]:
    """The parameters whose gradients ``metric`` reads. For "ours" that is the weight tensors only,
    so the matching skips the bias and norm gradients (and their double backward): the same loss,
    less work."""
    DISTANCES.get(metric)
    return [p for p in params if p.dim() > 1] if metric in WEIGHTS_ONLY else list(params)
