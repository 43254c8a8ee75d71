"""The typed records that pass between stages: a condensed (or selected) set, and an evaluation of one.

Every artifact carries its metadata, as torchvision's weights carry ``meta`` and timm's models their
``pretrained_cfg``: a :class:`SyntheticSet` holds its images and labels (and, for methods that have
them, soft labels, a learned learning rate, or a parameterisation with its decoder) with the
:class:`Provenance` of how it was made; an :class:`EvalRecord` holds what an evaluation kind measured
on one set, network by network, with that set's provenance and its own settings. Each has one
versioned ``save``/``load``; a reader gets typed fields and never supplies a default of its own.

On disk the formats stay readable by anything that read them before: a set is a torch file
``{"format", "images", "labels", "meta"}`` (plus the optional ``soft_labels``, ``learned_lr``,
``decoder``), ``meta`` the provenance as flat keys; an evaluation is a flat JSON object. Files written
before the format numbers (format 1) load the same way: every field they lack is optional here, with
its meaning stated where it is declared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..core.errors import CondenseError
from ..core.fileio import load_torch, read_json, save_torch, write_json

SET_FORMAT = 2  # 1: images, labels, meta only
# Format 1 records were all of one kind, accuracy, whose value is each network's test accuracy, shown in percent.
ACCURACY_COLUMNS = ({"name": "test_acc", "label": "test accuracy (%)", "scale": 100.0},)
EVAL_FORMAT = 2  # 1: no format, kind, columns or set_model keys
SUMMARY_KEYS = ("mean", "std", "n", "diverged")


@dataclass(frozen=True)
class MaskInfo:
    """The mask a set's real batches were drawn through (``condense/masks/variant.py``)."""

    variant: str  # the full variant name, e.g. fcn-r1.0-mean-soft-fixed
    label: str  # source and options without the ratio ("fcn, mean fill, soft, fixed")
    ratio: float
    paper: bool  # the paper's mask (the FCN, mean fill, soft maps): compared with the published "+ mask" numbers
    source: str
    fill: str


@dataclass(frozen=True)
class Provenance:
    """How a set was made. ``ipc`` None: the whole training set (the whole-dataset baseline)."""

    dataset: str
    method: str
    ipc: int | None
    seed: int
    model: str | None = None  # the network condensed on; None for coresets and sets made before it was recorded
    settings: dict = field(default_factory=dict)  # the method's resolved settings (empty for coresets)
    mask: MaskInfo | None = None  # None: unmasked
    inputs: dict = field(default_factory=dict)  # input name -> sha256 of the file it was made from (empty: not recorded)
    iteration: int | None = None  # a snapshot's condensation iteration (the final set: the last; None for coresets)
    final: bool = True  # False for a snapshot taken during condensation
    losses: tuple = ()  # the loss of every iteration (empty for coresets)
    seconds: float | None = None  # condensation seconds to reach this set (None for coresets)
    cost: dict | None = None  # what making it cost (condense distill; None for coresets)
    device: str | None = None
    indices: tuple | None = None  # a coreset's picks, as indices into the training set

    @property
    def mask_ratio(self) -> float:
        return self.mask.ratio if self.mask is not None else 0.0

    def to_meta(self) -> dict:
        """The flat ``meta`` dict of a set file (the keys every reader of format 1 knows, then the newer ones)."""
        mask = self.mask
        meta = {
            "dataset": self.dataset,
            "method": self.method,
            "mask_ratio": self.mask_ratio,
            "mask": mask.variant if mask else None,
            "mask_label": mask.label if mask else None,
            "mask_paper": mask.paper if mask else None,
            "mask_source": mask.source if mask else None,
            "mask_fill": mask.fill if mask else None,
            "ipc": self.ipc,
            "seed": self.seed,
            "settings": dict(self.settings),
            "device": self.device,
            "inputs": dict(self.inputs),
            "model": self.model,
            "iteration": self.iteration,
            "final": self.final,
            "losses": list(self.losses),
            "seconds": self.seconds,
            "cost": self.cost,
        }
        if self.indices is not None:
            meta["indices"] = list(self.indices)
        return meta

    @classmethod
    def from_meta(cls, meta: dict, where: str) -> Provenance:
        missing = [key for key in ("dataset", "method", "ipc", "seed") if key not in meta]
        if missing:
            raise CondenseError(f"{where} records no {', '.join(missing)}; it was not written by a condense stage: rerun that stage")
        mask = None
        if meta.get("mask"):
            mask = MaskInfo(meta["mask"], meta["mask_label"], float(meta["mask_ratio"]), bool(meta["mask_paper"]),
                            meta["mask_source"], meta["mask_fill"])  # fmt: skip
        indices = meta.get("indices")
        return cls(
            dataset=meta["dataset"],
            method=meta["method"],
            ipc=meta["ipc"],
            seed=meta["seed"],
            model=meta.get("model"),
            settings=dict(meta.get("settings") or {}),
            mask=mask,
            inputs=dict(meta.get("inputs") or {}),
            iteration=meta.get("iteration"),
            final=bool(meta.get("final", True)),
            losses=tuple(meta.get("losses") or ()),
            seconds=meta.get("seconds"),
            cost=meta.get("cost"),
            device=meta.get("device"),
            indices=tuple(indices) if indices is not None else None,
        )


