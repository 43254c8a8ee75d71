# Paths, wildcard constraints and small lookups shared by the rules.

DATA = R + "/{dataset}/data.pt"
MIRROR = R + "/{dataset}/mirror"
FULL_MODEL = R + "/{dataset}/full/{model}_seed{seed}.pt"
FULL_JSON = R + "/{dataset}/full/{model}_seed{seed}.json"
SET = R + "/{dataset}/sets/{method}_ipc{ipc}_seed{seed}.pt"
HERDING_ORDER = R + "/{dataset}/coresets/herding_order.pt"
EVAL = R + "/{dataset}/eval/{method}_ipc{ipc}_seed{seed}/{model}.json"
ATT = R + "/{dataset}/attention"
FCN_NETWORK = ATT + "/fcn/network.pt"  # the attention FCN the `fcn` source reads
FCN_JSON = ATT + "/fcn/network.json"
MAPS = ATT + "/{source}/maps.pt"
MAPS_FIGURE = ATT + "/{source}/maps.png"
SELECTION = ATT + "/selection_r{ratio}_seed{seed}.pt"
TABLE = R + "/{dataset}/tables/summary"
PAPER_TABLE = R + "/{dataset}/tables/{layout}"
FIGURE = R + "/{dataset}/figures/{figure}"
LOGS = R + "/{dataset}/logs"
BENCH = R + "/{dataset}/benchmarks"

# A condensation method, plain or masked (`dsa`, `dsa-mask-fcn-r1.0-mean-soft-fixed`), from the registries.
METHOD_PATTERN = f"({'|'.join(METHODS.names())})(-mask-{VARIANT_PATTERN})?"


wildcard_constraints:
    dataset="[a-z0-9][a-z0-9_]*(-[a-z0-9_]+)*",
    model="[a-z0-9_]+",
    method="[a-z0-9_+.-]+",
    source="|".join(SOURCES.names()),
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
    """'dsa-mask-fcn-r0.5-mean-soft-fixed' -> 'dsa': a masked variant is configured and evaluated like its method."""
    return split_method(method)[0]


def mask_variant(method):
    """The MaskVariant a method name carries, or None."""
    return split_method(method)[1]


def eval_augment(method):
    """Evaluation augmentation of a set: config['eval']['augment'] of its base method, else the method's
    reference protocol (its spec), none for coresets."""
    base = base_method(method)
    default = METHODS.get(base).evaluation if base in METHODS else "none"
    return config["eval"]["augment"].get(base, default)


def eval_epochs(method, model):
    """config['eval']['model_epochs'][model] where set, else epochs_augmented or epochs by the set's augmentation."""
    if model in config["eval"]["model_epochs"]:
        return config["eval"]["model_epochs"][model]
    augmented = eval_augment(method) != "none"
    return config["eval"]["epochs_augmented" if augmented else "epochs"]


def _shape(text):
    return ("soft", None) if text == "soft" else ("hard", float(text[len("hard"):]))


def mask_grid():
    """{masked method name: its IPCs} from config['attention']['masks']: each entry is the product of its
    lists (methods × sources × fills × shapes × schemes × ratios; ratio 0 is the plain run)."""
    att = config["attention"]
    out = {}
    for grid in att["masks"]:
        for method in grid["methods"]:
            ipcs = grid.get("ipcs") or method_ipcs(method)
            for source in grid["sources"]:
                for fill in grid["fills"]:
                    for shape_text in grid["shapes"]:
                        shape, q = _shape(shape_text)
                        for scheme in grid["schemes"]:
                            for ratio in grid["ratios"]:
                                if float(ratio) == 0:
                                    continue
                                variant = MaskVariant(source, float(ratio), fill, shape, q, scheme).validate()
                                name = method_name(method, variant)
                                out[name] = sorted(set(out.get(name, [])) | {int(i) for i in ipcs})
    return out


def method_ipcs(method):
    """IPCs of a set kind: a masked variant's from its mask grids; else the method's own `ipcs` in
    config['distill'][method] (or config['coreset']) if given, else the top-level list."""
    if mask_variant(method) is not None:
        return mask_grid()[method]
    return config["distill"].get(method, {}).get("ipcs", config["ipcs"])


def masked_methods():
    return list(mask_grid())


def mask_sources():
    """The saliency sources some masked variant uses."""
    return sorted({mask_variant(m).source for m in masked_methods()})


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
