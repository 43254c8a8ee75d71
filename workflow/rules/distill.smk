# Condensation: one synthetic set per (method, IPC, seed), resumable from its checkpoint.


def distill_flags(wildcards):
    """The method's settings from config['distill'][method] as command-line flags."""
    settings = config["distill"][wildcards.method]
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items() if key != "ipcs")


rule distill:
    input:
        DATA,
    output:
        set=SET,
        grid=R + "/{dataset}/sets/{method}_ipc{ipc}_seed{seed}.png",
    wildcard_constraints:
        method="dc|dsa|dm",
    log:
        LOGS + "/sets/{method}_ipc{ipc}_seed{seed}.log",
    benchmark:
        BENCH + "/sets/{method}_ipc{ipc}_seed{seed}.tsv"
    threads: res("distill", "threads")
    resources:
        **rule_resources("distill"),
    params:
        flags=distill_flags,
        model=config["distill"]["model"],
        every=config["distill"]["checkpoint_every"],
        log_every=config["distill"]["log_every"],
        checkpoint=R + "/{dataset}/checkpoints/{method}_ipc{ipc}_seed{seed}.ckpt",
    shell:
        "{CONDENSE} distill --method {wildcards.method} --data {input} --ipc {wildcards.ipc} --model {params.model}"
        " {params.flags} --seed {wildcards.seed} --checkpoint {params.checkpoint} --checkpoint-every {params.every}"
        " --log-every {params.log_every} --device {config[device]} --threads {threads}"
        " --out {output.set} --grid {output.grid} --log {log} --quiet"
