"""Atomic file writes and checked reads: a killed stage never leaves a half-written artifact."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .errors import CondenseError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CondenseError(f"cannot write {str(path)!r} ({exc.strerror}); choose a writable location") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the artifact normal permissions
        os.replace(tmp_path, path)
    except OSError as exc:  # a full disk or a vanished directory: one line, and the inputs (a checkpoint) stay
        raise CondenseError(
            f"cannot write {str(path)!r} ({exc.strerror or exc}); free space or choose another location, then rerun"
        ) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _temp_prefix(name: str) -> str:
    """``.<name>.`` for the temporary file beside ``name``; a name too long to take the 14 characters of a
    temporary name (a dot, a dot, 8 random characters, ``.tmp``) is shortened to a digest of itself."""
    prefix = f".{name}."
    if len(os.fsencode(prefix)) + 12 > 255:
        prefix = f".{hashlib.sha256(os.fsencode(name)).hexdigest()[:32]}."
    return prefix


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 150) -> tuple[Path, Path]:
    """Write a matplotlib figure as PNG at ``path`` and as PDF beside it (same stem), each atomically."""
    png = Path(path)
    pdf = png.with_suffix(".pdf")
    for target, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    return png, pdf


class _KeptWriteError:
    """A binary file handle that keeps the OSError of a failed write: torch.save reports a full disk or a
    file-size limit as a RuntimeError ("unexpected pos ...", "PytorchStreamWriter failed writing file ...")
    that names neither the file nor the cause, and that ``except OSError`` does not catch."""

    def __init__(self, handle: Any):
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.handle.flush()


def write_torch(obj: Any, path: str | os.PathLike) -> None:
    """torch.save ``obj`` into the file at ``path`` (not atomically: see :func:`save_torch`); a failed write
    raises its OSError (ENOSPC, EFBIG, ...), as any other file write does."""
    # Through a file handle: torch.save(obj, path) names the zip entries after the file name (a random
    # temporary one here), so equal objects would give different bytes.
    with open(path, "wb") as handle:
        kept = _KeptWriteError(handle)
        try:
            torch.save(obj, kept)
        except RuntimeError:
            if kept.error is None:
                raise
            raise kept.error from None


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """torch.save ``obj`` to ``path`` atomically: a full disk leaves the previous file whole and one line."""
    with atomic_path(path) as tmp:
        write_torch(obj, tmp)


def load_torch(path: str | os.PathLike, what: str = "artifact", map_location: Any = "cpu") -> Any:
    """Load a torch file, turning a missing or corrupted file into a one-line CondenseError."""
    path = Path(path)
    if not path.is_file():
        raise CondenseError(f"{what} file {str(path)!r} does not exist; run the stage that makes it first")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CondenseError(
            f"{what} file {str(path)!r} is corrupted or not a torch file ({first_line}); delete it and rerun the stage that makes it"
        ) from None


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike, what: str = "JSON") -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CondenseError(f"{what} file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CondenseError(f"{what} file {str(path)!r} is not valid JSON ({exc}); delete it and rerun its stage") from None
