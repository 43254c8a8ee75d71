"""Condense a dataset into a few synthetic images per class with a registered method (DC, DSA, DM, ...).

Every setting defaults to the method's reference value (its spec in ``condense/methods/``);
``--method NAME --help`` lists them all. ``--maps``, ``--mask`` and ``--selection`` draw the real
batches from attention-masked images (``condense saliency``, ``condense mask``); ``init real``
still starts from raw images, as the authors' code does. ``--checkpoint`` makes the run
resumable: rerun the same command after a kill and it ends with exactly the tensors of an
uninterrupted run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE
from ..core.digests import file_digest
from ..core.errors import CondenseError
from ..core.fileio import atomic_path
from ..core.meters import EnergyMeter, peak_gpu_mb, peak_host_mb
from ..core.paths import INPUT, OUTPUT, OUTPUT_DIR, STATE, check_io, path_args
from ..core.runtime import resolve_device
from ..data.maps import load_maps
from ..data.records import MaskInfo, Provenance, SyntheticSet
from ..data.store import RealData, denormalize, load_data
from ..masks.application import masked_data
from ..masks.fills import FILLS
from ..masks.saliency import SOURCES
from ..masks.schemes import SCHEMES
from ..masks.selection import load_selection
from ..masks.variant import parse_variant
from ..methods import METHODS, method_settings_classes
from ..methods.artifacts import load_artifact
from ..methods.checkpoint import STALE_CHOICES, CheckpointHook, RunIdentity
from ..methods.loop import EnergyHook, FiniteGuard, LogHook, LoopState, Run, SnapshotHook, condense, end_run
from ..methods.problem import Problem
from ..methods.spec import RUN_FIELDS
from ._args import (
    add_batch_classes_argument,
    add_common_arguments,
    add_number,
    add_path,
    add_settings_arguments,
    add_speed_argument,
    given_settings,
    speed_of,
)

log = logging.getLogger("condense.distill")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS.names())}")
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    add_number(parser, "--ipc", int, AT_LEAST_ONE, required=True, help="synthetic images per class")
    parser.add_argument("--model", default="convnet", help="network used for matching")
    add_settings_arguments(parser, method_settings_classes(), skip=RUN_FIELDS, owners=METHODS.names())
    add_path(parser, "--maps", INPUT, default=None, help="saliency maps from `condense saliency`: mask the real images")
    parser.add_argument("--mask", default=None, help=mask_help())
    add_path(parser, "--selection", INPUT, default=None, help="fixed scheme: which images are masked (`condense mask`)")
    parser.add_argument("--artifact", action="append", default=[], metavar="KIND=FILE",
                        help="an artifact the method requires (its `requires`), made by `condense artifact --kind KIND`; "
                        "repeat for each")  # fmt: skip
    add_path(
        parser,
        "--checkpoint",
        STATE,
        default=None,
        help="resume from / save to this file (only ever this run's checkpoint: another file there is refused, never overwritten)",
    )
    parser.add_argument("--restart", action="store_true", help="discard this run's checkpoint and start afresh")
    parser.add_argument(
        "--stale-checkpoint",
        choices=STALE_CHOICES,
        default="refuse",
        help="a checkpoint of this run made from other inputs or settings, damaged, or of an older format: "
        "refuse to run (default) or restart from scratch (what the workflow asks)",
    )
    add_number(parser, "--checkpoint-every", int, AT_LEAST_ONE, default=50, help="iterations between checkpoints")
    add_number(parser, "--log-every", int, AT_LEAST_ONE, default=10, help="iterations between log lines")
    add_number(parser, "--stop-after", int, NON_NEGATIVE, default=None, help=argparse.SUPPRESS)  # tests: simulate a kill
    parser.add_argument(
        "--snapshot-at",
        default="",
        help="comma-separated iterations after which the set is also written "
        "(to --snapshots DIR/it<N>.pt), for accuracy over the course of condensation",
    )
    add_path(parser, "--snapshots", OUTPUT_DIR, default=None, help="directory of the snapshots")
    add_path(parser, "--out", OUTPUT, required=True, help="synthetic image set (.pt)")
    add_path(parser, "--grid", OUTPUT, default=None, help="PNG grid of the synthetic images")
    add_speed_argument(parser)
    add_batch_classes_argument(parser)
    add_common_arguments(parser)


def mask_help() -> str:
    """The variant grammar with every registered name, so a user learns the fills and schemes here."""
    return ("mask variant <source>-r<ratio>-<fill>-<shape>-<scheme>, e.g. fcn-r1.0-mean-soft-fixed; "
            f"sources: {', '.join(SOURCES.names())}; ratio in [0, 1]; fills: {describe(FILLS)}; shapes: soft (the map as "
            f"is) or hard<q> (each image's top q of pixels, q in (0, 1]); schemes: {describe(SCHEMES)}")  # fmt: skip


def describe(registry) -> str:
    return "; ".join(f"{name} ({entry.summary})" for name, entry in registry.items())


def resolve_settings(args: argparse.Namespace, data: RealData):
    """The run's settings: the method's reference values, then the flags given."""
    spec = METHODS.get(args.method)
    overrides = given_settings(args, method_settings_classes(), skip=RUN_FIELDS)
    settings = spec.resolve(ipc=args.ipc, model=args.model, traits=data.traits, overrides=overrides)
    smallest = min(data.class_size(c) for c in range(data.num_classes))
    if settings.ipc > smallest and settings.init == "real":
        raise CondenseError(f"--ipc {settings.ipc} exceeds the {smallest} images of the smallest class; lower it or use --init noise")
    return settings


def masked_real(args: argparse.Namespace, data: RealData):
    """(what real batches are drawn from, the variant or None)."""
    if args.mask is None and args.maps is None and args.selection is None:
        return data, None
    if args.mask is None or args.maps is None:
        raise CondenseError("masked condensation needs --mask VARIANT and --maps FILE (and --selection for the fixed scheme)")
    variant = parse_variant(args.mask)
    selected = None
    if SCHEMES.get(variant.scheme).needs_selection:
        if args.selection is None:
            raise CondenseError(
                f"--mask {args.mask} uses the {variant.scheme} scheme, which needs --selection (from `condense mask --ratio {variant.ratio}`)"
            )
        selection = load_selection(args.selection, data.name, data.train_images.shape[0])
        if abs(float(selection["ratio"]) - variant.ratio) > 1e-12:
            raise CondenseError(
                f"selection {str(args.selection)!r} is for ratio {selection['ratio']}, but --mask {args.mask} names "
                f"ratio {variant.ratio}; pass the selection of that ratio"
            )
        selected = selection["selected"]
    elif args.selection is not None:
        raise CondenseError(f"--mask {args.mask} uses the {variant.scheme} scheme, which takes no --selection; drop it")
    real = masked_data(data, load_maps(args.maps), variant, selected)
    share = (
        f"{int(selected.sum())} of {data.train_images.shape[0]} images"
        if selected is not None
        else f"floor({variant.ratio}·n) of every batch"
    )
    log.info("matching against %s masked with %s: %s masked", args.maps, variant.build(), share)
    return real, variant


def snapshot_iterations(text: str, iterations: int) -> list[int]:
    """'10,50' -> [10, 50]: each an iteration before the last (the final set is the last point)."""
    its = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            it = int(part)
        except ValueError:
            raise CondenseError(f"--snapshot-at {text!r}: {part!r} is not an iteration; give comma-separated integers") from None
        if not 0 <= it < iterations:
            raise CondenseError(
                f"--snapshot-at {it} is outside 0..{iterations - 1} (the final set, iteration {iterations}, is written anyway)"
            )
        its.append(it)
    return sorted(set(its))


def save_grid(path: Path, images: torch.Tensor, data: RealData, ipc: int) -> None:
    from torchvision.utils import save_image

    with atomic_path(path) as tmp:
        save_image(denormalize(images.detach().cpu(), data.mean, data.std), tmp, nrow=ipc if ipc > 1 else data.num_classes, format="png")


def cost(state, per_iteration: int, device) -> dict:
    """What the run has cost so far: seconds iterating, real images per second, peak memory, energy (a meter or None)."""
    iterations = len(state.losses)
    return {
        "seconds": state.seconds,
        "iterations": iterations,
        "device": str(device),
        # None (shown "—") where nothing was timed or the method draws no real images (MTT reads its experts)
        "real_images_per_second": per_iteration * iterations / state.seconds if state.seconds and per_iteration else None,
        "peak_host_mb": peak_host_mb(),
        "peak_gpu_mb": peak_gpu_mb(device),
        "energy_j": state.energy_j,
        "energy_meter": EnergyMeter(device).name,
    }


def mask_info(variant) -> MaskInfo:
    return MaskInfo(variant.build(), variant.describe(), variant.ratio, variant.is_paper(), variant.source, variant.fill)


def artifact_paths(args: argparse.Namespace) -> dict[str, Path]:
    """``--artifact KIND=FILE`` flags as {kind: file}."""
    found = {}
    for text in args.artifact:
        kind, sep, path = text.partition("=")
        if not sep or not kind or not path:
            raise CondenseError(f"--artifact {text!r} does not read as KIND=FILE, e.g. --artifact experts=results/experts.pt")
        if kind in found:
            raise CondenseError(f"--artifact {kind} is given twice; give each kind once")
        found[kind] = Path(path)
    return found


def required_artifacts(spec, given: dict[str, Path], data: RealData) -> dict:
    """The method's required artifacts, loaded and checked (kind, dataset); a missing or unasked one is an error."""
    for kind in spec.requires:
        if kind not in given:
            raise CondenseError(f"--method {spec.name} requires --artifact {kind}=FILE (make it with `condense artifact --kind {kind}`)")
    for kind in given:
        if kind not in spec.requires:
            wanted = ", ".join(spec.requires) or "none"
            raise CondenseError(f"--artifact {kind} is not an artifact {spec.name} requires (it requires: {wanted}); drop it")
    return {kind: load_artifact(path, kind, data.name) for kind, path in given.items()}


