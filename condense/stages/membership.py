"""Membership inference (LiRA) against networks trained on condensed sets, random subsets or real data.

``condense membership --data D --source set --method dm --ipc 10 --shadows 16 --out R.json`` asks whether a
network trained on a condensed set reveals which real images were in the data it was condensed from:

1. a fixed pool of ``--pool-per-class`` training images per class; K = ``--shadows`` shadow pipelines, each
   pool image in exactly K/2 of them, drawn independently per image (:func:`condense.evaluations.lira.keep_matrix`);
2. each shadow's half is turned into what its network trains on: ``set`` condenses it with ``--method`` at
   ``--ipc`` (the method's settings flags as in ``condense distill``), ``random`` draws ``--ipc`` real images
   per class from it, ``half`` keeps all of it, ``dpsgd`` keeps all of it and trains with DP-SGD at ``--epsilon``
   (Opacus; :mod:`condense.training.dp_sgd`), the privacy baseline; a fresh ``--model`` network trains on that with the reference
   protocol (``--train-*``) and gives every pool image's logit confidence;
3. every pool image is queried as it is and, as the paper, as augmented views (``--query-mirror``: its mirror
   image where the dataset's classes survive a flip; ``--query-shift S``: shifts by ±S pixels);
4. LiRA leave-one-out (each shadow is in turn the target, attacked with the other K − 1), online and offline:
   ROC AUC and TPR at 1 % and 0.1 % FPR over every (target, image) pair, each with bootstrap intervals over
   images and over targets; for sets initialised from real images, the same for those images against the
   other members (the leak Carlini et al., "No Free Lunch in 'Privacy for Free'", point to);
5. the raw confidences (K × N × queries) and the keep matrix are saved beside the record
   (``<record>.scores.pt``), so that anyone can re-score the attack.

Deterministic per ``--seed`` on one device. The papers use many more shadows (LiRA: 256 on CIFAR-10, 64 for
its online attack's curves); with fewer than 64, LiRA fixes the variance across images (``--fixed-variance
auto``), as here.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..core.accel import EAGER
from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Bounds
from ..core.errors import CondenseError
from ..core.fileio import save_torch
from ..core.paths import INPUT, OUTPUT
from ..core.runtime import derive_seed, make_generator, resolve_device
from ..data.augment import resolve_strategy
from ..data.decoders import decode
from ..data.records import MembershipRecord
from ..data.store import load_data, subset_per_class
from ..evaluations.lira import bootstrap_intervals, keep_matrix, lira_scores, logit_confidence, roc, roc_statistics, tpr_at
from ..methods import METHODS, method_settings_classes
from ..methods.loop import FiniteGuard, LoopState, Run, condense
from ..methods.problem import Problem
from ..methods.spec import RUN_FIELDS
from ..models.classifiers import build_model
from ..training.dp_sgd import DPSettings, private_model, train_dp
from ..training.evaluation import train_network
from ..training.loop import accuracy
from ..training.protocol import TrainSettings
from ._args import add_common_arguments, add_number, add_path, add_settings_arguments, given_settings

log = logging.getLogger("condense.membership")
SOURCES = ("set", "random", "half", "dpsgd")
FPRS = (0.01, 0.001)
ROC_POINTS = 400  # the stored curve, thinned log-uniformly in FPR
SCORES_SUFFIX = ".scores.pt"


def scores_path(out: Path) -> Path:
    """The raw confidences and keep matrix beside a membership record: ``m.json`` -> ``m.scores.pt``."""
    return Path(out).with_suffix(SCORES_SUFFIX)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download`")
    parser.add_argument("--source", choices=SOURCES, default="set",
                        help="what each target network trains on: a set condensed from its half (set), a random real subset of "
                        "the same IPC (random), the whole half (half), or the whole half with DP-SGD at --epsilon (dpsgd)")  # fmt: skip
    parser.add_argument("--method", default="dm", help=f"condensation method for --source set: {', '.join(METHODS.names())}")
    add_number(parser, "--ipc", int, AT_LEAST_ONE, default=10, help="images per class of the set or random subset (default 10)")
    parser.add_argument("--condense-model", default="convnet", help="network the method matches with (default convnet)")
    add_settings_arguments(parser, method_settings_classes(), skip=RUN_FIELDS, owners=METHODS.names())
    add_number(parser, "--pool-per-class", int, AT_LEAST_ONE, default=50, help="pool images per class (default 50)")
    add_number(parser, "--shadows", int, AT_LEAST_ONE, default=16, help="shadow pipelines, even (default 16; LiRA: 64 to 256)")
    parser.add_argument("--fixed-variance", choices=["auto", "yes", "no"], default="auto",
                        help="one Gaussian variance for every image (auto: with fewer than 64 shadows, as LiRA)")  # fmt: skip
    parser.add_argument("--model", default="convnet", help="the target networks (default convnet)")
    add_number(parser, "--train-epochs", int, AT_LEAST_ONE, default=300, help="target training epochs (default 300, the reference)")
    parser.add_argument("--train-augment", default="none", help="none, dsa or a strategy string (default none)")
    add_number(parser, "--train-lr", float, POSITIVE, default=0.01, help="target training learning rate (default 0.01)")
    add_number(parser, "--train-batch-size", int, AT_LEAST_ONE, default=256, help="target training batch (default 256)")
    add_number(parser, "--test-per-class", int, NON_NEGATIVE, default=200,
               help="test images per class for the targets' accuracy (0 = all; default 200)")  # fmt: skip
    add_number(parser, "--epsilon", float, POSITIVE, default=None, help="--source dpsgd: the target ε of each network's training")
    add_number(parser, "--delta", float, Bounds(low=0, high=1, open_low=True), default=1e-5, help="--source dpsgd: δ (default 1e-5)")
    add_number(parser, "--max-grad-norm", float, POSITIVE, default=1.0, help="--source dpsgd: per-example clipping bound (default 1.0)")
    parser.add_argument("--query-mirror", choices=["auto", "yes", "no"], default="auto",
                        help="also query each image's mirror image (auto: where the dataset's classes survive a flip)")  # fmt: skip
    add_number(parser, "--query-shift", int, NON_NEGATIVE, default=0,
               help="also query shifts by ±S pixels in each axis (reflect-padded; 0 = none; the paper: 4 on CIFAR-10)")  # fmt: skip
    add_number(parser, "--bootstrap", int, NON_NEGATIVE, default=200, help="bootstrap resamples for the intervals (0 = none; default 200)")
    add_path(parser, "--out", OUTPUT, also=lambda out: [scores_path(out)], required=True,
             help=f"the membership record (JSON); the raw scores go beside it (<record>{SCORES_SUFFIX})")  # fmt: skip
    add_common_arguments(parser)


def subset(data, indices: torch.Tensor):
    """The data restricted to training images ``indices`` (the real images a shadow may use)."""
    labels = data.train_labels[indices]
    class_indices = [(labels == c).nonzero().flatten() for c in range(data.num_classes)]
    return replace(data, train_images=data.train_images[indices], train_labels=labels, class_indices=class_indices)


def condensed(half, spec, settings, seed: int, speed) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, labels, which of ``half``'s images initialised them): the method run on the shadow's half."""
    images, labels = spec.initial(half, settings, seed)
    init = spec.init_sources(half, settings, images)
    images.requires_grad_(True)
    optimizer = torch.optim.SGD([images], lr=settings.lr_img, momentum=spec.image_momentum)
    problem = Problem(half, images, labels, optimizer, settings, speed)
    spec.state.start(problem)
    condense(Run(spec, problem, seed, LoopState(), identity={}), [FiniteGuard()])
    # a parameterised set (IDC's multi-formation) trains the shadow networks as the images it decodes into
    decoded, decoded_labels, _ = decode(images.detach(), labels, spec.export(problem).get("decoder"))
    return decoded, decoded_labels, init


