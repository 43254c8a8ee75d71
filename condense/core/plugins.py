"""Third-party methods, mask sources, datasets and figures, imported before the registries are read.

A plugin is a Python module (a dotted name on ``sys.path`` or a path to a ``.py`` file) that
registers entries when imported, exactly like the project's own files do, e.g.::

    # my_methods/toy.py
    from condense.methods import register_method, MethodSpec
    register_method(MethodSpec(name="toy", ...))

``CONDENSE_PLUGINS`` (comma-separated) names them for every ``condense`` command; the workflow
sets it from the config key ``plugins`` and imports them itself, so its wildcards and schema
see the new names too.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from .errors import CondenseError

ENV = "CONDENSE_PLUGINS"
_loaded: dict[str, object] = {}


def plugin_names(value: str | None = None) -> list[str]:
    value = os.environ.get(ENV, "") if value is None else value
    return [name.strip() for name in value.split(",") if name.strip()]


def load_plugins(names: Iterable[str] | None = None) -> list[object]:
    """Import each plugin once (the environment's list by default); a bad name is a one-line CondenseError."""
    modules = []
    for name in plugin_names() if names is None else names:
        if name not in _loaded:
            _loaded[name] = _import(name)
        modules.append(_loaded[name])
    return modules


def _import(name: str):
    try:
        if name.endswith(".py"):
            path = Path(name)
            if not path.is_file():
                raise CondenseError(f"plugin file {name!r} does not exist; fix {ENV} or the config's plugins list")
            module_name = f"condense_plugin_{path.stem}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(name)
    except CondenseError:
        raise
    except ImportError as exc:
        raise CondenseError(f"plugin {name!r} cannot be imported ({exc}); fix {ENV} or the config's plugins list") from None
    except Exception as exc:  # the plugin's own code failed while registering: one line naming it, not a traceback
        sys.modules.pop(f"condense_plugin_{Path(name).stem}", None)
        where = _plugin_line(exc, name)
        raise CondenseError(
            f"plugin {name!r} failed while importing{where}: {type(exc).__name__}: {exc}; fix the plugin "
            f"or drop it from {ENV} / the config's plugins list"
        ) from None


def _plugin_line(exc: BaseException, name: str) -> str:
    """' (file.py line N)': the deepest frame of the traceback inside the plugin's own file, if any."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    target = Path(name).name if name.endswith(".py") else name.rsplit(".", 1)[-1] + ".py"
    for frame in reversed(frames):
        if Path(frame.filename).name == target:
            return f" ({frame.filename} line {frame.lineno})"
    return ""
