"""Ways to judge an image set, one file each, registered in :data:`EVALUATIONS` (DD-Ranking's one class per
metric, without its duplication).

An :class:`EvaluationKind` declares its settings dataclass (flags, config check and help come from it, as for
methods), the per-network values it measures (:class:`Column`: what tables show and how), and one verb,
``run(synthetic, data, settings, context)``, which returns each network's values and the kind's extra facts;
the ``evaluate`` stage wraps them into an :class:`~condense.data.records.EvalRecord`. Capability flags say
what a kind needs beyond the set and the test split (``needs_train``: the real training images, as
membership inference and scores relative to real data do).

Add a kind by adding a file here that calls :func:`register_evaluation` (and one import line below), or a
plugin module (``condense.core.plugins``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.accel import EAGER, Speed
from ..core.registry import Registry
from ..core.settings import build_settings
from ..data.records import SyntheticSet
from ..data.store import RealData


@dataclass(frozen=True)
class Column:
    """One value each evaluated network gets: ``name`` (its key in the record's runs), how tables label it,
    and ``scale`` (tables show value × scale: 100 turns a fraction into percent)."""

    name: str
    label: str
    scale: float = 1.0


@dataclass(frozen=True)
class EvalContext:
    """What a kind gets besides the set, the data and its settings."""

    model: str  # the evaluation network
    seed: int
    device: Any
    speed: Speed = EAGER
    hooks: Sequence[Callable[[dict], None]] = ()  # called with each network's values as soon as they are known


@dataclass(frozen=True)
class EvaluationKind:
    name: str
    summary: str
    settings: type  # frozen dataclass of setting() fields
    columns: tuple[Column, ...]  # the per-network values; the first is the one tables show by default
    run: Callable[[SyntheticSet, RealData, Any, EvalContext], tuple[list[dict], dict]]  # -> (runs, extra facts)
    needs_train: bool = False  # needs the real training images (else only the test split is loaded)
    record_settings: Callable[[Any, RealData], dict] = field(default=lambda settings, data: {})  # what the record stores

    @property
    def main(self) -> Column:
        return self.columns[0]

    def summarize(self, runs: list[dict]) -> dict:
        """Mean and population std (numpy's default, as the reference code reports) of the main column × its scale
        over the networks that did not diverge, their count, and the diverged count (mean, std None if all did)."""
        values = [run[self.main.name] for run in runs if not run.get("diverged")]
        summary = {"mean": None, "std": None, "n": 0} if not values else {
            "mean": self.main.scale * statistics.fmean(values), "std": self.main.scale * statistics.pstdev(values), "n": len(values)}  # fmt: skip
        return {**summary, "diverged": len(runs) - len(values)}

    def resolve(self, overrides: dict | None, data: RealData | None = None, synthetic: SyntheticSet | None = None):
        """The settings: defaults, the flags given, then each field's resolver, which sees the dataset's traits and
        the set's learned learning rate (None where it has none)."""
        context = {"traits": data.traits if data else None, "learned_lr": synthetic.learned_lr if synthetic else None}
        return build_settings(self.settings, overrides, owner=f"evaluation {self.name}", context=context)


EVALUATIONS: Registry[EvaluationKind] = Registry("evaluation kind")


def register_evaluation(kind: EvaluationKind) -> EvaluationKind:
    EVALUATIONS.add(kind.name, kind)
    return kind


# isort: off
# registration order is display order: keep it as written
from . import accuracy  # noqa: E402, F401  (registers "accuracy")
from . import continual  # noqa: E402, F401  (registers "continual")
from . import augmentation  # noqa: E402, F401  (registers "augmentation")
# isort: on
