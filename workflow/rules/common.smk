# Paths, wildcard constraints and small lookups shared by the rules.

DATA = R + "/{dataset}/data.pt"
MIRROR = R + "/{dataset}/mirror"
FULL_MODEL = R + "/{dataset}/full/{model}_seed{seed}.pt"
FULL_JSON = R + "/{dataset}/full/{model}_seed{seed}.json"
SET = R + "/{dataset}/sets/{method}_ipc{ipc}_seed{seed}.pt"
EVAL = R + "/{dataset}/eval/{method}_ipc{ipc}_seed{seed}/{model}.json"
TABLE = R + "/{dataset}/tables/summary"
LOGS = R + "/{dataset}/logs"
BENCH = R + "/{dataset}/benchmarks"


wildcard_constraints:
    dataset="[a-z0-9]+",
    model="[a-z0-9_]+",
    method="[a-z0-9_+.-]+",
    ipc="[0-9]+",
    seed="[0-9]+",
    ratio="[0-9]+(\\.[0-9]+)?",


def res(rule_name, key):
    """A resource request for a rule from config['resources'], falling back to the default entry."""
    table = config["resources"]
    return table.get(rule_name, {}).get(key, table["default"].get(key))


def rule_resources(rule_name):
    return dict(mem_mb=res(rule_name, "mem_mb"), runtime=res(rule_name, "runtime"), gpu=res(rule_name, "gpu"))


def eval_augment(method):
    """Evaluation augmentation of a set: by its base method, so 'dsa-mask0.5' is evaluated like 'dsa'."""
    return config["eval"]["augment"].get(method.partition("-mask")[0], "none")


def eval_epochs(method):
    augmented = eval_augment(method) != "none"
    return config["eval"]["epochs_augmented" if augmented else "epochs"]


def method_ipcs(method):
    """IPCs for a method: its own `ipcs` list in config['distill'][method] if given, else the top-level list."""
    base = method.partition("-mask")[0]
    return config["distill"].get(base, {}).get("ipcs", config["ipcs"])


def masked_methods():
    """Masked variants, e.g. 'dsa-mask0.5', for every method in attention.methods and ratio in attention.ratios."""
    att = config["attention"]
    return [f"{m}-mask{r}" for m in att["methods"] for r in att["ratios"] if float(r) > 0]


def eval_targets(dataset):
    methods = list(config["coreset"]["methods"]) + list(config["distill"]["methods"]) + masked_methods()
    return [
        path
        for method in methods
        for path in expand(
            EVAL,
            dataset=dataset,
            method=method,
            ipc=method_ipcs(method),
            seed=config["seeds"],
            model=config["eval"]["models"],
        )
    ]


def full_targets(dataset):
    return expand(FULL_JSON, dataset=dataset, model=config["full"]["models"], seed=config["full"]["seed"])


def all_targets():
    return expand(TABLE + ".md", dataset=config["datasets"])
