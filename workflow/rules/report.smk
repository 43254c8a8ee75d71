# Tables of measured accuracies beside the published ones.


rule table:
    input:
        evals=lambda wildcards: eval_targets(wildcards.dataset),
        full=lambda wildcards: full_targets(wildcards.dataset),
    output:
        md=TABLE + ".md",
        csv=TABLE + ".csv",
    log:
        LOGS + "/table.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
    shell:
        "{CONDENSE} table {input.evals} {input.full} --out-md {output.md} --out-csv {output.csv}"
        " --caption {params.caption:q} --log {log}"
