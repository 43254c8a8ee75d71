"""The batched paths beside the loops they replace, interleaved in one run: gradient matching with every class
in one vmap call vs class by class (DC and DSA, one outer loop), and a set's evaluation networks as one
ensemble vs one by one.

Run by hand (not part of the tests); results go to benchmarks/results/batched_paths_<device>.{md,json}:

    .venv/bin/python benchmarks/batched_paths.py --repeats 5               # CPU
    .venv/bin/python benchmarks/batched_paths.py --repeats 5 --device cuda

Each repeat runs the old path then the new one on the same inputs and seeds, so machine noise (20-40 %
between runs here) hits both alike; the table gives medians and their ratio. Random data of the right
shape (the cost does not depend on pixel values).
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
from condense.methods import METHODS  # noqa: E402
from condense.methods.gradient_matching import matched_parameters, matching_loss  # noqa: E402
from condense.methods.problem import Problem  # noqa: E402
from condense.training.evaluation import evaluate_set
from condense.training.protocol import TrainSettings  # noqa: E402

SHAPES = {"cifar10": (3, 32, 32), "fashionmnist": (1, 28, 28)}


def matching_case(method: str, ipc: int, data, batch_real: int):
    """A closure per speed: one matching loss and its backward to the images (what an outer loop pays)."""
    strategy = "none" if method == "dc" else DEFAULT_STRATEGY
    settings = METHODS.get(method).resolve(
        ipc=ipc, model="convnet", traits=data.traits, overrides={"augment": strategy, "batch_real": batch_real}
    )
    images = torch.randn(10 * ipc, data.channel, *data.im_size, device=data.train_images.device, requires_grad=True)
    labels = torch.arange(10, device=images.device).repeat_interleave(ipc)

    def run(speed: Speed, seed: int):
        problem = Problem(data, images, labels, torch.optim.SGD([images], lr=0.1), settings, speed)
        torch.manual_seed(seed)
        fast = problem.new_network()
        params = matched_parameters(fast.parameters(), settings.dis_metric)
        loss = matching_loss(problem, fast, params, make_generator(seed))
        loss.backward()
        return float(loss.detach())

    return run


def evaluation_case(ipc: int, data, num_nets: int, epochs: int):
    images = torch.randn(10 * ipc, data.channel, *data.im_size, device=data.train_images.device)
    labels = torch.arange(10, device=images.device).repeat_interleave(ipc)
    settings = TrainSettings(epochs=epochs, augment=DEFAULT_STRATEGY)

    def run(speed: Speed, seed: int):
        return evaluate_set(
            images,
            labels,
            data.test_images,
            data.test_labels,
            model="convnet",
            num_classes=10,
            num_nets=num_nets,
            settings=settings,
            seed=seed,
            speed=speed,
        )

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10", choices=list(SHAPES))
    parser.add_argument("--ipcs", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--batch-real", type=int, default=256, help="real images per class (reference 256)")
    parser.add_argument("--num-nets", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20, help="evaluation passes - 1 (reference 1000; the time scales)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = fake_data(SHAPES[args.dataset], args.batch_real, device, test_size=1000)
    cases = []
    for ipc in args.ipcs:
        for method in ("dc", "dsa"):
            cases.append(
                (
                    f"{method.upper()} matching loss + backward, IPC {ipc}",
                    matching_case(method, ipc, data, args.batch_real),
                    Speed(),
                    Speed(batch_classes=True),
                    "class by class",
                    "vmap over classes",
                )
            )
        cases.append(
            (
                f"evaluation, IPC {ipc}, {args.num_nets} ConvNets x {args.epochs + 1} passes",
                evaluation_case(ipc, data, args.num_nets, args.epochs),
                Speed(),
                Speed(ensemble=True),
                "one by one",
                "ensemble",
            )
        )
    rows = []
    for name, run, old, new, old_name, new_name in cases:
        run(old, 0), run(new, 0)  # warm-up: allocator, cuDNN autotune
        times = {"old": [], "new": []}
        for r in range(args.repeats):
            times["old"].append(timed(lambda: run(old, r + 1), device))
            times["new"].append(timed(lambda: run(new, r + 1), device))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append(
            {
                "case": name,
                "old": old_name,
                "new": new_name,
                "old_s": med["old"],
                "new_s": med["new"],
                "speedup": med["old"] / med["new"],
                "times_s": times,
            }
        )
        print(f"{name}: {old_name} {med['old']:.3f} s, {new_name} {med['new']:.3f} s ({med['old'] / med['new']:.2f}x)", flush=True)
    out = args.out or Path(__file__).parent / "results" / f"batched_paths_{device.type}"
    machine = machine_info(device)
    write_text(
        out.with_suffix(".json"), json.dumps({"machine": machine, "args": vars(args) | {"out": str(out)}, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        f"Machine: {machine}",
        "",
        f"`{' '.join(['python', 'benchmarks/batched_paths.py'] + [f'--repeats {args.repeats}', f'--device {args.device}'])}`"
        f" ({args.dataset} shapes, {args.batch_real} real images per class); medians over {args.repeats} interleaved repeats.",
        "",
        "| case | today's path | s | batched path | s | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['case']} | {r['old']} | {r['old_s']:.3f} | {r['new']} | {r['new_s']:.3f} | {r['speedup']:.2f}x |" for r in rows]
    write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
