"""Sets made by other code, read as a :class:`~condense.data.records.SyntheticSet`, so that every evaluation
kind judges them exactly as it judges ours (DD-Ranking's point: one judge for every method's output).

One reader per format, registered in :data:`SET_FORMATS`; ``auto`` picks the first whose ``detect`` accepts
the file. Every format holds images normalised with the dataset's mean and std, as the official code and
ours train on them (a set in [0, 1] pixels would be judged wrongly; nothing in the files says which, so it
is stated here and in ``docs/user-guide.md``):

- ``condense``: a set file of this package (``SyntheticSet.save``).
- ``official``: a result file of the official DC/DSA/DM code (``main.py``, ``main_DM.py``:
  ``torch.save({'data': [[images, labels], ...], 'accs_all_exps': ...}, 'res_<method>_<dataset>_<model>_<ipc>ipc.pt')``),
  one list entry per experiment (``experiment`` picks one; its index is recorded as the set's seed).
- ``mtt``: MTT's ``distill.py`` output, a directory with ``images_best.pt`` and ``labels_best.pt`` (or one
  ``images_<it>.pt`` whose ``labels_<it>.pt`` lies beside it). MTT saves its learned learning rate only to
  wandb: put it in a ``synthetic_lr`` file beside the images (a number, as text or a torch tensor) and
  evaluation uses it, as MTT's own evaluation does; with ZCA, the saved images are whitened, which this
  package does not apply, so such sets are not comparable here.
- ``tensors``: a torch file holding ``(images, labels)`` or ``{"images": ..., "labels": ...}`` (DD-Ranking's
  input; ``condense export`` writes one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch
from ..core.registry import Registry
from .decoders import check_decoder
from .records import Provenance, SyntheticSet

# the official result file's name: res_<method>_<dataset>_<model>_<ipc>ipc.pt (main.py, main_DM.py)
OFFICIAL_NAME = re.compile(r"res_(?P<method>[^_]+)_(?P<dataset>[^_]+)_(?P<model>.+)_(?P<ipc>\d+)ipc\.pt$")


@dataclass(frozen=True)
class ReadOptions:
    dataset: str  # the dataset the set is judged against (for formats that do not record theirs)
    experiment: int = 0  # which experiment of an official result file


@dataclass(frozen=True)
class SetFormat:
    name: str
    summary: str
    detect: Callable[[Path, Any], bool]  # (path, its loaded content; None for a directory) -> is it this format
    read: Callable[[Path, Any, ReadOptions], SyntheticSet]


SET_FORMATS: Registry[SetFormat] = Registry("set format")


def register_set_format(fmt: SetFormat) -> SetFormat:
    SET_FORMATS.add(fmt.name, fmt)
    return fmt


def _load(path: Path) -> Any:
    """A torch file's content, safely: tensors and containers, plus numpy scalars (the official code stores
    its accuracies as numpy floats)."""
    scalar_types = [np._core.multiarray.scalar, np.dtype, *{type(np.dtype(t)) for t in ("float64", "float32", "int64")}]
    with torch.serialization.safe_globals(scalar_types):
        return load_torch(path, what="image set")


def _pair(images: Any, labels: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Float N×C×H×W images and int64 N hard labels, or one line saying what is wrong."""
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise CondenseError(f"{where} holds {type(images).__name__} and {type(labels).__name__}, not an image tensor and a label tensor")
    if labels.dim() == 2 and labels.is_floating_point():
        raise CondenseError(f"{where} has soft labels {tuple(labels.shape)}; evaluation trains on hard labels only: pass their argmax")
    if images.dim() != 4 or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise CondenseError(f"{where} has images {tuple(images.shape)} and labels {tuple(labels.shape)}; expected N×C×H×W and N")
    if labels.is_floating_point() and not torch.equal(labels, labels.round()):
        raise CondenseError(f"{where} has non-integer labels; expected class indices")
    return images.detach().float().cpu(), labels.detach().long().cpu()


def _ipc(labels: torch.Tensor) -> int:
    return int(torch.bincount(labels).max()) if labels.numel() else 0


def _foreign(images, labels, method: str, dataset: str, seed: int, model: str | None, origin: dict) -> SyntheticSet:
    provenance = Provenance(dataset=dataset, method=method, ipc=_ipc(labels), seed=seed, model=model, settings={"imported": origin})
    return SyntheticSet(images, labels, provenance)


# ---------------------------------------------------------------------------------------------------- condense


