"""The runs a workflow config asks for, and the check that every name inside its filters selects some of them.

The workflow (``workflow/rules/common.smk``) builds its targets from :func:`set_runs`; the config check
(``condense.registries.check_config``, at ``snakemake -n``) calls :func:`check_filters`, so a filter naming a
method, IPC, network or dataset that nothing runs (``eval.limit: {convnet: {methods: [dmm]}}``, which would drop
every ConvNet evaluation) stops the workflow in one line instead of silently selecting nothing. Kept free of torch
at import, as the workflow imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .core.errors import CondenseError
from .masks.variant import MaskVariant, method_name, split_method

ON = "-on-"  # <method>-on-<network>: a set condensed on a network of distill.<method>.models


def method_ipcs(config: dict, method: str) -> list[int]:
    """IPCs of a plain method or coreset: its own `ipcs` in config['distill'][method] if given, else the top-level list."""
    return config["distill"].get(method, {}).get("ipcs", config["ipcs"])


def further_models(config: dict, method: str) -> list[str]:
    """The networks besides distill.model that distill.<method>.models asks the method to condense on too."""
    return [m for m in config["distill"].get(method, {}).get("models", []) if m != config["distill"]["model"]]


def on_network(config: dict, method: str, model: str) -> str:
    """The set name of ``method`` condensed on ``model`` (the plain name on distill.model)."""
    return method if model == config["distill"]["model"] else f"{method}{ON}{model}"


def base_method(name: str) -> str:
    """'dsa-mask-fcn-r0.5-mean-soft-fixed' -> 'dsa', 'dm-on-resnet18' -> 'dm'."""
    return split_method(name)[0].partition(ON)[0]


def _shape(text: str) -> tuple[str, float | None]:
    return ("soft", None) if text == "soft" else ("hard", float(text[len("hard") :]))


def grid_runs(config: dict, grid: dict) -> Iterator[tuple[str, int, int]]:
    """(set name, IPC, seed) of one entry of config['attention']['masks']: the product of its lists
    (ratio 0 is the method's plain run, at the entry's IPCs and seeds)."""
    for method in grid["methods"]:
        for ipc in grid.get("ipcs") or method_ipcs(config, method):
            for seed in grid.get("seeds") or config["seeds"]:
                for ratio in grid["ratios"]:
                    if float(ratio) == 0:
                        yield method, int(ipc), int(seed)
                        continue
                    for source in grid["sources"]:
                        for fill in grid["fills"]:
                            for shape_text in grid["shapes"]:
                                shape, q = _shape(shape_text)
                                for scheme in grid["schemes"]:
                                    variant = MaskVariant(source, float(ratio), fill, shape, q, scheme).validate()
                                    yield method_name(method, variant), int(ipc), int(seed)


def set_runs(config: dict, dataset: str) -> list[tuple[str, int, int]]:
    """Every (set name, IPC, seed) the config asks for on ``dataset``, once: coresets and methods at their
    IPCs and the top-level seeds (datasets in `datasets`), then the runs of every mask grid that applies
    to it (all of `datasets`, or those in its own `datasets`); in a stable order."""
    distilled = list(config["distill"]["methods"])
    plain = list(config["coreset"]["methods"]) + distilled if dataset in config["datasets"] else []
    runs = [(m, int(ipc), int(seed)) for m in plain for ipc in method_ipcs(config, m) for seed in config["seeds"]]
    # a condensation method also on the other networks its distill.<method>.models names (unmasked, its IPCs and seeds)
    runs += [(on_network(config, m, model), ipc, seed) for m, ipc, seed in list(runs) if m in distilled
             for model in further_models(config, m)]  # fmt: skip
    for grid in config["attention"]["masks"]:
        if dataset in (grid.get("datasets") or config["datasets"]):
            runs.extend(grid_runs(config, grid))
    return list(dict.fromkeys(runs))


def workflow_datasets(config: dict) -> list[str]:
    """The datasets the workflow builds: `datasets` (every plain run), then those only a mask grid names."""
    named = [d for grid in config["attention"]["masks"] for d in grid.get("datasets") or []]
    return list(dict.fromkeys([*config["datasets"], *named]))


def eval_models(config: dict, pools: dict[str, Iterable[str]]) -> list[str]:
    """The evaluation networks: eval.models, then those of the official pool eval.pool names (once each)."""
    pool = pools[config["eval"]["pool"]] if config["eval"]["pool"] else ()
    return list(dict.fromkeys([*config["eval"]["models"], *pool]))


# ---------------------------------------------------------------------------------------------- the filters


def _check_names(key: str, names: Iterable, valid: Iterable, what: str, index: bool = True) -> None:
    """Each of ``names`` (the list at ``key``, or with ``index`` False the keys of the mapping at ``key``) is in ``valid``."""
    valid = list(dict.fromkeys(valid))
    for i, name in enumerate(names):
        if name not in valid:
            shown = ", ".join(str(v) for v in sorted(valid, key=str)) or "none"
            where = f"key {key}.{i} = {name!r}" if index else f"key {key}.{name}"
            raise CondenseError(
                f"config: {where} is invalid ({name!r} is not {what}: {shown}); it would select nothing, fix it in the config file"
            )


@dataclass(frozen=True)
class Registered:
    """The registries' names the filters are checked against (passed in: this module imports no registry)."""

    methods: tuple[str, ...]  # condensation methods and coresets
    models: tuple[str, ...]  # networks
    pools: dict[str, tuple[str, ...]]  # official evaluation pool -> its networks


