"""Collect evaluation JSONs into a results table (CSV + Markdown, optionally LaTeX and HTML) beside the published numbers.

``--layout summary`` (default) is the long table: one row per (dataset, model, method,
mask ratio, IPC). The other layouts (``condense/layouts.py``: ``table1``, ``table2``,
``convnet``) are the paper's tables: an entry (method at a mask ratio) × IPC grid, each
IPC or entry a column group of "ours", "published (source)" and "Δ". The IPCs are the
layout's (the paper's) plus any other IPC measured for the layout's entries and model.

Each cell is "mean ± std (n)" over the evaluated networks; a published value is
labelled with its source and our delta to it is shown. Nothing is filled in:
a missing measurement stays "—"; a cell that cannot exist (a method at "whole
dataset") is empty. A column group with neither a measurement nor a published value
anywhere (e.g. "whole dataset" without a whole-dataset run or a published number) is
dropped, unless that would drop every group; one with published values only stays, our
cells "—".
"""

from __future__ import annotations

import argparse
import html
import logging
import sys
from pathlib import Path

import pandas as pd

from .errors import CondenseError
from .fileio import atomic_path, read_json
from .layouts import LAYOUTS, Entry, Layout, ipc_label
from .published import Published, lookup
from .runtime import add_common_arguments

