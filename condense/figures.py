"""Figures from the pipeline's artifacts: accuracy vs mask ratio, synthetic image grids, matching-loss curves.

``condense figures NAME FILE... --out FIG.png`` draws one figure from an explicit list
of input files and writes it as PNG and as PDF beside it (same stem):

- ``mask_ratio`` (the paper's Figure 3), from evaluation JSONs: test accuracy mean ± std
  vs mask ratio, one line per (method, IPC) that has masked sets (ratio 0 = the same
  method's unmasked set), one panel per evaluation model;
- ``synthetic_images`` (Figure 4), from image-set files and ``--data`` (for the
  de-normalisation and class names): one panel per set, rows = method, columns = IPC;
  inside a panel one column per class (named on top) and one row per image;
- ``matching_loss``, from condensed set files (their ``meta['losses']``): the matching
  loss per iteration, one panel per base method (DC/DSA and DM losses differ in scale).

The attention-map grid is drawn by ``condense attention-maps --figure`` (in one place).
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .data import denormalize
from .errors import CondenseError
from .fileio import load_torch, save_figure
from .registry import Registry
from .runtime import add_common_arguments
from .synset import load_set
from .table import load_rows, summarize

log = logging.getLogger("condense.figures")

METHOD_LABELS = {"random": "random", "herding": "herding", "dc": "DC", "dsa": "DSA", "dm": "DM"}
METHOD_ORDER = ("random", "herding", "dc", "dsa", "dm")
LOSS_LABELS = {
    "dc": "gradient distance (per class and outer loop)",
    "dsa": "gradient distance (per class and outer loop)",
    "dm": "‖Δ mean embedding‖² (per class)",
}


@dataclass(frozen=True)
class Figure:
    draw: Callable[[list[Path], argparse.Namespace], "object"]  # returns a matplotlib figure
    inputs: str  # what the FILE arguments are, for help and errors
    needs_data: bool = False


FIGURES: Registry[Figure] = Registry("figure")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("figure", choices=FIGURES.names(), help="which figure to draw")
    parser.add_argument("inputs", nargs="*", type=Path,
                        help="input files: " + "; ".join(f"{name}: {FIGURES.get(name).inputs}" for name in FIGURES.names()))
    parser.add_argument("--out", type=Path, required=True, help="PNG path; the PDF is written beside it")
    parser.add_argument("--data", type=Path, default=None, help="dataset file (synthetic_images: mean/std and class names)")
    add_common_arguments(parser, seed=False, device=False)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def suptitle(fig, text: str, fontsize: int = 10) -> None:
    """The figure title, each line wrapped to the figure's width."""
    width = max(40, int(fig.get_figwidth() * 13))
    fig.suptitle("\n".join(textwrap.fill(line, width) for line in text.split("\n")), fontsize=fontsize)


def method_label(method: str, ratio: float = 0.0) -> str:
    """'dsa', 1.0 -> 'DSA + mask (r = 1.0)'; ratio 0 is the plain method."""
    name = METHOD_LABELS.get(method, method)
    return f"{name} + mask (r = {ratio:g})" if ratio else name


def _method_key(method: str, ratio: float) -> tuple:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method, ratio)


# ---------------------------------------------------------------- Figure 3: accuracy vs mask ratio