@dataclass
class SyntheticSet:
    """A labelled image set as every method produces and every evaluation consumes.

    ``images`` are float32, normalised, N×C×H×W (codes, when ``decoder`` is set: a decoder of
    ``condense/data/decoders.py`` turns them into the training images, and every stage that trains on or
    exports a set decodes it first); ``labels`` int64 hard labels, one per stored image. Optional, for methods that make them: ``soft_labels``
    (N×classes), ``learned_lr`` (the learning rate learned with the images, used by evaluation), ``decoder``
    (``{"name": a registered decoder, ...its parameters}``)."""

    images: torch.Tensor
    labels: torch.Tensor
    provenance: Provenance
    soft_labels: torch.Tensor | None = None
    learned_lr: float | None = None
    decoder: dict | None = None

    def __post_init__(self):
        if self.images.dim() != 4 or self.labels.shape != (self.images.shape[0],):
            raise CondenseError(f"a set needs N×C×H×W images and N labels; got {tuple(self.images.shape)} and {tuple(self.labels.shape)}")

    def save(self, path: str | Path) -> None:
        stored: dict[str, Any] = {
            "format": SET_FORMAT,
            "images": self.images.detach().float().cpu().contiguous(),
            "labels": self.labels.detach().long().cpu(),
            "meta": self.provenance.to_meta(),
        }
        if self.soft_labels is not None:
            stored["soft_labels"] = self.soft_labels.detach().float().cpu()
        if self.learned_lr is not None:
            stored["learned_lr"] = float(self.learned_lr)
        if self.decoder is not None:
            stored["decoder"] = dict(self.decoder)
        save_torch(stored, path)

    @classmethod
    def load(cls, path: str | Path) -> SyntheticSet:
        where = f"image set file {str(path)!r}"
        stored = load_torch(path, what="image set")
        if not isinstance(stored, dict) or not {"images", "labels", "meta"} <= set(stored):
            raise CondenseError(f"{where} lacks images/labels/meta; rerun the stage that made it")
        version = stored.get("format", 1)
        if version > SET_FORMAT:
            raise CondenseError(f"{where} has format {version}, newer than this condense reads ({SET_FORMAT}); update condense")
        images, labels = stored["images"], stored["labels"]
        if images.dim() != 4 or labels.shape != (images.shape[0],):
            raise CondenseError(f"{where} has images {tuple(images.shape)} and labels {tuple(labels.shape)}; expected N×C×H×W and N")
        synthetic = cls(images, labels, Provenance.from_meta(stored["meta"], where), stored.get("soft_labels"),
                        stored.get("learned_lr"), stored.get("decoder"))  # fmt: skip
        synthetic.check_finite(where)
        return synthetic

    def check_finite(self, where: str) -> None:
        """No NaN or infinity in what a network trains on: the images (codes), the soft labels, the learned
        learning rate. Training on such a set ends in a "diverged" record at chance, and an export of it is noise,
        both with exit status 0; every reader of a set file calls this, so the file is refused before any work."""
        for name, tensor in (("images", self.images), ("soft_labels", self.soft_labels)):
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise CondenseError(
                    f"{where} holds {bad} non-finite value(s) (NaN or infinity) in its {name}; "
                    "a diverged or damaged set cannot be trained on: remake it"
                )
        if self.learned_lr is not None:
            try:
                lr = float(self.learned_lr)
            except (TypeError, ValueError, RuntimeError):
                lr = math.nan
            if not (math.isfinite(lr) and lr > 0):
                raise CondenseError(f"{where} holds learned_lr {self.learned_lr!r}, not a finite positive learning rate; remake the set")


