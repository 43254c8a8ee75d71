"""Settings as frozen dataclasses whose fields say everything about themselves.

A field made with :func:`setting` carries its default (the reference value), a help text, the
allowed range (:class:`~condense.core.checks.Bounds`) or choices, an optional flag/config name,
and an optional resolver that turns a symbolic default into the recorded value. From that one
declaration come a stage's flags, the range checks, the config check and the help; methods and
dataset derivations use it alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any

from .checks import Bounds, check_number
from .errors import CondenseError

Resolver = Callable[[Any, Mapping[str, Any]], Any]  # (value, context) -> recorded value


def setting(
    default: Any,
    help: str = "",
    *,
    bounds: Bounds | None = None,
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    flag: str | None = None,
    resolve: Resolver | None = None,
    shown: str | None = None,
) -> Any:
    """A settings field. ``flag``: its command-line and config name when it differs from the field's
    (``strategy`` is set as ``augment``). ``resolve(value, context)`` gives the recorded value. ``shown``: how
    ``--help`` states a symbolic default (None) the resolver fills in (e.g. the values by dataset)."""
    metadata = {"help": help, "bounds": bounds, "choices": choices, "flag": flag, "resolve": resolve, "shown": shown}
    return field(default=default, metadata=metadata)


def flag_name(f: dataclasses.Field) -> str:
    """The config key / flag stem of a settings field (``lr_img``; the flag is ``--lr-img``)."""
    return f.metadata.get("flag") or f.name


def user_fields(settings_cls: type, skip: Sequence[str] = ()) -> list[dataclasses.Field]:
    """The fields a user sets (those the run fills in, ``skip``, excluded)."""
    return [f for f in dataclasses.fields(settings_cls) if f.name not in skip]


# a field's annotation (a string under postponed evaluation) -> its type
FIELD_TYPES = {"int": int, "float": float, "str": str, int: int, float: float, str: str}


def check_type(name: str, value: Any, f: dataclasses.Field) -> None:
    """The value has the field's type (an int field an int, a float field any number, a str field a string);
    None stands for a symbolic default a resolver fills in. A config's ``iterations: 2.5``, or ``1e12`` (which
    YAML reads as a string), is refused here, naming the setting, not deep inside a job."""
    kind = FIELD_TYPES.get(f.type)
    if kind is None or value is None:
        return
    if kind is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    if not ok:
        wanted = {int: "an integer", float: "a number", str: "a string"}[kind]
        written = "1000000000000" if kind is int else "1.0e+12"
        hint = f" (YAML reads 1e12 as a string: write {written})" if kind is not str and _numeric_text(value) else ""
        raise CondenseError(f"{name} {value!r} is not {wanted}{hint}")


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_value(key: str, value: Any, f: dataclasses.Field) -> None:
    name = f"--{key.replace('_', '-')}"
    check_type(name, value, f)
    bounds = f.metadata.get("bounds")
    if bounds is not None:
        check_number(name, value, bounds)
    choices = f.metadata.get("choices")
    if choices is not None:
        allowed = list(choices() if callable(choices) else choices)
        if value not in allowed:
            raise CondenseError(f"{name} {value!r} is not one of: {', '.join(map(str, allowed))}")


def build_settings(
    settings_cls: type,
    overrides: Mapping[str, Any] | None,
    *,
    owner: str,
    fixed: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
):
    """An instance of ``settings_cls``: defaults, then ``overrides`` (by flag name; None = default), then
    each field's resolver with ``context`` (plus ``settings``: the fields before it, resolved); ``fixed`` fills the
    run's own fields. Every value is checked;
    an override that is not a field of ``settings_cls`` is an error naming ``owner``'s settings."""
    fixed = dict(fixed or {})
    fields = {flag_name(f): f for f in user_fields(settings_cls, skip=tuple(fixed))}
    values: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in fields:
            raise CondenseError(
                f"--{key.replace('_', '-')} does not apply to {owner}; its settings are: "
                f"{', '.join(sorted(k.replace('_', '-') for k in fields))}"
            )
        values[fields[key].name] = value
    resolved: dict[str, Any] = dict(fixed)  # the fields resolved so far, in declaration order
    for key, f in fields.items():
        value = values.get(f.name, f.default)
        resolve = f.metadata.get("resolve")
        if resolve is not None:
            # a default that depends on an earlier field (IDC's by factor) reads it from context["settings"]
            value = resolve(value, {**(context or {}), "settings": dict(resolved)})
        check_value(key, value, f)
        values[f.name] = resolved[f.name] = value
    return settings_cls(**fixed, **values)
