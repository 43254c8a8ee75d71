"""What every stage shares at run time: device choice, seeding, logging and progress bars."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import torch

from .errors import CondenseError

T = TypeVar("T")
log = logging.getLogger("condense")

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` on a machine without one is a clear error. ``auto`` and
    ``cuda`` on a machine with several visible GPUs take a free one (:mod:`condense.core.gpu_slots`), so
    parallel jobs spread over them; ``cuda:<i>`` is taken as given."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise CondenseError(f"unknown device {name!r}; use one of: {', '.join(DEVICES)}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise CondenseError(f"device {name!r} asked for but no CUDA device is available; use --device cpu or auto")
    if name.startswith("cuda:"):
        return torch.device(name)
    count = torch.cuda.device_count()
    if count <= 1:
        return torch.device("cuda")
    from .gpu_slots import acquire_slot

    device = torch.device("cuda", acquire_slot(count))
    torch.cuda.set_device(device)  # so that code asking for "the current device" (memory meters, NVML) agrees
    log.info("GPU slot: %s of %d visible devices", device, count)
    return device


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """Stages draw shuffles and augmentation parameters on the CPU (a few numbers per step, copied to the
    device without a sync), so the same seed gives the same draws on CPU and CUDA."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def derive_seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (run seed, network index, ...), independent of Python's hash salt."""
    acc = 0x9E3779B97F4A7C15
    for part in parts:
        acc ^= (int(part) + 0x9E3779B97F4A7C15 + (acc << 6) + (acc >> 2)) & 0xFFFFFFFFFFFFFFFF
        acc = (acc * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return acc & 0x7FFFFFFFFFFFFFFF


def setup_logging(log_file: Path | None = None) -> None:
    root = logging.getLogger("condense")
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a"))
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.propagate = False


_PROGRESS_ENABLED = True


def set_progress(enabled: bool) -> None:
    global _PROGRESS_ENABLED
    _PROGRESS_ENABLED = enabled


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it"):
    """A tqdm bar on stderr (the terminal); log files get the stage's own periodic log lines instead.

    Returns the tqdm object: iterate it, and call ``set_postfix`` for live values (a no-op when disabled)."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, unit=unit, disable=not _PROGRESS_ENABLED, leave=False, dynamic_ncols=True)
