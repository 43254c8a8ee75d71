"""Workflow config validation: the JSON schema in workflow/schemas, reported as one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import CondenseError

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


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


def validate_config(config: dict, schema_path: str | Path = SCHEMA, source: str = "config") -> dict:
    """Validate ``config`` in place (filling defaults) or raise CondenseError naming the key, the value and the rule."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _fill_defaults(jsonschema.Draft7Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise CondenseError(describe(error, source))
    return config


def describe(error: jsonschema.ValidationError, source: str) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "check the spelling"
        return f"{source}: {error.message} at {key}; {hint}"
    value: Any = error.instance
    return f"{source}: key {key} = {value!r} is invalid ({error.message}); fix it in the config file"
