# Paths, wildcard constraints and small lookups shared by the rules.

from condense.layouts import LAYOUTS  # torch-free: the paper-layout table names

DATA = R + "/{dataset}/data.pt"
MIRROR = R + "/{dataset}/mirror"
FULL_MODEL = R + "/{dataset}/full/{model}_seed{seed}.pt"
FULL_JSON = R + "/{dataset}/full/{model}_seed{seed}.json"
SET = R + "/{dataset}/sets/{method}_ipc{ipc}_seed{seed}.pt"
HERDING_ORDER = R + "/{dataset}/coresets/herding_order.pt"
EVAL = R + "/{dataset}/eval/{method}_ipc{ipc}_seed{seed}/{model}.json"
TABLE = R + "/{dataset}/tables/summary"
PAPER_TABLE = R + "/{dataset}/tables/{layout}"
FIGURE = R + "/{dataset}/figures/{figure}"
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


def base_method(method):
    """'dsa-mask0.5' -> 'dsa': a masked variant is configured and evaluated like its method."""
    return method.partition("-mask")[0]


def eval_augment(method):
    """Evaluation augmentation of a set: by its base method, so 'dsa-mask0.5' is evaluated like 'dsa'."""
    return config["eval"]["augment"].get(base_method(method), "none")


def eval_epochs(method, model):
    """config['eval']['model_epochs'][model] where set, else epochs_augmented or epochs by the set's augmentation."""
    if model in config["eval"]["model_epochs"]:
        return config["eval"]["model_epochs"][model]
    augmented = eval_augment(method) != "none"
    return config["eval"]["epochs_augmented" if augmented else "epochs"]


def method_ipcs(method):
    """IPCs for a method: its own `ipcs` list in config['distill'][method] if given, else the top-level list."""
    return config["distill"].get(base_method(method), {}).get("ipcs", config["ipcs"])


def masked_methods():
    """Masked variants, e.g. 'dsa-mask0.5', for every method in attention.methods and its ratios
    (attention.method_ratios[method] if given, else attention.ratios)."""
    att = config["attention"]
    return [f"{m}-mask{r}" for m in att["methods"] for r in att["method_ratios"].get(m, att["ratios"]) if float(r) > 0]


def evaluated(model, method, ipc):
    """Whether `model` evaluates sets of `method` at `ipc`: all of them unless config['eval']['limit'] names the model."""
    limit = config["eval"]["limit"].get(model)
    if limit is None:
        return True
    base = base_method(method)
    return base in limit.get("methods", [base]) and int(ipc) in limit.get("ipcs", [int(ipc)])


def eval_targets(dataset):
    methods = list(config["coreset"]["methods"]) + list(config["distill"]["methods"]) + masked_methods()
    return [
        EVAL.format(dataset=dataset, method=method, ipc=ipc, seed=seed, model=model)
        for method in methods
        for ipc in method_ipcs(method)
        for seed in config["seeds"]
        for model in config["eval"]["models"]
        if evaluated(model, method, ipc)
    ]


def full_targets(dataset):
    return expand(FULL_JSON, dataset=dataset, model=config["full"]["models"], seed=config["full"]["seed"])


def distilled_sets(dataset, seeds=None):
    """Set files of every condensed method (masked variants included), for the figures."""
    methods = list(config["distill"]["methods"]) + masked_methods()
    return [
        path
        for method in methods
        for path in expand(SET, dataset=dataset, method=method, ipc=method_ipcs(method), seed=seeds or config["seeds"])
    ]


# figure name (`condense figures NAME`) -> its input files for a dataset.
FIGURE_INPUTS = {
    "mask_ratio": eval_targets,  # Figure 3: every evaluation of the dataset
    "synthetic_images": lambda dataset: distilled_sets(dataset, seeds=config["seeds"][:1]),  # Figure 4: one seed
    "matching_loss": distilled_sets,
}


def figure_targets(dataset):
    """Every figure that has inputs in this config (no condensed method: no image grid or loss figure)."""
    return [
        path
        for name, inputs in FIGURE_INPUTS.items()
        if inputs(dataset)
        for path in expand(FIGURE + ".{ext}", dataset=dataset, figure=name, ext=("png", "pdf"))
    ]


def all_targets():
    return [
        *expand(TABLE + ".md", dataset=config["datasets"]),
        *expand(PAPER_TABLE + ".{ext}", dataset=config["datasets"], layout=LAYOUTS.names(), ext=("md", "csv", "tex", "html")),
        *[path for dataset in config["datasets"] for path in figure_targets(dataset)],
    ]


def compile_flag(stage, method=None):
    """--compile for the stages listed in config['compile'] (torch.compile + channels-last); a
    '<stage>.<method>' entry compiles only that method's jobs of the stage."""
    wanted = stage in config["compile"] or (method is not None and f"{stage}.{method}" in config["compile"])
    return "--compile" if wanted else ""
