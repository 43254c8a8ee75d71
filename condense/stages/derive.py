"""Make a derived dataset from a stored one with a registered derivation (``condense/data/derived/``).

``condense derive --kind NAME --data base.pt --out data.pt [settings] --seed S`` writes a data file
in the format of ``condense download`` (with the derivation's traits and extra tensors), so every
later stage takes it unchanged. The same seed gives the same file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from ..core.errors import CondenseError
from ..core.fileio import save_torch
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import make_generator
from ..core.settings import build_settings
from ..data.derived import DERIVATIONS
from ..data.store import check_stored, read_stored
from ._args import add_common_arguments, add_path, add_settings_arguments, given_settings

log = logging.getLogger("condense.derive")


def _classes() -> list[type]:
    return [d.settings for _, d in DERIVATIONS.items()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, help=f"derivation, one of: {', '.join(DERIVATIONS.names()) or '(none registered)'}")
    add_path(parser, "--data", INPUT, required=True, help="the base dataset file (`condense download`)")
    parser.add_argument("--name", default=None, help="name of the derived dataset (default: <base>-<kind>)")
    add_path(parser, "--out", OUTPUT, required=True, help="the derived dataset file (.pt)")
    add_settings_arguments(parser, _classes(), title="derivation settings (default: the derivation's own)")
    add_common_arguments(parser, device=False)


def run(args: argparse.Namespace) -> None:
    derivation = DERIVATIONS.get(args.kind)
    settings = build_settings(derivation.settings, given_settings(args, _classes()), owner=f"derivation {args.kind}")
    base = read_stored(args.data)
    stored = derivation.derive(base, settings, make_generator(args.seed))
    stored = {**stored, "name": args.name or f"{base['name']}-{args.kind}"}
    if "traits" not in stored:
        raise CondenseError(
            f"derivation {args.kind!r} set no traits; every derived dataset must say its DSA strategy and published numbers"
        )
    stored["derivation"] = {"kind": args.kind, "base": base["name"], "seed": args.seed, "settings": dataclasses.asdict(settings)}
    check_stored(stored, args.out)
    save_torch(stored, args.out)
    log.info(
        "%s from %s (%s): %d train, %d test images %s -> %s",
        stored["name"],
        base["name"],
        args.kind,
        stored["train_labels"].numel(),
        stored["test_labels"].numel(),
        "×".join(map(str, stored["train_images"].shape[1:])),
        args.out,
    )


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
