"""Evaluation JSONs as results tables (CSV, Markdown, LaTeX, HTML) beside the published numbers.

The ``summary`` layout is the long table: one row per (dataset, model, method, mask variant,
IPC). The other layouts (``condense/reporting/layouts.py``: ``table1``, ``table2``, ``convnet``)
are the paper's tables: an entry (method at a mask ratio) × IPC grid, each
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

import html
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..core.errors import CondenseError
from ..core.registry import Registry
from ..data.records import EvalRecord
from .layouts import LAYOUTS, Entry, TableLayout, ipc_label
from .published import Published, lookup
from .relative import ARS_WEIGHT, AUGMENTATION, AUGMENTATION_COLUMNS, LRS_WEIGHT, relative_frame

log = logging.getLogger("condense.table")
MISSING = "—"
PUBLISHED_CONDENSATION_MODEL = "convnet"  # the network every published condensed set was made on
NOT_APPLICABLE = ""
SUMMARY = "summary"
SUMMARY_TITLE = "Test accuracy (%)"
OURS, DELTA = "ours", "Δ ours − published"
LEGEND = (
    "Test accuracy (%) on the real test set: ours = mean ± std (n networks); published values are labelled with "
    "their source; Δ = our mean − the published mean; — = not measured (or nothing published); "
    "empty = does not apply; + mask = every real image drawn for matching is masked (mask ratio 1.0)."
)


COLUMNS = [
    "dataset",
    "published_as",
    "model",
    "set_model",
    "method",
    "mask",
    "mask_label",
    "mask_paper",
    "mask_source",
    "mask_fill",
    "mask_ratio",
    "ipc",
    "acc",
    "diverged",
]


def load_rows(paths: list[Path], kind: str = "accuracy", column: str | None = None) -> pd.DataFrame:
    """One row per network, from the evaluation records of ``kind`` among ``paths`` (evaluation and
    full-baseline records; snapshots' evaluations are the accuracy-vs-time figure's and are left out).
    ``published_as``: the dataset whose published numbers apply ("" = none apply); ``mask``: the set's
    mask variant ("" unmasked), ``mask_label`` its source and options without the ratio, ``mask_paper``
    whether it is the paper's mask (the FCN, mean fill, soft maps); ``acc``: the kind's main value (or
    ``column``, another of its columns), scaled as the kind declares (percent for accuracy)."""
    rows, records = [], []
    for path in paths:
        record = EvalRecord.load(path)
        if record.kind != kind or not record.set.final:
            continue
        records.append(record)
        made, mask = record.set, record.set.mask
        chosen = next((c for c in record.columns if c["name"] == (column or record.value)), None)
        if chosen is None:
            raise CondenseError(f"{path}: a {kind} record has no column {column!r}; it has {', '.join(c['name'] for c in record.columns)}")
        for value, run in zip(record.values(chosen["name"]), record.runs):
            rows.append(
                {
                    "dataset": record.dataset,
                    "published_as": record.published_as or "",
                    "model": record.model,
                    "set_model": made.model or "",
                    "method": made.method,
                    "mask": mask.variant if mask else "",
                    "mask_label": mask.label if mask else "",
                    "mask_paper": mask.paper if mask else False,
                    "mask_source": mask.source if mask else "",
                    "mask_fill": mask.fill if mask else "",
                    "mask_ratio": made.mask_ratio,
                    "ipc": made.ipc,
                    # a diverged network's value is chance, not a measurement: counted, never averaged
                    "acc": float(chosen["scale"]) * value,
                    "diverged": bool(run.get("diverged")),
                }
            )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    shown = {c["label"] for r in records for c in r.columns if c["name"] == (column or r.value)}
    frame.attrs["value_label"] = shown.pop() if len(shown) == 1 else "value"
    return frame


def published_for(dataset: str, model: str, method: str, ratio: float, ipc, paper_mask: bool = True):
    """The published value for a row (``dataset``: the one whose numbers apply): masked rows are compared
    with the paper's "+ mask" numbers only at ratio 1 (the paper's tables mask every real image) and
    only for the paper's mask (its FCN, mean fill, soft maps)."""
    if not dataset:
        return None
    if ratio == 0:
        return lookup(dataset, model, method, ipc)
    return lookup(dataset, model, f"{method}+mask", ipc) if ratio == 1.0 and paper_mask else None


