# Paths, wildcard constraints and small lookups shared by the rules.

DATA = R + "/{dataset}/data.pt"
MIRROR = R + "/{dataset}/mirror"
FULL_MODEL = R + "/{dataset}/full/{model}_seed{seed}.pt"
FULL_JSON = R + "/{dataset}/full/{model}_seed{seed}.json"
SET = R + "/{dataset}/sets/{method}_ipc{ipc}_seed{seed}.pt"
HERDING_ORDER = R + "/{dataset}/coresets/herding_order.pt"
EVAL = R + "/{dataset}/eval/{method}_ipc{ipc}_seed{seed}/{model}.json"
SNAPSHOT = R + "/{dataset}/snapshots/{method}_ipc{ipc}_seed{seed}/it{it}.pt"
ARTIFACT = R + "/{dataset}/artifacts/{artifact}_seed{seed}.pt"  # what a method requires (MethodSpec.requires), made by its own rule
EVAL_SNAPSHOT = R + "/{dataset}/eval/{method}_ipc{ipc}_seed{seed}/it{it}/{model}.json"
EVAL_KIND = R + "/{dataset}/eval/{method}_ipc{ipc}_seed{seed}/{model}.{kind}.json"  # a kind other than accuracy
COST = R + "/{dataset}/tables/cost"
MASKS_TABLE = R + "/{dataset}/tables/masks"
RUN_KEYS = ("ipcs", "snapshots", "models")  # keys of config['distill'][method] that say what to run, not how
ATT = R + "/{dataset}/attention"
FCN_NETWORK = ATT + "/fcn/network.pt"  # the attention FCN the `fcn` source reads
FCN_JSON = ATT + "/fcn/network.json"
MAPS = ATT + "/{source}/maps.pt"
MAPS_FIGURE = ATT + "/{source}/maps.png"
SELECTION = ATT + "/selection_r{ratio}_seed{seed}.pt"
TABLE = R + "/{dataset}/tables/summary"
CROSS_ARCH_TABLE = R + "/{dataset}/tables/cross_arch"
RELATIVE_TABLE = R + "/{dataset}/tables/relative"
KIND_TABLE = R + "/{dataset}/tables/evaluation-{kind}"  # every set a kind other than accuracy judged (config evaluations.<kind>)
MEMBERSHIP = R + "/{dataset}/membership/{pipeline}.json"
MEMBERSHIP_TABLE = R + "/{dataset}/tables/membership"
PAPER_TABLE = R + "/{dataset}/tables/{layout}"
FIGURE = R + "/{dataset}/figures/{figure}"
LOGS = R + "/{dataset}/logs"
BENCH = R + "/{dataset}/benchmarks"

# A condensation method, plain, condensed on another network than distill.model, or masked (`dsa`, `dm-on-resnet18`,
# `dsa-mask-fcn-r1.0-mean-soft-fixed`), from the registries.
ON = config_grid.ON  # <method>-on-<network>: a set condensed on a network of distill.<method>.models
ON_PATTERN = f"({ON}[a-z0-9_]+)?"
METHOD_PATTERN = f"({'|'.join(METHODS.names())}){ON_PATTERN}(-mask-{VARIANT_PATTERN})?"


wildcard_constraints:
    dataset="[a-z0-9][a-z0-9_]*(-[a-z0-9_]+)*",
    model="[a-z0-9_]+",
    method="[a-z0-9_+.-]+",
    source="|".join(SOURCES.names()),
    ipc="[0-9]+",
    seed="[0-9]+",
    it="[0-9]+",
    ratio="[0-9]+(\\.[0-9]+)?",
    artifact="[a-z0-9_]+",
    kind="|".join(name for name in EVALUATIONS.names() if name != "accuracy") or "(none)",
    pipeline="[a-z0-9_-]+",


def res(rule_name, key):
    """A resource request for a rule from config['resources'], falling back to the default entry."""
    table = config["resources"]
    return table.get(rule_name, {}).get(key, table["default"].get(key))


def rule_resources(rule_name):
    return dict(mem_mb=res(rule_name, "mem_mb"), runtime=res(rule_name, "runtime"), gpu=res(rule_name, "gpu"))


