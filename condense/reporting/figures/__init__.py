"""Figures from the pipeline's artifacts, one file per figure, registered in :data:`FIGURES`.

``condense figures NAME FILE... --out FIG.png`` draws one figure from an explicit list of input
files and writes it as PNG and as PDF beside it (same stem):

- ``mask_ratio`` (the paper's Figure 3), from evaluation JSONs: test accuracy mean ± std vs mask
  ratio, one line per (method, mask variant, IPC) that has masked sets (ratio 0 = the same
  method's unmasked set), one panel per evaluation model;
- ``synthetic_images`` (Figure 4), from image-set files and ``--data`` (for the de-normalisation
  and class names): one panel per set, rows = method, columns = IPC; inside a panel one column
  per class (named on top) and one row per image;
- ``matching_loss``, from condensed set files (their ``meta['losses']``): the matching loss per
  iteration, one panel per base method (DC/DSA and DM losses differ in scale).

- ``dataset_samples``, from a data file with foregrounds: images per class beside their foregrounds;
- ``score_vs_accuracy``, from a saliency-scores JSON and evaluation JSONs: each source's score
  against the accuracy of the sets it masked;
- ``accuracy_vs_time``, from evaluation JSONs of snapshots and final sets: accuracy against condensation
  seconds and iterations, one line per method and IPC;
- ``continual``, from evaluation JSONs of kind ``continual``: accuracy on the classes seen against their
  number, one line per set (memory) and IPC;
- ``membership``, from ``condense membership`` records: LiRA's ROC curves on log-log axes;
- ``tsne``, from the whole-dataset network and set files: real and synthetic images in feature space;
- ``saliency_maps``, from maps files (one per source) and ``--data``: the same images under every
  source, their maps and the images masked with each fill (``condense saliency --figure`` draws
  the same grid for one source). Labels and
the order of methods come from the registries through :class:`FigureContext`, which the stage
builds; a figure module imports no registry of methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...core.registry import Registry


@dataclass(frozen=True)
class FigureContext:
    """What a figure needs besides its input files: the dataset file, method labels and order."""

    data: Path | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # method name -> label ("dsa" -> "DSA")
    order: Sequence[str] = ()  # methods in display order (coresets, then condensation methods)
    loss_labels: Mapping[str, str] = field(default_factory=dict)  # method -> what its loss curve shows
    mask_images: Callable | None = None  # the masks library's (images, maps, source, fill, mean, std, others) -> masked
    fills: Sequence[str] = ()  # the mask fills to show
    per_class: int = 2  # images per class in image grids

    def label(self, method: str, ratio: float = 0.0, variant: str = "") -> str:
        """'dsa', 1.0 -> 'DSA + mask (r = 1.0)'; ratio 0 is the plain method."""
        name = self.labels.get(method, method)
        if not ratio:
            return name
        return f"{name} + mask ({variant}, r = {ratio:g})" if variant else f"{name} + mask (r = {ratio:g})"

    def key(self, method: str, ratio: float = 0.0) -> tuple:
        order = list(self.order)
        return (order.index(method) if method in order else len(order), method, ratio)


@dataclass(frozen=True)
class Figure:
    draw: Callable[[list[Path], FigureContext], object]  # returns a matplotlib figure
    inputs: str  # what the FILE arguments are, for help and errors
    needs_data: bool = False


FIGURES: Registry[Figure] = Registry("figure")


def register_figure(name: str, figure: Figure) -> Figure:
    FIGURES.add(name, figure)
    return figure


# isort: off
# registration order is display order (tables, figures): keep it as written
from . import mask_ratio  # noqa: E402, F401  (registers the figure)
from . import synthetic_images  # noqa: E402, F401  (registers the figure)
from . import matching_loss  # noqa: E402, F401  (registers the figure)
from . import saliency_maps  # noqa: E402, F401  (registers the figure)
from . import dataset_samples  # noqa: E402, F401  (registers the figure)
from . import score_vs_accuracy  # noqa: E402, F401  (registers the figure)
from . import accuracy_vs_time  # noqa: E402, F401  (registers the figure)
from . import tsne  # noqa: E402, F401  (registers the figure)
from . import continual  # noqa: E402, F401  (registers the figure)
from . import membership  # noqa: E402, F401  (registers the figure)
from . import privacy_utility  # noqa: E402, F401  (registers the figure)
# isort: on
