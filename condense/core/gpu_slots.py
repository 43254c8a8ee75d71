"""One GPU per job on a multi-GPU workstation: a lock file per device, held for the life of the process.

Snakemake's ``--resources gpu=G`` bounds how many GPU jobs run at once, but every job would still land
on ``cuda:0``. A stage that resolves ``auto``/``cuda`` on a machine with several visible devices takes
the first device whose lock it can hold (``fcntl.flock``, non-blocking) and keeps the open file until
it exits: the kernel drops the lock on any exit, a kill included, so a crashed job never holds a GPU.
When every device is taken (more GPU jobs than ``--resources gpu`` allows, or other users), it waits
for one. With one visible device (a laptop, or a SLURM job whose ``CUDA_VISIBLE_DEVICES`` is its own
allocation) there is nothing to choose and no lock is taken.

Locks live in ``$CONDENSE_GPU_LOCKS`` (default: the system temp directory), named by the device's index
among the visible ones; jobs that share a machine must see the same devices in the same order.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import IO

log = logging.getLogger("condense")

LOCK_DIR_ENV = "CONDENSE_GPU_LOCKS"
_held: dict[int, IO] = {}  # index -> open lock file, kept for the life of the process


def lock_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or tempfile.gettempdir())


def _try_lock(index: int, directory: Path) -> IO | None:
    handle = open(directory / f"condense-gpu-{index}.lock", "a+")  # noqa: SIM115  (held open: the lock lives as long as the process)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")  # who holds it, for a human looking at the directory
    handle.flush()
    return handle


def acquire_slot(count: int, directory: Path | None = None, poll_s: float = 2.0, timeout_s: float | None = None) -> int:
    """The index of a device this process now holds (one of ``range(count)``), waiting while all are held.

    Calling it again in the same process returns the device it already holds."""
    if _held:
        return next(iter(_held))
    directory = lock_dir() if directory is None else directory
    directory.mkdir(parents=True, exist_ok=True)
    start, told = time.monotonic(), False
    while True:
        for index in range(count):
            handle = _try_lock(index, directory)
            if handle is not None:
                _held[index] = handle
                return index
        if timeout_s is not None and time.monotonic() - start >= timeout_s:
            raise TimeoutError(f"all {count} GPU slots in {directory} stayed held for {timeout_s:.0f} s")
        if not told:
            log.info("all %d GPUs are held by other jobs (locks in %s); waiting for one", count, directory)
            told = True
        time.sleep(poll_s)


def release_slot() -> None:
    """Give the held device back before the process ends (tests; a stage simply exits)."""
    for handle in _held.values():
        handle.close()
    _held.clear()
