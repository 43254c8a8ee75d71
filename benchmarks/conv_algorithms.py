"""Can fewer FLOPs make the ConvNet's 3×3 convolutions faster on this CPU? Direct (oneDNN) vs Winograd.

    .venv/bin/python benchmarks/conv_algorithms.py [--threads 2] [--batch 256] [--repeats 5]

Every DC/DSA/DM iteration is dominated by the ConvNet's 3×3 convolutions, and on this CPU oneDNN's
direct convolution already runs them near the fp32 matmul rate. Only an algorithm with fewer
multiplies could then be ≥ 2× faster. This probe measures the candidate: Winograd F(m×m, 3×3)
(Lavin & Gray 2016), m = 2 (2.25× fewer multiplies) and m = 4 (4× fewer), written with torch ops
(tile gather, transforms as small matmuls, one batched matmul per tile position), eager and
torch.compile'd, against F.conv2d, for the layer shapes of the FashionMNIST ConvNet. It is a
measurement, not a condense code path: condense uses F.conv2d.

Per layer and algorithm: forward and forward+backward (gradients of input and weight) medians,
interleaved; GFLOP/s of the direct convolution against the matmul rate measured in the same run; the
largest error against a float64 direct convolution relative to the output's largest magnitude.
Writes ``OUT.json`` and ``OUT.md`` (default benchmarks/results/conv_algorithms_cpu).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from bench_common import ensure_allocator_env, machine_info, matmul_gflops, timed, write_text

ensure_allocator_env()

import torch  # noqa: E402  (after the re-exec)
import torch.nn.functional as F  # noqa: E402

# (input channels, output channels, side): the 3×3 convolutions of ConvNet (width 128, depth 3) on
# 28×28 images; average pooling halves the side between them.
LAYERS = {"fashionmnist": [(1, 128, 28), (128, 128, 14), (128, 128, 7)], "cifar10": [(3, 128, 32), (128, 128, 16), (128, 128, 8)]}

# Winograd transforms: B^T (input), G (filter), A^T (output), from Lavin & Gray, "Fast Algorithms for
# Convolutional Neural Networks" (2016).
TRANSFORMS = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    ),
}


def kron_transforms(m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 2-D transforms as single matrices (B^T⊗B^T, G⊗G, A^T⊗A^T) acting on flattened tiles."""
    bt, g, at = (torch.tensor(t, dtype=torch.float64) for t in TRANSFORMS[m])
    return torch.kron(bt, bt).float(), torch.kron(g, g).float(), torch.kron(at, at).float()


def winograd_conv3x3(x: torch.Tensor, weight: torch.Tensor, m: int, transforms) -> torch.Tensor:
    """F.conv2d(x, weight, padding=1) by Winograd F(m×m, 3×3); autograd differentiates through it."""
    kb, kg, ka = transforms
    n, c, h, w = x.shape
    k, a = weight.shape[0], m + 2
    th, tw = math.ceil(h / m), math.ceil(w / m)
    padded = F.pad(x, (1, tw * m + 1 - w, 1, th * m + 1 - h))
    tiles = padded.unfold(2, a, m).unfold(3, a, m)  # n c th tw a a (a view)
    tiles = tiles.permute(4, 5, 1, 0, 2, 3).reshape(a * a, c * n * th * tw)
    v = (kb @ tiles).view(a * a, c, n * th * tw)
    u = (kg @ weight.reshape(k * c, 9).t()).view(a * a, k, c)
    products = torch.bmm(u, v)  # one (k×c)·(c×tiles) product per tile position
    y = (ka @ products.view(a * a, k * n * th * tw)).view(m, m, k, n, th, tw)
    return y.permute(3, 2, 4, 0, 5, 1).reshape(n, k, th * m, tw * m)[:, :, :h, :w]


def algorithms(compile_: bool) -> dict:
    algos = {"direct": lambda x, w: F.conv2d(x, w, padding=1)}
    for m in TRANSFORMS:
        transforms = kron_transforms(m)
        algos[f"winograd_f{m}"] = lambda x, w, m=m, t=transforms: winograd_conv3x3(x, w, m, t)
        if compile_:
            compiled = torch.compile(winograd_conv3x3, dynamic=False)
            algos[f"winograd_f{m}_compiled"] = lambda x, w, m=m, t=transforms, f=compiled: f(x, w, m, t)
    return algos


