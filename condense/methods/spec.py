"""A condensation method as data: :class:`MethodSpec` (name, label, settings dataclass with the reference
defaults, how its sets are evaluated, its step function), registered in :data:`METHODS`.

As timm keeps a ``PretrainedCfg`` beside each ``@register_model``, each method's file declares its
spec next to its step; ``distill``'s flags, the config check, the workflow's method wildcard, the
tables' and figures' labels all read the registry. A new method is one file plus one import line
in ``condense/methods/__init__.py`` (or a plugin module, see ``condense.core.plugins``).

Settings are frozen dataclasses whose fields are declared with :func:`~condense.core.settings.setting`:
the reference default, a help text, the allowed range or choices, and an optional resolver that
turns a symbolic default into the value recorded with the set (``augment: dsa`` → the dataset's
DSA strategy; no loop counts → the reference table by IPC). Resolvers get ``{"ipc", "traits", "settings"}``
(``settings``: the fields declared before theirs, resolved).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.checks import AT_LEAST_ONE, check_number
from ..core.registry import Registry
from ..core.settings import build_settings, flag_name, setting, user_fields
from ..data.augment import resolve_strategy
from ..data.traits import DatasetTraits
from .problem import exact_copies, initial_images

RUN_FIELDS = ("method", "ipc", "model")  # set by the run, not by method flags


def resolve_augment(value, context) -> str:
    """The resolver of a method's ``augment`` setting: ``dsa`` becomes the dataset's DSA strategy (its traits)."""
    return resolve_strategy(value, context["traits"])


@dataclass(frozen=True)
class MethodState:
    """What a method learns besides the images' SGD, and how it is kept and handed on. The default
    (:data:`IMAGES`) is the images and their optimiser; a method with more (a learned learning rate, a
    parameterisation) puts it in ``problem.learned`` in ``start`` and says how to save, load and export it."""

    start: Callable[[Any], None]  # (problem) before iteration 0, once the images and their optimiser exist
    save: Callable[[Any], dict]  # (problem) -> all the state a resume needs (a checkpoint's "state")
    load: Callable[[Any, dict], None]  # (problem, saved) restores it
    export: Callable[[Any], dict]  # (problem) -> the set's extra fields: learned_lr, soft_labels, decoder


def _save_images(problem) -> dict:
    return {"images": problem.images.detach().cpu(), "optimizer": problem.optimizer.state_dict()}


def _load_images(problem, saved: dict) -> None:
    import torch

    with torch.no_grad():
        problem.images.copy_(saved["images"].to(problem.images.device))
    problem.optimizer.load_state_dict(saved["optimizer"])


IMAGES = MethodState(start=lambda problem: None, save=_save_images, load=_load_images, export=lambda problem: {})

__all__ = [
    "METHODS",
    "IMAGES",
    "resolve_augment",
    "MethodSpec",
    "MethodState",
    "register_method",
    "setting",
    "flag_name",
    "method_fields",
    "RUN_FIELDS",
]


def method_fields(settings_cls: type) -> list:
    """The fields a user sets (run fields excluded)."""
    return user_fields(settings_cls, skip=RUN_FIELDS)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    label: str  # in tables and figures
    settings: type  # frozen dataclass: RUN_FIELDS, then each setting with its reference default
    step: Callable  # step(problem, generator) -> loss tensor: one reference iteration
    eval_augment: str  # the augmentation the reference evaluates its sets with: "dsa" (DSA, 1000 epochs) or "none" (300 epochs)
    loss_label: str  # what its loss curve shows
    real_images_per_iteration: Callable[[Any, int], int]  # (settings, num_classes) -> real images drawn per iteration
    image_momentum: float = 0.5  # SGD momentum of the synthetic images (all three reference methods)
    summary: str = ""
    requires: tuple[str, ...] = ()  # artifact kinds (condense/methods/artifacts.py) made before condensing, each by its own stage
    state: MethodState = IMAGES  # what it learns besides the images' SGD, and how that is checkpointed and exported
    produces: tuple[str, ...] = ()  # what its sets carry besides images and labels (learned_lr, soft_labels, decoder)
    initial: Callable[[Any, Any, int], tuple] = initial_images  # (data, settings, seed) -> the set before iteration 0 (images, labels)
    # (data, settings, initial images) -> a bool per training image: those the set started from (the membership
    # audit's "init" members); a method whose initial set transforms real images (IDC's tiles) names them itself
    init_sources: Callable[[Any, Any, Any], Any] = exact_copies

    def export(self, problem) -> dict:
        """The set's extra fields (``state.export``), exactly those it declares in ``produces``."""
        extra = self.state.export(problem)
        if set(extra) != set(self.produces):
            raise ValueError(f"method {self.name} exports {sorted(extra)} but declares produces={list(self.produces)}")
        return extra

    def takes(self, key: str) -> bool:
        """Whether ``key`` (a flag stem such as ``lr_net``) is one of this method's settings."""
        return any(flag_name(f) == key for f in method_fields(self.settings))

    def resolve(self, *, ipc: int, model: str, traits: DatasetTraits, overrides: Mapping[str, Any] | None = None):
        """The run's settings: reference defaults, then ``overrides`` (by flag name; None = default),
        then each field's resolver (with the IPC and the dataset's traits); every value checked. An
        override the method does not take is an error."""
        check_number("--ipc", ipc, AT_LEAST_ONE)
        return build_settings(
            self.settings,
            overrides,
            owner=self.name,
            fixed={"method": self.name, "ipc": ipc, "model": model},
            context={"ipc": ipc, "traits": traits},
        )


METHODS: Registry[MethodSpec] = Registry("condensation method")


def register_method(spec: MethodSpec) -> MethodSpec:
    METHODS.add(spec.name, spec)
    return spec


def method_settings_classes() -> list[type]:
    """Every registered method's settings dataclass, in name order: what the stages that condense make flags of."""
    return [METHODS.get(name).settings for name in METHODS.names()]