log = logging.getLogger("condense.table")
MISSING = "—"
NOT_APPLICABLE = ""
SUMMARY = "summary"
SUMMARY_TITLE = "Test accuracy (%)"
OURS, DELTA = "ours", "Δ ours − published"
LEGEND = (
    "Test accuracy (%) on the real test set: ours = mean ± std (n networks); published values are labelled with "
    "their source; Δ = our mean − the published mean; — = not measured (or nothing published); "
    "empty = does not apply; + mask = every real image drawn for matching is masked (mask ratio 1.0)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="evaluation or full-baseline JSON files")
    parser.add_argument("--layout", default=SUMMARY, choices=[SUMMARY, *LAYOUTS.names()],
                        help="summary: the long table; otherwise a paper layout from condense/layouts.py")
    parser.add_argument("--out-csv", type=Path, required=True)
    parser.add_argument("--out-md", type=Path, required=True)
    parser.add_argument("--out-tex", type=Path, default=None, help="also a LaTeX table (booktabs)")
    parser.add_argument("--out-html", type=Path, default=None, help="also an HTML page (for `snakemake --report`)")
    parser.add_argument("--title", default=None, help=f"default: {SUMMARY_TITLE!r}, or the layout's title")
    parser.add_argument("--caption", default="", help="printed under the title (e.g. the profile's reduced settings)")
    add_common_arguments(parser, seed=False, device=False)


def load_rows(paths: list[Path]) -> pd.DataFrame:
    """One row per network run, from any mix of evaluation and full-baseline JSONs."""
    rows = []
    for path in paths:
        result = read_json(path, what="evaluation result")
        method = result.get("method") or "?"
        ipc = None if method == "full" else result.get("ipc")
        ratio = float(result.get("mask_ratio") or 0.0)
        for run in result["runs"]:
            rows.append({"dataset": result["dataset"], "model": result["model"], "method": method, "mask_ratio": ratio,
                         "ipc": ipc, "acc": 100 * run["test_acc"]})
    return pd.DataFrame(rows, columns=["dataset", "model", "method", "mask_ratio", "ipc", "acc"])


def published_for(dataset: str, model: str, method: str, ratio: float, ipc):
    """The published value for a row: masked rows are compared with the paper's "+ mask" numbers
    only at ratio 1 (the paper's tables mask every real image)."""
    if ratio == 0:
        return lookup(dataset, model, method, ipc)
    return lookup(dataset, model, f"{method}+mask", ipc) if ratio == 1.0 else None


def fmt_cell(mean: float, std: float, n: int) -> str:
    return f"{mean:.1f} ± {std:.1f} ({n})"


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, population std (as the reference code) and count per (dataset, model, method, mask ratio, ipc), with published values."""
    runs = runs.assign(ipc=runs["ipc"].astype("Int64"))
    grouped = runs.groupby(["dataset", "model", "method", "mask_ratio", "ipc"], dropna=False)["acc"]
    table = grouped.agg(mean="mean", std=lambda a: a.std(ddof=0), n="count").reset_index()
    published = [
        published_for(r.dataset, r.model, r.method, r.mask_ratio, None if pd.isna(r.ipc) else int(r.ipc)) for r in table.itertuples()
    ]
    table["ours"] = [fmt_cell(r.mean, r.std, r.n) for r in table.itertuples()]
    table["published"] = [p.cell() if p else MISSING for p in published]
    table["source"] = [p.source if p else MISSING for p in published]
    table["delta"] = [f"{r.mean - p.mean:+.1f}" if p else MISSING for r, p in zip(table.itertuples(), published)]
    table["ipc"] = table["ipc"].map(lambda v: "whole" if pd.isna(v) else str(int(v)))
    return table


def summary_shown(table: pd.DataFrame) -> pd.DataFrame:
    """The long table's displayed columns."""
    return table[["dataset", "model", "method", "mask_ratio", "ipc", "ours", "published", "source", "delta"]].rename(
        columns={"ours": "ours: mean ± std (n)", "published": "published (labelled)", "delta": DELTA}
    )


def to_markdown(table: pd.DataFrame, title: str, caption: str, notes: tuple[str, ...] = ()) -> str:
    """Markdown: the title, the caption under it, the table (``table`` is the summary or an already-shown frame), notes."""
    shown = summary_shown(table) if "delta" in table.columns else table
    lines = [f"## {title}", ""] + ([caption, ""] if caption else []) + [shown.to_markdown(index=False, disable_numparse=True), ""]
    for note in notes:
        lines += [note, ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- paper layouts


def dataset_of(table: pd.DataFrame) -> str:
    datasets = sorted(set(table["dataset"]))
    if len(datasets) != 1:
        found = ", ".join(datasets) if datasets else "none (no evaluated networks in the given files)"
        raise CondenseError(f"a paper-layout table takes one dataset's results; found {found}")
    return datasets[0]


def published_of(dataset: str, model: str, entry: Entry, ipc) -> Published | None:
    if entry.published is not None:
        return lookup(dataset, model, entry.published, ipc)
    return published_for(dataset, model, entry.method, entry.mask_ratio, ipc)


def layout_ipcs(table: pd.DataFrame, layout: Layout) -> list:
    """The layout's IPCs plus any other IPC measured for its entries on its model (e.g. the smoke profile's IPC 3),
    in order, the whole dataset last."""
    keys = {(e.method, float(e.mask_ratio)) for e in layout.entries}
    measured = {int(r.ipc) for r in table.itertuples()
                if r.model == layout.model and (r.method, float(r.mask_ratio)) in keys and r.ipc != "whole"}
    numbered = sorted({ipc for ipc in layout.ipcs if ipc is not None} | measured)
    return numbered + ([None] if None in layout.ipcs else [])


def layout_cells(table: pd.DataFrame, layout: Layout, ipcs: list) -> dict[tuple[int, object], tuple[str, Published | None, str]]:
    """(entry index, IPC) -> (ours, published, Δ) for every cell that applies; ``table`` is :func:`summarize`'s output."""
    dataset = dataset_of(table)
    ours = {(r.model, r.method, float(r.mask_ratio), r.ipc): r for r in table.itertuples()}
    cells = {}
    for i, entry in enumerate(layout.entries):
        for ipc in ipcs:
            if not entry.applies(ipc):
                continue
            row = ours.get((layout.model, entry.method, float(entry.mask_ratio), "whole" if ipc is None else str(ipc)))
            pub = published_of(dataset, layout.model, entry, ipc)
            cells[(i, ipc)] = (
                fmt_cell(row.mean, row.std, row.n) if row is not None else MISSING,
                pub,
                f"{row.mean - pub.mean:+.1f}" if row is not None and pub is not None else MISSING,
            )
    return cells


def layout_frame(table: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """The paper layout as a frame with two-level columns (group, ours | published (source) | Δ); the first column holds the row labels."""
    ipcs = layout_ipcs(table, layout)
    cells = layout_cells(table, layout, ipcs)
    entries = list(enumerate(layout.entries))
    # Groups are IPCs (entries as rows) or entries (entries as columns); each group is a list of cell keys per row.
    if layout.entries_as == "rows":
        row_header, row_labels = "method", [e.label for _, e in entries]
        groups = [(ipc_label(ipc), [(i, ipc) for i, _ in entries]) for ipc in ipcs]
    else:
        row_header, row_labels = "IPC", [ipc_label(ipc) for ipc in ipcs]
        groups = [(e.label, [(i, ipc) for ipc in ipcs]) for i, e in entries]
    kept = [g for g in groups if any(k in cells and (cells[k][0] != MISSING or cells[k][1] is not None) for k in g[1])]
    if not kept:
        log.warning("%s: nothing measured or published; showing every column as —", layout.title)
        kept = groups
    columns = {("", row_header): row_labels}
    for name, keys in kept:
        sources = sorted({cells[k][1].source for k in keys if k in cells and cells[k][1] is not None})
        published_header = f"published ({'; '.join(sources)})" if sources else "published"
        columns[(name, OURS)] = [cells[k][0] if k in cells else NOT_APPLICABLE for k in keys]
        columns[(name, published_header)] = [
            (cells[k][1].cell() if cells[k][1] is not None else MISSING) if k in cells else NOT_APPLICABLE for k in keys
        ]
        columns[(name, DELTA)] = [cells[k][2] if k in cells else NOT_APPLICABLE for k in keys]
    frame = pd.DataFrame(columns)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """One header row: "IPC 1: ours", "IPC 1: published (source)", ... (the row-label column keeps its name)."""
    if not isinstance(frame.columns, pd.MultiIndex):
        return frame
    return frame.set_axis([f"{group}: {sub}" if group else sub for group, sub in frame.columns], axis=1)


# LaTeX's special characters escaped, then our Unicode symbols spelled out, so pdflatex needs nothing beyond booktabs.
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_UNICODE = {"±": r"$\pm$", "—": "---", "Δ": r"$\Delta$", "−": "$-$", "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$"}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    for symbol, replacement in _LATEX_UNICODE.items():
        out = out.replace(symbol, replacement)
    return out


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def to_latex(frame: pd.DataFrame, title: str, caption: str, label: str, notes: tuple[str, ...] = ()) -> str:
    """A booktabs table environment; the caption is the title, then the caption text and notes."""
    shown = frame.map(latex_escape)
    if isinstance(frame.columns, pd.MultiIndex):
        shown.columns = pd.MultiIndex.from_tuples([(latex_escape(a), latex_escape(b)) for a, b in frame.columns])
    else:
        shown.columns = [latex_escape(c) for c in frame.columns]
    full_caption = " ".join(latex_escape(sentence(part)) for part in (title, caption, *notes) if part)
    body = shown.to_latex(index=False, escape=False, caption=full_caption, label=f"tab:{label}", multicolumn=True,
                          multicolumn_format="c", column_format="l" + "c" * (shown.shape[1] - 1))
    return "% needs \\usepackage{booktabs}\n" + body


_HTML_STYLE = ("body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse} "
               "th,td{border:1px solid #bbb;padding:3px 7px;text-align:center;white-space:nowrap} p{max-width:60em}")


def to_html(frame: pd.DataFrame, title: str, caption: str, notes: tuple[str, ...] = ()) -> str:
    """A standalone HTML page: the title, the caption under it, the table (grouped headers kept), notes."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_HTML_STYLE}</style></head>\n<body>\n<h2>{html.escape(title)}</h2>\n"
            + (f"<p>{html.escape(caption)}</p>\n" if caption else "")
            + frame.to_html(index=False, escape=True, border=0)
            + "\n" + "".join(f"<p>{html.escape(text)}</p>\n" for text in notes if text) + "</body></html>\n")


def render(table: pd.DataFrame, layout_name: str, title: str | None, caption: str) -> tuple[pd.DataFrame, pd.DataFrame, str, tuple[str, ...]]:
    """(CSV frame, displayed frame, title, notes) for the summary or a paper layout."""
    if layout_name == SUMMARY:
        return table.drop(columns=["ours"]), summary_shown(table), title or SUMMARY_TITLE, ()
    layout = LAYOUTS.get(layout_name)
    frame = layout_frame(table, layout)
    full_title = f"{title or layout.title} — {dataset_of(table)}, test accuracy (%)"
    notes = (LEGEND,) + ((layout.note,) if layout.note else ())
    return flat(frame), frame, full_title, notes


def run(args: argparse.Namespace) -> None:
    table = summarize(load_rows(args.results))
    csv_frame, shown, title, notes = render(table, args.layout, args.title, args.caption)
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
    from .cli import stage_main

    sys.exit(stage_main(__name__))
