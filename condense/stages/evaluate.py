"""Evaluate an image set with a registered evaluation kind (default: accuracy) and write its record.

``--kind accuracy`` trains fresh random networks on the set and reports their test accuracy, by the reference
protocol (docs/reference-protocol.md): SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, lr ×0.1 at half
the epochs; 1000 epochs with DSA augmentation (for DSA and DM sets), 300 without. Each network gets its own seed
derived from the run seed, so a run is reproducible network by network. Every kind's settings are flags here
(``--kind NAME --help``); the record (``condense/data/records.py`` ``EvalRecord``) carries the set's provenance.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict

from ..core.checks import NON_NEGATIVE
from ..core.meters import EnergyMeter, peak_gpu_mb, peak_host_mb
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import resolve_device
from ..data.decoders import decode_set
from ..data.records import EvalRecord
from ..data.set_formats import SET_FORMATS, ReadOptions, check_fits, files_beside, read_set
from ..data.store import load_data
from ..evaluations import EVALUATIONS, EvalContext
from ._args import (
    add_common_arguments,
    add_ensemble_argument,
    add_number,
    add_path,
    add_settings_arguments,
    add_speed_argument,
    given_settings,  # fmt: skip
    speed_of,
)

log = logging.getLogger("condense.evaluate")


def _settings_classes() -> list[type]:
    return [kind.settings for _, kind in EVALUATIONS.items()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", default="accuracy", help=f"evaluation kind, one of: {', '.join(EVALUATIONS.names())}")
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download` (test set)")
    add_path(
        parser,
        "--set",
        INPUT,
        also=files_beside,
        required=True,
        help="image set to judge: a set of this package, or one made by other code (see --set-format)",
    )
    parser.add_argument(
        "--set-format",
        default="auto",
        choices=["auto", *SET_FORMATS.names()],
        help="how --set is stored (default auto: recognised by its content; condense.data.set_formats)",
    )
    add_number(
        parser, "--set-experiment", int, NON_NEGATIVE, default=0, help="which experiment of an official DC/DSA/DM result file (default 0)"
    )
    parser.add_argument("--model", default="convnet", help="network to train (see condense.models.classifiers.MODELS)")
    add_settings_arguments(parser, _settings_classes(), title="evaluation settings (default: the kind's reference value)")
    add_path(parser, "--out", OUTPUT, required=True, help="the evaluation record (JSON)")
    add_speed_argument(parser)
    add_ensemble_argument(parser)
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> None:
    kind = EVALUATIONS.get(args.kind)
    device = resolve_device(args.device)
    data = load_data(args.data, device, with_train=kind.needs_train)  # by default the set is the training data here
    synthetic = read_set(args.set, ReadOptions(dataset=data.name, experiment=args.set_experiment), args.set_format)
    check_fits(args.set, synthetic, data)
    synthetic = decode_set(synthetic)  # a parameterised set (IDC's multi-formation) as the images it trains on
    settings = kind.resolve(given_settings(args, _settings_classes()), data, synthetic)

    def report(values: dict) -> None:
        shown = ", ".join(f"{c.name} {values[c.name]:.4f}" for c in kind.columns if c.name in values)
        log.info("net %d: %s, %.1f s", values["net"] + 1, shown, values.get("seconds", float("nan")))

    meter = EnergyMeter(device)
    meter.start()
    context = EvalContext(model=args.model, seed=args.seed, device=device, speed=speed_of(args, device), hooks=[report])
    runs, extra = kind.run(synthetic, data, settings, context)
    cost = {"seconds": sum(r["seconds"] for r in runs), "device": str(device), "peak_host_mb": peak_host_mb(),
            "peak_gpu_mb": peak_gpu_mb(device), "energy_j": meter.joules(), "energy_meter": meter.name}  # fmt: skip
    summary = kind.summarize(runs)
    if summary["diverged"]:
        log.warning("%d of %d networks diverged (non-finite training loss); their values are left out of the mean",
                    summary["diverged"], len(runs))  # fmt: skip
    if summary["n"]:
        log.info("%s %s on %s: %.2f ± %.2f (%d nets)", args.kind, args.model, args.set, summary["mean"], summary["std"], summary["n"])
    record = EvalRecord(kind=kind.name, dataset=data.name, published_as=data.traits.published_as, model=args.model,
                        set=synthetic.provenance, set_path=str(args.set), settings=kind.record_settings(settings, data),
                        eval_seed=args.seed, device=str(device), runs=tuple(runs), summary=summary, cost=cost, extra=extra,
                        columns=tuple(asdict(c) for c in kind.columns))  # fmt: skip
    record.save(args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