def draw_mask_ratio(paths: list[Path], args: argparse.Namespace):
    """One panel per model; one line per (method, IPC) with at least one masked set; error bars = std over networks."""
    table = summarize(load_rows(paths))
    table = table[table["ipc"] != "whole"]
    if table.empty:
        raise CondenseError("mask_ratio: the evaluation files hold no condensed or coreset sets (only whole-dataset runs)")
    datasets = ", ".join(sorted(set(table["dataset"])))
    models = sorted(set(table["model"]))
    plt = _plt()
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = table[table["model"] == model]
        lines = 0
        for (method, ipc), line in sorted(rows.groupby(["method", "ipc"]), key=lambda kv: (_method_key(kv[0][0], 0), int(kv[0][1]))):
            if not (line["mask_ratio"] > 0).any():
                continue  # no masked variant: not part of the ratio sweep
            line = line.sort_values("mask_ratio")
            ax.errorbar(100 * line["mask_ratio"], line["mean"], yerr=line["std"], marker="o", capsize=4,
                        label=f"{method_label(method)}, IPC {ipc} (n = {'/'.join(str(n) for n in sorted(set(line['n'])))})")
            lines += 1
        if lines == 0:
            ax.text(0.5, 0.5, "no masked sets evaluated", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.legend(fontsize=8)
        ax.set_title(model)
        ax.set_xlabel("mask ratio (% of real images masked)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(-5, 105)
        ax.grid(alpha=0.3)
    suptitle(fig, f"{datasets}: test accuracy vs mask ratio\n(mean ± std over n networks; 0 % = the unmasked set)", fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Figure 4: synthetic image grids


def dataset_info(path: Path) -> dict:
    """Name, class names, mean and std of a stored dataset (for de-normalising and labelling)."""
    stored = load_torch(path, what="dataset")
    if not isinstance(stored, dict) or not {"name", "classes", "mean", "std"} <= set(stored):
        raise CondenseError(f"dataset file {str(path)!r} lacks name/classes/mean/std; rerun `condense download`")
    return {key: stored[key] for key in ("name", "classes", "mean", "std")}


def set_grid(images, labels, mean, std, num_classes: int) -> np.ndarray:
    """H×W×3 array in [0, 1]: the set de-normalised (as ``condense distill --grid``) and laid out with one
    column per class and one row per image index (a class with fewer images leaves its cell white)."""
    import torch
    from torchvision.utils import make_grid

    shown = denormalize(images.float(), mean, std)
    per_class = [shown[labels == c] for c in range(num_classes)]
    depth = max((x.shape[0] for x in per_class), default=0)
    blank = torch.ones_like(shown[0])
    cells = [per_class[c][j] if j < per_class[c].shape[0] else blank for j in range(depth) for c in range(num_classes)]
    return make_grid(torch.stack(cells), nrow=num_classes, padding=2, pad_value=1.0).permute(1, 2, 0).numpy()


def draw_synthetic_images(paths: list[Path], args: argparse.Namespace):
    """Rows = method (and seed, when several are given), columns = IPC; in a panel one column per class."""
    info = dataset_info(args.data)
    classes = list(info["classes"])
    panels = {}
    for path in paths:
        images, labels, meta = load_set(path)
        if meta.get("dataset") not in (None, info["name"]):
            raise CondenseError(f"image set {str(path)!r} is from {meta.get('dataset')}, not {info['name']}; pass sets of one dataset")
        if labels.numel() == 0 or int(labels.min()) < 0 or int(labels.max()) >= len(classes):
            raise CondenseError(f"image set {str(path)!r} has labels outside the {len(classes)} classes of {info['name']} (or no images)")
        method, ratio = meta.get("method") or path.stem, float(meta.get("mask_ratio") or 0.0)
        ipc = int(meta.get("ipc") or -(-images.shape[0] // len(classes)))
        panels[((_method_key(method, ratio), meta.get("seed")), ipc)] = (method_label(method, ratio),
                                                                        set_grid(images, labels, info["mean"], info["std"], len(classes)))
    rows = sorted({key for key, _ in panels}, key=lambda k: (k[0], k[1] if k[1] is not None else -1))
    ipcs = sorted({ipc for _, ipc in panels})
    several_seeds = len({seed for _, seed in rows}) > 1
    labels_of = {row: next(panels[(row, i)][0] for i in ipcs if (row, i) in panels) for row in rows}
    heights = [max(panels[(r, i)][1].shape[0] for i in ipcs if (r, i) in panels) for r in rows]
    width = max(grid.shape[1] for _, grid in panels.values())  # every panel: one column per class
    scale = min(1 / 45, 16 / (width * len(ipcs)), 40 / sum(heights))  # inches per pixel, figure size capped
    plt = _plt()
    fig, axes = plt.subplots(len(rows), len(ipcs), squeeze=False,
                             figsize=(width * len(ipcs) * scale + 1.5, sum(heights) * scale + 0.25 * len(rows) + 2.0),
                             gridspec_kw={"height_ratios": heights})
    centres = [(2 + (width - 2) / len(classes) * (c + 0.5)) for c in range(len(classes))]
    for r, row in enumerate(rows):
        for c, ipc in enumerate(ipcs):
            ax = axes[r, c]
            ax.set_yticks([])
            ax.set_xticks(centres if r == 0 else [])
            if r == 0:
                ax.xaxis.tick_top()
                ax.set_xticklabels(classes, rotation=90, fontsize=7)
                ax.set_title(f"IPC {ipc}", fontsize=10)
            if c == 0:
                ax.set_ylabel(labels_of[row] + (f"\nseed {row[1]}" if several_seeds else ""), fontsize=9)
            if (row, ipc) not in panels:
                ax.imshow(np.ones((heights[r], width, 3)))
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.5")
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            ax.imshow(panels[(row, ipc)][1], interpolation="nearest")
    suptitle(fig, f"{info['name']}: synthetic images (de-normalised): rows = method, columns = IPC; "
                  "in each panel one column per class and one row per image")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- matching-loss curves


def draw_matching_loss(paths: list[Path], args: argparse.Namespace):
    """One panel per base method; a line per (method variant, IPC[, seed]); log y when every loss is positive."""
    curves = []
    for path in paths:
        _, _, meta = load_set(path)
        losses = meta.get("losses")
        if not losses:
            raise CondenseError(f"image set {str(path)!r} has no loss curve (meta 'losses'); only `condense distill` sets have one")
        curves.append((meta.get("method") or path.stem, float(meta.get("mask_ratio") or 0.0), meta.get("ipc"), meta.get("seed"),
                       meta.get("dataset", "?"), np.asarray(losses, dtype=float)))
    curves.sort(key=lambda c: (_method_key(c[0], c[1]), c[2] or 0, c[3] or 0))
    bases = sorted({c[0] for c in curves}, key=lambda m: _method_key(m, 0))
    several_seeds = len({c[3] for c in curves}) > 1
    plt = _plt()
    fig, axes = plt.subplots(1, len(bases), figsize=(5.2 * len(bases), 4.2), squeeze=False)
    for ax, base in zip(axes[0], bases):
        mine = [c for c in curves if c[0] == base]
        for method, ratio, ipc, seed, _, losses in mine:
            label = f"{method_label(method, ratio)}, IPC {ipc}" + (f", seed {seed}" if several_seeds else "")
            steps = np.arange(losses.size)
            window = max(1, losses.size // 20)
            if window > 1:  # a fresh random network every iteration: show the raw curve faintly and its running mean
                (raw,) = ax.plot(steps, losses, alpha=0.25, linewidth=0.8)
                smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
                ax.plot(steps[window - 1 :], smooth, color=raw.get_color(), label=f"{label} (running mean of {window})")
            else:
                ax.plot(steps, losses, marker="o", markersize=3, label=label)
        if all((c[5] > 0).all() for c in mine):
            ax.set_yscale("log")
        ax.set_title(f"{METHOD_LABELS.get(base, base)}: {LOSS_LABELS.get(base, 'method-specific loss')}", fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("matching loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    datasets = ", ".join(sorted({c[4] for c in curves}))
    suptitle(fig, f"{datasets}: matching loss during condensation", fontsize=11)
    fig.tight_layout()
    return fig


FIGURES.add("mask_ratio", Figure(draw_mask_ratio, "evaluation JSONs (masked and unmasked sets of the same methods)"))
FIGURES.add("synthetic_images", Figure(draw_synthetic_images, "image-set files (.pt), with --data", needs_data=True))
FIGURES.add("matching_loss", Figure(draw_matching_loss, "condensed image-set files (.pt) from `condense distill`"))


def run(args: argparse.Namespace) -> None:
    figure = FIGURES.get(args.figure)
    if not args.inputs:
        raise CondenseError(f"figure {args.figure} needs input files ({figure.inputs}); none were given")
    if figure.needs_data and args.data is None:
        raise CondenseError(f"figure {args.figure} needs --data (the dataset file, for de-normalising and class names)")
    missing = [str(p) for p in args.inputs if not p.is_file()]
    if missing:
        raise CondenseError(f"figure {args.figure}: input file {missing[0]!r} does not exist"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + "; run the stage that makes it first")
    if args.out.suffix.lower() != ".png":
        raise CondenseError(f"--out {str(args.out)!r} must end in .png (the PDF is written beside it)")
    fig = figure.draw(list(args.inputs), args)
    png, pdf = save_figure(fig, args.out)
    _plt().close(fig)
    log.info("%s from %d files -> %s, %s", args.figure, len(args.inputs), png, pdf)


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