def measure_layer(c_in: int, c_out: int, side: int, batch: int, repeats: int, compile_: bool) -> dict:
    torch.manual_seed(0)
    x = torch.randn(batch, c_in, side, side, requires_grad=True)
    w = (torch.randn(c_out, c_in, 3, 3) / math.sqrt(9 * c_in)).requires_grad_()
    exact = F.conv2d(x.detach().double(), w.detach().double(), padding=1)
    algos = algorithms(compile_)

    def forward(fn):
        with torch.no_grad():
            fn(x, w)

    def forward_backward(fn):
        torch.autograd.grad(fn(x, w).square().sum(), (x, w))

    row = {
        "layer": f"{c_in}→{c_out}, {side}×{side}",
        "batch": batch,
        "flops_forward": 2 * batch * c_out * c_in * 9 * side * side,
        "algorithms": {},
    }
    for name, fn in algos.items():
        with torch.no_grad():
            err = ((fn(x, w).double() - exact).abs().max() / exact.abs().max()).item()
        forward(fn), forward_backward(fn)  # warm-up (holds any compile)
        row["algorithms"][name] = {"rel_error": err, "forward_s": [], "forward_backward_s": []}
    for _ in range(repeats):  # interleaved: every algorithm sees the same machine state
        for name, fn in algos.items():
            row["algorithms"][name]["forward_s"].append(timed(lambda: forward(fn), "cpu"))
            row["algorithms"][name]["forward_backward_s"].append(timed(lambda: forward_backward(fn), "cpu"))
    for result in row["algorithms"].values():
        for key in ("forward", "forward_backward"):
            result[f"{key}_median_s"] = statistics.median(result[f"{key}_s"])
    return row


def markdown(report: dict) -> str:
    mm = report["matmul"]["gflops"]
    lines = [
        f"Machine: {report['machine']}",
        "",
        f"fp32 matmul ({report['matmul']['n']}²): {mm:.0f} GFLOP/s. Batch {report['batch']}, medians of {report['repeats']} interleaved samples.",
        "Speed-up = direct time / algorithm time (> 1: faster than oneDNN's direct convolution).",
        "",
        "| layer | algorithm | forward ms | speed-up | fwd+bwd ms | speed-up | rel. error | direct GFLOP/s (fwd; fwd+bwd), % of matmul |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        direct = row["algorithms"]["direct"]
        for name, r in row["algorithms"].items():
            rate = ""
            if name == "direct":
                fwd = row["flops_forward"] / r["forward_median_s"] / 1e9
                both = 3 * row["flops_forward"] / r["forward_backward_median_s"] / 1e9  # backward ≈ 2 forwards
                rate = f"{fwd:.0f} ({100 * fwd / mm:.0f} %); {both:.0f} ({100 * both / mm:.0f} %)"
            lines.append(
                f"| {row['layer']} | {name} | {1e3 * r['forward_median_s']:.1f} | {direct['forward_median_s'] / r['forward_median_s']:.2f}× "
                f"| {1e3 * r['forward_backward_median_s']:.1f} | {direct['forward_backward_median_s'] / r['forward_backward_median_s']:.2f}× "
                f"| {r['rel_error']:.1e} | {rate} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(LAYERS), default="fashionmnist")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile'd Winograd variants")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "conv_algorithms_cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report = {
        "machine": machine_info("cpu"),
        "dataset": args.dataset,
        "batch": args.batch,
        "repeats": args.repeats,
        "matmul": matmul_gflops("cpu"),
        "rows": [],
    }
    for c_in, c_out, side in LAYERS[args.dataset]:
        report["rows"].append(measure_layer(c_in, c_out, side, args.batch, args.repeats, args.compile))
        print(f"layer {c_in}->{c_out} {side}x{side} done", flush=True)
        write_text(args.out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
        write_text(args.out.with_suffix(".md"), markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
