# Tables of measured accuracies beside the published ones, and the figures; all flagged for `snakemake --report`.


rule table:
    input:
        evals=lambda wildcards: eval_targets(wildcards.dataset),
        full=lambda wildcards: full_targets(wildcards.dataset),
    output:
        md=TABLE + ".md",
        csv=TABLE + ".csv",
        html=report(TABLE + ".html", caption="../report/table.rst", category="Tables", subcategory="{dataset}", labels={"table": "summary (long)"}),
    log:
        LOGS + "/table.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
    shell:
        "{CONDENSE} table {input.evals} {input.full} --out-md {output.md} --out-csv {output.csv} --out-html {output.html}"
        " --caption {params.caption:q} --log {log}"


rule paper_table:
    """A paper-layout table (condense/reporting/layouts.py: table1, table2, convnet) as Markdown, CSV, LaTeX and HTML."""
    input:
        evals=lambda wildcards: eval_targets(wildcards.dataset),
        full=lambda wildcards: full_targets(wildcards.dataset),
    output:
        md=PAPER_TABLE + ".md",
        csv=PAPER_TABLE + ".csv",
        tex=PAPER_TABLE + ".tex",
        html=report(PAPER_TABLE + ".html", caption="../report/table.rst", category="Tables", subcategory="{dataset}", labels={"table": "{layout}"}),
    wildcard_constraints:
        layout="|".join(LAYOUTS.names()),
    log:
        LOGS + "/tables/{layout}.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
    shell:
        "{CONDENSE} table {input.evals} {input.full} --layout {wildcards.layout} --out-md {output.md} --out-csv {output.csv}"
        " --out-tex {output.tex} --out-html {output.html} --caption {params.caption:q} --log {log}"


rule figures:
    """One figure (condense/reporting/figures/) as PNG + PDF from the files FIGURE_INPUTS names."""
    input:
        data=DATA,
        files=lambda wildcards: FIGURE_INPUTS[wildcards.figure](wildcards.dataset),
    output:
        png=report(FIGURE + ".png", caption="../report/figure.rst", category="Figures", subcategory="{dataset}", labels={"figure": "{figure}"}),
        pdf=FIGURE + ".pdf",
    wildcard_constraints:
        figure="|".join(FIGURE_INPUTS),
    log:
        LOGS + "/figures/{figure}.log",
    threads: res("figures", "threads")
    resources:
        **rule_resources("figures"),
    shell:
        "{CONDENSE} figures {wildcards.figure} {input.files} --data {input.data} --out {output.png} --log {log}"


rule saliency_scores:
    """Every mask source's maps scored against a derived dataset's exact foregrounds."""
    input:
        data=DATA,
        maps=lambda wildcards: score_inputs(wildcards.dataset),
    output:
        md=SCORES + ".md",
        csv=SCORES + ".csv",
        json=SCORES + ".json",
        html=report(SCORES + ".html", caption="../report/saliency_scores.rst", category="Tables", subcategory="{dataset}", labels={"table": "saliency scores"}),
    log:
        LOGS + "/tables/saliency_scores.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    shell:
        "{CONDENSE} score-saliency {input.maps} --data {input.data} --out-md {output.md} --out-csv {output.csv}"
        " --out-json {output.json} --out-html {output.html} --log {log}"


rule cost_table:
    """What each condensed set cost to make and to evaluate (condense/reporting/costs.py)."""
    input:
        sets=lambda wildcards: distilled_sets(wildcards.dataset),
        evals=lambda wildcards: eval_targets(wildcards.dataset),
    output:
        md=COST + ".md",
        csv=COST + ".csv",
        tex=COST + ".tex",
        html=report(COST + ".html", caption="../report/cost_table.rst", category="Tables", subcategory="{dataset}", labels={"table": "cost"}),
    log:
        LOGS + "/tables/cost.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
    shell:
        "{CONDENSE} cost {input.sets} {input.evals} --out-md {output.md} --out-csv {output.csv} --out-tex {output.tex}"
        " --out-html {output.html}"
        " --caption {params.caption:q} --log {log}"


rule cross_arch_table:
    """Every set on every evaluation network: rows method × mask × IPC, columns the network (condense table --layout pivot)."""
    input:
        evals=lambda wildcards: eval_targets(wildcards.dataset),
    output:
        md=CROSS_ARCH_TABLE + ".md",
        csv=CROSS_ARCH_TABLE + ".csv",
        tex=CROSS_ARCH_TABLE + ".tex",
        html=report(CROSS_ARCH_TABLE + ".html", caption="../report/cross_arch_table.rst", category="Tables", subcategory="{dataset}", labels={"table": "across architectures"}),
    log:
        LOGS + "/tables/cross_arch.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
        rows=PIVOT_ROWS,
    shell:
        "{CONDENSE} table {input.evals} --layout pivot --rows {params.rows} --columns model"
        " --out-md {output.md} --out-csv {output.csv} --out-tex {output.tex} --out-html {output.html}"
        " --caption {params.caption:q} --log {log}"


