"""Condensation methods, one file each, registered in :data:`METHODS` (see ``spec``).

Shared parts: ``problem`` (what an iteration works on), ``matching`` (gradient distances),
``gradient_matching`` (the DC/DSA step), ``loop`` (iterations, seeds, hooks, checkpoints).
Add a method: a new file with its settings dataclass, step and :class:`MethodSpec`, and one line below.
"""

from .artifacts import ARTIFACTS, ArtifactKind, register_artifact
from .spec import IMAGES, METHODS, MethodSpec, MethodState, method_settings_classes, register_method, setting

# isort: off
# registration order is display order (tables, figures): keep it as written
from . import dc  # noqa: E402, F401  (registers the method)
from . import dsa  # noqa: E402, F401  (registers the method)
from . import dm  # noqa: E402, F401  (registers the method)
from . import datadam  # noqa: E402, F401  (registers the method)
from . import mtt  # noqa: E402, F401  (registers the method and its experts artifact)
from . import cafe  # noqa: E402, F401  (registers cafe and cafe_dsa)
from . import idc  # noqa: E402, F401  (registers idc and idc_i)

# isort: on

__all__ = [
    "ARTIFACTS",
    "IMAGES",
    "METHODS",
    "ArtifactKind",
    "MethodSpec",
    "MethodState",
    "method_settings_classes",
    "register_artifact",
    "register_method",
    "setting",
]
