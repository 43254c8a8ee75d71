"""Artifacts a method needs before it condenses, each made by a producer of its own (registry :data:`ARTIFACTS`).

A method names what it needs in :attr:`MethodSpec.requires` (e.g. MTT's expert trajectories). Each kind here
declares its settings dataclass and one verb, ``make(data, settings, seed, device) -> dict`` of tensors and
plain values; ``condense artifact --kind NAME`` runs any of them and writes a versioned file that names its
kind, dataset, settings and seed; the workflow gives every required artifact a rule of its own and passes it to
``distill --artifact NAME=FILE``, which checks it and hands it to the method (``problem.artifacts[NAME]``). The
file's sha256 joins the checkpoint's identity like every input.

A kind that takes long (MTT's experts: hours) can be ``resumable``: its ``make`` then also takes a :class:`PartStore`
(``condense artifact --checkpoint-dir``, :mod:`condense.methods.parts`), where it keeps each finished part (an
expert), so a rerun after a kill starts at the first missing part and ends with the same content.

What making it measured (a ``cost`` entry of the content: seconds, bytes, device) is kept out of the artifact file,
in a JSON file beside it (:func:`cost_path`): wall times differ between identical runs, and the file's sha256 joins
the identity of every condensation checkpoint made from it, which must not go stale when the artifact is remade.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch, write_json
from ..core.registry import Registry
from ..core.settings import build_settings
from ..data.store import RealData

ARTIFACT_FORMAT = 1


@dataclass(frozen=True)
class ArtifactKind:
    name: str
    summary: str
    settings: type  # frozen dataclass of setting() fields (its flags, config check and help)
    # (data, settings, seed, device) -> the content; resumable: also (..., parts: PartStore | None), condense/methods/parts.py
    make: Callable[..., dict]
    resumable: bool = False  # make takes a PartStore and keeps each finished part there

    def resolve(self, overrides: dict | None, data: RealData | None = None):
        return build_settings(self.settings, overrides, owner=f"artifact {self.name}", context={"traits": data.traits if data else None})


ARTIFACTS: Registry[ArtifactKind] = Registry("artifact kind")


def register_artifact(kind: ArtifactKind) -> ArtifactKind:
    ARTIFACTS.add(kind.name, kind)
    return kind


def cost_path(path: str | Path) -> Path:
    """Where the cost of the artifact at ``path`` is kept (``experts.pt`` -> ``experts.cost.json``)."""
    return Path(path).with_suffix(".cost.json")


def save_artifact(path: str | Path, kind: ArtifactKind, data: RealData, settings: dict, seed: int, content: dict) -> None:
    """The artifact file, identical for identical runs: its ``cost`` (wall times) goes to :func:`cost_path`, written
    first so that an artifact file always has its cost beside it."""
    content = dict(content)
    cost = content.pop("cost", None)
    if cost is not None:
        write_json(cost, cost_path(path))
    save_torch({"format": ARTIFACT_FORMAT, "kind": kind.name, "dataset": data.name, "settings": settings, "seed": seed,
                "content": content}, path)  # fmt: skip


def load_artifact(path: str | Path, kind: str, dataset: str) -> dict:
    """The content of an artifact file of ``kind`` made from ``dataset``; anything else is a one-line refusal."""
    stored = load_torch(path, what=f"{kind} artifact")
    where = f"artifact file {str(path)!r}"
    if not isinstance(stored, dict) or stored.get("format") != ARTIFACT_FORMAT or "content" not in stored:
        raise CondenseError(f"{where} is not a condense artifact; make it with `condense artifact --kind {kind}`")
    if stored["kind"] != kind:
        raise CondenseError(f"{where} holds a {stored['kind']} artifact, not {kind}; pass the {kind} file")
    if stored["dataset"] != dataset:
        raise CondenseError(f"{where} was made from {stored['dataset']}, not {dataset}; make it from this dataset")
    return stored["content"]