def _read_condense(path: Path, content: Any, options: ReadOptions) -> SyntheticSet:
    return SyntheticSet.load(path)


register_set_format(SetFormat(
    "condense", "a set file of this package",
    detect=lambda path, content: isinstance(content, dict) and {"images", "labels", "meta"} <= set(content),
    read=_read_condense,
))  # fmt: skip


# ---------------------------------------------------------------------------------------------------- official


def _read_official(path: Path, content: Any, options: ReadOptions) -> SyntheticSet:
    where = f"official result file {str(path)!r}"
    experiments = content["data"]
    if not isinstance(experiments, list) or not experiments:
        raise CondenseError(f"{where} holds no experiment in 'data'; it is not a finished official run")
    if not 0 <= options.experiment < len(experiments):
        raise CondenseError(f"{where} holds experiments 0..{len(experiments) - 1}, not {options.experiment}; choose one of them")
    entry = experiments[options.experiment]
    if not isinstance(entry, (list, tuple)) or len(entry) != 2:
        raise CondenseError(f"{where}: experiment {options.experiment} is not an [images, labels] pair")
    images, labels = _pair(*entry, where)
    name = OFFICIAL_NAME.match(path.name)
    # The file name is the only record of what made it; a renamed file is taken as the method "official".
    method, dataset, model = (
        (name["method"].lower(), name["dataset"].lower(), name["model"].lower()) if name else ("official", options.dataset, None)
    )
    if name and int(name["ipc"]) != _ipc(labels):
        raise CondenseError(f"{where} is named IPC {name['ipc']} but holds {_ipc(labels)} images per class; it was renamed or edited")
    origin = {"format": "official", "file": path.name, "experiment": options.experiment,
              "published_accuracies": {k: [float(a) for a in v] for k, v in (content.get("accs_all_exps") or {}).items()}}  # fmt: skip
    return _foreign(images, labels, f"official-{method}", dataset, options.experiment, model, origin)


register_set_format(SetFormat(
    "official", "a result file of the official DC/DSA/DM code (res_<method>_<dataset>_<model>_<ipc>ipc.pt)",
    detect=lambda path, content: isinstance(content, dict) and "data" in content and "accs_all_exps" in content,
    read=_read_official,
))  # fmt: skip


# ---------------------------------------------------------------------------------------------------- MTT


def _labels_beside(images: Path) -> Path:
    """MTT's labels file of one ``images_<it>.pt`` (or ``images_zca_<it>.pt``): ``labels_<it>.pt`` beside it."""
    return images.with_name("labels_" + images.name.removeprefix("images_").removeprefix("zca_"))


def _mtt_files(path: Path) -> tuple[Path, Path] | None:
    if path.is_dir():
        images = path / "images_best.pt"
        return (images, path / "labels_best.pt") if images.is_file() else None
    if path.name.startswith("images_"):
        labels = _labels_beside(path)
        return (path, labels) if labels.is_file() else None
    return None


def _lr_files(directory: Path) -> tuple[Path, ...]:
    return directory / "synthetic_lr", directory / "synthetic_lr.pt", directory / "synthetic_lr.txt"


def files_beside(path: Path) -> list[Path]:
    """The files a set reader may open besides ``path`` itself (MTT's labels and learned lr beside one
    ``images_<it>.pt``), declared as inputs so that no output of the stage can replace them. A directory is
    read whole, which ``core/paths.py`` already covers."""
    path = Path(path)
    if path.is_dir() or not path.name.startswith("images_"):
        return []
    return [_labels_beside(path), *_lr_files(path.parent)]


def _learned_lr(directory: Path) -> float | None:
    lr_file = next((p for p in _lr_files(directory) if p.is_file()), None)
    if lr_file is None:
        return None
    try:
        value = float(lr_file.read_text().strip())
    except (UnicodeDecodeError, ValueError):
        stored = load_torch(lr_file, what="learned learning rate")
        try:
            value = float(stored)
        except (TypeError, ValueError, RuntimeError):
            raise CondenseError(f"{str(lr_file)!r} holds {type(stored).__name__}, not one number (MTT's learned learning rate)") from None
    if not (math.isfinite(value) and value > 0):  # float("inf") parses: refused here, naming the file
        raise CondenseError(f"{str(lr_file)!r} holds {value}; a learning rate must be a finite positive number")
    return value


