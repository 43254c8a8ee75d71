# Real data, stored once per dataset as uint8 tensors.


def mirror_args(wildcards, input):
    if config["data"]["fixture"]:
        return f"--mirror {input.mirror} --md5-file {input.mirror}/md5.json"
    args = []
    if config["data"]["mirror"]:
        args.append(f"--mirror {config['data']['mirror']}")
    if config["data"]["md5_file"]:
        args.append(f"--md5-file {config['data']['md5_file']}")
    return " ".join(args)


rule fixture:
    """Tiny generated data in the dataset's original on-disk format (smoke profile only)."""
    output:
        directory(MIRROR),
    log:
        LOGS + "/fixture.log",
    params:
        per_class=config["data"]["fixture_per_class"],
        test_per_class=config["data"]["fixture_test_per_class"],
    shell:
        "{CONDENSE} fixture --dataset {wildcards.dataset} --out {output} --per-class {params.per_class}"
        " --test-per-class {params.test_per_class} --seed 0 --log {log}"


rule download:
    input:
        mirror=MIRROR if config["data"]["fixture"] else [],
    output:
        DATA,
    wildcard_constraints:
        dataset="|".join(DATASETS.names()),
    log:
        LOGS + "/download.log",
    benchmark:
        BENCH + "/download.tsv"
    threads: res("download", "threads")
    resources:
        **rule_resources("download"),
    params:
        root=config["data"]["root"],
        mirror=mirror_args,
    shell:
        "{CONDENSE} download --dataset {wildcards.dataset} --root {params.root} {params.mirror}"
        " --out {output} --log {log} --quiet"


def derive_flags(wildcards):
    """config['derived'][dataset]['settings'] as `condense derive` flags."""
    settings = config["derived"][wildcards.dataset].get("settings", {})
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items())


if config["derived"]:

    rule derive:
        """A derived dataset (config `derived`: its kind, base dataset and settings), stored like any other."""
        input:
            lambda wildcards: DATA.format(dataset=config["derived"][wildcards.dataset]["base"]),
        output:
            DATA,
        wildcard_constraints:
            dataset="|".join(config["derived"]),
        log:
            LOGS + "/derive.log",
        benchmark:
            BENCH + "/derive.tsv"
        threads: res("default", "threads")
        resources:
            **rule_resources("default"),
        params:
            kind=lambda wildcards: config["derived"][wildcards.dataset]["kind"],
            seed=lambda wildcards: config["derived"][wildcards.dataset].get("seed", 0),
            flags=derive_flags,
        shell:
            "{CONDENSE} derive --kind {params.kind} --data {input} --name {wildcards.dataset} {params.flags}"
            " --seed {params.seed} --out {output} --log {log}"
