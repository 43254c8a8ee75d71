"""Choose which training images are attention-masked at a mask ratio r (paper §3.2, Figure 3).

The ``mask`` stage picks, for every class c, exactly ``floor(r · n_c)`` of its n_c
training images uniformly at random without replacement (CPU generator seeded by
``--seed``) and stores ONLY that selection: a bool tensor over the training set in
its stored order, with the ratio, seed, dataset name and the path of the maps file
it was made for. Images are never copied per ratio; :func:`apply_masks` builds
the masked dataset in memory when a later stage needs it::

    data = load_data("data.pt", device)
    masked = apply_masks(data, "mask_r0.5.pt", "maps.pt")     # maps given explicitly
    masked = load_masked_data("data.pt", "mask_r0.5.pt", device)  # maps from the path stored in the mask file

A selected image x becomes ``x ⊙ A_x`` on the NORMALISED image (A = maps / 255,
broadcast over channels; masked-out pixels go to 0, i.e. the dataset mean colour);
every other image stays bit-identical, and ratio 0 gives back the raw data.

For one seed the selections are nested across ratios (the same per-class random
order is cut at ``floor(r · n_c)``), so the images masked at r = 0.25 are also
masked at r = 0.5, which lowers the noise of a mask-ratio curve.

Relation to the authors' code: there, the mask is applied while condensing, to
``floor(r · n)`` randomly chosen images of every real batch of n images drawn for
a class, so across iterations every real image is sometimes seen masked and
sometimes raw. Here the masked subset of the dataset is fixed once per (ratio,
seed) and batches are drawn from that mixed dataset: the expected fraction of
masked images in a batch is the same (about r), but a given image is always
masked or always raw, and the selection is an explicit, reproducible artifact
that the workflow can share between methods. r = 0 and r = 1 are identical in
both schemes.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from pathlib import Path
from typing import Union

import torch

from .attention_maps import from_uint8, load_maps
from .data import RealData, load_data
from .errors import CondenseError
from .fileio import load_torch, save_torch
from .runtime import add_common_arguments, make_generator

log = logging.getLogger("condense.mask")

MASK_FORMAT = 1
MapsLike = Union[str, Path, dict, torch.Tensor]
MaskLike = Union[str, Path, dict, torch.Tensor]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--maps", type=Path, required=True, help="attention maps from `condense attention-maps`")
    parser.add_argument("--ratio", type=float, required=True, help="mask ratio r in [0, 1]: floor(r·n_c) images of each class are masked")
    parser.add_argument("--out", type=Path, required=True, help="mask selection (.pt; no images)")
    add_common_arguments(parser, device=False)


def check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not 0.0 <= ratio <= 1.0:  # also rejects NaN
        raise CondenseError(f"mask ratio {ratio!r} is outside [0, 1]; give the fraction of images to mask, e.g. --ratio 0.5")
    return ratio


def masked_count(n: int, ratio: float) -> int:
    """floor(ratio · n), robust to float round-off (0.29 · 100 counts as 29, not 28)."""
    return min(n, math.floor(ratio * n + 1e-9))


def select_masked(labels: torch.Tensor, num_classes: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Bool tensor over ``labels`` (CPU) with exactly floor(ratio·n_c) True entries in each class c."""
    ratio = check_ratio(ratio)
    labels = labels.cpu()
    selected = torch.zeros(labels.shape[0], dtype=torch.bool)
    for c in range(num_classes):
        idx = torch.nonzero(labels == c).flatten()
        order = torch.randperm(idx.numel(), generator=generator, device=generator.device).cpu()
        selected[idx[order[: masked_count(idx.numel(), ratio)]]] = True
    return selected


def load_mask(path: str | Path) -> dict:
    """Read a mask selection file written by the ``mask`` stage."""
    stored = load_torch(path, what="mask selection")
    if not isinstance(stored, dict) or not isinstance(stored.get("selected"), torch.Tensor) or stored["selected"].dtype != torch.bool:
        raise CondenseError(f"mask selection file {str(path)!r} has no bool 'selected' tensor; rerun `condense mask`")
    return stored


def _resolve(value, key: str, load, what: str, stage: str) -> tuple[torch.Tensor, dict]:
    """``value`` as (tensor, stored dict): a tensor as is, else a loaded dict (or the file ``load`` reads) holding ``key``."""
    if isinstance(value, torch.Tensor):
        return value, {}
    stored = value if isinstance(value, dict) else load(value)
    if not isinstance(stored.get(key), torch.Tensor):
        raise CondenseError(f"{what}: no {key!r} tensor; pass the output of `condense {stage}`")
    return stored[key], stored


