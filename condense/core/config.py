"""Workflow config validation against a JSON schema, reported as one clear line.

The schema is the workflow's (``workflow/schemas/config.schema.yaml``); the Snakefile
passes its path, so the package never reads files of a checkout. Names that registries
own (methods, datasets, mask sources, ...) are not spelled out in the schema: the
caller passes them as ``enums``, which fill ``definitions/<name>/enum`` before
validation, so a new registry entry needs no schema edit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import CondenseError


def _fill_defaults(validator_class):
    """A validator that also writes each property's schema default into the config (as Snakemake's validate does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = sub["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema(schema_path: str | Path, enums: Mapping[str, Sequence[str]] | None = None) -> dict:
    """The schema at ``schema_path`` with ``definitions[name].enum`` set from ``enums``."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    definitions = schema.setdefault("definitions", {})
    for name, values in (enums or {}).items():
        if name not in definitions:
            raise ValueError(f"schema {schema_path} has no definition {name!r} to take the registry's names")
        definitions[name] = {**definitions[name], "enum": sorted(values)}
    return schema


def validate_config(
    config: dict, schema_path: str | Path, enums: Mapping[str, Sequence[str]] | None = None, source: str = "config"
) -> dict:
    """Validate ``config`` in place (filling defaults) or raise CondenseError naming the key, the value and the rule."""
    validator = _fill_defaults(jsonschema.Draft7Validator)(load_schema(schema_path, enums))
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise CondenseError(describe(error, source))
    check_finite(config, source)
    return config


def check_finite(node: Any, source: str, path: tuple = ()) -> None:
    """No NaN or infinity anywhere (YAML's .nan / .inf pass JSON-schema ranges, whose comparisons are false)."""
    if isinstance(node, dict):
        for key, value in node.items():
            check_finite(value, source, (*path, key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            check_finite(value, source, (*path, i))
    elif isinstance(node, float) and not math.isfinite(node):
        key = ".".join(str(p) for p in path)
        raise CondenseError(f"{source}: key {key} = {node!r} is invalid (not a finite number); fix it in the config file")


def describe(error: jsonschema.ValidationError, source: str) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "check the spelling"
        return f"{source}: {error.message} at {key}; {hint}"
    value: Any = error.instance
    return f"{source}: key {key} = {value!r} is invalid ({error.message}); fix it in the config file"
