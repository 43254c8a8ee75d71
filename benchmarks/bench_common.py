"""What the benchmark scripts share: the allocator setting, device-synchronised timing, random data of
a dataset's shape, a description of the machine, and atomic result files."""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from condense.core.allocator import ALLOCATOR_ENV  # torch-free: safe before the re-exec below

ENV_RECORDED = (*ALLOCATOR_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


def ensure_allocator_env(enabled: bool = True) -> None:
    """Re-execute this process with condense's glibc allocator setting (docs/environment.md) unless it is in effect.

    glibc reads the variables at start-up only, so setting them from Python is too late. Call this
    before anything heavy is imported."""
    if enabled and any(os.environ.get(k) != v for k, v in ALLOCATOR_ENV.items()):
        print("re-executing with the allocator setting:", " ".join(f"{k}={v}" for k, v in ALLOCATOR_ENV.items()), flush=True)
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR_ENV})


def sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device) -> float:
    """Seconds one call of ``fn`` takes, the device drained before and after."""
    sync(device)
    began = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - began


def matmul_gflops(device, repeats: int = 5) -> dict:
    """The fp32 matmul rate of this device: the ceiling every GFLOP/s figure is compared with."""
    import statistics

    import torch

    n = 4096 if torch.device(device).type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    timed(lambda: a @ b, device)
    seconds = statistics.median(timed(lambda: a @ b, device) for _ in range(repeats))
    return {"n": n, "median_s": seconds, "gflops": 2 * n**3 / seconds / 1e9}


def fake_data(shape, per_class: int, device, classes: int = 10, test_size: int = 10):
    """A RealData of random images: the cost of every benchmarked step is independent of pixel values."""
    import torch

    from condense.data.store import RealData
    from condense.data.traits import DatasetTraits

    labels = torch.arange(classes, device=device).repeat_interleave(per_class)
    images = torch.randn(classes * per_class, *shape, device=device)
    test_labels = torch.arange(test_size, device=device) % classes
    test_images = torch.randn(test_size, *shape, device=device)
    return RealData(
        "bench",
        [str(c) for c in range(classes)],
        [0.0] * shape[0],
        [1.0] * shape[0],
        images,
        labels,
        test_images,
        test_labels,
        [torch.nonzero(labels == c).flatten() for c in range(classes)],
        DatasetTraits("color_crop_cutout_flip_scale_rotate", True, None, "bench"),
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device) -> dict:
    import torch

    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "env": {k: os.environ[k] for k in ENV_RECORDED if k in os.environ},
        "loadavg": os.getloadavg(),  # other work on the machine makes every timing noisier
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a reader never sees half a result."""
    from condense.core.fileio import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)
