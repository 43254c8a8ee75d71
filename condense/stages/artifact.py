"""Make an artifact a condensation method requires (``MethodSpec.requires``), with a registered producer.

``condense artifact --kind NAME --data D --out F`` runs the producer of ``NAME`` (``condense/methods/artifacts.py``;
its settings are flags here, ``--kind NAME --help``) and writes a file that names its kind, dataset, settings and
seed, for ``distill --artifact NAME=F``. What making it cost (seconds, bytes, device) goes beside it, in ``F`` with
the suffix ``.cost.json``, so identical runs write identical artifact files. A resumable kind (MTT's experts) keeps
each finished part in ``--checkpoint-dir`` (locked while a run uses it; ``condense/methods/parts.py``): rerun the
same command after a kill and it goes on from the first missing part.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from dataclasses import asdict

from ..core.digests import file_digest
from ..core.errors import CondenseError
from ..core.paths import INPUT, OUTPUT, OUTPUT_DIR
from ..core.runtime import resolve_device
from ..data.store import load_data
from ..methods import ARTIFACTS
from ..methods.artifacts import cost_path, save_artifact
from ..methods.checkpoint import RunIdentity
from ..methods.parts import PartStore
from ._args import add_common_arguments, add_path, add_settings_arguments, given_settings

log = logging.getLogger("condense.artifact")


def _settings_classes() -> list[type]:
    return [kind.settings for _, kind in ARTIFACTS.items()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, help=f"artifact kind, one of: {', '.join(ARTIFACTS.names()) or '(none registered)'}")
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_settings_arguments(parser, _settings_classes(), title="artifact settings (default: the kind's reference value)")
    add_path(parser, "--out", OUTPUT, also=lambda out: [cost_path(out)], required=True,
             help="the artifact file (.pt); its cost goes beside it (.cost.json)")  # fmt: skip
    add_path(parser, "--checkpoint-dir", OUTPUT_DIR, default=None,
             help="a resumable kind's finished parts (one file each), so a rerun after a kill goes on from there; "
             "removed once the artifact is written")  # fmt: skip
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    kind = ARTIFACTS.get(args.kind)
    if args.checkpoint_dir is not None and not kind.resumable:
        raise CondenseError(f"--kind {kind.name} is made in one go and cannot resume; drop --checkpoint-dir")
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    settings = kind.resolve(given_settings(args, _settings_classes()), data)
    parts: contextlib.AbstractContextManager = contextlib.nullcontext()
    if args.checkpoint_dir is not None:
        # what a kept part must match to be used, as a condensation checkpoint's identity (methods/checkpoint.py)
        identity = RunIdentity(run={"kind": kind.name, "dataset": data.name, "seed": args.seed, "device": device.type},
                               settings=asdict(settings), inputs={"data": file_digest(args.data)})  # fmt: skip
        parts = PartStore(args.checkpoint_dir, identity)
    with parts as store:  # the directory stays locked until the artifact is written and the parts are gone
        content = kind.make(data, settings, args.seed, device, store) if kind.resumable else kind.make(data, settings, args.seed, device)
        save_artifact(args.out, kind, data, asdict(settings), args.seed, content)
        if store is not None:
            store.clear()
    log.info("%s artifact of %s -> %s", kind.name, data.name, args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