@dataclass(frozen=True)
class EvalRecord:
    """What one evaluation kind measured on one set with one evaluation network.

    ``runs``: one dict per network (its values are the kind's declared columns, plus ``net``, ``seed`` and
    ``diverged``); ``summary``: the kind's aggregate (for accuracy: mean, std and n over the networks that
    did not diverge, and the diverged count); ``extra``: kind-specific facts (for accuracy: test images,
    whether the networks were compiled)."""

    kind: str
    dataset: str
    published_as: str | None  # the dataset whose published numbers apply (None: none do)
    model: str  # the evaluation network
    set: Provenance  # the evaluated set's
    set_path: str
    settings: dict  # the evaluation's own settings
    eval_seed: int
    device: str
    runs: tuple
    summary: dict
    cost: dict
    extra: dict = field(default_factory=dict)
    # the kind's per-network values, as it declares them (name, label, scale: tables show value × scale); the first
    # is the one tables show by default. A reader needs no registry to display a record.
    columns: tuple = ACCURACY_COLUMNS

    @property
    def value(self) -> str:
        return self.columns[0]["name"]

    @property
    def scale(self) -> float:
        return float(self.columns[0]["scale"])

    def to_json(self) -> dict:
        """The flat JSON object (format 1's keys, then the newer ones)."""
        s = self.set
        mask = s.mask
        return {
            "dataset": self.dataset,
            "published_as": self.published_as,
            "method": s.method,
            "mask_ratio": s.mask_ratio,
            "mask": mask.variant if mask else None,
            "mask_label": mask.label if mask else None,
            "mask_paper": mask.paper if mask else None,
            "mask_source": mask.source if mask else None,
            "mask_fill": mask.fill if mask else None,
            "ipc": s.ipc,
            "set_seed": s.seed,
            "iteration": s.iteration,
            "final": s.final,
            "set_seconds": s.seconds,
            "set": self.set_path,
            "model": self.model,
            "eval_seed": self.eval_seed,
            "device": self.device,
            "settings": dict(self.settings),
            **self.extra,
            **self.summary,
            "cost": dict(self.cost),
            "runs": [dict(run) for run in self.runs],
            "format": EVAL_FORMAT,
            "kind": self.kind,
            "columns": [dict(c) for c in self.columns],
            "set_model": s.model,
        }

    def save(self, path: str | Path) -> None:
        write_json(self.to_json(), path)

    @classmethod
    def load(cls, path: str | Path) -> EvalRecord:
        where = f"evaluation record {str(path)!r}"
        data = read_json(path, what="evaluation result")
        if not isinstance(data, dict) or any(key not in data for key in ("dataset", "model", "method", "runs")):
            raise CondenseError(f"{where} is not an evaluation record (dataset, model, method, runs); rerun its evaluation")
        version = data.get("format", 1)
        if version > EVAL_FORMAT:
            raise CondenseError(f"{where} has format {version}, newer than this condense reads ({EVAL_FORMAT}); update condense")
        try:
            return cls.from_json(data, where)
        except KeyError as exc:
            raise CondenseError(f"{where} lacks {exc} (an older condense wrote it); rerun its evaluation") from None

    @classmethod
    def from_json(cls, data: dict, where: str) -> EvalRecord:
        if data["method"] == "full":  # the whole-dataset baseline (condense full-baseline): the training set, one network
            provenance = Provenance(data["dataset"], "full", None, data["seed"], model=data["model"])
            own = {"seed": data["seed"], "device": data.get("device", ""), "set": ""}  # format 1 recorded no device
        else:
            meta = {key: data[key] for key in ("mask", "mask_label", "mask_ratio", "mask_paper", "mask_source", "mask_fill")}
            meta.update(dataset=data["dataset"], method=data["method"], ipc=data["ipc"], seed=data["set_seed"],
                        model=data.get("set_model"), iteration=data["iteration"], final=data["final"],
                        seconds=data["set_seconds"])  # fmt: skip
            provenance = Provenance.from_meta(meta, where)
            own = {"seed": data["eval_seed"], "device": data["device"], "set": data["set"]}
        known = {"dataset", "published_as", "method", "mask_ratio", "mask", "mask_label", "mask_paper", "mask_source", "mask_fill",
                 "ipc", "set_seed", "iteration", "final", "set_seconds", "set", "model", "eval_seed", "device", "settings",
                 "cost", "runs", "format", "kind", "columns", "set_model", "seed", *SUMMARY_KEYS}  # fmt: skip
        return cls(
            kind=data.get("kind", "accuracy"),  # format 1 had one kind
            dataset=data["dataset"],
            published_as=data["published_as"],
            model=data["model"],
            set=provenance,
            set_path=own["set"],
            settings=dict(data["settings"]),
            eval_seed=own["seed"],
            device=own["device"],
            runs=tuple(data["runs"]),
            summary={key: data[key] for key in SUMMARY_KEYS if key in data},
            cost=dict(data.get("cost") or {}),  # the whole-dataset record has none
            extra={key: value for key, value in data.items() if key not in known},
            columns=tuple(data.get("columns") or ACCURACY_COLUMNS),
        )

    def values(self, column: str) -> list[float]:
        """One network's value of ``column`` per network; a diverged network's is NaN (counted, never averaged)."""
        return [math.nan if run.get("diverged") else float(run[column]) for run in self.runs]


