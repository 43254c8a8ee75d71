"""Differentiable Siamese augmentation (DSA), matching the official DC/DSA/DM code.

The official ``DiffAugment`` (``utils.py`` of the DatasetCondensation repository)
is reproduced op for op: same formulas, same parameter ranges, same
``align_corners=False`` sampling, and the same "single" mode (``aug_mode='S'``),
where every call picks ONE family of the strategy uniformly at random and applies
all of that family's ops (``color`` = brightness, then saturation, then contrast).

Randomness is split from application, so sharing is explicit and exact::

    draw = sample(strategy, batch_size, generator, device, params, per_image=False)
    real = apply(real, draw)      # the same parameters ...
    syn = apply(syn, draw)        # ... for both batches, whatever their sizes

* ``per_image=False`` (Siamese, used while condensing): one value per parameter,
  shape ``(1,)``, broadcast over every image of every batch the draw is applied to.
* ``per_image=True`` (used when training evaluation networks, the official
  ``DiffAugment(x, strategy, seed=-1)``): one family per call, parameters drawn
  independently for each image, shape ``(batch_size,)``.

A :class:`Draw` stores, for each parameter, a uniform number ``u`` in ``[0, 1)``;
``apply`` maps it through the official formula (e.g. brightness adds
``(u - 0.5) * params.brightness``). Integer parameters (crop shift, cutout
position) are ``floor(u * n)`` over their ``n`` allowed values, which has the
distribution of the official ``torch.randint`` and is resolved against the size of
the image it is applied to.

Generator and CUDA: all randomness comes from the explicit ``torch.Generator``.
Use a CPU generator (recommended, also for CUDA data): the few uniforms of a
draw are made on the CPU in one call and sent to the data's device with
``non_blocking=True``, which never waits on the GPU stream, and picking the
family reads a CPU number, so nothing synchronises with the device. A generator
on the data's device also works (same-seed determinism holds), but then picking
the family copies one number back to the host: one synchronisation per call.
The ops in :func:`apply` are pure tensor code, vectorised over the batch, with
no host reads, and are differentiable with respect to ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.errors import CondenseError
from ..core.registry import Registry

__all__ = [
    "AugmentParams",
    "Family",
    "FAMILIES",
    "Step",
    "Draw",
    "DEFAULT_STRATEGY",
    "DIGIT_DATASETS",
    "parse_strategy",
    "strategy_for",
    "sample",
    "apply",
    "augment",
    "augment_siamese",
    "sample_idc",
]

DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"
#: Datasets whose classes change under a horizontal flip; their strategy drops ``flip``.
DIGIT_DATASETS = frozenset({"mnist", "svhn"})


@dataclass(frozen=True)
class AugmentParams:
    """The official ``ParamDiffAug`` defaults.

    aug_mode: ``'S'`` one family per call (the official default), ``'M'`` every
        family of the strategy in turn.
    prob_flip: probability of a horizontal flip.
    ratio_scale: each axis scaled by U(1/ratio, ratio).
    ratio_rotate: rotation by U(-ratio, ratio) degrees.
    ratio_crop_pad: translation by an integer in [-s, s] pixels per axis,
        s = int(side * ratio + 0.5), zero fill.
    ratio_cutout: a square of side int(side * ratio + 0.5) is zeroed.
    brightness: adds (U(0, 1) - 0.5) * brightness, i.e. U(-0.5, 0.5) by default.
    saturation: deviation from the per-pixel channel mean times U(0, 1) * saturation.
    contrast: deviation from the per-image mean times U(0, 1) + contrast.
    align_corners: the grid convention of scale and rotate. The DC/DSA/DM code samples with torch's default
        (False); MTT's ``utils.py`` passes ``align_corners=True`` to ``affine_grid`` and ``grid_sample``
        (:data:`condense.methods.mtt.MTT_AUGMENT`). Both give the same images where the image is square (scale and
        rotation about the centre); they differ for a rotation of a non-square image.
    """

    aug_mode: str = "S"
    prob_flip: float = 0.5
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5
    align_corners: bool = False


# --------------------------------------------------------------------------- ops
# Each op takes x (B, C, H, W) and per-parameter uniforms of shape (N,), N in {1, B}.


def _col(u: Tensor, x: Tensor) -> Tensor:
    """Uniforms as a (N, 1, 1, 1) tensor of x's dtype, ready to broadcast."""
    return u.to(dtype=x.dtype).view(-1, 1, 1, 1)


def _brightness(x: Tensor, u: Tensor, p: AugmentParams) -> Tensor:
    return x + (_col(u, x) - 0.5) * p.brightness


