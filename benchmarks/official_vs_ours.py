"""Time the official DC/DSA/DM code and ours in one process, at identical settings, interleaved.

    .venv/bin/python benchmarks/official_vs_ours.py --official /path/to/DatasetCondensation \\
        [--rows dm_ipc1 dc_inner_epoch_ipc10 ...] [--repeats 3] [--threads 2] [--device cpu|cuda] \\
        [--compile] [--batched] [--out benchmarks/results/official_vs_ours]

Without ``--official`` (or ``$CONDENSE_OFFICIAL_DIR``) the official code is cloned from GitHub into
``benchmarks/.official/`` (git-ignored) at the pinned commit (``--official-url`` may name a mirror).
It is imported with the torch-compatibility fixes applied in memory (``PATCHES``); its files are
never edited. The official side calls its own functions (get_network, match_loss, DiffAugment,
ParamDiffAug, epoch, get_loops, TensorDataset) in the order of its main.py / main_DM.py (``Official``);
our side calls condense's public entry points from one adapter (``Ours``). One difference in the
official side's favour: its test loader reads a TensorDataset, not torchvision's FashionMNIST with
ToTensor/Normalize, so no per-image decoding is timed.

Both sides get the same data (random tensors of FashionMNIST's shape, 6000 images per class, 10,000
test images: the cost does not depend on pixel values), the same thread count and the same allocator
setting (the script re-executes itself with condense/allocator.py's environment). Every row runs one
untimed warm-up per side (reported as ``warmup_s``: it holds any compilation), then ``--repeats``
timed samples alternating official, ours, official, ours, ...; medians are compared. The fp32 matmul
rate is measured in the same run, and the ConvNet training step is also reported in GFLOP/s
(FLOPs from torch.utils.flop_counter.FlopCounterMode on the official network; same architecture).

Writes ``OUT.json`` (machine, settings, official commit and patches, every sample) and ``OUT.md``
after every row, each atomically.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from bench_common import ensure_allocator_env, fake_data, machine_info, matmul_gflops, timed, write_text

HERE = Path(__file__).resolve().parent
OFFICIAL_URL = "https://github.com/VICO-UoE/DatasetCondensation"
OFFICIAL_COMMIT = "53f63a672eab9ade02aabe6432706ef56f317d64"  # master, 2023-11-27
# git blob ids of the files we use at OFFICIAL_COMMIT: identify a copy that is not a git checkout.
OFFICIAL_BLOBS = {
    "utils.py": "2fc134f88fc77c5dc6bb8833f7a88392f549da6a",
    "networks.py": "cdebf2ea016b337517d419301e6996c096b777ba",
    "main.py": "3d957b752a5132847101f5effa01f8053d3affc1",
    "main_DM.py": "6e0439acea824714fc514496d27ded6dffa71df2",
}
SHAPE, CLASSES, STRATEGY = (1, 28, 28), 10, "color_crop_cutout_flip_scale_rotate"
SPEEDUP_TARGET, MATMUL_FRACTION_TARGET = 2.0, 0.6


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    kind: str  # dm | dc | dsa: one iteration; inner | train | step: one training epoch; test: one test pass
    ipc: int = 10  # synthetic images per class (inner/train rows: their training set; step: one batch of 256)
    model: str = "convnet"
    outer: int | None = None  # outer loops of a DC/DSA iteration (None: the reference table)
    issue_s: float | None = None  # the official time measured on the 2-core CPU machine (issue 7), for orientation


ROWS = {
    r.name: r
    for r in [
        Row("dm_ipc1", "DM iteration, IPC 1", "dm", 1, issue_s=6.3),
        Row("dm_ipc10", "DM iteration, IPC 10", "dm", 10, issue_s=7.0),
        Row("dm_ipc50", "DM iteration, IPC 50", "dm", 50, issue_s=7.8),
        Row("dc_ipc1", "DC iteration, IPC 1", "dc", 1, issue_s=17.3),
        Row("dc_match_ipc10", "DC matching step (one outer loop, 10 classes), IPC 10", "dc", 10, outer=1, issue_s=21.0),
        Row("dc_inner_epoch_ipc10", "DC inner-loop epoch on the synthetic set, IPC 10", "inner", 10, issue_s=0.67),
        Row("dsa_ipc1", "DSA iteration, IPC 1", "dsa", 1, issue_s=15.9),
        Row("eval_convnet_train", "evaluation: ConvNet train epoch, 100 images, DSA aug", "train", 10, issue_s=0.42),
        Row("eval_convnet_test", "evaluation: ConvNet test pass, 10,000 images", "test", issue_s=27.0),
        Row("eval_alexnet_train", "evaluation: AlexNet train epoch, 100 images, DSA aug", "train", 10, "alexnet", issue_s=1.3),
        Row("eval_alexnet_test", "evaluation: AlexNet test pass, 10,000 images", "test", model="alexnet", issue_s=53.0),
        Row("convnet_step_b256", "ConvNet training step, batch 256 (fwd+bwd+SGD)", "step"),
    ]
}


def training_set(row: Row, device):
    """Random images and labels for the inner/train/step rows (the same size on both sides)."""
    import torch

    n = 256 if row.kind == "step" else CLASSES * row.ipc
    return torch.randn(n, *SHAPE, device=device), torch.arange(n, device=device) % CLASSES


# ------------------------------------------------------------------------------------ official code

# Fixes for current torch, applied to the source text in memory (line numbers stay the same).
PATCHES = [  # (file, regex, replacement, summary, why)
    (
        "utils.py",
        r"(\w+)\[:\] = \1\[0\]$",
        r"\1[:] = \1[0].clone()",
        "`v[:] = v[0]` -> `v[:] = v[0].clone()`",
        "siamese `v[:] = v[0]` writes a tensor into itself; torch rejects the overlapping copy (IPC 1 batches)",
    ),
    (
        "networks.py",
        r"\.view\(",
        ".reshape(",
        "`.view(` -> `.reshape(`",
        "`.view(n, -1)` fails on channels-last feature maps (1-channel batches after DiffAugment's crop)",
    ),
]
SCIPY_STUB = {
    "file": "utils.py",
    "count": 1,
    "change": "stub `scipy.ndimage.interpolation.rotate` (scipy not installed)",
    "why": "imported for DC augmentation (augment()), which no row runs; calling it raises",
}


def blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def fetch_official(dest: Path, url: str = OFFICIAL_URL, commit: str = OFFICIAL_COMMIT) -> Path:
    """A checkout of the official code at ``commit`` in ``dest`` (cloned on first use)."""
    if not (dest / "utils.py").exists():
        print(f"cloning {url} into {dest} ...", flush=True)
        subprocess.run(["git", "clone", "--quiet", url, str(dest)], check=True)
        subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", commit], check=True)
    return dest


def official_identity(path: Path) -> dict:
    blobs = {name: blob_id(path / name) for name in OFFICIAL_BLOBS if (path / name).exists()}
    commit = None
    if (path / ".git").exists():
        commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    elif blobs == OFFICIAL_BLOBS:
        commit = OFFICIAL_COMMIT
    return {
        "path": str(path),
        "commit": commit,
        "pinned_commit": OFFICIAL_COMMIT,
        "matches_pinned": blobs == OFFICIAL_BLOBS,
        "blobs": blobs,
    }


def load_official(path: Path) -> tuple[types.ModuleType, list[dict]]:
    """Import the official ``utils`` (and its ``networks``) from ``path`` with ``PATCHES`` applied."""
    applied = []
    try:
        import scipy.ndimage.interpolation  # noqa: F401  (utils.py imports it for DC's augment, unused here)
    except ImportError:

        def rotate(*args, **kwargs):
            raise RuntimeError("scipy is not installed: the official DC augmentation (not benchmarked) needs it")

        for name in ("scipy", "scipy.ndimage", "scipy.ndimage.interpolation"):
            sys.modules[name] = types.ModuleType(name)
        sys.modules["scipy.ndimage.interpolation"].rotate = rotate
        applied.append(SCIPY_STUB)
    # affine_grid / grid_sample / meshgrid default-argument notices from their code, once per line
    warnings.filterwarnings("ignore", category=UserWarning, module="utils")
    warnings.filterwarnings("ignore", message="torch.meshgrid: in an upcoming release", category=UserWarning)
    modules = {}
    for name in ("networks", "utils"):  # utils.py does `from networks import ...`
        file = path / f"{name}.py"
        source = file.read_text()
        for target, pattern, repl, summary, why in PATCHES:
            if target == file.name:
                source, n = re.subn(pattern, repl, source, flags=re.MULTILINE)
                applied.append({"file": target, "count": n, "change": summary, "regex": f"{pattern} -> {repl}", "why": why})
        module = types.ModuleType(name)
        module.__file__ = str(file)
        sys.modules[name] = module
        exec(compile(source, str(file), "exec"), module.__dict__)
        modules[name] = module
    return modules["utils"], applied


class Official:
    """Drives the official functions the way its main.py / main_DM.py do (line numbers at OFFICIAL_COMMIT)."""

    def __init__(self, utils: types.ModuleType, data, device):
        import torch

        self.u, self.device = utils, device
        self.args = SimpleNamespace(
            device=str(device),
            dis_metric="ours",
            lr_net=0.01,
            batch_real=256,
            batch_train=256,
            dsa=False,
            dsa_strategy=STRATEGY,
            dsa_param=utils.ParamDiffAug(),
            dc_aug_param=None,
        )
        self.images_all = data.train_images  # main.py L70-76: all training images on the device, class index lists
        self.indices_class = [idx.tolist() for idx in data.class_indices]
        self.test_images, self.test_labels = data.test_images, data.test_labels
        self.criterion = torch.nn.CrossEntropyLoss().to(device)  # main.py L102

    def get_images(self, c, n):  # main.py L79-81
        import numpy as np

        return self.images_all[np.random.permutation(self.indices_class[c])[:n]]

    def network(self, model):
        name = {"convnet": "ConvNet", "alexnet": "AlexNet"}[model]
        return self.u.get_network(name, SHAPE[0], CLASSES, SHAPE[1:]).to(self.device)  # main.py L147

    def synthetic(self, ipc, lr_img):  # main.py L86-87, L99
        import torch

        image_syn = torch.randn(size=(CLASSES * ipc, *SHAPE), dtype=torch.float, requires_grad=True, device=self.device)
        label_syn = torch.arange(CLASSES, device=self.device).repeat_interleave(ipc)
        return image_syn, label_syn, torch.optim.SGD([image_syn], lr=lr_img, momentum=0.5)

    def gradient_matching(self, ipc, outer_loop, inner_loop, dsa):
        """One iteration of main.py L146-218 (ConvNet has no BatchNorm: the L157-173 branch is idle)."""
        import torch

        u, args, criterion = self.u, self.args, self.criterion
        image_syn, label_syn, optimizer_img = self.synthetic(ipc, 0.1)
        channel, im_size = SHAPE[0], SHAPE[1:]

        def iteration():
            args.dsa = dsa
            net = self.network("convnet")
            net.train()
            net_parameters = list(net.parameters())
            optimizer_net = torch.optim.SGD(net.parameters(), lr=args.lr_net)
            optimizer_net.zero_grad()
            loss_avg = 0
            for ol in range(outer_loop):
                loss = torch.tensor(0.0).to(args.device)  # L178-205
                for c in range(CLASSES):
                    img_real = self.get_images(c, args.batch_real)
                    lab_real = torch.ones((img_real.shape[0],), device=args.device, dtype=torch.long) * c
                    img_syn = image_syn[c * ipc : (c + 1) * ipc].reshape((ipc, channel, im_size[0], im_size[1]))
                    lab_syn = torch.ones((ipc,), device=args.device, dtype=torch.long) * c
                    if args.dsa:
                        seed = int(time.time() * 1000) % 100000
                        img_real = u.DiffAugment(img_real, args.dsa_strategy, seed=seed, param=args.dsa_param)
                        img_syn = u.DiffAugment(img_syn, args.dsa_strategy, seed=seed, param=args.dsa_param)
                    output_real = net(img_real)
                    loss_real = criterion(output_real, lab_real)
                    gw_real = torch.autograd.grad(loss_real, net_parameters)
                    gw_real = list(_.detach().clone() for _ in gw_real)
                    output_syn = net(img_syn)
                    loss_syn = criterion(output_syn, lab_syn)
                    gw_syn = torch.autograd.grad(loss_syn, net_parameters, create_graph=True)
                    loss += u.match_loss(gw_syn, gw_real, args)
                optimizer_img.zero_grad()
                loss.backward()
                optimizer_img.step()
                loss_avg += loss.item()
                if ol == outer_loop - 1:
                    break
                image_syn_train, label_syn_train = copy.deepcopy(image_syn.detach()), copy.deepcopy(label_syn.detach())  # L211-216
                dst_syn_train = u.TensorDataset(image_syn_train, label_syn_train)
                trainloader = torch.utils.data.DataLoader(dst_syn_train, batch_size=args.batch_train, shuffle=True, num_workers=0)
                for _ in range(inner_loop):
                    u.epoch("train", trainloader, net, optimizer_net, criterion, args, aug=bool(args.dsa))
            return loss_avg / (CLASSES * outer_loop)

        return iteration

    def distribution_matching(self, ipc):
        """One iteration of main_DM.py L138-197, ConvNet branch (L149-163)."""
        import torch

        args = self.args
        image_syn, _, optimizer_img = self.synthetic(ipc, 1.0)
        channel, im_size = SHAPE[0], SHAPE[1:]

        def iteration():
            args.dsa = True  # main_DM.py L38: DSA on with the default strategy
            net = self.network("convnet")
            net.train()
            for param in list(net.parameters()):
                param.requires_grad = False
            embed = net.embed
            loss = torch.tensor(0.0).to(args.device)
            for c in range(CLASSES):
                img_real = self.get_images(c, args.batch_real)
                img_syn = image_syn[c * ipc : (c + 1) * ipc].reshape((ipc, channel, im_size[0], im_size[1]))
                if args.dsa:
                    seed = int(time.time() * 1000) % 100000
                    img_real = self.u.DiffAugment(img_real, args.dsa_strategy, seed=seed, param=args.dsa_param)
                    img_syn = self.u.DiffAugment(img_syn, args.dsa_strategy, seed=seed, param=args.dsa_param)
                output_real = embed(img_real).detach()
                output_syn = embed(img_syn)
                loss += torch.sum((torch.mean(output_real, dim=0) - torch.mean(output_syn, dim=0)) ** 2)
            optimizer_img.zero_grad()
            loss.backward()
            optimizer_img.step()
            return loss.item() / CLASSES

        return iteration

    def prepare(self, row: Row):
        import torch

        u, args = self.u, self.args
        if row.kind == "dm":
            return self.distribution_matching(row.ipc)
        if row.kind in ("dc", "dsa"):
            outer, inner = u.get_loops(row.ipc)
            return self.gradient_matching(row.ipc, row.outer or outer, inner, row.kind == "dsa")
        net = self.network(row.model)
        if row.kind == "test":  # utils.get_dataset L100, evaluate_synset L358
            loader = torch.utils.data.DataLoader(
                u.TensorDataset(self.test_images, self.test_labels), batch_size=256, shuffle=False, num_workers=0
            )
            return lambda: u.epoch("test", loader, net, None, self.criterion, args, aug=False)
        images, labels = training_set(row, self.device)
        loader = torch.utils.data.DataLoader(u.TensorDataset(images, labels), batch_size=args.batch_train, shuffle=True, num_workers=0)
        if row.kind == "inner":  # main.py L209-215: plain SGD, DC mutes augmentation
            optimizer, aug = torch.optim.SGD(net.parameters(), lr=args.lr_net), False
        else:  # evaluate_synset L341-350: SGD with momentum and weight decay, DSA augmentation
            optimizer, aug = torch.optim.SGD(net.parameters(), lr=args.lr_net, momentum=0.9, weight_decay=0.0005), row.kind == "train"

        def run():
            args.dsa = aug
            return u.epoch("train", loader, net, optimizer, self.criterion, args, aug=aug)

        return run


# ------------------------------------------------------------------------------------- our side
# The one place that calls condense: keep it in sync with condense's public entry points.
# ``options`` (--ours-option NAME=VALUE) go to every entry point that has a parameter (or, for
# a method's settings, a field) of that name, so a new flag such as ``compile`` needs no code here.


class Ours:
    """Our side, through the entry points the stages use: a Problem and METHODS for condensation,
    one reused FastNet with train_epoch / accuracy for evaluation. ``speed`` is condense.core.accel.Speed
    (eager, or torch.compile + channels-last with --compile)."""

    def __init__(self, data, device, speed):
        self.data, self.device, self.speed = data, device, speed

    def prepare(self, row: Row):
        import torch

        from condense.core.accel import FastNet
        from condense.core.runtime import make_generator
        from condense.methods import METHODS
        from condense.methods.problem import Problem
        from condense.models.classifiers import build_model
        from condense.training.loop import accuracy, train_epoch

        data, device, gen, speed = self.data, self.device, make_generator(0), self.speed
        if row.kind in ("dm", "dc", "dsa"):
            spec = METHODS.get(row.kind)  # reference lr_img and (outer, inner) loops by IPC
            overrides = {"augment": "none" if row.kind == "dc" else STRATEGY, "outer_loop": row.outer}
            settings = spec.resolve(
                ipc=row.ipc, model="convnet", traits=data.traits, overrides={k: v for k, v in overrides.items() if spec.takes(k)}
            )
            images = torch.randn(CLASSES * row.ipc, *SHAPE, device=device, requires_grad=True)
            labels = torch.arange(CLASSES, device=device).repeat_interleave(row.ipc)
            problem = Problem(
                data, images, labels, torch.optim.SGD([images], lr=settings.lr_img, momentum=spec.image_momentum), settings, speed
            )
            return lambda: spec.step(problem, gen)
        net = FastNet(build_model(row.model, data.channel, data.num_classes, data.im_size).to(device), speed)
        if row.kind == "test":
            return lambda: accuracy(net.forward, data.test_images, data.test_labels, speed=speed)
        images, labels = training_set(row, device)
        if row.kind == "inner":
            optimizer, strategy = torch.optim.SGD(net.parameters(), lr=0.01), "none"
        else:
            optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            strategy = STRATEGY if row.kind == "train" else "none"
        return lambda: train_epoch(net.forward, optimizer, images, labels, 256, gen, strategy, speed)


# --------------------------------------------------------------------------------- measurement


def step_flops(official: Official) -> int:
    """FLOPs of one ConvNet forward + backward on 256 images (the SGD update is not counted)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    net = official.network("convnet")
    images, labels = torch.randn(256, *SHAPE, device=official.device), torch.arange(256, device=official.device) % CLASSES
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(images), labels).backward()
    return counter.get_total_flops()