SUMMARY_KEYS = ("mean", "std", "n", "diverged")


MEMBERSHIP_FORMAT = 2  # 2: intervals, the offline attack, query views; raw scores beside the record


@dataclass(frozen=True)
class MembershipRecord:
    """What ``condense membership`` measured: how well LiRA tells a pipeline's members from non-members.

    ``source``: what the target networks trained on (``set``: a set condensed by ``method`` from the shadow's
    half of the pool; ``random``: a random real subset of the same IPC; ``half``: the whole half); ``auc`` and
    ``tpr`` (FPR -> TPR, e.g. ``{"0.01": ..., "0.001": ...}``) over every (target shadow, pool image) pair;
    ``roc``: the curve (``fpr``, ``tpr`` lists, thinned for plotting); ``utility``: the target networks' test
    accuracy (%, mean ± std over shadows); ``init_audit``: for sets initialised from real images, the attack on
    those images against the other members (None otherwise)."""

    dataset: str
    source: str
    method: str | None
    ipc: int | None
    model: str  # the target network
    shadows: int
    pool_per_class: int
    fixed_variance: bool
    seed: int
    settings: dict  # the condensation's resolved settings (set), the training's, the pool's
    auc: float
    tpr: dict
    roc: dict
    utility: dict
    init_audit: dict | None
    seconds: float
    device: str
    # format 2 (format 1 records have none of these): 95 % bootstrap intervals of the online attack's AUC and TPRs
    # ({"images": {"auc": [lo, hi], "tpr@0.001": ...}, "targets": ...}), the offline attack's auc/tpr/intervals,
    # the query views ({"mirror", "dy", "dx"} each) and the bootstrap's resamples
    intervals: dict | None = None
    offline: dict | None = None
    queries: list | None = None
    bootstrap: int = 0

    @property
    def label(self) -> str:
        """'dm IPC 10', 'random IPC 10', 'half of the pool' or 'DP-SGD ε 4 (half)'."""
        if self.source == "half":
            return "half of the pool"
        if self.source == "dpsgd":
            return f"DP-SGD ε {self.settings['dp']['epsilon']:g} (half)"
        return f"{self.method if self.source == 'set' else 'random'} IPC {self.ipc}"

    def save(self, path: str | Path) -> None:
        from dataclasses import asdict

        write_json({"format": MEMBERSHIP_FORMAT, "kind": "membership", **asdict(self)}, path)

    @classmethod
    def load(cls, path: str | Path) -> MembershipRecord:
        where = f"membership record {str(path)!r}"
        data = read_json(path, what="membership record")
        if not isinstance(data, dict) or data.get("kind") != "membership":
            raise CondenseError(f"{where} is not a record of `condense membership`; give the --out of that stage")
        if data.get("format", 0) > MEMBERSHIP_FORMAT:
            raise CondenseError(
                f"{where} has format {data['format']}, newer than this condense reads ({MEMBERSHIP_FORMAT}); update condense"
            )
        return cls(**{key: value for key, value in data.items() if key not in ("format", "kind")})
