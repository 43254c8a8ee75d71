# Baselines: the whole-dataset network and real-image coresets.


rule full_baseline:
    input:
        DATA,
    output:
        model=FULL_MODEL,
        json=FULL_JSON,
    log:
        LOGS + "/full/{model}_seed{seed}.log",
    benchmark:
        BENCH + "/full/{model}_seed{seed}.tsv"
    threads: res("full_baseline", "threads")
    resources:
        **rule_resources("full_baseline"),
    params:
        compile=compile_flag("full_baseline"),
        epochs=config["full"]["epochs"],
        per_class=config["full"]["per_class"],
        augment=config["full"]["augment"],
    shell:
        "{CONDENSE} full-baseline --data {input} --model {wildcards.model} --epochs {params.epochs}"
        " --per-class {params.per_class} --augment {params.augment} --seed {wildcards.seed}"
        " --device {config[device]} {params.compile} --threads {threads} --out-model {output.model} --out {output.json}"
        " --log {log} --quiet"


def herding_model(wildcards):
    if wildcards.method != "herding":
        return []
    return FULL_MODEL.format(dataset=wildcards.dataset, model=config["coreset"]["herding_model"], seed=config["full"]["seed"])


rule coreset:
    input:
        data=DATA,
        embed=herding_model,
    output:
        SET,
    wildcard_constraints:
        method="random|herding",
    log:
        LOGS + "/sets/{method}_ipc{ipc}_seed{seed}.log",
    benchmark:
        BENCH + "/sets/{method}_ipc{ipc}_seed{seed}.tsv"
    threads: res("coreset", "threads")
    resources:
        **rule_resources("coreset"),
    params:
        embed=lambda wildcards, input: f"--embed-model {input.embed}" if input.embed else "",
    shell:
        "{CONDENSE} coreset --method {wildcards.method} --data {input.data} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} {params.embed} --device {config[device]} --threads {threads}"
        " --out {output} --log {log} --quiet"