rule kind_table:
    """The sets an evaluation kind other than accuracy judged (config evaluations.<kind>), its main value:
    rows method × mask × IPC, columns the network (condense table --kind <kind> --layout pivot)."""
    input:
        evals=lambda wildcards: kind_eval_targets(wildcards.dataset, wildcards.kind),
    output:
        md=KIND_TABLE + ".md",
        csv=KIND_TABLE + ".csv",
        tex=KIND_TABLE + ".tex",
        html=report(KIND_TABLE + ".html", caption="../report/kind_table.rst", category="Tables", subcategory="{dataset}", labels={"table": "evaluation {kind}"}),
    log:
        LOGS + "/tables/evaluation-{kind}.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
        rows=PIVOT_ROWS,
    shell:
        "{CONDENSE} table {input.evals} --kind {wildcards.kind} --layout pivot --rows {params.rows} --columns model"
        " --out-md {output.md} --out-csv {output.csv} --out-tex {output.tex} --out-html {output.html}"
        " --caption {params.caption:q} --log {log}"


rule relative_table:
    """Every set against a random real subset of its IPC and the whole-data network: IOR, HLR and DD-Ranking's LRS;
    and ARS where config evaluations.augmentation evaluated the set and the random subset with and without augmentation."""
    input:
        evals=lambda wildcards: eval_targets(wildcards.dataset),
        full=lambda wildcards: full_targets(wildcards.dataset),
        augmentation=lambda wildcards: kind_eval_targets(wildcards.dataset, "augmentation"),
    output:
        md=RELATIVE_TABLE + ".md",
        csv=RELATIVE_TABLE + ".csv",
        tex=RELATIVE_TABLE + ".tex",
        html=report(RELATIVE_TABLE + ".html", caption="../report/relative_table.rst", category="Tables", subcategory="{dataset}", labels={"table": "relative to real data"}),
    log:
        LOGS + "/tables/relative.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
    shell:
        "{CONDENSE} table {input.evals} {input.full} {input.augmentation} --layout relative --out-md {output.md} --out-csv {output.csv}"
        " --out-tex {output.tex} --out-html {output.html} --caption {params.caption:q} --log {log}"


rule membership:
    """Membership inference (LiRA) against one pipeline of config membership.pipelines (condense membership)."""
    input:
        DATA,
    output:
        record=MEMBERSHIP,
        scores=MEMBERSHIP.removesuffix(".json") + ".scores.pt",  # the raw confidences and keep matrix (re-scoring)
    log:
        LOGS + "/membership/{pipeline}.log",
    benchmark:
        BENCH + "/membership/{pipeline}.tsv"
    threads: res("membership", "threads")
    resources:
        **rule_resources("membership"),
    params:
        flags=lambda wildcards: membership_flags(membership_pipelines()[wildcards.pipeline]),
        m={key: config["membership"][key] for key in ("shadows", "pool_per_class", "model", "seed")},
        train=lambda wildcards: membership_training(membership_pipelines()[wildcards.pipeline]),
        test_per_class=config["eval"]["test_per_class"],  # the targets' accuracy on the evaluations' test images
    shell:
        "{CONDENSE} membership --data {input} {params.flags} --shadows {params.m[shadows]}"
        " --pool-per-class {params.m[pool_per_class]} --model {params.m[model]} {params.train} --seed {params.m[seed]}"
        " --test-per-class {params.test_per_class}"
        " --device {config[device]} --threads {threads} --out {output.record} --log {log} --quiet"


rule membership_table:
    """Every membership pipeline's AUC, TPR at low FPR, utility and the init-image audit."""
    input:
        lambda wildcards: membership_targets(wildcards.dataset),
    output:
        md=MEMBERSHIP_TABLE + ".md",
        csv=MEMBERSHIP_TABLE + ".csv",
        html=report(MEMBERSHIP_TABLE + ".html", caption="../report/membership_table.rst", category="Tables", subcategory="{dataset}", labels={"table": "membership inference"}),
    log:
        LOGS + "/tables/membership.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    shell:
        "{CONDENSE} table {input} --layout membership --out-md {output.md} --out-csv {output.csv} --out-html {output.html} --log {log}"


rule masks_table:
    """Every mask variant at ratio 1 against the same method's unmasked set (condense table --layout masks)."""
    input:
        evals=lambda wildcards: eval_targets(wildcards.dataset),
    output:
        md=MASKS_TABLE + ".md",
        csv=MASKS_TABLE + ".csv",
        tex=MASKS_TABLE + ".tex",
        html=report(MASKS_TABLE + ".html", caption="../report/masks_table.rst", category="Tables", subcategory="{dataset}", labels={"table": "masks"}),
    log:
        LOGS + "/tables/masks.log",
    threads: res("table", "threads")
    resources:
        **rule_resources("table"),
    params:
        caption=config["table"]["caption"],
    shell:
        "{CONDENSE} table {input.evals} --layout masks --out-md {output.md} --out-csv {output.csv}"
        " --out-tex {output.tex} --out-html {output.html} --caption {params.caption:q} --log {log}"