def input_digests(args: argparse.Namespace, artifacts: dict[str, Path]) -> dict:
    """sha256 of every input file the set is made from: a checkpoint is resumed only against the same ones."""
    named = [("data", args.data), ("maps", args.maps), ("selection", args.selection), *((f"artifact:{k}", p) for k, p in artifacts.items())]
    return {name: file_digest(path) for name, path in named if path is not None}


def snapshot_paths(args: argparse.Namespace) -> dict:
    """Iteration -> snapshot file, checked like every other output before any work (with an early settings
    resolution: ``--snapshot-at`` is checked against the iterations once the data is loaded)."""
    its = [part.strip() for part in args.snapshot_at.split(",") if part.strip()]
    if its and args.snapshots is None:
        raise CondenseError("--snapshot-at needs --snapshots DIR (where the snapshot sets go)")
    return {int(it): args.snapshots / f"it{int(it)}.pt" for it in its if it.lstrip("-").isdigit()}


def run(args: argparse.Namespace) -> None:
    written = [
        ("--out", args.out, OUTPUT),
        ("--grid", args.grid, OUTPUT),
        ("--checkpoint", args.checkpoint, STATE),
        ("--data", args.data, INPUT),
        ("--maps", args.maps, INPUT),
        ("--selection", args.selection, INPUT),
    ]
    artifacts = artifact_paths(args)
    written += [(f"--artifact {kind}", path, INPUT) for kind, path in artifacts.items()]
    check_io(path_args(written + [(f"--snapshots (it{it})", path, OUTPUT) for it, path in snapshot_paths(args).items()]))
    device = resolve_device(args.device)
    inputs = input_digests(args, artifacts)
    data = load_data(args.data, device)
    settings = resolve_settings(args, data)
    spec = METHODS.get(settings.method)
    loaded = required_artifacts(spec, artifacts, data)
    images, labels = spec.initial(data, settings, args.seed)  # raw images, as the authors' code starts from
    real, variant = masked_real(args, data)
    images.requires_grad_(True)
    optimizer = torch.optim.SGD([images], lr=settings.lr_img, momentum=spec.image_momentum)
    problem = Problem(real, images, labels, optimizer, settings, speed_of(args, device), artifacts=loaded)
    spec.state.start(problem)  # what the method learns besides the images
    identity = RunIdentity(
        run={
            "dataset": data.name,
            "method": settings.method,
            "ipc": settings.ipc,
            "seed": args.seed,
            "model": settings.model,
            "mask": variant.build() if variant else None,
        },
        settings=settings.to_dict(),
        inputs=inputs,
    )
    snapshots = snapshot_iterations(args.snapshot_at, settings.iterations)
    made = Provenance(
        dataset=data.name,
        method=settings.method,
        ipc=settings.ipc,
        seed=args.seed,
        model=settings.model,
        settings=settings.to_dict(),
        mask=mask_info(variant) if variant else None,
        inputs=inputs,
        device=str(device),
    )
    per_iteration = spec.real_images_per_iteration(settings, data.num_classes)

    def snapshot_of(run, it) -> Provenance:
        state = run.state
        return replace(made, iteration=it, final=False, losses=tuple(state.losses), seconds=state.seconds,
                       cost=cost(state, per_iteration, device))  # fmt: skip

    # the guard first: nothing non-finite is logged as progress, snapshotted or checkpointed
    hooks = [FiniteGuard(), EnergyHook(EnergyMeter(device)), LogHook(args.log_every)]
    snapshot_hook = SnapshotHook({it: args.snapshots / f"it{it}.pt" for it in snapshots}, snapshot_of) if snapshots else None
    state = LoopState()
    if args.checkpoint is not None:
        checkpoint = CheckpointHook(args.checkpoint, args.checkpoint_every, restart=args.restart, on_stale=args.stale_checkpoint)
        state = checkpoint.resume(problem, identity, snapshots, spec.state) or state
        hooks.append(checkpoint)
    if snapshot_hook is not None:
        hooks.append(snapshot_hook)
    run_ = Run(spec, problem, args.seed, state, identity.to_dict())
    if snapshot_hook is not None:
        snapshot_hook.restore(run_)  # the snapshots a resumed run owes, as the checkpoint carries them
    log.info("%s: %s", settings.method, settings.to_dict())
    if not condense(run_, hooks, stop_after=args.stop_after):
        log.info("stopped after iteration %d as asked; the checkpoint holds the state", state.next_iteration - 1)
        return
    final = replace(made, iteration=settings.iterations, losses=tuple(state.losses), seconds=state.seconds,
                    cost=cost(state, per_iteration, device))  # fmt: skip
    SyntheticSet(images.detach(), labels, final, **spec.export(problem)).save(args.out)
    if args.grid is not None:
        save_grid(args.grid, images, data, settings.ipc)
    end_run(run_, hooks)
    log.info(
        "%s ipc %d: %d iterations in %.0f s, final loss %.4f -> %s",
        settings.method,
        settings.ipc,
        len(state.losses),
        state.seconds,
        state.losses[-1],
        args.out,
    )


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
