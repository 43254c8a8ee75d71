"""Attention maps A_x = sigmoid(logsumexp over classes of φ(x)) for every training image (paper eq. 3).

Output: ``{"maps": uint8 N×H×W, "dataset", "fcn", "format": 1}``, the maps stored as
``round(255·A)`` in the stored order of the training set (map ``i`` belongs to
training image ``i``); ``A = maps.float() / 255``. Optionally a figure of a few
images per class: the image, its map and the masked image x ⊙ A.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from .data import RealData, denormalize, load_data
from .errors import CondenseError
from .fcn import attention_map, load_fcn
from .fileio import load_torch, save_figure, save_torch
from .runtime import add_common_arguments, progress, resolve_device

log = logging.getLogger("condense.attention_maps")

MAPS_FORMAT = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dataset file from `condense download`")
    parser.add_argument("--fcn", type=Path, required=True, help="trained FCN from `condense train-attention`")
    parser.add_argument("--out", type=Path, required=True, help="attention maps (.pt, uint8 N×H×W)")
    parser.add_argument("--figure", type=Path, default=None, help="also draw image / map / masked image for a few images per class (PNG; a PDF beside it)")
    parser.add_argument("--per-class-figure", type=int, default=4, help="images per class in the figure")
    parser.add_argument("--batch-size", type=int, default=512)
    add_common_arguments(parser, seed=False)


def to_uint8(attention: torch.Tensor) -> torch.Tensor:
    """Attention in [0, 1] → uint8 round(255·A)."""
    return attention.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def from_uint8(maps: torch.Tensor) -> torch.Tensor:
    """Stored uint8 maps → float attention in [0, 1]."""
    return maps.float().div_(255.0)


@torch.no_grad()
def compute_maps(net: torch.nn.Module, images: torch.Tensor, batch_size: int = 512, desc: str = "attention maps") -> torch.Tensor:
    """uint8 attention maps (N, H, W) on the CPU for normalised images (N, C, H, W), in no-grad batches."""
    net.eval()
    chunks = []
    for start in progress(range(0, images.shape[0], batch_size), desc=desc, unit="batch"):
        chunks.append(to_uint8(attention_map(net(images[start : start + batch_size]))).cpu())
    if not chunks:
        return torch.zeros((0, *images.shape[2:]), dtype=torch.uint8)
    return torch.cat(chunks)


def load_maps(path: str | Path) -> dict:
    """Read a maps file, checking it holds uint8 N×H×W maps."""
    stored = load_torch(path, what="attention maps")
    if not isinstance(stored, dict) or not isinstance(stored.get("maps"), torch.Tensor):
        raise CondenseError(f"attention maps file {str(path)!r} has no 'maps' tensor; rerun `condense attention-maps`")
    maps = stored["maps"]
    if maps.dtype != torch.uint8 or maps.dim() != 3:
        raise CondenseError(
            f"attention maps file {str(path)!r} holds {tuple(maps.shape)} {maps.dtype} maps, expected uint8 N×H×W; "
            "rerun `condense attention-maps`"
        )
    return stored


def draw_figure(path: Path, data: RealData, maps: torch.Tensor, per_class: int) -> None:
    """Rows = classes; per image three panels: de-normalised image, attention map ([0, 1] scale), masked image x ⊙ A."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [idx[:per_class].cpu() for idx in data.class_indices]
    k = max((p.numel() for p in picks), default=0)
    if k == 0:
        raise CondenseError("no training images to draw; check the dataset file")
    rows, cols = data.num_classes, 3 * k
    fig, axes = plt.subplots(rows, cols, figsize=(1.15 * cols + 1.6, 1.2 * rows + 0.6), squeeze=False)
    gray = data.channel == 1
    mappable = None
    for c, idx in enumerate(picks):
        x = data.train_images[idx.to(data.train_images.device)].float().cpu()
        a = from_uint8(maps[idx])
        shown = denormalize(x, data.mean, data.std)
        masked_shown = denormalize(x * a.unsqueeze(1), data.mean, data.std)
        for j in range(k):
            panels = axes[c, 3 * j : 3 * j + 3]
            for ax in panels:
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
            if j >= idx.numel():
                for ax in panels:
                    ax.axis("off")
                continue
            for ax, img in ((panels[0], shown[j]), (panels[2], masked_shown[j])):
                if gray:
                    ax.imshow(img[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
                else:
                    ax.imshow(img.permute(1, 2, 0).numpy())
            mappable = panels[1].imshow(a[j].numpy(), cmap="inferno", vmin=0.0, vmax=1.0)
            if c == 0:
                for ax, title in zip(panels, ("image", "attention A", "x ⊙ A")):
                    ax.set_title(title, fontsize=8)
        axes[c, 0].set_ylabel(data.classes[c], fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(f"{data.name}: attention maps (A = sigmoid(logsumexp of class maps)) and masked images", fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.9, top=0.9, bottom=0.02, wspace=0.05, hspace=0.1)
    if mappable is not None:
        cax = fig.add_axes((0.92, 0.1, 0.012, 0.75))
        fig.colorbar(mappable, cax=cax, label="attention A")
    save_figure(fig, path)
    plt.close(fig)


def run(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise CondenseError(f"--batch-size {args.batch_size} must be at least 1")
    if args.per_class_figure < 1:
        raise CondenseError(f"--per-class-figure {args.per_class_figure} must be at least 1")
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    net = load_fcn(args.fcn, device)
    spec = net.fcn_spec
    if (spec["channel"], spec["num_classes"]) != (data.channel, data.num_classes):
        raise CondenseError(
            f"attention model {str(args.fcn)!r} takes {spec['channel']}-channel images with {spec['num_classes']} classes "
            f"but {data.name} has {data.channel} and {data.num_classes}; train it on this dataset"
        )
    trained_on = net.fcn_meta.get("dataset")
    if trained_on is not None and trained_on != data.name:
        log.warning("attention model was trained on %s, maps are for %s", trained_on, data.name)
    maps = compute_maps(net, data.train_images, args.batch_size)
    save_torch({"maps": maps, "dataset": data.name, "fcn": str(args.fcn), "format": MAPS_FORMAT}, args.out)
    mean_a = float(from_uint8(maps).mean()) if maps.numel() else float("nan")
    log.info("%d attention maps (%dx%d, mean attention %.3f) -> %s", maps.shape[0], maps.shape[1], maps.shape[2], mean_a, args.out)
    if args.figure is not None:
        draw_figure(args.figure, data, maps, args.per_class_figure)
        log.info("figure -> %s (and %s)", args.figure, args.figure.with_suffix(".pdf"))


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