def query_views(mirror: bool, shift: int) -> list[tuple[bool, int, int]]:
    """(mirrored, dy, dx) of every query: the image itself first, then its mirror, then the shifts of each."""
    offsets = [(0, 0)] + [(dy, dx) for dy in (-shift, 0, shift) for dx in (-shift, 0, shift) if (dy, dx) != (0, 0)] if shift else [(0, 0)]
    return [(flip, dy, dx) for flip in ([False, True] if mirror else [False]) for dy, dx in offsets]


def view(images: torch.Tensor, mirrored: bool, dy: int, dx: int) -> torch.Tensor:
    """One query of N×C×H×W images: mirrored, then shifted by (dy, dx) with reflect padding (the paper's code)."""
    out = images.flip(-1) if mirrored else images
    if dy or dx:
        pad = max(abs(dy), abs(dx))
        h, w = out.shape[-2:]
        padded = torch.nn.functional.pad(out, (pad, pad, pad, pad), mode="reflect")
        out = padded[..., pad - dy : pad - dy + h, pad - dx : pad - dx + w]
    return out


def confidences(net, images: torch.Tensor, labels: torch.Tensor, views, batch: int = 1000) -> torch.Tensor:
    """N×Q logit confidences of ``net``, one column per query view."""
    net.eval()
    columns = []
    with torch.no_grad():
        for mirrored, dy, dx in views:
            logits = torch.cat([net(view(images[i : i + batch], mirrored, dy, dx)) for i in range(0, images.shape[0], batch)])
            columns.append(logit_confidence(logits, labels).cpu())
    return torch.stack(columns, dim=1)