def fmt_cell(mean: float, std: float, n: int, diverged: int = 0) -> str:
    """'mean ± std (n)', with 'diverged d of N' when some networks diverged (all of them: only that)."""
    if n == 0:
        return f"diverged {diverged} of {diverged}"
    cell = f"{mean:.1f} ± {std:.1f} ({n})"
    return cell + (f", diverged {diverged} of {n + diverged}" if diverged else "")


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, population std (as the reference code) and count per (dataset, model, method, mask variant, ipc), with published values."""
    runs = runs.assign(ipc=runs["ipc"].astype("Int64"))
    grouped = runs.groupby(
        [
            "dataset",
            "published_as",
            "model",
            "set_model",
            "method",
            "mask_ratio",
            "mask_label",
            "mask",
            "mask_paper",
            "mask_source",
            "mask_fill",
            "ipc",
        ],  # fmt: skip
        dropna=False,
    )
    table = grouped.agg(
        mean=("acc", "mean"), std=("acc", lambda a: a.std(ddof=0)), n=("acc", "count"), diverged=("diverged", "sum")
    ).reset_index()
    table["diverged"] = table["diverged"].astype(int)
    published = [  # the method papers condensed on ConvNet: a set condensed on another network has no published value
        published_for(r.published_as, r.model, r.method, r.mask_ratio, None if pd.isna(r.ipc) else int(r.ipc), r.mask_paper)
        if r.set_model in ("", PUBLISHED_CONDENSATION_MODEL)
        else None
        for r in table.itertuples()
    ]
    table["ours"] = [fmt_cell(r.mean, r.std, r.n, r.diverged) for r in table.itertuples()]
    table["published"] = [p.cell() if p else MISSING for p in published]
    table["source"] = [p.source if p else MISSING for p in published]
    table["delta"] = [f"{r.mean - p.mean:+.1f}" if p and r.n else MISSING for r, p in zip(table.itertuples(), published)]
    table["ipc"] = table["ipc"].map(lambda v: "whole" if pd.isna(v) else str(int(v)))
    return table


def summary_shown(table: pd.DataFrame) -> pd.DataFrame:
    """The long table's displayed columns."""
    shown = table.assign(mask_label=table["mask_label"].replace("", "none"), set_model=table["set_model"].replace("", "—"))
    columns = ["dataset", "model", "method", "mask_label", "mask_ratio", "ipc", "ours", "published", "source", "delta"]
    if table.loc[table["set_model"] != "", "set_model"].nunique() > 1:  # sets condensed on several networks: say which
        columns.insert(3, "set_model")
    return shown[columns].rename(
        columns={
            "mask_label": "mask",
            "set_model": "condensed on",
            "ours": "ours: mean ± std (n)",
            "published": "published (labelled)",
            "delta": DELTA,
        }  # fmt: skip
    )


