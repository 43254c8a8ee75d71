"""Seconds per condensation iteration for DC, DSA and DM (ConvNet), CIFAR- and FashionMNIST-shaped data.

Run by hand (not part of the tests); results go to benchmarks/results/:

    .venv/bin/python benchmarks/distill_iteration.py --repeats 3

The script re-executes itself with condense's allocator setting (condense/allocator.py).
``--paths loop batched`` times DC/DSA's class-by-class matching and the batched one
(``distill --batch-classes``) side by side, interleaved iteration by iteration.

Each iteration is the full reference iteration (outer/inner loops from the IPC table,
256 real images per class), on random data of the right shape: the cost does not
depend on pixel values. The median over ``--repeats`` iterations is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench_common import ensure_allocator_env, fake_data, machine_info, timed, write_text

ensure_allocator_env()

import torch  # noqa: E402  (after the re-exec)

from condense.core.accel import Speed  # noqa: E402
from condense.core.runtime import make_generator, resolve_device  # noqa: E402
from condense.data.augment import DEFAULT_STRATEGY  # noqa: E402
from condense.data.store import RealData  # noqa: E402
from condense.methods import METHODS  # noqa: E402
from condense.methods.problem import Problem  # noqa: E402

SHAPES = {"cifar10": (3, 32, 32), "fashionmnist": (1, 28, 28)}
STRATEGY = {"dc": "none", "dsa": DEFAULT_STRATEGY, "dm": DEFAULT_STRATEGY}
LR_IMG = {"dc": 0.1, "dsa": 0.1, "dm": 1.0}


def time_iterations(method: str, ipc: int, data: RealData, repeats: int, speed: Speed) -> list[float]:
    settings = METHODS.get(method).resolve(
        ipc=ipc, model="convnet", traits=data.traits, overrides={"augment": STRATEGY[method], "lr_img": LR_IMG[method]}
    )  # reference loops by IPC
    images = torch.randn(10 * ipc, data.channel, *data.im_size, device=data.train_images.device, requires_grad=True)
    labels = torch.arange(10, device=images.device).repeat_interleave(ipc)
    problem = Problem(data, images, labels, torch.optim.SGD([images], lr=settings.lr_img, momentum=0.5), settings, speed)
    step = METHODS.get(method).step
    times = []
    for it in range(repeats):
        torch.manual_seed(it)
        times.append(timed(lambda: step(problem, make_generator(it)), problem.images.device))
    return times


PATHS = {"loop": False, "batched": True}  # --paths name -> Speed.batch_classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["dm", "dsa", "dc"])
    parser.add_argument("--ipcs", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--datasets", nargs="+", default=list(SHAPES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile + channels-last (the first, compiling iteration is not counted)"
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["loop"],
        choices=list(PATHS),
        help="gradient matching class by class (loop) and/or in one batched call (batched); DM has one path",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "distill_iteration")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = []
    for dataset in args.datasets:
        data = fake_data(SHAPES[dataset], 300, device)
        for method in args.methods:
            for ipc in args.ipcs:
                paths = args.paths if method in ("dc", "dsa") else args.paths[:1]
                samples = {path: [] for path in paths}
                for _ in range(args.repeats + 1):  # the paths interleaved: drift on a shared machine hits both
                    for path in paths:
                        speed = Speed(compile=args.compile, batch_classes=PATHS[path])
                        samples[path] += time_iterations(method, ipc, data, 1, speed)
                for path in paths:
                    warmup, times = samples[path][0], samples[path][1:]  # the first pays CUDA / cuDNN set-up and any compile
                    rows.append(
                        {
                            "dataset": dataset,
                            "method": method,
                            "ipc": ipc,
                            "compile": args.compile,
                            "path": path,
                            "median_s": statistics.median(times),
                            "warmup_s": warmup,
                            "times_s": times,
                        }
                    )
                    print(f"{dataset:13s} {method:4s} ipc {ipc:3d} {path:8s}: {statistics.median(times):8.2f} s/iteration", flush=True)
    machine = machine_info(device)
    write_text(args.out.with_suffix(".json"), json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    lines = [
        "| dataset | method | IPC | compile | matching | s / iteration (median) | first iteration s |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['dataset']} | {r['method']} | {r['ipc']} | {r['compile']} | {r['path']} | {r['median_s']:.3f} | {r['warmup_s']:.1f} |"
        for r in rows
    ]
    write_text(args.out.with_suffix(".md"), f"Machine: {machine}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