def thin(fpr: torch.Tensor, tpr: torch.Tensor) -> dict:
    """At most ROC_POINTS points of the curve, log-uniform in FPR (the low-FPR end is what matters), each the
    upper corner of its step: the highest TPR reached at an FPR not above the target (a lower corner would
    understate the TPR at low FPR)."""
    targets = torch.logspace(-5, 0, ROC_POINTS, dtype=torch.float64)
    index = (torch.searchsorted(fpr, targets, right=True) - 1).clamp(min=0)
    index = torch.unique(torch.cat([torch.tensor([0, fpr.numel() - 1]), index]))
    return {"fpr": fpr[index].tolist(), "tpr": tpr[index].tolist()}


def intervals(scores: torch.Tensor, members: torch.Tensor, resamples: int, seed: int) -> dict | None:
    """95 % bootstrap intervals of AUC and each TPR, over images and over targets (None without resamples)."""
    if not resamples:
        return None
    statistics_ = roc_statistics(FPRS)
    return {over: {name: list(interval) for name, interval in
                   bootstrap_intervals(scores, members, statistics_, over, resamples, make_generator(seed)).items()}
            for over in ("images", "targets")}  # fmt: skip


def attack_summary(scores: torch.Tensor, members: torch.Tensor, resamples: int = 0, seed: int = 0, curve: bool = True) -> dict:
    fpr, tpr, auc = roc(scores, members)
    return {"auc": auc, "tpr": {str(at): tpr_at(fpr, tpr, at) for at in FPRS}, "roc": thin(fpr, tpr) if curve else None,
            "intervals": intervals(scores, members, resamples, seed)}  # fmt: skip


