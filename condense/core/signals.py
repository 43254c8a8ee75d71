"""Stop signals (SIGTERM, SIGUSR1) as an orderly exit: temporary files removed, long loops checkpointed.

A stage runs inside :func:`handled`. A stop signal then raises :class:`Terminated` where the process
stands, so every ``finally`` and context manager runs (atomic writes delete their temporary file, archive
extraction its folder) and the stage exits with 128 + the signal's number, as a shell reports a killed
process. Inside :func:`deferred` (a condensation loop) the signal is only noted: the loop asks
:func:`stop_requested` after each iteration, writes a checkpoint and raises :class:`Terminated` itself, so
a job that SLURM preempts or warns (``--signal``) resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

_deferring = 0
_requested: int | None = None


class Terminated(BaseException):
    """A stop signal arrived. A BaseException, so ``except Exception`` handlers do not swallow it."""

    def __init__(self, signum: int, message: str = ""):
        self.signum = signum
        super().__init__(message or f"stopped by {name(signum)}")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _handle(signum: int, frame) -> None:
    global _requested
    _requested = signum
    if not _deferring:
        raise Terminated(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Stop signals raise :class:`Terminated` within the block (then the previous handlers come back)."""
    global _requested
    _requested = None
    try:
        previous = {s: signal.signal(s, _handle) for s in STOP_SIGNALS}
    except ValueError:  # not the main thread: signals cannot be handled here; leave them as they are
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block a stop signal is only recorded (:func:`stop_requested`); one already recorded stays."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1


def stop_requested() -> int | None:
    """The stop signal received (inside :func:`deferred`), else None."""
    return _requested


def name(signum: int) -> str:
    return signal.Signals(signum).name
