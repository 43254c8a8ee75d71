"""Collect evaluation JSONs into a results table (CSV + Markdown) beside the published numbers.

Each cell is "mean ± std (n)" over the evaluated networks; a published value is
labelled with its source and our delta to it is shown. Nothing is filled in:
a missing measurement stays "—".
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from .fileio import atomic_path, read_json
from .published import lookup
from .runtime import add_common_arguments

log = logging.getLogger("condense.table")
MISSING = "—"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="evaluation or full-baseline JSON files")
    parser.add_argument("--out-csv", type=Path, required=True)
    parser.add_argument("--out-md", type=Path, required=True)
    parser.add_argument("--title", default="Test accuracy (%)")
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


def to_markdown(table: pd.DataFrame, title: str, caption: str) -> str:
    shown = table[["dataset", "model", "method", "mask_ratio", "ipc", "ours", "published", "source", "delta"]].rename(
        columns={"ours": "ours: mean ± std (n)", "published": "published (labelled)", "delta": "Δ ours − published"}
    )
    lines = [f"## {title}", ""] + ([caption, ""] if caption else []) + [shown.to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    table = summarize(load_rows(args.results))
    with atomic_path(args.out_csv) as tmp:
        table.drop(columns=["ours"]).to_csv(tmp, index=False)
    with atomic_path(args.out_md) as tmp:
        tmp.write_text(to_markdown(table, args.title, args.caption))
    log.info("table of %d rows -> %s, %s", len(table), args.out_csv, args.out_md)


if __name__ == "__main__":
    from .cli import stage_main

    sys.exit(stage_main(__name__))
