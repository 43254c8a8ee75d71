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
