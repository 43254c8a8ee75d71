import copy
from pathlib import Path

import pytest
import yaml

from condense.core.errors import CondenseError
from condense.registries import check_config

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


def validate_config(config):
    """As the workflow validates (workflow/rules/registries.smk): the schema with the registries' names."""
    return check_config(config, SCHEMA)


@pytest.fixture
def paper_config(repo_root):
    return yaml.safe_load((repo_root / "config.yaml").read_text())


def overlaid(base: dict, overlay: dict) -> dict:
    """Snakemake's --configfile merge: nested dicts update, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        out[key] = overlaid(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize(
    "profiles",
    [
        ["config.yaml"],
        ["config/smoke.yaml"],
        ["config/quick.yaml"],
        ["config.yaml", "config/quick.yaml", "config/backgrounds.yaml"],
        ["config.yaml", "config/quick.yaml", "config/mask-sources.yaml"],
    ],
)
def test_shipped_configs_validate(repo_root, profiles):
    config: dict = {}
    for profile in profiles:
        config = overlaid(config, yaml.safe_load((repo_root / profile).read_text()))
    validate_config(config)


def test_paper_defaults_match_reference_protocol(paper_config):
    config = validate_config(paper_config)
    assert config["datasets"] == ["cifar10"]
    assert config["ipcs"] == [1, 10, 50]
    ev = config["eval"]
    assert (ev["epochs"], ev["epochs_augmented"], ev["lr"], ev["batch_size"]) == (300, 1000, 0.01, 256)
    assert "alexnet" in ev["models"] and "convnet" in ev["models"]


def test_defaults_are_filled(paper_config):
    del paper_config["eval"]["lr"]
    assert validate_config(paper_config)["eval"]["lr"] == 0.01


def test_unknown_key_names_the_key(paper_config):
    paper_config["eval"]["epoch"] = 3
    with pytest.raises(CondenseError) as err:
        validate_config(paper_config)
    message = str(err.value)
    assert "'epoch'" in message and "epochs" in message and "\n" not in message


@pytest.mark.parametrize(
    "path, value, needle",
    [
        (("eval", "epochs"), "many", "eval.epochs = 'many'"),
        (("eval", "num_nets"), 0, "eval.num_nets = 0"),
        (("ipcs",), [1, -3], "ipcs.1 = -3"),
        (("datasets",), ["imagenet"], "datasets.0 = 'imagenet'"),
        (("device",), "tpu", "device = 'tpu'"),
        (("compile",), ["distill.herding"], "compile.0 = 'distill.herding'"),
        (("eval", "model_epochs"), {"alexnet": 0}, "eval.model_epochs.alexnet = 0"),
    ],
)
def test_bad_values_name_key_and_value(paper_config, path, value, needle):
    config = copy.deepcopy(paper_config)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(CondenseError) as err:
        validate_config(config)
    assert needle in str(err.value)


def test_a_profile_must_not_inherit_snapshots_past_its_iterations(paper_config):
    """A profile that shortens a method keeps config.yaml's snapshots unless it overrides them: caught here."""
    config = copy.deepcopy(paper_config)
    config["distill"]["dsa"]["iterations"] = 10  # snapshots: [500] from config.yaml
    with pytest.raises(CondenseError, match=r"distill.dsa.snapshots: 500 is outside 0..9"):
        validate_config(config)
    config["distill"]["methods"] = ["dm"]  # DSA still runs in a mask grid: still checked
    with pytest.raises(CondenseError, match=r"distill.dsa.snapshots"):
        validate_config(config)


def test_a_mask_grid_naming_an_unknown_dataset_stops_the_config(paper_config):
    grid = {"methods": ["dm"], "ratios": [0, 1.0], "datasets": ["cifar10", "fmnist-bg"]}
    paper_config["attention"]["masks"] = [grid]
    with pytest.raises(CondenseError, match=r"attention\.masks\.0\.datasets\.1 = 'fmnist-bg' is invalid"):
        validate_config(paper_config)
    paper_config["derived"] = {"fmnist-bg": {"kind": "backgrounds", "base": "fashionmnist", "settings": {}}}
    assert validate_config(paper_config)["attention"]["masks"][0]["datasets"] == ["cifar10", "fmnist-bg"]
