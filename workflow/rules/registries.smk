# What the workflow takes from the package: its registries (methods, coresets, mask sources,
# networks, datasets, derivations, tables) and the config check against them.
# Plugins (config `plugins`) are imported first and exported to every job (CONDENSE_PLUGINS),
# so a method added as a plugin gets its wildcards, schema names and flags like a built-in one.

from condense.core.allocator import ALLOCATOR_ENV
from condense.core.plugins import ENV as PLUGINS_ENV, load_plugins

from condense.core.errors import CondenseError


def _stop(exc):
    """A bad config or plugin: one line and exit status 2, no Python traceback, before any job."""
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2)


try:
    load_plugins(config.get("plugins") or [])
except CondenseError as exc:
    _stop(exc)
os.environ[PLUGINS_ENV] = ",".join(config.get("plugins") or [])

from condense import config_grid
from condense.baselines.coreset import SELECTORS
from condense.data.derived import DERIVATIONS
from condense.data.sources import DATASETS
from condense.masks.saliency import SOURCES
from condense.masks.schemes import SCHEMES
from condense.masks.variant import VARIANT_PATTERN, MaskVariant, method_name, split_method
from condense.evaluations import EVALUATIONS
from condense.methods import ARTIFACTS, METHODS
from condense.models.pools import EVAL_POOLS
from condense.registries import check_config
from condense.reporting.layouts import LAYOUTS, has_cells

# The schema with the registries' names, then datasets and per-method settings: one line naming the bad key.
try:
    check_config(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))
except CondenseError as exc:
    _stop(exc)

# Every job inherits these (glibc allocator settings, docs/environment.md); a user's own values win.
for _key, _value in ALLOCATOR_ENV.items():
    os.environ.setdefault(_key, _value)

CONDENSE = f"{sys.executable} -m condense"
R = config["results"]
