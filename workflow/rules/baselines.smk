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
    return FULL_MODEL.format(dataset=wildcards.dataset, model=config["coreset"]["herding_model"], seed=config["full"]["seed"])


def herding_order_ipc():
    """K of the herding order file: the largest IPC a herding coreset is built for (each IPC-k set is its first k picks)."""
    return max(int(ipc) for ipc in method_ipcs("herding"))


def herding_order_input(wildcards):
    return HERDING_ORDER.format(dataset=wildcards.dataset) if wildcards.method == "herding" else []


rule herding_order:
    input:
        data=DATA,
        embed=herding_model,
    output:
        HERDING_ORDER,
    log:
        LOGS + "/coresets/herding_order.log",
    benchmark:
        BENCH + "/coresets/herding_order.tsv"
    threads: res("coreset", "threads")
    resources:
        **rule_resources("coreset"),
    params:
        ipc=herding_order_ipc(),
    shell:
        "{CONDENSE} herding-order --data {input.data} --embed-model {input.embed} --ipc {params.ipc}"
        " --device {config[device]} --threads {threads} --out {output} --log {log} --quiet"


rule coreset:
    input:
        data=DATA,
        order=herding_order_input,
    output:
        SET,
    wildcard_constraints:
        method="|".join(SELECTORS.names()),
    log:
        LOGS + "/sets/{method}_ipc{ipc}_seed{seed}.log",
    benchmark:
        BENCH + "/sets/{method}_ipc{ipc}_seed{seed}.tsv"
    threads: res("coreset", "threads")
    resources:
        **rule_resources("coreset"),
    params:
        order=lambda wildcards, input: f"--order {input.order}" if input.order else "",
    shell:
        "{CONDENSE} coreset --method {wildcards.method} --data {input.data} --ipc {wildcards.ipc}"
        " --seed {wildcards.seed} {params.order} --device {config[device]} --threads {threads}"
        " --out {output} --log {log} --quiet"