def measure(row: Row, sides: dict, repeats: int, device) -> dict:
    result = {"name": row.name, "label": row.label, "issue_official_s": row.issue_s, "loadavg_before": os.getloadavg()}
    runs = {}
    for side, impl in sides.items():
        began = time.perf_counter()
        runs[side] = impl.prepare(row)
        setup = time.perf_counter() - began
        warmup = timed(runs[side], device)
        result[side] = {"setup_s": setup, "warmup_s": warmup, "samples_s": []}
        print(f"  {side:8s} warm-up {warmup:8.3f} s (setup {setup:.2f} s)", flush=True)
    for i in range(repeats):
        for side in sides:
            seconds = timed(runs[side], device)
            result[side]["samples_s"].append(seconds)
            print(f"  {side:8s} {i + 1}/{repeats}   {seconds:8.3f} s", flush=True)
    for side in sides:
        result[side]["median_s"] = statistics.median(result[side]["samples_s"])
    ours = [side for side in sides if side != "official"]
    result["speedup"] = {side: result["official"]["median_s"] / result[side]["median_s"] for side in ours}
    result["target_met"] = max(result["speedup"].values()) >= SPEEDUP_TARGET
    return result


def markdown(report: dict) -> str:
    m = report["machine"]
    mm = report["matmul"]
    lines = [
        f"# Official DC/DSA/DM code vs condense, same process ({report['settings']['device']})",
        "",
        f"{m['date']} · {m.get('gpu', m['cpu'])} · {m['cores']} cores · torch {m['torch']} · {m['threads']} threads · "
        f"env {' '.join(f'{k}={v}' for k, v in m['env'].items()) or '(none)'} · load average at start {m['loadavg'][0]:.1f}",
        f"Official code: {report['official']['commit'] or 'unknown commit'} "
        f"({'pinned' if report['official']['matches_pinned'] else 'NOT the pinned commit'}), patched in memory: "
        + "; ".join(f"{p['file']} {p['change']} ({p['count']}×)" for p in report["official"]["patches"])
        + ".",
        f"Medians of {report['settings']['repeats']} interleaved samples after one warm-up; "
        f"fp32 matmul ({mm['n']}²): {mm['gflops']:.0f} GFLOP/s.",
        "",
    ]
    ours = report["settings"]["ours_sides"]
    lines += [
        "| workload | official s | "
        + " | ".join(f"{side} s" for side in ours)
        + " | "
        + " | ".join(f"speed-up {side}" for side in ours)
        + " | target ≥2× met? | official s (issue 7) |",
        "|---|---|" + "---|" * (2 * len(ours)) + "---|---|",
    ]
    for r in report["rows"]:
        issue = f"{r['issue_official_s']:g}" if r["issue_official_s"] is not None else ""
        if "error" in r:
            lines.append(f"| {r['label']} |" + " |" * (1 + 2 * len(ours)) + f" error: {r['error']} | {issue} |")
            continue
        target = "yes" if r["target_met"] else "no"
        if "gflops" in r:
            g = r["gflops"]
            target += (
                f"; GFLOP/s official {g['official']:.0f}, "
                + ", ".join(f"{side} {g[side]:.0f}" for side in ours)
                + f"; best {100 * g['best_fraction_of_matmul']:.0f}% of matmul "
                f"(≥{100 * MATMUL_FRACTION_TARGET:.0f}%: {'yes' if g['fraction_target_met'] else 'no'})"
            )
        times = " | ".join(f"{r[side]['median_s']:.3f}" for side in ours)
        speedups = " | ".join(f"{r['speedup'][side]:.2f}×" for side in ours)
        lines.append(f"| {r['label']} | {r['official']['median_s']:.3f} | {times} | {speedups} | {target} | {issue} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--official",
        type=Path,
        default=os.environ.get("CONDENSE_OFFICIAL_DIR"),
        help="directory with the official code (default: $CONDENSE_OFFICIAL_DIR, else a clone in benchmarks/.official)",
    )
    parser.add_argument("--official-url", default=OFFICIAL_URL, help="where to clone it from (e.g. a local mirror)")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS), metavar="ROW", help=f"any of: {' '.join(ROWS)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed samples per side and row")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--per-class", type=int, default=6000, help="real images per class")
    parser.add_argument("--test-size", type=int, default=10000, help="test images for the test-pass rows")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time our side with torch.compile + channels-last (condense --compile), as a third column",
    )
    parser.add_argument(
        "--batched",
        action="store_true",
        help="also time our side with every class's gradients in one vmap call (distill --batch-classes on), "
        "as another column (DC/DSA rows; the other rows equal `ours`)",
    )
    parser.add_argument("--no-allocator-env", action="store_true", help="do not re-execute with condense's allocator setting")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "official_vs_ours", help="output path without suffix")
    args = parser.parse_args()
    ensure_allocator_env(not args.no_allocator_env)

    import torch

    from condense.core.accel import Speed

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    official_dir = (args.official or fetch_official(HERE / ".official", args.official_url)).resolve()
    utils, patches = load_official(official_dir)
    data = fake_data(SHAPE, args.per_class, device, CLASSES, args.test_size)
    sides = {"official": Official(utils, data, device), "ours": Ours(data, device, Speed())}
    if args.compile:
        sides["ours_compiled"] = Ours(data, device, Speed(compile=True))
    if args.batched:
        sides["ours_batched"] = Ours(data, device, Speed(batch_classes=True))
    report = {
        "machine": machine_info(device),
        "settings": {
            "device": str(device),
            "repeats": args.repeats,
            "per_class": args.per_class,
            "test_size": args.test_size,
            "shape": SHAPE,
            "classes": CLASSES,
            "dsa_strategy": STRATEGY,
            "ours_sides": [side for side in sides if side != "official"],
            "order": "per row: one warm-up per side (it holds any compile), then official, ours, ..., official, ours, ...",
        },
        "official": {**official_identity(official_dir), "patches": patches},
        "matmul": matmul_gflops(device),
        "rows": [],
    }
    print(f"fp32 matmul: {report['matmul']['gflops']:.0f} GFLOP/s; {torch.get_num_threads()} threads on {device}", flush=True)

    def save():
        write_text(args.out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
        write_text(args.out.with_suffix(".md"), markdown(report))

    for name in args.rows:
        row = ROWS[name]
        print(f"{row.name}: {row.label}", flush=True)
        try:
            result = measure(row, sides, args.repeats, device)
        except Exception as exc:  # record it and go on: one broken row should not cost the others
            print(f"  failed: {exc!r}", flush=True)
            result = {"name": row.name, "label": row.label, "issue_official_s": row.issue_s, "error": repr(exc)}
        if row.kind == "step" and "error" not in result:
            flops = step_flops(sides["official"])
            rates = {side: flops / result[side]["median_s"] / 1e9 for side in sides}
            fraction = max(rates[side] for side in sides if side != "official") / report["matmul"]["gflops"]
            result["gflops"] = {
                "flops_per_step": flops,
                **rates,
                "best_fraction_of_matmul": fraction,
                "fraction_target_met": fraction >= MATMUL_FRACTION_TARGET,
            }
        if "speedup" in result:
            print(
                f"  -> official {result['official']['median_s']:.3f} s, speed-up "
                + ", ".join(f"{side} {x:.2f}x" for side, x in result["speedup"].items()),
                flush=True,
            )
        report["rows"].append(result)
        save()
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