def _registered_set_name(name: str, registered: Registered) -> bool:
    """``name`` reads as a set name of registered parts: <method or coreset>[-on-<network>][-mask-<variant>]."""
    try:
        plain, _ = split_method(name)  # a variant that does not parse, or names an unregistered source or fill, raises
    except CondenseError:
        return False
    method, on, model = plain.partition(ON)
    return method in registered.methods and (not on or model in registered.models)


def check_filters(config: dict, registered: Registered) -> None:
    """Every name in a config filter is a registered one, and selects what the config runs where the filter applies;
    else one line naming the key, the bad name and the valid ones.

    - ``eval.limit.<network>``: a registered network; of a network that evaluates, every method is one the config
      runs and every IPC one those methods run at (a bad name there silently drops that network's evaluations);
      of one that does not (a limit a profile inherits), its methods are registered ones.
    - ``evaluations.<kind>``: every name a set name of registered parts; where the kind judges some set of this
      config, every IPC is one a listed set is made at. A listed set the config does not make, and a kind that
      judges nothing here, are allowed: a profile that cuts the grid (``ipcs: [1]``, ``coreset: {methods: []}``)
      inherits the kinds of the config it extends.
    - ``membership.datasets``: datasets the workflow builds; ``eval.augment``: registered methods or coresets."""
    runs = list(dict.fromkeys((name, ipc) for dataset in workflow_datasets(config) for name, ipc, _ in set_runs(config, dataset)))
    models = eval_models(config, registered.pools)
    bases = list(dict.fromkeys(base_method(name) for name, _ in runs))
    for model, limit in config["eval"]["limit"].items():
        _check_names("eval.limit", [model], registered.models, "a registered network", index=False)
        if model not in models:
            _check_names(f"eval.limit.{model}.methods", limit.get("methods", []), registered.methods, "a registered method or coreset")
            continue
        _check_names(f"eval.limit.{model}.methods", limit.get("methods", []), bases, "a method or coreset the config runs")
        chosen = limit.get("methods", bases)
        ipcs = sorted({ipc for name, ipc in runs if base_method(name) in chosen})
        _check_names(f"eval.limit.{model}.ipcs", limit.get("ipcs", []), ipcs, "an IPC the config runs these methods at")
    names = list(dict.fromkeys(name for name, _ in runs))
    for kind, entry in config["evaluations"].items():
        key = f"evaluations.{kind}"
        for i, name in enumerate(entry["methods"]):
            if not _registered_set_name(name, registered):
                raise CondenseError(
                    f"config: key {key}.methods.{i} = {name!r} is invalid (not a set name <method or coreset>[-on-<network>]"
                    f"[-mask-<variant>] of registered names; sets this config makes: {', '.join(names) or 'none'}); fix it in the config file"
                )
        made = sorted({ipc for name, ipc in runs if name in entry["methods"]})
        if any(not entry["ipcs"] or ipc in entry["ipcs"] for ipc in made):  # it judges sets here: each IPC must select some
            _check_names(f"{key}.ipcs", entry["ipcs"], made, "an IPC the config makes these sets at")
        elif entry["methods"]:  # allowed (a profile that cuts the grid inherits it), but never silently
            print(f"warning: config: {key} judges no set of this config (methods {', '.join(entry['methods'])} at IPCs "
                  f"{', '.join(map(str, entry['ipcs'])) or 'any'}; sets made: {', '.join(f'{n} IPC {i}' for n, i in runs) or 'none'}); "
                  "it runs nothing", file=sys.stderr)  # fmt: skip
    _check_names("membership.datasets", config["membership"]["datasets"], workflow_datasets(config), "a dataset the workflow builds")
    for i, pipeline in enumerate(config["membership"]["pipelines"]):
        if (pipeline.get("source") == "dpsgd") != ("epsilon" in pipeline):
            raise CondenseError(
                f"config: key membership.pipelines.{i}: epsilon goes with source dpsgd and only with it; fix it in the config file"
            )
        if pipeline.get("source") in ("set", "random") and "ipc" not in pipeline:
            raise CondenseError(
                f"config: key membership.pipelines.{i}: source {pipeline['source']} needs an ipc; fix it in the config file"
            )
        if pipeline.get("source", "set") == "set":
            _check_names(
                f"membership.pipelines.{i}.method", [pipeline.get("method")], registered.methods, "a registered method", index=False
            )
    _check_names("eval.augment", list(config["eval"]["augment"]), registered.methods, "a registered method or coreset", index=False)
