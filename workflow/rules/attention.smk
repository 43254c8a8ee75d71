# Attention masks: FCN -> saliency maps per source -> mask selection per ratio (no images duplicated).


rule train_attention:
    input:
        DATA,
    output:
        fcn=FCN_NETWORK,
        json=FCN_JSON,
    log:
        LOGS + "/attention/train.log",
    benchmark:
        BENCH + "/attention/train.tsv"
    threads: res("train_attention", "threads")
    resources:
        **rule_resources("train_attention"),
    params:
        # only the FCN's own settings: adding a mask grid or a saliency setting must not retrain it (and
        # rerun every set made from its maps)
        a={k: v for k, v in config["attention"].items() if k not in ("masks", "saliency")},
        pretrained=lambda wildcards: f"--pretrained {config['attention']['pretrained']}" if config["attention"]["pretrained"] else "",
    shell:
        "{CONDENSE} train-attention --data {input} --model {params.a[model]} --pool {params.a[pool]}"
        " --epochs {params.a[epochs]} --lr {params.a[lr]} --batch-size {params.a[batch_size]}"
        " --weight-decay {params.a[weight_decay]} --per-class {params.a[per_class]} {params.pretrained}"
        " --crop-pad {params.a[crop_pad]} --crop-fill {params.a[crop_fill]} --eta-min {params.a[eta_min]}"
        " --seed {params.a[seed]} --device {config[device]} --threads {threads}"
        " --out {output.fcn} --out-json {output.json} --log {log} --quiet"


def saliency_network(wildcards):
    """What a source reads: the attention FCN, the whole-dataset classifier (config attention.classifier),
    or nothing beyond the data file (gt: its foregrounds)."""
    needs = SOURCES.get(wildcards.source).needs
    if needs == "fcn":
        return {"network": FCN_NETWORK.format(dataset=wildcards.dataset)}
    if needs == "classifier":
        return {"network": FULL_MODEL.format(dataset=wildcards.dataset, model=config["attention"]["classifier"], seed=config["full"]["seed"])}
    return {}


def saliency_flags(wildcards):
    """The source's settings from config['attention']['saliency'][source] as flags."""
    settings = config["attention"]["saliency"].get(wildcards.source, {})
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items())


rule saliency:
    input:
        unpack(saliency_network),
        data=DATA,
    output:
        maps=MAPS,
        figure=report(MAPS_FIGURE, caption="../report/attention_maps.rst", category="Attention maps", subcategory="{dataset}",
                      labels={"source": "{source}"}),
    log:
        LOGS + "/attention/{source}_maps.log",
    benchmark:
        BENCH + "/attention/{source}_maps.tsv"
    threads: res("saliency", "threads")
    resources:
        **rule_resources("saliency"),
    params:
        flags=saliency_flags,
        network=lambda wildcards, input: f"--network {input.network}" if "network" in input.keys() else "",
        seed=config["attention"]["seed"],
    shell:
        "{CONDENSE} saliency --source {wildcards.source} --data {input.data} {params.network} {params.flags}"
        " --seed {params.seed} --out {output.maps} --figure {output.figure} --device {config[device]} --threads {threads}"
        " --log {log} --quiet"


rule mask:
    input:
        data=DATA,
    output:
        SELECTION,
    log:
        LOGS + "/attention/selection_r{ratio}_seed{seed}.log",
    threads: 1
    resources:
        **rule_resources("default"),
    shell:
        "{CONDENSE} mask --data {input.data} --ratio {wildcards.ratio} --seed {wildcards.seed} --out {output} --log {log}"
