"""Every registry's names in one place, for the workflow (schema enums, wildcards) and its tests.

Importing this module imports every built-in method, mask source, network and figure; plugins
must be loaded before (``condense.core.plugins.load_plugins``) for their names to appear.
"""

from __future__ import annotations


def schema_enums() -> dict[str, list[str]]:
    """``definitions`` name of the config schema -> the registered names it admits."""
    from .baselines.coreset import SELECTORS
    from .data.derived import DERIVATIONS
    from .evaluations import EVALUATIONS
    from .masks.fills import FILLS
    from .masks.saliency import SOURCES
    from .masks.schemes import SCHEMES
    from .methods import ARTIFACTS, METHODS
    from .models.classifiers import MODELS
    from .models.fcn import FCNS
    from .models.pools import EVAL_POOLS

    return {
        "method": METHODS.names(),
        "coreset_method": SELECTORS.names(),
        "saliency_source": SOURCES.names(),
        "mask_fill": FILLS.names(),
        "mask_scheme": SCHEMES.names(),
        "model": MODELS.names(),
        "eval_pool": EVAL_POOLS.names(),
        "evaluation_kind": [name for name in EVALUATIONS.names() if name != "accuracy"] or ["(none registered)"],
        "fcn_model": FCNS.names(),
        "derivation": DERIVATIONS.names() or ["(none registered)"],
        "artifact_kind": ARTIFACTS.names() or ["(none registered)"],
        "compiled_stage": ["distill", *[f"distill.{m}" for m in METHODS.names()], "evaluate", "full_baseline"],
    }


def check_config(config: dict, schema_path) -> dict:
    """The workflow's config check: the schema (defaults filled in) with the registries' names, then what a
    schema cannot say: datasets are registered or derived, and each method's settings are its own."""
    from .baselines.coreset import SELECTORS
    from .config_grid import Registered, check_filters
    from .core.config import validate_config
    from .core.errors import CondenseError
    from .core.settings import build_settings
    from .data.sources import DATASETS
    from .evaluations import EVALUATIONS
    from .masks.saliency import SOURCES
    from .methods import ARTIFACTS, METHODS
    from .methods.config import check_method_config
    from .models.classifiers import MODELS
    from .models.pools import EVAL_POOLS

    validate_config(config, schema_path, schema_enums(), source="config")
    known = ", ".join(DATASETS.names())
    named = [(f"datasets.{i}", name) for i, name in enumerate(config["datasets"])]
    named += [
        (f"attention.masks.{g}.datasets.{i}", name)
        for g, grid in enumerate(config["attention"]["masks"])
        for i, name in enumerate(grid.get("datasets") or [])
    ]
    for key, name in named:
        if name not in DATASETS and name not in config["derived"]:
            raise CondenseError(
                f"config: key {key} = {name!r} is invalid (not a known dataset: {known}; nor defined "
                "under `derived`); fix it in the config file"
            )
    for name, entry in config["derived"].items():
        if name in DATASETS:
            raise CondenseError(f"config: derived dataset {name!r} shadows the dataset of that name; rename it")
        if entry["base"] not in DATASETS:
            raise CondenseError(f"config: key derived.{name}.base = {entry['base']!r} is invalid (not a known dataset: {known})")
    # every method that runs, plainly or in a mask grid (a profile inherits the settings it does not override)
    used = list(config["distill"]["methods"]) + [m for grid in config["attention"]["masks"] for m in grid["methods"]]
    for method in dict.fromkeys(used):
        check_method_config(METHODS.get(method), config["distill"].get(method, {}), f"distill.{method}")
    for name, entry in config["evaluations"].items():
        try:
            EVALUATIONS.get(name).resolve(entry["settings"])
        except CondenseError as exc:
            raise CondenseError(f"config: evaluations.{name}.settings: {exc}; fix it in the config file") from None
    for name, entry in config["artifacts"].items():
        try:
            ARTIFACTS.get(name).resolve({k: v for k, v in entry.items() if k != "seed"})
        except CondenseError as exc:
            raise CondenseError(f"config: artifacts.{name}: {exc}; fix it in the config file") from None
    pools = {name: tuple(pool) for name, pool in EVAL_POOLS.items()}
    check_filters(config, Registered(methods=(*METHODS.names(), *SELECTORS.names()), models=tuple(MODELS.names()), pools=pools))
    for name, entry in config["attention"]["saliency"].items():
        source = SOURCES.get(name)
        try:
            if source.settings is None:
                if entry:
                    raise CondenseError(f"source {name} takes no settings")
            else:
                build_settings(source.settings, entry, owner=f"source {name}")
        except CondenseError as exc:
            raise CondenseError(f"config: attention.saliency.{name}: {exc}; fix it in the config file") from None
    return config
