# Attention masks: FCN -> attention maps -> mask selection per ratio (no images duplicated).

ATT = R + "/{dataset}/attention"


rule train_attention:
    input:
        DATA,
    output:
        fcn=ATT + "/fcn.pt",
        json=ATT + "/fcn.json",
    log:
        LOGS + "/attention/train.log",
    benchmark:
        BENCH + "/attention/train.tsv"
    threads: res("train_attention", "threads")
    resources:
        **rule_resources("train_attention"),
    params:
        a=config["attention"],
        pretrained=lambda wildcards: f"--pretrained {config['attention']['pretrained']}" if config["attention"]["pretrained"] else "",
    shell:
        "{CONDENSE} train-attention --data {input} --model {params.a[model]} --pool {params.a[pool]}"
        " --epochs {params.a[epochs]} --lr {params.a[lr]} --batch-size {params.a[batch_size]}"
        " --weight-decay {params.a[weight_decay]} --per-class {params.a[per_class]} {params.pretrained}"
        " --seed {params.a[seed]} --device {config[device]} --threads {threads}"
        " --out {output.fcn} --out-json {output.json} --log {log} --quiet"


rule attention_maps:
    input:
        data=DATA,
        fcn=ATT + "/fcn.pt",
    output:
        maps=ATT + "/maps.pt",
        figure=report(ATT + "/maps.png", caption="../report/attention_maps.rst", category="Attention maps", subcategory="{dataset}"),
    log:
        LOGS + "/attention/maps.log",
    threads: res("attention_maps", "threads")
    resources:
        **rule_resources("attention_maps"),
    shell:
        "{CONDENSE} attention-maps --data {input.data} --fcn {input.fcn} --out {output.maps} --figure {output.figure}"
        " --device {config[device]} --threads {threads} --log {log} --quiet"


rule mask:
    input:
        data=DATA,
        maps=ATT + "/maps.pt",
    output:
        ATT + "/mask_r{ratio}_seed{seed}.pt",
    log:
        LOGS + "/attention/mask_r{ratio}_seed{seed}.log",
    threads: 1
    resources:
        **rule_resources("default"),
    shell:
        "{CONDENSE} mask --data {input.data} --maps {input.maps} --ratio {wildcards.ratio} --seed {wildcards.seed}"
        " --out {output} --log {log}"
