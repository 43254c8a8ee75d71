"""Derived datasets: a stored dataset made from another one by a registered derivation, one file each.

A :class:`Derivation` has a settings dataclass (fields made with
:func:`~condense.core.settings.setting`: defaults, ranges, help) and one function
``derive(base, settings, generator) -> stored`` from the base data file (as stored: uint8 tensors)
to a new one, whose ``traits`` it sets (its DSA strategy, whether published numbers apply). The
result is written like any dataset (``condense derive``), so every later stage runs on it
unchanged. Add one: a new file here with its spec and one import line below (or a plugin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...core.registry import Registry


@dataclass(frozen=True)
class Derivation:
    name: str
    summary: str
    settings: type  # frozen dataclass; every field a `setting`
    derive: Callable[[dict, object, torch.Generator], dict]  # (stored base, settings, generator) -> stored derived
    foregrounds: bool = False  # its data files store exact foregrounds (train_foreground, test_foreground)


DERIVATIONS: Registry[Derivation] = Registry("dataset derivation")


def register_derivation(derivation: Derivation) -> Derivation:
    DERIVATIONS.add(derivation.name, derivation)
    return derivation


from . import backgrounds  # noqa: E402,F401  (registers "backgrounds")
