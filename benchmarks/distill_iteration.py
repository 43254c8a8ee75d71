"""Seconds per condensation iteration for DC, DSA and DM (ConvNet), CIFAR- and FashionMNIST-shaped data.

Run by hand (not part of the tests); results go to benchmarks/results/:

    MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=1073741824 \
    .venv/bin/python benchmarks/distill_iteration.py --repeats 3

Each iteration is the full reference iteration (outer/inner loops from the IPC table,
256 real images per class), on random data of the right shape: the cost does not
depend on pixel values. The median over ``--repeats`` iterations is reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from condense.augment import DEFAULT_STRATEGY
from condense.data import RealData
from condense.methods import METHODS, DistillSettings, Problem, loops_for
from condense.runtime import make_generator, resolve_device

SHAPES = {"cifar10": (3, 32, 32), "fashionmnist": (1, 28, 28)}
STRATEGY = {"dc": "none", "dsa": DEFAULT_STRATEGY, "dm": DEFAULT_STRATEGY}
LR_IMG = {"dc": 0.1, "dsa": 0.1, "dm": 1.0}


def fake_data(shape, per_class: int, device) -> RealData:
    classes = 10
    labels = torch.arange(classes, device=device).repeat_interleave(per_class)
    images = torch.randn(classes * per_class, *shape, device=device)
    return RealData("bench", [str(c) for c in range(classes)], [0.0] * shape[0], [1.0] * shape[0], images, labels,
                    images[:10], labels[:10], [torch.nonzero(labels == c).flatten() for c in range(classes)])


def time_iterations(method: str, ipc: int, data: RealData, repeats: int) -> list[float]:
    outer, inner = loops_for(ipc)
    settings = DistillSettings(method=method, ipc=ipc, strategy=STRATEGY[method], lr_img=LR_IMG[method], outer_loop=outer, inner_loop=inner)
    images = torch.randn(10 * ipc, data.channel, *data.im_size, device=data.train_images.device, requires_grad=True)
    labels = torch.arange(10, device=images.device).repeat_interleave(ipc)
    problem = Problem(data, images, labels, torch.optim.SGD([images], lr=settings.lr_img, momentum=0.5), settings)
    step = METHODS.get(method)
    times = []
    for it in range(repeats):
        torch.manual_seed(it)
        began = time.perf_counter()
        float(step(problem, make_generator(it)))  # float() waits for the device
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["dm", "dsa", "dc"])
    parser.add_argument("--ipcs", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--datasets", nargs="+", default=list(SHAPES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "distill_iteration")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = []
    for dataset in args.datasets:
        data = fake_data(SHAPES[dataset], 300, device)
        for method in args.methods:
            for ipc in args.ipcs:
                times = time_iterations(method, ipc, data, args.repeats)
                rows.append({"dataset": dataset, "method": method, "ipc": ipc, "median_s": statistics.median(times), "times_s": times})
                print(f"{dataset:13s} {method:4s} ipc {ipc:3d}: {statistics.median(times):8.2f} s/iteration", flush=True)
    machine = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    lines = ["| dataset | method | IPC | s / iteration (median) |", "|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['method']} | {r['ipc']} | {r['median_s']:.2f} |" for r in rows]
    args.out.with_suffix(".md").write_text(f"Machine: {machine}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