def _saturation(x: Tensor, u: Tensor, p: AugmentParams) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_col(u, x) * p.saturation) + mean


def _contrast(x: Tensor, u: Tensor, p: AugmentParams) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_col(u, x) + p.contrast) + mean


def _color(x: Tensor, v: Mapping[str, Tensor], p: AugmentParams) -> Tensor:
    x = _brightness(x, v["brightness"], p)
    x = _saturation(x, v["saturation"], p)
    return _contrast(x, v["contrast"], p)


def _flip(x: Tensor, v: Mapping[str, Tensor], p: AugmentParams) -> Tensor:
    flipped = v["flip"].view(-1, 1, 1, 1) < p.prob_flip
    return torch.where(flipped, x.flip(3), x)


def _warp(x: Tensor, theta: Tensor, align_corners: bool = False) -> Tensor:
    """Bilinear resampling by per-image (or one shared) 2x3 affine matrices, zero fill."""
    n, b = theta.size(0), x.size(0)
    theta = theta.to(dtype=x.dtype)
    grid = F.affine_grid(theta, [n, x.size(1), x.size(2), x.size(3)], align_corners=align_corners)
    if n != b:  # one shared matrix: compute the grid once and broadcast it
        grid = grid.expand(b, -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


def _affine(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    """(N, 2, 3) matrices [[a, b, 0], [c, d, 0]]."""
    zero = torch.zeros_like(a)
    return torch.stack([a, b, zero, c, d, zero], dim=-1).view(-1, 2, 3)


def _scale(x: Tensor, v: Mapping[str, Tensor], p: AugmentParams) -> Tensor:
    r = p.ratio_scale
    sx = v["w"] * (r - 1.0 / r) + 1.0 / r  # multiplies the width (x) coordinate
    sy = v["h"] * (r - 1.0 / r) + 1.0 / r
    zero = torch.zeros_like(sx)
    return _warp(x, _affine(sx, zero, zero, sy), p.align_corners)


def _rotate(x: Tensor, v: Mapping[str, Tensor], p: AugmentParams) -> Tensor:
    angle = (v["angle"] - 0.5) * 2 * p.ratio_rotate / 180 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    return _warp(x, _affine(cos, -sin, sin, cos), p.align_corners)


def _to_int(u: Tensor, low: int, high: int) -> Tensor:
    """Uniform u in [0, 1) -> integer in [low, high] (inclusive), on u's device."""
    n = high - low + 1
    return (u.to(torch.float32) * n).floor().long().clamp(0, n - 1) + low


def _shift(x: Tensor, t: Tensor, dim: int) -> Tensor:
    """out.select(dim, i) = x.select(dim, i + t) where that index exists, else 0."""
    size = x.size(dim)
    idx = torch.arange(size, device=x.device) + t.view(-1, 1)  # (N, size)
    inside = (idx >= 0) & (idx < size)
    shape = (-1, 1, size, 1) if dim == 2 else (-1, 1, 1, size)
    idx = idx.clamp(0, size - 1).view(shape)
    out = torch.gather(x, dim, idx.expand(x.shape))
    return torch.where(inside.view(shape), out, 0.0)


def _crop(x: Tensor, v: Mapping[str, Tensor], p: AugmentParams) -> Tensor:
    # The official pads by one zero pixel and clamps the shifted index into the
    # padding, which is exactly a translation with zero fill.
    sh = int(x.size(2) * p.ratio_crop_pad + 0.5)
    sw = int(x.size(3) * p.ratio_crop_pad + 0.5)
    x = _shift(x, _to_int(v["h"], -sh, sh), 2)
    return _shift(x, _to_int(v["w"], -sw, sw), 3)


def _cutout(x: Tensor, v: Mapping[str, Tensor], p: AugmentParams) -> Tensor:
    # Official: centre offset o in [0, side + (1 - size % 2)), square rows
    # o - size // 2 ... o - size // 2 + size - 1, clipped to the image.
    def inside(u: Tensor, side: int) -> Tensor:  # (N, side) bool
        size = int(side * p.ratio_cutout + 0.5)
        start = _to_int(u, 0, side - size % 2) - size // 2
        pos = torch.arange(side, device=x.device)
        return (pos >= start.view(-1, 1)) & (pos < start.view(-1, 1) + size)

    rows, cols = inside(v["h"], x.size(2)), inside(v["w"], x.size(3))
    hole = rows.unsqueeze(2) & cols.unsqueeze(1)  # (N, H, W)
    return x.masked_fill(hole.unsqueeze(1), 0.0)


# ---------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """One augmentation family: the uniforms it draws (in draw order) and how to apply them."""

    name: str
    keys: tuple[str, ...]
    fn: Callable[[Tensor, Mapping[str, Tensor], AugmentParams], Tensor]
    doc: str = ""


FAMILIES: Registry[Family] = Registry("augmentation family")
for _family in (
    Family(
        "color", ("brightness", "saturation", "contrast"), _color, "brightness, then saturation, then contrast, each with its own uniform"
    ),
    Family("crop", ("h", "w"), _crop, "integer translation per axis, zero fill"),
    Family("cutout", ("h", "w"), _cutout, "square centre row h / column w, zeroed"),
    Family("flip", ("flip",), _flip, "horizontal flip where flip < prob_flip"),
    Family("scale", ("w", "h"), _scale, "x (width) and y (height) scale factors"),
    Family("rotate", ("angle",), _rotate, "rotation angle"),
):
    FAMILIES.add(_family.name, _family)


def parse_strategy(strategy: str | None) -> tuple[str, ...]:
    """``'color_crop_flip'`` -> ``('color', 'crop', 'flip')``; ``None``/''/'none' -> ``()``."""
    if strategy is None or strategy.strip().lower() in ("", "none"):
        return ()
    names = tuple(strategy.strip().split("_"))
    for name in names:
        if name not in FAMILIES:
            raise CondenseError(
                f"unknown augmentation family {name!r} in DSA strategy {strategy!r}; "
                f"choose '_'-joined names from: {', '.join(FAMILIES.names())} (or 'none')"
            )
    return names


def strategy_for(dataset_name: str) -> str:
    """The DSA strategy of a dataset: all six families, without ``flip`` for digits (MNIST, SVHN)."""
    if dataset_name.strip().lower() in DIGIT_DATASETS:
        return "color_crop_cutout_scale_rotate"
    return DEFAULT_STRATEGY


# ------------------------------------------------------------------------- draws


@dataclass(frozen=True)
class Step:
    """One family to apply and its uniforms, each of shape (N,), N = 1 (shared) or the batch size."""

    family: str
    values: Mapping[str, Tensor]


@dataclass(frozen=True)
class Draw:
    """A sampled augmentation: the families to apply, in order, with their parameters.

    ``steps`` is empty for the identity, holds one step in mode 'S' and every
    family of the strategy in mode 'M'.
    """

    steps: tuple[Step, ...]
    params: AugmentParams = field(default_factory=AugmentParams)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(step.family for step in self.steps)

    @property
    def family(self) -> str:
        """The family applied ('none' for the identity, '+'-joined in mode 'M')."""
        return "+".join(self.families) or "none"

    @property
    def size(self) -> int:
        """Images the parameters are drawn for: 1 when shared (Siamese), else the batch size."""
        for step in self.steps:
            for value in step.values.values():
                return value.size(0)
        return 1

    def to(self, device: torch.device | str) -> Draw:
        steps = tuple(Step(s.family, {k: v.to(device, non_blocking=True) for k, v in s.values.items()}) for s in self.steps)
        return replace(self, steps=steps)

    @classmethod
    def of(cls, family: str, params: AugmentParams | None = None, device: torch.device | str | None = None, **values) -> Draw:
        """A one-family draw from given uniforms (floats, sequences or tensors), for tests and replays.

        ``Draw.of('color', brightness=0.8, saturation=0.5, contrast=0.5)`` adds 0.3 to every pixel.
        """
        fam = FAMILIES.get(family)
        if set(values) != set(fam.keys):
            raise CondenseError(f"family {family!r} takes the uniforms {', '.join(fam.keys)}; got {', '.join(sorted(values)) or 'none'}")
        vals = {k: torch.as_tensor(values[k], dtype=torch.float32, device=device).reshape(-1) for k in fam.keys}
        return cls((Step(family, vals),), params or AugmentParams())


def sample(
    strategy: str | None,
    batch_size: int,
    generator: torch.Generator | None,
    device: torch.device | str | None = None,
    params: AugmentParams | None = None,
    per_image: bool = True,
) -> Draw:
    """Draw the family (mode 'S': one, uniformly among the strategy's names) and its parameters.

    ``per_image=True``: parameters of shape ``(batch_size,)``, one per image.
    ``per_image=False``: shape ``(1,)``, shared by every image of any batch the
    draw is applied to (Siamese augmentation). The uniforms are drawn on the
    generator's device (the global CPU generator when ``generator`` is None) and
    placed on ``device`` (default: the generator's device) without blocking.
    """
    params = params or AugmentParams()
    families = parse_strategy(strategy)
    if params.aug_mode not in ("S", "M"):
        raise CondenseError(f"unknown augmentation mode {params.aug_mode!r}; choose 'S' (single) or 'M' (multiple)")
    gen_device = generator.device if generator is not None else torch.device("cpu")
    device = torch.device(device) if device is not None else gen_device
    if not families:
        return Draw((), params)
    if per_image and batch_size < 1:
        raise CondenseError(f"batch_size must be at least 1 for per-image draws, got {batch_size}")

    if params.aug_mode == "S":
        pick = torch.randint(len(families), (1,), generator=generator, device=gen_device)
        families = (families[int(pick)],)  # a host read: free for a CPU generator
    chosen = [FAMILIES.get(name) for name in families]
    n = batch_size if per_image else 1
    total = sum(len(f.keys) for f in chosen)
    u = torch.rand((total, n), generator=generator, device=gen_device)
    u = u.to(device, non_blocking=True)  # one small host-to-device copy; no stream sync
    rows = iter(u.unbind(0))
    steps = tuple(Step(f.name, {key: next(rows) for key in f.keys}) for f in chosen)
    return Draw(steps, params)


# IDC (Kim et al., ICML 2022; official misc/augment.py DiffAug) applies the same ops in another order: flip and
# colour (each where the strategy names it), then ONE of the other families, then cutout, instead of one family.
IDC_OUTER = ("flip", "color")


def sample_idc(
    strategy: str | None,
    batch_size: int,
    generator: torch.Generator | None,
    device: torch.device | str | None = None,
    params: AugmentParams | None = None,
    per_image: bool = True,
) -> Draw:
    """IDC's ``DiffAug(strategy, batch=not per_image)`` as a draw: ``flip``, then ``color``, then one family picked
    uniformly among the strategy's others (one pick for the whole batch, as ``np.random.randint`` there), then
    ``cutout``; each present only where the strategy names it. Same op formulas and ranges as DSA's."""
    params = params or AugmentParams()
    families = parse_strategy(strategy)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    device = torch.device(device) if device is not None else gen_device
    rest = [name for name in families if name not in (*IDC_OUTER, "cutout")]
    order = [name for name in IDC_OUTER if name in families]
    if rest:
        pick = torch.randint(len(rest), (1,), generator=generator, device=gen_device)
        order.append(rest[int(pick)])
    if "cutout" in families:
        order.append("cutout")
    n = batch_size if per_image else 1
    steps = []
    for name in order:
        fam = FAMILIES.get(name)
        u = torch.rand((len(fam.keys), n), generator=generator, device=gen_device).to(device, non_blocking=True)
        steps.append(Step(name, dict(zip(fam.keys, u.unbind(0)))))
    return Draw(tuple(steps), params)


def apply(x: Tensor, draw: Draw) -> Tensor:
    """Apply a draw to a batch ``x`` of shape (B, C, H, W); differentiable w.r.t. ``x``.

    A shared draw (size 1) fits any batch size; a per-image draw needs ``B == draw.size``.
    """
    if not draw.steps:
        return x
    if x.dim() != 4:
        raise CondenseError(f"DSA augmentation needs images shaped (B, C, H, W); got shape {tuple(x.shape)}")
    for step in draw.steps:
        values = {}
        for key, value in step.values.items():
            if value.dim() != 1 or value.size(0) not in (1, x.size(0)):
                raise CondenseError(
                    f"augmentation draw for {step.family!r} has {tuple(value.shape)} values of {key!r} "
                    f"for a batch of {x.size(0)}; sample it with per_image=False to share it across batches"
                )
            values[key] = value.to(x.device, non_blocking=True)
        x = FAMILIES.get(step.family).fn(x, values, draw.params)
    return x.contiguous()


def augment(
    x: Tensor,
    strategy: str | None,
    generator: torch.Generator | None,
    params: AugmentParams | None = None,
    per_image: bool = True,
) -> Tensor:
    """Sample and apply in one go (per-image parameters by default, as when training evaluation networks)."""
    draw = sample(strategy, x.size(0), generator, x.device, params, per_image=per_image)
    return apply(x, draw)


def augment_siamese(
    batches: Sequence[Tensor],
    strategy: str | None,
    generator: torch.Generator | None,
    params: AugmentParams | None = None,
) -> tuple[Tensor, ...]:
    """One shared draw applied to every batch (e.g. the real and the synthetic batch of a class)."""
    if not batches:
        return ()
    draw = sample(strategy, 1, generator, batches[0].device, params, per_image=False)
    return tuple(apply(b, draw) for b in batches)


def resolve_strategy(augment: str, traits) -> str:
    """``dsa`` → the dataset's DSA strategy (its traits); ``none`` or an explicit strategy as given (checked)."""
    if augment == "dsa":
        return traits.dsa_strategy
    parse_strategy(augment)
    return augment