def base_method(method):
    """'dsa-mask-fcn-r0.5-mean-soft-fixed' -> 'dsa', 'dm-on-resnet18' -> 'dm': a masked variant, or a set condensed on
    another network, is configured and evaluated like its method."""
    return config_grid.base_method(method)


def condensation_model(method):
    """The network a set is condensed on: the one its name gives after -on-, else distill.model."""
    return split_method(method)[0].partition(ON)[2] or config["distill"]["model"]


def further_models(method):
    """The networks besides distill.model that distill.<method>.models asks the method to condense on too."""
    return config_grid.further_models(config, method)


# the rows of the tables with a column per evaluation network; the condensation network too where sets differ in it
PIVOT_ROWS = "method," + ("set_model," if any(further_models(m) for m in config["distill"]["methods"]) else "") + "mask_label,mask_ratio,ipc"


def on_network(method, model):
    """The set name of ``method`` condensed on ``model`` (the plain name on distill.model)."""
    return config_grid.on_network(config, method, model)


def mask_variant(method):
    """The MaskVariant a method name carries, or None."""
    return split_method(method)[1]


def eval_augment(method):
    """Evaluation augmentation of a set: config['eval']['augment'] of its base method, else the method's
    reference protocol (its spec), none for coresets."""
    base = base_method(method)
    default = METHODS.get(base).eval_augment if base in METHODS else "none"
    return config["eval"]["augment"].get(base, default)


def eval_epochs(method, model):
    """config['eval']['model_epochs'][model] where set, else epochs_augmented or epochs by the set's augmentation."""
    if model in config["eval"]["model_epochs"]:
        return config["eval"]["model_epochs"][model]
    augmented = eval_augment(method) != "none"
    return config["eval"]["epochs_augmented" if augmented else "epochs"]


def method_ipcs(method):
    """IPCs of a plain method or coreset: its own `ipcs` in config['distill'][method] if given, else the top-level list."""
    return config_grid.method_ipcs(config, method)


def workflow_datasets():
    """The datasets the workflow builds: `datasets` (every plain run), then those only a mask grid names
    (only that grid's runs, with the dataset's whole-dataset network, tables and figures)."""
    return config_grid.workflow_datasets(config)


def set_runs(dataset):
    """Every (set name, IPC, seed) the config asks for on ``dataset`` (condense/config_grid.py, which the config
    check also reads, so a filter is checked against exactly these runs)."""
    return config_grid.set_runs(config, dataset)


def masked_methods(dataset):
    return list(dict.fromkeys(name for name, _, _ in set_runs(dataset) if mask_variant(name) is not None))


def mask_sources(dataset):
    """The saliency sources some masked run on ``dataset`` uses."""
    return sorted({mask_variant(m).source for m in masked_methods(dataset)})


def has_foregrounds(dataset):
    """A derived dataset whose derivation stores exact foregrounds (saliency can be scored against them)."""
    entry = config["derived"].get(dataset)
    return entry is not None and DERIVATIONS.get(entry["kind"]).foregrounds


SCORES = R + "/{dataset}/tables/saliency_scores"


def score_inputs(dataset):
    return [MAPS.format(dataset=dataset, source=source) for source in mask_sources(dataset)] if has_foregrounds(dataset) else []


def evaluated(model, method, ipc):
    """Whether `model` evaluates sets of `method` at `ipc`: all of them unless config['eval']['limit'] names the model."""
    limit = config["eval"]["limit"].get(model)
    if limit is None:
        return True
    base = base_method(method)
    return base in limit.get("methods", [base]) and int(ipc) in limit.get("ipcs", [int(ipc)])


def eval_models():
    """The evaluation networks: eval.models, then those of the official pool eval.pool names (once each)."""
    return config_grid.eval_models(config, dict(EVAL_POOLS.items()))


def evaluations(dataset):
    """(method, ipc, seed, model) of every evaluation of the dataset's sets."""
    return [(method, ipc, seed, model) for method, ipc, seed in set_runs(dataset)
            for model in eval_models() if evaluated(model, method, ipc)]


