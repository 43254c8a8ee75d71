"""Background texture families for derived datasets, written with torch (no downloads), one function each.

Each family draws ``n`` RGB images (n, 3, H, W) in [0, 1] from a generator: its own random colours,
scales, angles and phases per image, so two images of one family share a kind of pattern, not a
picture. Registry :data:`TEXTURES`, in a fixed order (a family's index is its id in a data file).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ...core.registry import Registry

Texture = Callable[[int, int, int, torch.Generator], Tensor]
TEXTURES: Registry[Texture] = Registry("background texture")


def _u(n: int, generator: torch.Generator, low: float = 0.0, high: float = 1.0, *shape: int) -> Tensor:
    return low + (high - low) * torch.rand((n, *shape), generator=generator)


def _colours(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two random RGB colours per image, (n, 3, 1, 1) each."""
    return _u(n, generator, 0.0, 1.0, 3, 1, 1), _u(n, generator, 0.0, 1.0, 3, 1, 1)


def _mix(weight: Tensor, generator: torch.Generator) -> Tensor:
    """Blend two random colours per image by a weight map (n, 1, H, W) in [0, 1]."""
    a, b = _colours(weight.shape[0], generator)
    return a * weight + b * (1 - weight)


def _grid(n: int, h: int, w: int) -> tuple[Tensor, Tensor]:
    ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1).expand(n, 1, h, w)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(n, 1, h, w)
    return ys, xs


def _rotated(n: int, h: int, w: int, generator: torch.Generator) -> Tensor:
    """Coordinate along a random direction, (n, 1, H, W)."""
    ys, xs = _grid(n, h, w)
    angle = _u(n, generator, 0.0, math.pi).view(n, 1, 1, 1)
    return xs * torch.cos(angle) + ys * torch.sin(angle)


def register(name: str) -> Callable[[Texture], Texture]:
    return TEXTURES.register(name)


@register("noise_fine")
def noise_fine(n, h, w, generator):
    """Per-pixel blend of two colours."""
    return _mix(torch.rand((n, 1, h, w), generator=generator), generator)


@register("noise_coarse")
def noise_coarse(n, h, w, generator):
    """Colour noise on a 4×4 grid, bilinearly upsampled: soft colour patches."""
    coarse = torch.rand((n, 3, 4, 4), generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


@register("stripes")
def stripes(n, h, w, generator):
    """Sinusoidal stripes at a random angle, 3-8 per 32 px."""
    freq = _u(n, generator, 3.0, 8.0).view(n, 1, 1, 1) * 2 * math.pi / 32
    phase = _u(n, generator, 0.0, 2 * math.pi).view(n, 1, 1, 1)
    return _mix(0.5 + 0.5 * torch.sin(_rotated(n, h, w, generator) * freq + phase), generator)


@register("checkers")
def checkers(n, h, w, generator):
    """A checkerboard of 3-8 px cells at a random offset."""
    ys, xs = _grid(n, h, w)
    cell = torch.randint(3, 9, (n, 1, 1, 1), generator=generator).float()
    oy, ox = _u(n, generator, 0.0, 8.0).view(n, 1, 1, 1), _u(n, generator, 0.0, 8.0).view(n, 1, 1, 1)
    board = (torch.floor((ys + oy) / cell) + torch.floor((xs + ox) / cell)) % 2
    return _mix(board, generator)


@register("blobs")
def blobs(n, h, w, generator):
    """Five soft coloured blobs (Gaussians of 3-8 px) on a base colour."""
    ys, xs = _grid(n, h, w)
    base, _ = _colours(n, generator)
    out = base.expand(n, 3, h, w).clone()
    for _ in range(5):
        cy, cx = _u(n, generator, 0.0, h).view(n, 1, 1, 1), _u(n, generator, 0.0, w).view(n, 1, 1, 1)
        sigma = _u(n, generator, 3.0, 8.0).view(n, 1, 1, 1)
        weight = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))
        colour, _ = _colours(n, generator)
        out = out * (1 - weight) + colour * weight
    return out


@register("gradient")
def gradient(n, h, w, generator):
    """A linear gradient between two colours at a random angle."""
    t = _rotated(n, h, w, generator)
    lo, hi = t.amin(dim=(2, 3), keepdim=True), t.amax(dim=(2, 3), keepdim=True)
    return _mix((t - lo) / (hi - lo), generator)


@register("rings")
def rings(n, h, w, generator):
    """Concentric rings about a random centre, 3-8 px apart."""
    ys, xs = _grid(n, h, w)
    cy, cx = _u(n, generator, 0.0, h).view(n, 1, 1, 1), _u(n, generator, 0.0, w).view(n, 1, 1, 1)
    period = _u(n, generator, 3.0, 8.0).view(n, 1, 1, 1)
    radius = torch.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
    return _mix(0.5 + 0.5 * torch.cos(2 * math.pi * radius / period), generator)


@register("dots")
def dots(n, h, w, generator):
    """A lattice of dots (spacing 5-9 px, radius a third of it) at a random offset."""
    ys, xs = _grid(n, h, w)
    spacing = torch.randint(5, 10, (n, 1, 1, 1), generator=generator).float()
    oy, ox = _u(n, generator, 0.0, 9.0).view(n, 1, 1, 1), _u(n, generator, 0.0, 9.0).view(n, 1, 1, 1)
    dy = torch.remainder(ys + oy, spacing) - spacing / 2
    dx = torch.remainder(xs + ox, spacing) - spacing / 2
    return _mix((dy**2 + dx**2 <= (spacing / 3) ** 2).float(), generator)


@register("plaid")
def plaid(n, h, w, generator):
    """Thin horizontal and vertical lines every 4-9 px."""
    ys, xs = _grid(n, h, w)
    spacing = torch.randint(4, 10, (n, 1, 1, 1), generator=generator).float()
    oy, ox = _u(n, generator, 0.0, 9.0).view(n, 1, 1, 1), _u(n, generator, 0.0, 9.0).view(n, 1, 1, 1)
    lines = (torch.remainder(ys + oy, spacing) < 1.5) | (torch.remainder(xs + ox, spacing) < 1.5)
    return _mix(lines.float(), generator)


@register("waves")
def waves(n, h, w, generator):
    """Interference of two sine waves: a wavy lattice."""
    ys, xs = _grid(n, h, w)
    fy, fx = (_u(n, generator, 2.0, 6.0).view(n, 1, 1, 1) * 2 * math.pi / 32 for _ in range(2))
    py, px = (_u(n, generator, 0.0, 2 * math.pi).view(n, 1, 1, 1) for _ in range(2))
    return _mix(0.5 + 0.5 * torch.sin(ys * fy + py) * torch.sin(xs * fx + px), generator)


def draw(family: int, n: int, h: int, w: int, generator: torch.Generator) -> Tensor:
    """``n`` images of the family with id ``family`` (its position in :data:`TEXTURES`)."""
    return TEXTURES.get(TEXTURES.in_order()[family])(n, h, w, generator).clamp(0.0, 1.0)