def to_markdown(table: pd.DataFrame, title: str, caption: str, notes: tuple[str, ...] = ()) -> str:
    """Markdown: the title, the caption under it, the table (``table`` is the summary or an already-shown frame), notes."""
    shown = summary_shown(table) if "delta" in table.columns else table
    lines = [f"## {title}", ""] + ([caption, ""] if caption else []) + [shown.to_markdown(index=False, disable_numparse=True), ""]
    for note in notes:
        lines += [note, ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- paper layouts


def dataset_of(table: pd.DataFrame) -> tuple[str, str]:
    """(dataset, the dataset whose published numbers apply) of a one-dataset table."""
    datasets = sorted(set(table["dataset"]))
    if len(datasets) != 1:
        found = ", ".join(datasets) if datasets else "none (no evaluated networks in the given files)"
        raise CondenseError(f"a paper-layout table takes one dataset's results; found {found}")
    return datasets[0], str(table["published_as"].iloc[0])


def published_of(dataset: str, model: str, entry: Entry, ipc) -> Published | None:
    if not dataset:
        return None
    if entry.published is not None:
        return lookup(dataset, model, entry.published, ipc)
    return published_for(dataset, model, entry.method, entry.mask_ratio, ipc, entry.paper_mask)


def layout_ipcs(table: pd.DataFrame, layout: TableLayout, entries: Sequence[Entry]) -> list:
    """The layout's IPCs plus any other IPC measured for its entries on its model (e.g. the smoke profile's IPC 3),
    in order, the whole dataset last."""
    keys = {(e.method, float(e.mask_ratio)) for e in entries}
    measured = {
        int(r.ipc) for r in table.itertuples() if r.model == layout.model and (r.method, float(r.mask_ratio)) in keys and r.ipc != "whole"
    }
    numbered = sorted({ipc for ipc in layout.ipcs if ipc is not None} | measured)
    return numbered + ([None] if None in layout.ipcs else [])


def layout_cells(
    table: pd.DataFrame, layout: TableLayout, entries: Sequence[Entry], ipcs: list
) -> dict[tuple[int, object], tuple[str, Published | None, str]]:
    """(entry index, IPC) -> (ours, published, Δ) for every cell that applies; ``table`` is :func:`summarize`'s output."""
    _, dataset = dataset_of(table)
    ours = {(r.model, r.method, float(r.mask_ratio), r.mask_label, r.ipc): r for r in table.itertuples()}
    cells = {}
    for i, entry in enumerate(entries):
        for ipc in ipcs:
            if not entry.applies(ipc):
                continue
            row = ours.get(
                (layout.model, entry.method, float(entry.mask_ratio), entry.mask_label or "", "whole" if ipc is None else str(ipc))
            )
            pub = published_of(dataset, layout.model, entry, ipc)
            cells[(i, ipc)] = (
                fmt_cell(row.mean, row.std, row.n, row.diverged) if row is not None else MISSING,
                pub,
                f"{row.mean - pub.mean:+.1f}" if row is not None and pub is not None and row.n else MISSING,
            )
    return cells


def by_variant(entries: Sequence[Entry], table: pd.DataFrame, model: str) -> tuple[Entry, ...]:
    """Each masked entry once per mask variant (source and options) evaluated at its ratio on ``model``:
    "DSA + mask" alone when there is one, "DSA + mask (gradcam, black fill, soft, fixed)" for each when
    there are several. An entry with none keeps its row (its cells "—")."""
    out = []
    for entry in entries:
        if not entry.mask_ratio or entry.whole:
            out.append(entry)
            continue
        rows = table[(table["model"] == model) & (table["method"] == entry.method) & (table["mask_ratio"] == float(entry.mask_ratio))]
        variants = sorted({(r.mask_label, bool(r.mask_paper)) for r in rows.itertuples()}, key=lambda v: (not v[1], v[0]))
        if len(variants) <= 1:
            label, paper = variants[0] if variants else ("", True)
            out.append(replace(entry, mask_label=label, paper_mask=paper))
        else:
            out.extend(replace(entry, label=f"{entry.label} ({label})", mask_label=label, paper_mask=paper) for label, paper in variants)
    return tuple(out)


def layout_frame(table: pd.DataFrame, layout: TableLayout, methods: Sequence[tuple[str, str]] = ()) -> pd.DataFrame:
    """The paper layout as a frame with two-level columns (group, ours | published (source) | Δ); the first
    column holds the row labels. ``methods``: the (name, label) pairs that stand for the layout's EACH_METHOD."""
    expanded = by_variant(layout.expanded(methods), table, layout.model)
    ipcs = layout_ipcs(table, layout, expanded)
    cells = layout_cells(table, layout, expanded, ipcs)
    entries = list(enumerate(expanded))
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
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
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
    body = shown.to_latex(
        index=False,
        escape=False,
        caption=full_caption,
        label=f"tab:{label}",
        multicolumn=True,
        multicolumn_format="c",
        column_format="l" + "c" * (shown.shape[1] - 1),
    )
    return "% needs \\usepackage{booktabs}\n" + body


_HTML_STYLE = (
    "body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse} "
    "th,td{border:1px solid #bbb;padding:3px 7px;text-align:center;white-space:nowrap} p{max-width:60em}"
)


def to_html(frame: pd.DataFrame, title: str, caption: str, notes: tuple[str, ...] = ()) -> str:
    """A standalone HTML page: the title, the caption under it, the table (grouped headers kept), notes."""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_HTML_STYLE}</style></head>\n<body>\n<h2>{html.escape(title)}</h2>\n"
        + (f"<p>{html.escape(caption)}</p>\n" if caption else "")
        + frame.to_html(index=False, escape=True, border=0)
        + "\n"
        + "".join(f"<p>{html.escape(text)}</p>\n" for text in notes if text)
        + "</body></html>\n"
    )