def kind_eval_targets(dataset, kind):
    """Records of evaluation kind ``kind`` (config evaluations.<kind>: its methods, IPCs and networks)."""
    entry = config["evaluations"].get(kind)
    if entry is None:
        return []
    return [EVAL_KIND.format(dataset=dataset, method=method, ipc=ipc, seed=seed, model=model, kind=kind)
            for method, ipc, seed in set_runs(dataset)
            if method in entry["methods"] and (not entry["ipcs"] or int(ipc) in entry["ipcs"])
            for model in entry["models"] or config["eval"]["models"]]


def membership_pipelines():
    """config membership.pipelines by name: set-<method>-ipc<n>, random-ipc<n>, half, dpsgd-eps<ε>."""
    named = {}
    for entry in config["membership"]["pipelines"]:
        source = entry["source"]
        name = {"set": f"set-{entry.get('method')}-ipc{entry.get('ipc')}", "random": f"random-ipc{entry.get('ipc')}",
                "dpsgd": f"dpsgd-eps{entry.get('epsilon'):g}" if entry.get("epsilon") else "dpsgd"}.get(source, source)  # fmt: skip
        named[name] = entry
    return named


def membership_training(entry):
    """The targets' training flags: membership.train where it says, else the protocol the pipeline's sets are
    evaluated with (eval.augment of its method, of random for real data; its epochs); DP-SGD without augmentation."""
    train = dict(config["membership"]["train"])
    if "augment" not in train:
        key = entry["method"] if entry["source"] == "set" else "random"
        augment = "none" if entry["source"] == "dpsgd" else config["eval"]["augment"].get(key, "none")
        # IDC's CutMix protocol is not a membership training: its sets train with the reference protocol and DSA
        train["augment"] = "dsa" if augment == "idc" else augment
    if "epochs" not in train:
        train["epochs"] = config["eval"]["epochs_augmented"] if train["augment"] != "none" else config["eval"]["epochs"]
    return " ".join(f"--train-{k.replace('_', '-')} {v}" for k, v in train.items())


def membership_targets(dataset):
    if dataset not in config["membership"]["datasets"]:
        return []
    return [MEMBERSHIP.format(dataset=dataset, pipeline=name) for name in membership_pipelines()]


def eval_targets(dataset):
    return [EVAL.format(dataset=dataset, method=method, ipc=ipc, seed=seed, model=model)
            for method, ipc, seed, model in evaluations(dataset)]


def snapshot_eval_targets(dataset):
    """Evaluations of every unmasked condensed run's snapshots (config['distill'][method]['snapshots'])."""
    return [
        EVAL_SNAPSHOT.format(dataset=dataset, method=method, ipc=ipc, seed=seed, it=it, model=model)
        for method, ipc, seed in set_runs(dataset)
        if method in METHODS and mask_variant(method) is None
        for it in config["distill"].get(method, {}).get("snapshots", [])
        for model in config["eval"]["models"]  # the pool judges final sets only
        if evaluated(model, method, ipc)
    ]


def unmasked_sets(dataset):
    coresets = set(config["coreset"]["methods"])
    return [SET.format(dataset=dataset, method=m, ipc=i, seed=s) for m, i, s in set_runs(dataset)
            if m not in coresets and mask_variant(m) is None]


def tsne_inputs(dataset):
    """The whole-dataset network and, for each unmasked condensation method, its set of the largest IPC (first seed)."""
    runs = [(m, i, s) for m, i, s in set_runs(dataset) if m in METHODS and mask_variant(m) is None and s == config["seeds"][0]]
    if not runs or config["attention"]["classifier"] not in config["full"]["models"]:
        return []
    top = {m: max(i for mm, i, _ in runs if mm == m) for m, _, _ in runs}
    network = FULL_MODEL.format(dataset=dataset, model=config["attention"]["classifier"], seed=config["full"]["seed"])
    return [network] + [SET.format(dataset=dataset, method=m, ipc=top[m], seed=config["seeds"][0]) for m in top]


def full_targets(dataset):
    return expand(FULL_JSON, dataset=dataset, model=config["full"]["models"], seed=config["full"]["seed"])