def run(args: argparse.Namespace) -> None:
    if args.shadows % 2 or args.shadows < 6:
        raise CondenseError(f"--shadows {args.shadows}: give an even number of at least 6 (each image IN for half of them)")
    if (args.source == "dpsgd") != (args.epsilon is not None):
        raise CondenseError("--epsilon goes with --source dpsgd and only with it; give both or neither")
    fixed = args.shadows < 64 if args.fixed_variance == "auto" else args.fixed_variance == "yes"
    device = resolve_device(args.device)
    data = load_data(args.data, device)
    mirror = data.traits.flip_safe if args.query_mirror == "auto" else args.query_mirror == "yes"
    if args.query_shift * 2 >= min(data.im_size):
        raise CondenseError(
            f"--query-shift {args.query_shift} is not below half the image size {tuple(data.im_size)}; give a smaller shift"
        )
    views = query_views(mirror, args.query_shift)
    spec = settings = None
    if args.source == "set":
        spec = METHODS.get(args.method)
        overrides = given_settings(args, method_settings_classes(), skip=RUN_FIELDS)
        settings = spec.resolve(ipc=args.ipc, model=args.condense_model, traits=data.traits, overrides=overrides)
    train = TrainSettings(epochs=args.train_epochs, lr=args.train_lr, batch_size=args.train_batch_size,
                          augment=resolve_strategy(args.train_augment, data.traits))  # fmt: skip
    pool = subset_per_class(data.train_labels, args.pool_per_class, data.num_classes, make_generator(derive_seed(args.seed, 1)),
                            flag="--pool-per-class", zero_for_all=False)  # fmt: skip
    pool_images, pool_labels = data.train_images[pool], data.train_labels[pool]
    keep = keep_matrix(pool_labels.cpu(), args.shadows, make_generator(derive_seed(args.seed, 2)))
    fewest = min(int((keep[k] & (pool_labels.cpu() == c)).sum()) for k in range(args.shadows) for c in range(data.num_classes))
    if args.source in ("set", "random") and fewest < args.ipc:
        raise CondenseError(f"a shadow's half holds only {fewest} images of some class, fewer than --ipc {args.ipc}; "
                            "raise --pool-per-class or lower --ipc")  # fmt: skip
    test = subset_per_class(data.test_labels, args.test_per_class, data.num_classes, make_generator(0), flag="--test-per-class")
    dp = DPSettings(args.epsilon, args.delta, args.max_grad_norm) if args.source == "dpsgd" else None
    if dp is not None:
        private_model(build_model(args.model, data.channel, data.num_classes, data.im_size))  # Opacus missing: fail before any work
    started = time.perf_counter()
    conf = torch.zeros((*keep.shape, len(views)), dtype=torch.float64)
    init = torch.zeros(keep.shape, dtype=torch.bool)
    accs, spent = [], []  # spent: the ε each DP-SGD network's accountant reached
    for k in range(args.shadows):
        shadow_seed = derive_seed(args.seed, 3, k)
        members = pool[keep[k].to(pool.device)]
        half = subset(data, members)
        if args.source == "set":
            images, labels, used = condensed(half, spec, settings, shadow_seed, speed=EAGER)
            init[k, keep[k]] = used.cpu()
        elif args.source == "random":
            chosen = subset_per_class(half.train_labels, args.ipc, data.num_classes, make_generator(shadow_seed))
            images, labels = half.train_images[chosen], half.train_labels[chosen]
        else:
            images, labels = half.train_images, half.train_labels
        net_seed = derive_seed(shadow_seed, 0)
        torch.manual_seed(net_seed)
        net = build_model(args.model, data.channel, data.num_classes, data.im_size).to(device)
        if dp is None:
            train_network(net, images, labels, train, make_generator(net_seed), desc=f"shadow {k + 1}/{args.shadows}")
        else:
            net = private_model(net).to(device)
            spent.append(train_dp(net, images, labels, train, dp, make_generator(net_seed))["epsilon"])
        conf[k] = confidences(net, pool_images, pool_labels, views)
        if not torch.isfinite(conf[k]).all():
            raise CondenseError(f"shadow {k + 1}'s network gives non-finite confidences (it diverged); lower --train-lr and rerun")
        accs.append(100 * accuracy(net, data.test_images[test], data.test_labels[test]))
        log.info("shadow %d/%d: %d members, trained on %d images, test accuracy %.2f", k + 1, args.shadows,
                 int(keep[k].sum()), labels.numel(), accs[-1])  # fmt: skip
    scores = lira_scores(conf, keep, fixed_variance=fixed)
    boot_seed = derive_seed(args.seed, 4)
    attack = attack_summary(scores, keep, args.bootstrap, boot_seed)
    offline = attack_summary(lira_scores(conf, keep, fixed_variance=fixed, online=False), keep, args.bootstrap, boot_seed)
    audit = None
    if init.any():
        others = keep & ~init
        audit = {
            "init_images": int(init.sum()),
            "init_vs_nonmembers": attack_summary(scores[init | ~keep], init[init | ~keep], curve=False),
            "other_members_vs_nonmembers": attack_summary(scores[others | ~keep], others[others | ~keep], curve=False),
        }
    record = MembershipRecord(
        dataset=data.name, source=args.source, method=args.method if args.source == "set" else None,
        ipc=args.ipc if args.source in ("set", "random") else None, model=args.model, shadows=args.shadows,
        pool_per_class=args.pool_per_class, fixed_variance=fixed, seed=args.seed,
        settings={"condensation": settings.to_dict() if settings else None, "training": train.to_dict(),
                  "dp": None if dp is None else {**dp.to_dict(), "epsilon_spent": max(spent)}},
        auc=attack["auc"], tpr=attack["tpr"], roc=attack["roc"], intervals=attack["intervals"],
        offline={key: offline[key] for key in ("auc", "tpr", "intervals")},
        queries=[{"mirror": m, "dy": dy, "dx": dx} for m, dy, dx in views], bootstrap=args.bootstrap,
        utility={"mean": statistics.fmean(accs), "std": statistics.pstdev(accs), "n": len(accs), "test_images": int(test.numel())},
        init_audit=audit, seconds=time.perf_counter() - started, device=str(device),
    )  # fmt: skip
    # the raw scores first: a record never names a scores file that is not there
    save_torch({"confidence": conf, "keep": keep, "queries": record.queries, "fixed_variance": fixed}, scores_path(args.out))
    record.save(args.out)
    log.info("LiRA on %s (%d shadows): AUC %.3f, TPR %.3f at 1%% FPR, %.3f at 0.1%% FPR", record.label, args.shadows,
             record.auc, record.tpr["0.01"], record.tpr["0.001"])  # fmt: skip


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
