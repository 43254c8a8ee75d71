"""Set parameterisations: a set may store n codes that a registered decoder turns into its training images.

A :class:`~condense.data.records.SyntheticSet` with ``decoder = {"name": ..., **params}`` holds encoded images;
every stage that trains on or exports a set decodes it first (:func:`decode_set`), and a method that learns
a parameterisation decodes the same way while it condenses (:func:`decode`), so what is optimised is what
is evaluated. One entry per parameterisation in :data:`DECODERS`; any method may use any of them.

``multiformation`` is IDC's uniform multi-formation (Kim et al., ICML 2022; official ``condense.py``
``Synthesizer.decode_zoom`` and ``test.py`` ``decode_zoom``): each stored image is cut into factor × factor
tiles (padded at the bottom and right to a multiple of the factor first) and each tile is resized
bilinearly to the full image size, so n stored images give n · factor² training images with their labels.
The official code pads with 0.5 in [0, 1] pixels; the sets here are normalised, so the record carries the
pad value per channel in the stored space (``pad``: (0.5 − mean) / std). Bilinear resizing and the tiling
commute with the per-channel normalisation, so decoding normalised codes equals normalising the official
decode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from math import ceil, isfinite

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.errors import CondenseError
from ..core.registry import Registry


@dataclass(frozen=True)
class Decoder:
    name: str
    summary: str
    decode: Callable[[Tensor, dict], Tensor]  # (codes of one class, params) -> its images, in the official order
    expansion: Callable[[dict], int]  # params -> training images per stored image
    check: Callable[[dict, str], None]  # (params, where) -> raises CondenseError on bad parameters


DECODERS: Registry[Decoder] = Registry("set decoder")


def register_decoder(decoder: Decoder) -> Decoder:
    DECODERS.add(decoder.name, decoder)
    return decoder


# ------------------------------------------------------------------------------------------ multi-formation


def multiformation(codes: Tensor, factor: int, pad: Sequence[float] | float = 0.0) -> Tensor:
    """IDC's uniform multi-formation of a batch of codes (B, C, H, W) -> (B · factor², C, H, W), tile-major:
    every code's tile (0, 0) first, then every code's tile (0, 1), ... as the official ``decode_zoom``
    concatenates them. Square images, as the official code assumes (it reads the width only)."""
    if factor == 1:
        return codes
    h = codes.shape[-1]
    remained = h % factor
    if remained > 0:
        grow = factor - remained
        fill = torch.as_tensor(pad, dtype=codes.dtype, device=codes.device).reshape(1, -1, 1, 1)
        padded = fill.expand(codes.shape[0], codes.shape[1], codes.shape[2] + grow, codes.shape[3] + grow).clone()
        padded[:, :, : codes.shape[2], : codes.shape[3]] = codes  # F.pad(value=...) takes one value, not one per channel
        codes = padded
    side = ceil(h / factor)
    tiles = [codes[:, :, i * side : (i + 1) * side, j * side : (j + 1) * side] for i in range(factor) for j in range(factor)]
    return F.interpolate(torch.cat(tiles), size=(h, h), mode="bilinear", align_corners=False)


def _check_multiformation(params: dict, where: str) -> None:
    factor = params.get("factor")
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
        raise CondenseError(f"{where}: decoder multiformation needs an integer factor ≥ 1, got {factor!r}; rerun the stage that made it")
    pad = params.get("pad", 0.0)
    values = pad if isinstance(pad, (list, tuple)) else [pad]
    # the pad fills the decoded images' borders: a NaN there trains every network on NaN pixels
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and isfinite(v) for v in values):
        raise CondenseError(f"{where}: decoder multiformation needs finite pad values, got {pad!r}; rerun the stage that made it")


register_decoder(Decoder(
    name="multiformation",
    summary="IDC's uniform multi-formation: each image cut into factor² tiles, each resized to full size",
    decode=lambda codes, params: multiformation(codes, int(params["factor"]), params.get("pad", 0.0)),
    expansion=lambda params: int(params["factor"]) ** 2,
    check=_check_multiformation,
))  # fmt: skip


# ------------------------------------------------------------------------------------------------- a whole set


def check_decoder(decoder: dict | None, where: str) -> None:
    """A set's decoder record names a registered decoder with good parameters; else one line."""
    if decoder is None:
        return
    name = decoder.get("name")
    if name not in DECODERS:
        raise CondenseError(
            f"{where} holds images encoded for decoder {name!r}, which this condense does not know "
            f"(known: {', '.join(DECODERS.names())}); update condense or load its plugin"
        )
    DECODERS.get(name).check(decoder, where)


def decode_class(codes: Tensor, decoder: dict | None) -> Tensor:
    """The images one class's codes stand for (differentiable; no host read, so a method may call it every step)."""
    return codes if decoder is None else DECODERS.get(decoder["name"]).decode(codes, decoder)


def decode(codes: Tensor, labels: Tensor, decoder: dict | None, soft_labels: Tensor | None = None):
    """(images, labels, soft labels) a set's codes stand for: class by class in order of their labels, each
    class's codes decoded as the official code decodes one class (differentiable in ``codes``)."""
    if decoder is None:
        return codes, labels, soft_labels
    entry = DECODERS.get(decoder["name"])
    copies = entry.expansion(decoder)
    images, hard, soft = [], [], []
    for c in torch.unique(labels, sorted=True).tolist():
        idx = torch.nonzero(labels == c).flatten()
        images.append(entry.decode(codes[idx], decoder))
        hard.append(labels[idx].repeat(copies))
        if soft_labels is not None:
            soft.append(soft_labels[idx].repeat(copies, 1))
    return torch.cat(images), torch.cat(hard), (torch.cat(soft) if soft_labels is not None else None)


def decode_set(synthetic):
    """The set as its training images (``decoder`` None), provenance kept; a set without decoder as it is."""
    if synthetic.decoder is None:
        return synthetic
    check_decoder(synthetic.decoder, "image set")
    images, labels, soft = decode(synthetic.images, synthetic.labels, synthetic.decoder, synthetic.soft_labels)
    return replace(synthetic, images=images.detach(), labels=labels, soft_labels=soft, decoder=None)