def listing(labels: Sequence[str]) -> str:
    """'DC, DSA and DM'."""
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1] if labels else ""


CSV_DROPPED = ["ours", "published_as", "mask_paper", "mask_source", "mask_fill", "set_model"]


MASKS = "masks"
MASKS_TITLE = "Masks at ratio 1 against no mask"


def masks_frame(table: pd.DataFrame, methods: Sequence[tuple[str, str]] = ()) -> pd.DataFrame:
    """The mask study's grid: one row per mask variant (source and options) evaluated at ratio 1, one column group
    per (method, IPC, model) with masked runs: ours, and Δ = our mean − the same method's unmasked mean (with the
    unmasked cell itself in the first row)."""
    table = table[table["ipc"] != "whole"]
    masked = table[table["mask_ratio"] == 1.0]
    if masked.empty:
        raise CondenseError("the masks table needs evaluations of sets masked at ratio 1")
    order = [name for name, _ in methods]
    labels = dict(methods)
    groups = sorted(
        {(r.method, r.ipc, r.model) for r in masked.itertuples()},
        key=lambda g: (order.index(g[0]) if g[0] in order else len(order), int(g[1]), g[2]),
    )
    variants = sorted(set(masked["mask_label"]))
    ours = {(r.method, r.ipc, r.model, r.mask_label, float(r.mask_ratio)): r for r in table.itertuples()}
    columns = {("", "mask"): ["none (ratio 0)"] + variants}
    for method, ipc, model in groups:
        name = f"{labels.get(method, method)} IPC {ipc}" + ("" if len({g[2] for g in groups}) == 1 else f", {model}")
        plain = ours.get((method, ipc, model, "", 0.0))
        cells, deltas = [fmt_cell(plain.mean, plain.std, plain.n, plain.diverged) if plain is not None else MISSING], [""]
        for variant in variants:
            row = ours.get((method, ipc, model, variant, 1.0))
            cells.append(fmt_cell(row.mean, row.std, row.n, row.diverged) if row is not None else MISSING)
            deltas.append(f"{row.mean - plain.mean:+.1f}" if row is not None and plain is not None and row.n and plain.n else MISSING)
        columns[(name, OURS)] = cells
        columns[(name, "Δ vs no mask")] = deltas
    frame = pd.DataFrame(columns)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


AXES = ("dataset", "model", "set_model", "method", "mask_label", "mask_ratio", "ipc")  # what a pivot can put on its axes
PIVOT = "pivot"
RELATIVE = "relative"


