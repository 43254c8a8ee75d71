"""The cost table: condensation seconds, device, peak memory, real images per second, evaluation seconds,
energy where a meter was read ("—" otherwise), one row per condensed set (Markdown, CSV, LaTeX, HTML).

``condense cost SETS... EVALS... --out-md cost.md --out-csv cost.csv [--out-tex cost.tex]``: set files
(``.pt``) and evaluation JSONs in any order; see :mod:`condense.reporting.costs`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..core.fileio import atomic_path
from ..core.paths import INPUT, OUTPUT
from ..methods import METHODS
from ..reporting.costs import cost_rows
from ..reporting.tables import to_html, to_latex
from ._args import add_common_arguments, add_path

log = logging.getLogger("condense.cost")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "inputs", INPUT, nargs="+", help="condensed set files (.pt) and their evaluation JSONs")
    add_path(parser, "--out-md", OUTPUT, required=True)
    add_path(parser, "--out-csv", OUTPUT, required=True)
    add_path(parser, "--out-tex", OUTPUT, default=None)
    add_path(parser, "--out-html", OUTPUT, default=None, help="also an HTML page (for `snakemake --report`)")
    parser.add_argument("--caption", default="")
    add_common_arguments(parser, seed=False, device=False)


def run(args: argparse.Namespace) -> None:
    sets = [p for p in args.inputs if p.suffix == ".pt"]
    evals = [p for p in args.inputs if p.suffix == ".json"]
    frame = cost_rows(sets, evals, {name: spec.label for name, spec in METHODS.items()})
    title = "What condensation costs"
    note = (
        "Condensation s: seconds iterating (resumed runs add up); real images / s: real images drawn per second of it; "
        "peak memory of the process; energy only where a meter was read (RAPL, NVML), else —; evaluation s: "
        "training and testing every evaluation network of the set."
    )
    with atomic_path(args.out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(args.out_md) as tmp:
        tmp.write_text(
            "\n".join(
                [f"## {title}", ""]
                + ([args.caption, ""] if args.caption else [])
                + [frame.to_markdown(index=False, disable_numparse=True), "", note, ""]
            )
        )
    if args.out_tex is not None:
        with atomic_path(args.out_tex) as tmp:
            tmp.write_text(to_latex(frame, title, args.caption, "cost", (note,)))
    if args.out_html is not None:
        with atomic_path(args.out_html) as tmp:
            tmp.write_text(to_html(frame, title, args.caption, (note,)))
    log.info("cost table of %d sets -> %s", len(frame), args.out_md)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
