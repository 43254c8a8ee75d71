# Condensation: one synthetic set per (method, IPC, seed), resumable from its checkpoint.


def mask_ratio(method):
    """'dsa' -> None; 'dsa-mask0.5' -> '0.5': a masked variant names its mask ratio (base_method() gives 'dsa')."""
    return method.partition("-mask")[2] or None


def distill_flags(wildcards):
    """The method's settings from config['distill'][method] as command-line flags."""
    settings = config["distill"][base_method(wildcards.method)]
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items() if key != "ipcs")


def mask_input(wildcards):
    ratio = mask_ratio(wildcards.method)
    if ratio is None:
        return {}
    att = ATT.format(dataset=wildcards.dataset)
    return {"mask": f"{att}/mask_r{ratio}_seed{config['attention']['mask_seed']}.pt", "maps": f"{att}/maps.pt"}


def mask_flags(wildcards, input):
    return f"--mask {input.mask} --maps {input.maps}" if "mask" in input.keys() else ""


rule distill:
    input:
        unpack(mask_input),
        data=DATA,
    output:
        set=SET,
        grid=report(
            R + "/{dataset}/sets/{method}_ipc{ipc}_seed{seed}.png",
            caption="../report/distill_grid.rst",
            category="Synthetic images",
            subcategory="{dataset}",
            labels={"method": "{method}", "IPC": "{ipc}", "seed": "{seed}"},
        ),
    wildcard_constraints:
        method="(dc|dsa|dm)(-mask[0-9.]+)?",
    log:
        LOGS + "/sets/{method}_ipc{ipc}_seed{seed}.log",
    benchmark:
        BENCH + "/sets/{method}_ipc{ipc}_seed{seed}.tsv"
    threads: res("distill", "threads")
    resources:
        **rule_resources("distill"),
    params:
        compile=lambda wildcards: compile_flag("distill", base_method(wildcards.method)),
        flags=distill_flags,
        mask=mask_flags,
        base=lambda wildcards: base_method(wildcards.method),
        model=config["distill"]["model"],
        every=config["distill"]["checkpoint_every"],
        log_every=config["distill"]["log_every"],
        checkpoint=R + "/{dataset}/checkpoints/{method}_ipc{ipc}_seed{seed}.ckpt",
    shell:
        "{CONDENSE} distill --method {params.base} --data {input.data} {params.mask} --ipc {wildcards.ipc} --model {params.model}"
        " {params.flags} --seed {wildcards.seed} --checkpoint {params.checkpoint} --checkpoint-every {params.every}"
        " --log-every {params.log_every} --device {config[device]} {params.compile} --threads {threads}"
        " --out {output.set} --grid {output.grid} --log {log} --quiet"
