"""Memory of one MTT iteration against ``syn_steps``: every student step's graph is kept until the backward, so
memory grows linearly with the steps (the reason for the official ``--batch_syn``).

Run by hand (not part of the tests); results go to benchmarks/results/mtt_memory_<device>.{md,json}:

    .venv/bin/python benchmarks/mtt_memory.py                          # CPU, tiny sizes: seconds
    .venv/bin/python benchmarks/mtt_memory.py --device cuda --ipc 10 --steps 10,20,40,80

Each setting runs in a fresh child process on random data of the dataset's shape with random expert trajectories
(memory does not depend on values): one warm-up iteration at 1 step, then one at the setting. Three measures:
the bytes of the tensors autograd saves for the backward (``torch.autograd.graph.saved_tensors_hooks``; exact
and device-independent, shared storages counted each time they are saved), the growth of the process's peak
resident memory over the warm-up (``resource``; CPU), and ``torch.cuda.max_memory_allocated`` over the step (CUDA).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

from bench_common import fake_data, machine_info, write_text

SHAPES = {"cifar10": (3, 32, 32), "fashionmnist": (1, 28, 28)}


def child(args) -> dict:
    import torch

    from condense.methods import METHODS
    from condense.methods.mtt import flat_parameters, parameter_layout
    from condense.methods.problem import Problem
    from condense.models.classifiers import build_model

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = fake_data(SHAPES[args.dataset], args.ipc, device)
    spec = METHODS.get("mtt")

    def problem(steps: int) -> Problem:
        settings = spec.settings(method="mtt", ipc=args.ipc, model=args.model, syn_steps=steps, expert_epochs=1, max_start_epoch=1,
                                 batch_syn=args.batch_syn, strategy=args.augment)  # fmt: skip
        images = data.train_images.clone().requires_grad_(True)
        made = Problem(data, images, data.train_labels, torch.optim.SGD([images], lr=settings.lr_img, momentum=0.5), settings)
        torch.manual_seed(0)
        net = build_model(args.model, data.channel, data.num_classes, data.im_size)
        start = flat_parameters(net)
        made.artifacts["experts"] = {"trajectories": torch.stack([start, start + 0.01 * torch.randn_like(start)])[None],
                                     "model": args.model, "layout": parameter_layout(net)}  # fmt: skip
        spec.state.start(made)
        return made

    spec.step(problem(1), torch.Generator().manual_seed(0))  # warm-up: one-time allocations out of the measure
    measured = problem(args.syn_steps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base_cuda = torch.cuda.memory_allocated(device)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        spec.step(measured, torch.Generator().manual_seed(1))
    result = {"syn_steps": args.syn_steps, "saved_mb": saved[0] / 2**20,
              "peak_rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024}  # fmt: skip
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        result["peak_cuda_mb"] = (torch.cuda.max_memory_allocated(device) - base_cuda) / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", choices=sorted(SHAPES), default="cifar10")
    parser.add_argument("--model", default="convnet")
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--batch-syn", type=int, default=None)
    parser.add_argument("--augment", default="color_crop_cutout_flip_scale_rotate")
    parser.add_argument("--steps", default="1,2,4,8", help="comma-separated syn_steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--syn-steps", type=int, help=argparse.SUPPRESS)  # the child's one setting
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if args.syn_steps is not None:
        print(json.dumps(child(args)))
        return
    rows = []
    for steps in [int(s) for s in args.steps.split(",")]:
        argv = [sys.executable, __file__, *sys.argv[1:], "--syn-steps", str(steps)]
        rows.append(json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    cuda = args.device.startswith("cuda")
    head = "| syn_steps | saved for backward (MB) | peak RSS growth (MB) |" + (" peak CUDA (MB) |" if cuda else "")
    lines = [f"Machine: {machine_info(args.device)}", "",
             f"`python benchmarks/mtt_memory.py {' '.join(sys.argv[1:])}`: one MTT iteration, {args.dataset} shapes, {args.model}, "
             f"IPC {args.ipc} ({10 * args.ipc} synthetic images), batch_syn {args.batch_syn or 'all'}, augment {args.augment}.", "",
             head, "|---|---|---|" + ("---|" if cuda else "")]  # fmt: skip
    for row in rows:
        line = f"| {row['syn_steps']} | {row['saved_mb']:.1f} | {row['peak_rss_growth_mb']:.1f} |"
        lines.append(line + (f" {row['peak_cuda_mb']:.1f} |" if cuda else ""))
    device = "cuda" if cuda else "cpu"
    write_text(args.out / f"mtt_memory_{device}.md", "\n".join(lines) + "\n")
    write_text(args.out / f"mtt_memory_{device}.json", json.dumps({"machine": machine_info(args.device), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
