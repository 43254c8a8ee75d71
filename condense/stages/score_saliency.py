"""Score saliency maps against the exact foregrounds a derived dataset stores (mass, top-k IoU, pointing game).

``condense score-saliency --data data.pt MAPS... --out-md scores.md --out-csv scores.csv --out-json scores.json``
writes one row per maps file (its source), beside the chance levels; see :mod:`condense.masks.scoring`.
"""

from __future__ import annotations

import argparse
import logging
import sys

import pandas as pd

from ..core.errors import CondenseError
from ..core.fileio import atomic_path, write_json
from ..core.paths import INPUT, OUTPUT
from ..data.maps import check_maps_fit, load_maps
from ..data.store import read_stored
from ..masks.saliency import SOURCES
from ..masks.scoring import score_maps
from ..reporting.tables import to_html
from ._args import add_common_arguments, add_path

log = logging.getLogger("condense.score_saliency")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "maps", INPUT, nargs="+", help="maps files from `condense saliency` (one per source)")
    add_path(parser, "--data", INPUT, required=True, help="a dataset file that stores its foregrounds")
    add_path(parser, "--out-md", OUTPUT, required=True)
    add_path(parser, "--out-csv", OUTPUT, required=True)
    add_path(parser, "--out-json", OUTPUT, default=None)
    add_path(parser, "--out-html", OUTPUT, default=None, help="also an HTML page (for `snakemake --report`)")
    parser.add_argument("--caption", default="")
    add_common_arguments(parser, seed=False, device=False)


def run(args: argparse.Namespace) -> None:
    stored = read_stored(args.data)
    foreground = stored.get("train_foreground")
    if foreground is None:
        raise CondenseError(
            f"dataset {stored['name']!r} stores no foregrounds to score against; "
            "use a derived dataset that has them (condense derive --kind backgrounds)"
        )
    rows = []
    for path in args.maps:
        maps = load_maps(path)
        check_maps_fit(maps, stored["name"], foreground.shape[0], tuple(foreground.shape[1:]), what=f"maps {str(path)!r}")
        source = maps.get("source", "?")
        scores = score_maps(maps["maps"], foreground)
        rows.append({"source": source, "label": SOURCES.get(source).label if source in SOURCES else source, **scores})
        log.info("%s: mass %.3f, top-k IoU %.3f, pointing %.3f", source, scores["mass"], scores["iou"], scores["pointing"])
    frame = pd.DataFrame(rows)
    shown = pd.DataFrame(
        {
            "source": frame["label"],
            "mass in foreground": frame["mass"].map("{:.3f}".format),
            "top-k IoU": frame["iou"].map("{:.3f}".format),
            "pointing game": frame["pointing"].map("{:.3f}".format),
        }
    )
    chance = frame.iloc[0]
    note = (
        f"Training images of {stored['name']} ({int(chance['images'])}); k = the image's foreground size. Chance (a map that "
        f"knows nothing): mass and pointing {chance['chance_mass']:.3f} (the foreground's share of the image), top-k IoU "
        f"{chance['chance_iou']:.3f}."
    )
    with atomic_path(args.out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    title = f"Saliency against the exact foreground — {stored['name']}"
    with atomic_path(args.out_md) as tmp:
        tmp.write_text(
            "\n".join(
                [f"## {title}", ""]
                + ([args.caption, ""] if args.caption else [])
                + [shown.to_markdown(index=False, disable_numparse=True), "", note, ""]
            )
        )
    if args.out_html is not None:
        with atomic_path(args.out_html) as tmp:
            tmp.write_text(to_html(shown, title, args.caption, (note,)))
    if args.out_json is not None:
        write_json({"dataset": stored["name"], "rows": rows}, args.out_json)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
