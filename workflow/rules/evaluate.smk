# Evaluation: fresh random networks trained on an image set, tested on the real test set.


rule evaluate:
    input:
        data=DATA,
        set=SET,
    output:
        EVAL,
    log:
        LOGS + "/eval/{method}_ipc{ipc}_seed{seed}/{model}.log",
    benchmark:
        BENCH + "/eval/{method}_ipc{ipc}_seed{seed}/{model}.tsv"
    threads: res("evaluate", "threads")
    resources:
        **rule_resources("evaluate"),
    params:
        compile=compile_flag("evaluate"),
        epochs=lambda wildcards: eval_epochs(wildcards.method, wildcards.model),
        augment=lambda wildcards: eval_augment(wildcards.method),
        # null: the set's learned learning rate where it has one (MTT), else the reference 0.01 (evaluate's default)
        lr="" if config["eval"]["lr"] is None else f"--lr {config['eval']['lr']}",
        # null: the evaluation's own batch (256 by the reference protocol, 64 by IDC's)
        batch="" if config["eval"]["batch_size"] is None else f"--batch-size {config['eval']['batch_size']}",
        # only the keys this job reads: a change elsewhere in config['eval'] (another model's epochs) reruns nothing here
        ev={key: config["eval"][key] for key in ("num_nets", "lr", "batch_size", "seed", "test_per_class")},
    shell:
        "{CONDENSE} evaluate --data {input.data} --set {input.set} --model {wildcards.model}"
        " --num-nets {params.ev[num_nets]} --epochs {params.epochs} --augment {params.augment}"
        " {params.lr} {params.batch} --seed {params.ev[seed]}"
        " --test-per-class {params.ev[test_per_class]}"
        " --device {config[device]} {params.compile} --threads {threads} --out {output} --log {log} --quiet"


use rule evaluate as evaluate_snapshot with:
    input:
        data=DATA,
        set=SNAPSHOT,
    output:
        EVAL_SNAPSHOT,
    log:
        LOGS + "/eval/{method}_ipc{ipc}_seed{seed}/it{it}/{model}.log",
    benchmark:
        BENCH + "/eval/{method}_ipc{ipc}_seed{seed}/it{it}/{model}.tsv"


rule evaluate_kind:
    """Another evaluation kind (condense/evaluations), for the sets config evaluations.<kind> names, with its settings."""
    input:
        data=DATA,
        set=SET,
    output:
        EVAL_KIND,
    log:
        LOGS + "/eval/{method}_ipc{ipc}_seed{seed}/{model}.{kind}.log",
    benchmark:
        BENCH + "/eval/{method}_ipc{ipc}_seed{seed}/{model}.{kind}.tsv"
    threads: res("evaluate", "threads")
    resources:
        **rule_resources("evaluate"),
    params:
        compile=compile_flag("evaluate"),
        flags=lambda wildcards: " ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in config["evaluations"][wildcards.kind]["settings"].items()
        ),
        seed=config["eval"]["seed"],
    shell:
        "{CONDENSE} evaluate --kind {wildcards.kind} --data {input.data} --set {input.set} --model {wildcards.model}"
        " {params.flags} --seed {params.seed} --device {config[device]} {params.compile} --threads {threads}"
        " --out {output} --log {log} --quiet"
