"""Make an artifact a condensation method requires (``MethodSpec.requires``), with a registered producer.

``condense artifact --kind NAME --data D --out F`` runs the producer of ``NAME`` (``condense/methods/artifacts.py``;
its settings are flags here, ``--kind NAME --help``) and writes a file that names its kind, dataset, settings and
seed, for ``distill --artifact NAME=F``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict

from ..core.paths import INPUT, OUTPUT
from ..core.runtime import resolve_device
from ..data.store import load_data
from ..methods import ARTIFACTS
from ..methods.artifacts import save_artifact
from ._args import add_common_arguments, add_path, add_settings_arguments, given_settings

log = logging.getLogger("condense.artifact")


def _settings_classes() -> list[type]:
    return [kind.settings for _, kind in ARTIFACTS.items()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, help=f"artifact kind, one of: {', '.join(ARTIFACTS.names()) or '(none registered)'}")
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_settings_arguments(parser, _settings_classes(), title="artifact settings (default: the kind's reference value)")
    add_path(parser, "--out", OUTPUT, required=True, help="the artifact file (.pt)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    kind = ARTIFACTS.get(args.kind)
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    settings = kind.resolve(given_settings(args, _settings_classes()), data)
    content = kind.make(data, settings, args.seed, device)
    save_artifact(args.out, kind, data, asdict(settings), args.seed, content)
    log.info("%s artifact of %s -> %s", kind.name, data.name, args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
