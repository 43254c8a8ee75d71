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
        ["config.yaml", "config/fmnist-reference.yaml"],
        ["config.yaml", "config/evaluations.yaml"],
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
    assert (ev["epochs"], ev["epochs_augmented"], ev["lr"], ev["batch_size"]) == (300, 1000, None, None)
    # lr null: the reference 0.01 for a set that learned none (MTT's sets carry their own); batch_size null: 256,
    # or 64 for the sets evaluated by IDC's protocol
    from condense.evaluations import EVALUATIONS

    assert EVALUATIONS.get("accuracy").resolve({}).lr == 0.01
    assert EVALUATIONS.get("accuracy").resolve({}).batch_size == 256
    assert EVALUATIONS.get("accuracy").resolve({"augment": "idc"}).batch_size == 64
    assert "alexnet" in ev["models"] and "convnet" in ev["models"]


def test_defaults_are_filled(paper_config):
    del paper_config["eval"]["seed"]
    assert validate_config(paper_config)["eval"]["seed"] == 0


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


def _line_of(text: str, section: str, key: str) -> str:
    """The config.yaml line that sets ``key`` inside top-level ``section`` (a key line or a flow mapping's line)."""
    inside = False
    for line in text.splitlines():
        if not line.startswith(" ") and line.strip():
            inside = line.startswith(f"{section}:")
            continue
        stripped = line.strip()
        if inside and (stripped.startswith(f"{key}:") or f" {key}:" in line.split("#")[0] or f"{{{key}:" in line):
            return line
    raise AssertionError(f"config.yaml sets no {section}.{key}")


def _settings_sections(config: dict):
    """(section, key, value in config.yaml, the settings dataclass default) for every key a settings dataclass owns."""
    from condense.core.settings import flag_name, user_fields
    from condense.evaluations import EVALUATIONS
    from condense.masks.fcn_training import FCNTrainingSettings
    from condense.methods import METHODS
    from condense.methods.spec import RUN_FIELDS

    def fields(cls, skip=()):
        return {flag_name(f): f.default for f in user_fields(cls, skip=skip)}

    for method, entry in config["distill"].items():
        if method in METHODS:
            owned = fields(METHODS.get(method).settings, RUN_FIELDS)
            yield from (("distill", key, value, owned[key]) for key, value in entry.items() if key in owned)
    owned = fields(FCNTrainingSettings)
    yield from (("attention", key, value, owned[key]) for key, value in config["attention"].items() if key in owned)
    owned = fields(EVALUATIONS.get("accuracy").settings)
    # eval.augment is the workflow's per-method table (method -> augmentation), not the flag's one value
    yield from (("eval", key, value, owned[key]) for key, value in config["eval"].items() if key in owned and key != "augment")


def test_config_yaml_states_no_value_that_differs_silently(repo_root):
    """Each value config.yaml sets for a settings dataclass's field equals the field's default (one source of defaults),
    or its line says why it differs (a comment); symbolic defaults (None: resolved per run) stay None unless commented."""
    text = (repo_root / "config.yaml").read_text()
    config = yaml.safe_load(text)
    silent = []
    for section, key, value, default in _settings_sections(config):
        if value != default and "#" not in _line_of(text, section, key):
            silent.append(f"{section}.{key}: config.yaml {value!r}, default {default!r}")
    assert silent == [], silent


def test_the_schema_states_the_same_defaults_as_the_settings_dataclasses(paper_config):
    """A schema default for a key a settings dataclass owns is that dataclass's default (no fourth source)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    differing = []
    for section, key, _, default in _settings_sections(paper_config):
        props = schema["properties"][section].get("properties", {})
        if key in props and "default" in props[key] and props[key]["default"] != default:
            differing.append(f"{section}.{key}: schema {props[key]['default']!r}, dataclass {default!r}")
    assert differing == [], differing