def distilled_sets(dataset, seeds=None):
    """Set files of every condensed run (masked variants included), for the figures; ``seeds``: only these."""
    coresets = set(config["coreset"]["methods"])
    return [
        SET.format(dataset=dataset, method=method, ipc=ipc, seed=seed)
        for method, ipc, seed in set_runs(dataset)
        if method not in coresets and (seeds is None or seed in seeds)
    ]


# figure name (`condense figures NAME`) -> its input files for a dataset.
FIGURE_INPUTS = {
    "mask_ratio": eval_targets,  # Figure 3: every evaluation of the dataset
    "synthetic_images": lambda dataset: distilled_sets(dataset, seeds=config["seeds"][:1]),  # Figure 4: the first seed
    "matching_loss": distilled_sets,
    "saliency_maps": lambda dataset: [MAPS.format(dataset=dataset, source=source) for source in mask_sources(dataset)],
    "dataset_samples": lambda dataset: [DATA.format(dataset=dataset)] if has_foregrounds(dataset) else [],
    "score_vs_accuracy": lambda dataset: ([SCORES.format(dataset=dataset) + ".json"] + eval_targets(dataset)) if score_inputs(dataset) else [],
    "accuracy_vs_time": lambda dataset: (snapshot_eval_targets(dataset) + eval_targets(dataset)) if snapshot_eval_targets(dataset) else [],
    "tsne": tsne_inputs,
    "continual": lambda dataset: kind_eval_targets(dataset, "continual"),
    "membership": membership_targets,
    "privacy_utility": membership_targets,
}


def figure_targets(dataset):
    """Every figure that has inputs in this config (no condensed method: no image grid or loss figure)."""
    return [
        path
        for name, inputs in FIGURE_INPUTS.items()
        if inputs(dataset)
        for path in expand(FIGURE + ".{ext}", dataset=dataset, figure=name, ext=("png", "pdf"))
    ]


def paper_layouts(dataset):
    """The paper-layout tables with a cell to show for the dataset (evaluated there, or published)."""
    models = set(config["full"]["models"]) | {model for *_, model in evaluations(dataset)}
    return [name for name, layout in LAYOUTS.items() if has_cells(layout, dataset, models)]


def all_targets():
    datasets = workflow_datasets()
    return [
        *expand(TABLE + ".md", dataset=datasets),
        *[SCORES.format(dataset=dataset) + ".md" for dataset in datasets if score_inputs(dataset)],
        *[COST.format(dataset=dataset) + ".md" for dataset in datasets if unmasked_sets(dataset) or masked_methods(dataset)],
        *[MASKS_TABLE.format(dataset=dataset) + ".md" for dataset in datasets
          if any(mask_variant(m).ratio == 1.0 for m in masked_methods(dataset))],
        *[path for dataset in datasets for path in expand(PAPER_TABLE + ".{ext}", dataset=dataset, layout=paper_layouts(dataset),
                                                          ext=("md", "csv", "tex", "html"))],
        *[path for dataset in datasets for path in figure_targets(dataset)],
        *[CROSS_ARCH_TABLE.format(dataset=dataset) + ".md" for dataset in datasets
          if len({model for *_, model in evaluations(dataset)}) > 1],
        *[RELATIVE_TABLE.format(dataset=dataset) + ".md" for dataset in datasets
          if "random" in config["coreset"]["methods"] and full_targets(dataset)],
        *[KIND_TABLE.format(dataset=dataset, kind=kind) + ".md" for dataset in datasets for kind in config["evaluations"]
          if kind_eval_targets(dataset, kind)],
        *[MEMBERSHIP_TABLE.format(dataset=dataset) + ".md" for dataset in datasets if membership_targets(dataset)],
    ]


def compile_flag(stage, method=None):
    """--compile for the stages listed in config['compile'] (torch.compile + channels-last); a
    '<stage>.<method>' entry compiles only that method's jobs of the stage."""
    wanted = stage in config["compile"] or (method is not None and f"{stage}.{method}" in config["compile"])
    return "--compile" if wanted else ""
