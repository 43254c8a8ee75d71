"""Condensation methods, one file each, registered in :data:`METHODS` (see ``spec``).

Shared parts: ``problem`` (what an iteration works on), ``matching`` (gradient distances),
``gradient_matching`` (the DC/DSA step), ``loop`` (iterations, seeds, hooks, checkpoints).
Add a method: a new file with its settings dataclass, step and :class:`MethodSpec`, and one line below.
"""

from . import (
    datadam,  # noqa: E402,F401  (registers "datadam")
    dc,  # noqa: E402,F401  (registers "dc")
    dm,  # noqa: E402,F401  (registers "dm")
    dsa,  # noqa: E402,F401  (registers "dsa")
)
from .spec import METHODS, MethodSpec, register_method, setting

__all__ = ["METHODS", "MethodSpec", "register_method", "setting"]