def pivot_frame(table: pd.DataFrame, rows: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Any evaluation kind's cells ("mean ± std (n)") with ``rows`` down and ``columns`` across (record columns, :data:`AXES`)."""
    unknown = [axis for axis in (*rows, *columns) if axis not in AXES]
    if unknown or not rows:
        raise CondenseError(f"pivot axes {', '.join(unknown) or '(no rows)'}: choose rows (and columns) among {', '.join(AXES)}")
    shown = table.assign(mask_label=table["mask_label"].replace("", "none"), set_model=table["set_model"].replace("", "—"))
    keys = [*rows, *columns]
    if shown.duplicated(keys).any():
        free = [axis for axis in AXES if axis not in keys and shown[axis].nunique() > 1]
        raise CondenseError(f"the axes {', '.join(keys)} leave several cells in one place; add one of {', '.join(free)}")
    if not columns:
        return shown[[*rows, "ours"]].rename(columns={"ours": "mean ± std (n)"}).reset_index(drop=True)
    wide = shown.pivot(index=list(rows), columns=list(columns), values="ours").fillna(MISSING)
    wide.columns = [", ".join(f"{axis} {value}" for axis, value in zip(columns, key if isinstance(key, tuple) else (key,)))
                    for key in wide.columns]  # fmt: skip
    return wide.reset_index()


def render(
    table: pd.DataFrame,
    layout_name: str,
    title: str | None,
    caption: str,
    methods: Sequence[tuple[str, str]] = (),
    axes: tuple[Sequence[str], Sequence[str]] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, str, tuple[str, ...]]:
    """(CSV frame, displayed frame, title, notes) for a layout: a paper table (``LAYOUTS``) or one of :data:`VIEWS`;
    ``methods``: the condensation methods' (name, label) pairs, in the order the ConvNet table lists them; ``axes``:
    a pivot's (rows, columns)."""
    if layout_name in LAYOUTS:
        return _render_paper(table, LAYOUTS.get(layout_name), title, methods)
    return VIEWS.get(layout_name)(table, title, methods, axes)


def _render_summary(table, title, methods, axes):
    return table.drop(columns=CSV_DROPPED), summary_shown(table), title or SUMMARY_TITLE, ()


def _render_masks(table, title, methods, axes):
    frame = masks_frame(table, methods)
    notes = (
        "Test accuracy (%): mean ± std (n networks, over every condensation seed); Δ = the masked set's mean − the "
        "unmasked set's (first row) under the same method, IPC and evaluation; — = not measured.",
    )
    return flat(frame), frame, f"{title or MASKS_TITLE} — {dataset_of(table)[0]}, test accuracy (%)", notes


def _render_pivot(table, title, methods, axes):
    rows, columns = axes or ((), ())
    frame = pivot_frame(table, rows, columns)
    label = table.attrs.get("value_label", "value")
    notes = (f"{label}: mean ± std (n networks, over every condensation seed); — = not measured.",)
    return frame, frame, title or f"{label} by {', '.join(rows)}" + (f" and {', '.join(columns)}" if columns else ""), notes


def _render_paper(table, layout, title, methods):
    frame = layout_frame(table, layout, methods)
    full_title = (
        f"{title or layout.title.format(methods=listing([label for _, label in methods]))} — {dataset_of(table)[0]}, test accuracy (%)"
    )
    notes = (LEGEND,) + ((layout.note,) if layout.note else ())
    return flat(frame), frame, full_title, notes


def render_relative(paths: list[Path], title: str | None) -> tuple[pd.DataFrame, pd.DataFrame, str, tuple[str, ...]]:
    """The ``relative`` layout from records: the accuracy records make the rows (IOR, HLR, LRS); where ``augmentation``
    records of a set and of the random subset of its IPC are among ``paths``, its gains with and without
    augmentation and ARS join them."""
    rows = load_rows(paths)
    if rows.empty:
        raise CondenseError(
            f"none of the {len(paths)} records given is a final accuracy evaluation; pass the sets' and the references' records"
        )
    augmented = {name: summarize(load_rows(paths, kind=AUGMENTATION, column=name)) for name in AUGMENTATION_COLUMNS}
    with_ars = not augmented[AUGMENTATION_COLUMNS[0]].empty
    frame = relative_frame(summarize(rows), MISSING, augmented if with_ars else None)
    notes = (
        "ours: test accuracy (%), mean ± std (n networks, over every condensation seed); random, whole data: the mean of "
        "a random real subset of the same IPC and of the whole-data network on the same evaluation network; IOR = ours − "
        f"random, HLR = whole data − ours; LRS = (e^α − e^−1) / (e − e^−1), α = {LRS_WEIGHT}·IOR − {1 - LRS_WEIGHT}·HLR on "
        "fractions (DD-Ranking's label-robust score; docs/relative-scores.md); — = not evaluated.",
    ) + ((
        "gain aug / gain no aug: the set's accuracy − the random subset's, both trained with augmentation / both without "
        f"(the `augmentation` evaluation, the same networks); ARS = (e^β − e^−1) / (e − e^−1), β = {ARS_WEIGHT}·gain aug + "
        f"{1 - ARS_WEIGHT}·gain no aug on fractions (DD-Ranking's augmentation-robust score).",
    ) if with_ars else ())  # fmt: skip
    return frame, frame, title or "Relative to real data: improvement over random, gap to the whole data, LRS", notes


# The layouts that are not paper tables: each one renderer (a paper layout is data in condense/reporting/layouts.py).
VIEWS: Registry = Registry("table layout")
VIEWS.add(SUMMARY, _render_summary)
VIEWS.add(MASKS, _render_masks)
VIEWS.add(PIVOT, _render_pivot)