def _read_mtt(path: Path, content: Any, options: ReadOptions) -> SyntheticSet:
    images_file, labels_file = _mtt_files(path)
    where = f"MTT set {str(path)!r}"
    images, labels = _pair(_load(images_file), _load(labels_file), where)
    synthetic = _foreign(images, labels, "mtt", options.dataset, 0, None,
                         {"format": "mtt", "images": images_file.name, "labels": labels_file.name})  # fmt: skip
    synthetic.learned_lr = _learned_lr(images_file.parent)
    return synthetic


register_set_format(SetFormat(
    "mtt", "MTT's output: a directory with images_best.pt and labels_best.pt (and a synthetic_lr file), or one images_<it>.pt",
    detect=lambda path, content: _mtt_files(path) is not None,
    read=_read_mtt,
))  # fmt: skip


# ---------------------------------------------------------------------------------------------------- tensors


def _tensor_pair(content: Any) -> tuple[Any, Any] | None:
    if isinstance(content, dict) and {"images", "labels"} <= set(content) and "meta" not in content:
        return content["images"], content["labels"]
    if isinstance(content, (list, tuple)) and len(content) == 2 and all(isinstance(x, torch.Tensor) for x in content):
        return content[0], content[1]
    return None


def _read_tensors(path: Path, content: Any, options: ReadOptions) -> SyntheticSet:
    images, labels = _pair(*_tensor_pair(content), f"tensor file {str(path)!r}")
    # A file `condense export` wrote names its dataset and method; a bare pair is taken to be of the data given.
    card = content.get("card", {}) if isinstance(content, dict) else {}
    dataset, method = card.get("dataset", options.dataset), card.get("method", "imported")
    return _foreign(
        images, labels, method, dataset, int(card.get("seed", 0)), card.get("condensation_model"), {"format": "tensors", "file": path.name}
    )


register_set_format(SetFormat(
    "tensors", "a torch file with (images, labels) or {'images', 'labels'} (DD-Ranking's input; what condense export writes)",
    detect=lambda path, content: _tensor_pair(content) is not None,
    read=_read_tensors,
))  # fmt: skip


# ---------------------------------------------------------------------------------------------------- reading


def check_fits(path: str | Path, synthetic: SyntheticSet, data) -> None:
    """The set was made from this dataset (its recorded name), its images (codes, for a set with a decoder: the
    decoders keep the image size) and labels fit it, and its decoder is one this package knows; else one line."""
    where = f"image set {str(path)!r}"
    fix = "evaluate it against the dataset it was made from"
    images, labels = synthetic.images, synthetic.labels
    check_decoder(synthetic.decoder, where)  # encoded images: a known decoder (the stage decodes with decode_set)
    if synthetic.provenance.dataset != data.name:
        raise CondenseError(f"{where} was made from {synthetic.provenance.dataset}, not {data.name}; {fix}")
    if tuple(images.shape[1:]) != (data.channel, *data.im_size):
        raise CondenseError(f"{where} holds {tuple(images.shape[1:])} images but {data.name} has {(data.channel, *data.im_size)}; {fix}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= data.num_classes):
        raise CondenseError(
            f"{where} has labels {int(labels.min())}..{int(labels.max())} but {data.name} has {data.num_classes} classes; {fix}"
        )


def read_set(path: str | Path, options: ReadOptions, fmt: str = "auto") -> SyntheticSet:
    """The set at ``path`` in format ``fmt`` (``auto``: the first registered format that recognises it), or one
    line naming the formats this package reads."""
    path = Path(path)
    if not path.exists():
        raise CondenseError(f"image set {str(path)!r} does not exist; run the stage that makes it first")
    content = None if path.is_dir() or _mtt_files(path) else _load(path)
    if fmt != "auto":
        chosen = SET_FORMATS.get(fmt)
        if not chosen.detect(path, content):
            raise CondenseError(f"{str(path)!r} is not {chosen.summary}; check the file or use --set-format auto")
    else:
        chosen = next((candidate for _, candidate in SET_FORMATS.items() if candidate.detect(path, content)), None)
        if chosen is None:
            readable = "; ".join(f"{name}: {f.summary}" for name, f in SET_FORMATS.items())
            raise CondenseError(f"{str(path)!r} is no image set this package reads ({readable})")
    synthetic = chosen.read(path, content, options)
    # here, not in each reader: every format (a plugin's too) is refused alike before any stage trains on or exports it
    synthetic.check_finite(f"image set {str(path)!r}")
    return synthetic