def apply_masks(data: RealData, mask: MaskLike, maps: MapsLike) -> RealData:
    """``data`` with the selected training images replaced by ``x ⊙ A_x``; all else shared, unchanged.

    ``mask``: a mask file path, its loaded dict, or a bool tensor over the training set.
    ``maps``: a maps file path, its loaded dict, or a tensor N×H×W (uint8 = round(255·A),
    or float A in [0, 1]). With nothing selected (ratio 0) ``data`` itself is returned.
    """
    selected, mask_meta = _resolve(mask, "selected", load_mask, "mask selection", "mask")
    maps_t, maps_meta = _resolve(maps, "maps", load_maps, "attention maps", "attention-maps")
    n = data.train_images.shape[0]
    for what, meta in (("mask selection", mask_meta), ("attention maps", maps_meta)):
        if meta.get("dataset") not in (None, data.name):
            raise CondenseError(f"{what} were made for dataset {meta['dataset']!r}, not {data.name!r}; rerun its stage for this dataset")
    if selected.dtype != torch.bool or tuple(selected.shape) != (n,):
        raise CondenseError(f"mask selection is {tuple(selected.shape)} {selected.dtype}, expected bool ({n},) over the training set of {data.name}")
    if tuple(maps_t.shape) != (n, *data.im_size):
        raise CondenseError(
            f"attention maps are {tuple(maps_t.shape)} but {data.name} has {n} training images of {data.im_size[0]}x{data.im_size[1]}; "
            "compute the maps for this dataset"
        )
    idx = torch.nonzero(selected.cpu()).flatten()
    if idx.numel() == 0:
        return data
    attention = maps_t[idx]
    attention = from_uint8(attention) if attention.dtype == torch.uint8 else attention.float()
    device = data.train_images.device
    idx_dev = idx.to(device)
    images = data.train_images.clone()
    images[idx_dev] = images[idx_dev] * attention.to(device).unsqueeze(1)
    return dataclasses.replace(data, train_images=images)


def load_masked_data(data_path: str | Path, mask_path: str | Path, device: torch.device | str = "cpu",
                     maps: MapsLike | None = None) -> RealData:
    """Load a dataset and apply a mask selection; the maps default to the file named in the mask."""
    data = load_data(data_path, device)
    mask = load_mask(mask_path)
    if maps is None:
        if not mask.get("maps"):
            raise CondenseError(f"mask selection file {str(mask_path)!r} names no maps file; pass the maps explicitly")
        maps = Path(mask["maps"])
    return apply_masks(data, mask, maps)


def run(args: argparse.Namespace) -> None:
    ratio = check_ratio(args.ratio)
    stored = load_torch(args.data, what="dataset")
    if not isinstance(stored, dict) or "train_labels" not in stored or "classes" not in stored:
        raise CondenseError(f"dataset file {str(args.data)!r} has no train_labels/classes; rerun `condense download`")
    labels = stored["train_labels"].long()
    maps = load_maps(args.maps)
    if maps["maps"].shape[0] != labels.shape[0] or tuple(maps["maps"].shape[1:]) != tuple(stored["train_images"].shape[2:]):
        raise CondenseError(
            f"attention maps {str(args.maps)!r} are {tuple(maps['maps'].shape)} but {stored.get('name')} has "
            f"{labels.shape[0]} training images of {tuple(stored['train_images'].shape[2:])}; recompute the maps for this dataset"
        )
    if maps.get("dataset") not in (None, stored.get("name")):
        raise CondenseError(f"attention maps {str(args.maps)!r} are for {maps['dataset']!r}, not {stored.get('name')!r}; recompute them")
    num_classes = len(stored["classes"])
    selected = select_masked(labels, num_classes, ratio, make_generator(args.seed))
    per_class = [int(selected[labels == c].sum()) for c in range(num_classes)]
    save_torch(
        {
            "selected": selected,
            "ratio": ratio,
            "seed": args.seed,
            "dataset": stored.get("name"),
            "maps": str(args.maps),
            "num_train": int(labels.shape[0]),
            "per_class_masked": per_class,
            "format": MASK_FORMAT,
        },
        args.out,
    )
    log.info("mask ratio %g: %d of %d training images masked (%s per class) -> %s",
             ratio, int(selected.sum()), labels.shape[0], per_class, args.out)


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
