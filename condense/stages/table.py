"""Collect evaluation JSONs into a results table (CSV + Markdown, optionally LaTeX and HTML) beside the published numbers.

``--layout summary`` (default) is the long table; the other layouts are the paper's tables
(``condense/reporting/layouts.py``). Method labels and the order of the ConvNet table's rows come
from the method registry. See :mod:`condense.reporting.tables` for what each cell holds.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..core.errors import CondenseError
from ..core.fileio import atomic_path
from ..core.paths import INPUT, OUTPUT
from ..methods import METHODS
from ..reporting.layouts import LAYOUTS
from ..reporting.membership import render_membership
from ..reporting.tables import (
    AXES,
    RELATIVE,
    SUMMARY,
    SUMMARY_TITLE,
    VIEWS,
    flat,
    load_rows,
    render,
    render_relative,
    summarize,
    to_html,
    to_latex,
    to_markdown,
)
from ._args import add_common_arguments, add_path

log = logging.getLogger("condense.table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "results", INPUT, nargs="+", help="evaluation or full-baseline JSON files")
    parser.add_argument(
        "--layout",
        default=SUMMARY,
        choices=[*VIEWS.in_order(), *RECORD_VIEWS, *LAYOUTS.names()],
        help="summary: the long table; masks: every mask variant at ratio 1 against no mask; pivot: any kind's cells with "
        "--rows and --columns as axes; relative: against random and whole data; membership: `condense membership` records; "
        "otherwise a paper layout from condense/reporting/layouts.py",
    )
    parser.add_argument("--kind", default="accuracy", help="the evaluation kind whose records make the table (others are left out)")
    parser.add_argument("--rows", default="method,ipc", help=f"pivot: comma-separated row axes among {', '.join(AXES)}")
    parser.add_argument("--columns", default="model", help="pivot: comma-separated column axes ('' for none)")
    add_path(parser, "--out-csv", OUTPUT, required=True)
    add_path(parser, "--out-md", OUTPUT, required=True)
    add_path(parser, "--out-tex", OUTPUT, default=None, help="also a LaTeX table (booktabs)")
    add_path(parser, "--out-html", OUTPUT, default=None, help="also an HTML page (for `snakemake --report`)")
    parser.add_argument(
        "--title", default=None, help=f"default: {SUMMARY_TITLE!r}, or the layout's title".replace("%", "%%")
    )  # argparse formats help with %
    parser.add_argument("--caption", default="", help="printed under the title (e.g. the profile's reduced settings)")
    add_common_arguments(parser, seed=False, device=False)


# layouts that read the records themselves (of their own kind, or of several evaluation kinds):
# layout -> (paths, title) -> (csv, shown, title, notes)
RECORD_VIEWS = {RELATIVE: render_relative, "membership": render_membership}


def run(args: argparse.Namespace) -> None:
    if args.layout in RECORD_VIEWS:
        write(args, *RECORD_VIEWS[args.layout](args.results, args.title))
        return
    rows = load_rows(args.results, kind=args.kind)
    if rows.empty:
        raise CondenseError(f"none of the {len(args.results)} records given is a final {args.kind} evaluation; pass those (--kind)")
    table = summarize(rows)
    table.attrs.update(rows.attrs)
    methods = [(name, spec.label) for name, spec in METHODS.items()]
    axes = tuple([a.strip() for a in text.split(",") if a.strip()] for text in (args.rows, args.columns))
    write(args, *render(table, args.layout, args.title, args.caption, methods, axes))


def write(args: argparse.Namespace, csv_frame, shown, title: str, notes) -> None:
    with atomic_path(args.out_csv) as tmp:
        csv_frame.to_csv(tmp, index=False)
    with atomic_path(args.out_md) as tmp:
        tmp.write_text(to_markdown(flat(shown), title, args.caption, notes))
    if args.out_tex is not None:
        with atomic_path(args.out_tex) as tmp:
            tmp.write_text(to_latex(shown, title, args.caption, args.layout, notes))
    if args.out_html is not None:
        with atomic_path(args.out_html) as tmp:
            tmp.write_text(to_html(shown, title, args.caption, notes))
    written = ", ".join(str(p) for p in (args.out_csv, args.out_md, args.out_tex, args.out_html) if p is not None)
    log.info("%s table of %d rows -> %s", args.layout, len(shown), written)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
