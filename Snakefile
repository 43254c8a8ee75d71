# condense: dataset condensation with attention masks, as a Snakemake workflow.
#   snakemake --cores 8 all                                   # paper settings (config.yaml)
#   snakemake --cores 2 all --configfile config/quick.yaml    # CPU quick profile
# Rules live in workflow/rules/; each runs one `condense <stage>` command.

import os
import sys


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"  # `snakemake --report report.html`: tables, figures, grids, attention maps


include: "workflow/rules/registries.smk"  # plugins, the registries, config validation against them
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/attention.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
