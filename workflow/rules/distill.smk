# Condensation: one synthetic set per (method, IPC, seed), resumable from its checkpoint.


def distill_flags(wildcards):
    """The method's settings from config['distill'][method] as command-line flags."""
    settings = config["distill"].get(base_method(wildcards.method), {})
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items() if key not in RUN_KEYS)


def membership_flags(entry):
    """A membership pipeline's source flags; a condensed one takes its method's settings from config['distill']."""
    flags = f"--source {entry['source']}"
    if entry["source"] in ("set", "random"):
        flags += f" --ipc {entry['ipc']}"
    if entry["source"] == "dpsgd":
        flags += f" --epsilon {entry['epsilon']}"
    if entry["source"] == "set":
        settings = config["distill"].get(entry["method"], {})
        flags += f" --method {entry['method']} --condense-model {config['distill']['model']} " + " ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in settings.items() if key not in RUN_KEYS
        )
    return flags


def mask_input(wildcards):
    """A masked variant reads its source's maps and, under the fixed scheme, the selection of its ratio."""
    variant = mask_variant(wildcards.method)
    if variant is None:
        return {}
    inputs = {"maps": MAPS.format(dataset=wildcards.dataset, source=variant.source)}
    if SCHEMES.get(variant.scheme).needs_selection:
        inputs["selection"] = SELECTION.format(dataset=wildcards.dataset, ratio=repr(variant.ratio), seed=config["attention"]["mask_seed"])
    return inputs


def artifact_seed(kind):
    """An artifact's own seed (config artifacts.<kind>.seed, default 0): every condensation seed shares it, as MTT's runs share one buffer."""
    return config["artifacts"].get(kind, {}).get("seed", 0)


def artifact_inputs(wildcards):
    """The artifacts the method requires, each made by the `artifact` rule."""
    kinds = METHODS.get(base_method(wildcards.method)).requires
    return {f"artifact_{kind}": ARTIFACT.format(dataset=wildcards.dataset, artifact=kind, seed=artifact_seed(kind)) for kind in kinds}


def artifact_flags(wildcards, input):
    kinds = METHODS.get(base_method(wildcards.method)).requires
    return " ".join(f"--artifact {kind}={input[f'artifact_{kind}']}" for kind in kinds)


rule artifact:
    """An artifact a condensation method requires (condense/methods/artifacts.py), with its settings from config artifacts.<kind>."""
    input:
        data=DATA,
    output:
        ARTIFACT,
    log:
        LOGS + "/artifacts/{artifact}_seed{seed}.log",
    benchmark:
        BENCH + "/artifacts/{artifact}_seed{seed}.tsv"
    threads: res("artifact", "threads")
    resources:
        **rule_resources("artifact"),
    params:
        flags=lambda wildcards: " ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in config["artifacts"].get(wildcards.artifact, {}).items() if key != "seed"
        ),
        # a resumable kind (MTT's experts) keeps each finished part here: a rerun after a kill goes on from there
        checkpoint=lambda wildcards: (
            f"--checkpoint-dir {R}/{wildcards.dataset}/checkpoints/artifacts/{wildcards.artifact}_seed{wildcards.seed}"
            if ARTIFACTS.get(wildcards.artifact).resumable
            else ""
        ),
    shell:
        "{CONDENSE} artifact --kind {wildcards.artifact} --data {input.data} {params.flags} --seed {wildcards.seed}"
        " {params.checkpoint} --device {config[device]} --threads {threads} --out {output} --log {log} --quiet"


def mask_flags(wildcards, input):
    variant = mask_variant(wildcards.method)
    if variant is None:
        return ""
    selection = f" --selection {input.selection}" if "selection" in input.keys() else ""
    return f"--mask {variant.build()} --maps {input.maps}{selection}"


def snapshot_iterations(base):
    """config['distill'][base]['snapshots']: the iterations after which the set is also written (the final set is the last point)."""
    return [int(it) for it in config["distill"].get(base, {}).get("snapshots", [])]


def snapshot_flags(wildcards, output):
    its = snapshot_iterations(base_method(wildcards.method))
    if not its:
        return ""
    folder = os.path.dirname(output.snapshots[0])
    return f"--snapshot-at {','.join(map(str, its))} --snapshots {folder}"


# One rule per registered method, so each method's snapshots are its outputs (a method added as a file or a
# plugin gets its rule here without an edit); masked variants of a method go through its rule.
for _base in METHODS.names():

    rule:
        name:
            f"distill_{_base}"
        input:
            unpack(mask_input),
            unpack(artifact_inputs),
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
            snapshots=expand(SNAPSHOT, it=snapshot_iterations(_base), allow_missing=True),
        wildcard_constraints:
            method=f"{_base}{ON_PATTERN}(-mask-{VARIANT_PATTERN})?",
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
            artifacts=artifact_flags,
            snapshots=snapshot_flags,
            base=lambda wildcards: base_method(wildcards.method),
            model=lambda wildcards: condensation_model(wildcards.method),
            every=config["distill"]["checkpoint_every"],
            log_every=config["distill"]["log_every"],
            # resumed after a kill; made from other inputs or settings (Snakemake reruns the job then), restarted
            checkpoint=R + "/{dataset}/checkpoints/{method}_ipc{ipc}_seed{seed}.ckpt",
        shell:
            "{CONDENSE} distill --method {params.base} --data {input.data} {params.mask} {params.artifacts} --ipc {wildcards.ipc}"
            " --model {params.model}"
            " {params.flags} {params.snapshots} --seed {wildcards.seed} --checkpoint {params.checkpoint} --checkpoint-every {params.every}"
            " --stale-checkpoint restart"
            " --log-every {params.log_every} --device {config[device]} {params.compile} --threads {threads}"
            " --out {output.set} --grid {output.grid} --log {log} --quiet"
