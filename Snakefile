# condense: dataset condensation with attention masks, as a Snakemake workflow.
#   snakemake --cores 8 all                                   # paper settings (config.yaml)
#   snakemake --cores 2 all --configfile config/quick.yaml    # CPU quick profile
# Rules live in workflow/rules/; each runs one `condense <stage>` command.

import os
import sys

from condense.allocator import ALLOCATOR_ENV
from condense.config import validate_config


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"  # `snakemake --report report.html`: tables, figures, grids, attention maps


validate_config(config, source="config")

# Every job inherits these (glibc allocator settings, DESIGN.md §5); a user's own values win.
for _key, _value in ALLOCATOR_ENV.items():
    os.environ.setdefault(_key, _value)

CONDENSE = f"{sys.executable} -m condense"
R = config["results"]


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
