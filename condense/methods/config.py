"""The workflow config's per-method settings (``distill.<method>``), checked against the method's spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.errors import CondenseError
from ..data.traits import DatasetTraits
from .spec import MethodSpec

RUN_KEYS = ("ipcs", "snapshots", "models")  # what to run (IPCs, snapshot iterations, further condensation networks), not how

# Resolvers need a dataset; any will do to check names and ranges before a run.
_ANY_DATASET = DatasetTraits(dsa_strategy="color_crop_cutout_flip_scale_rotate", flip_safe=True, published_as=None, base="any")


def check_method_config(spec: MethodSpec, entry: Mapping[str, Any], key: str) -> None:
    """Every key of ``entry`` (but the run keys ``ipcs``, ``snapshots`` and ``models``) is a setting of ``spec`` with a
    valid value, and every snapshot an iteration before the last; else a one-line error."""
    overrides = {k: v for k, v in entry.items() if k not in RUN_KEYS}
    try:
        iterations = spec.resolve(ipc=1, model="convnet", traits=_ANY_DATASET, overrides=overrides).iterations
    except CondenseError as exc:
        raise CondenseError(f"config: {key}: {exc}; fix it in the config file") from None
    for it in entry.get("snapshots", []):
        if not 0 <= int(it) < iterations:
            raise CondenseError(f"config: {key}.snapshots: {it} is outside 0..{iterations - 1} (the final set is the last point); fix it")
