"""The finished parts of a resumable artifact (MTT's experts), one file each, so a rerun after a kill goes on.

A part is tied to the run that made it the way a condensation checkpoint is (:mod:`condense.methods.checkpoint`):
it records the run's :class:`RunIdentity` (kind, dataset, seed, device; the resolved settings; the sha256 of the
data file) and a checksum of its own content (:func:`content_digest`). Reading part ``i``:

- missing -> None (it is made);
- damaged (unreadable, or its checksum fails: a bit flip that ``torch.load`` does not notice) -> a one-line
  refusal naming the file; it is never used, and deleting it makes only that part again;
- made by another run (other settings, data, seed or device) or by an older condense -> *stale*: discarded and
  made again. This is the restart policy the workflow gives distill (``--stale-checkpoint restart``): the
  ``artifact`` rule's directory is keyed by kind and seed only, so a changed config must start over, not fail.

The directory is locked (``fcntl.flock`` on :data:`LOCK_NAME`, non-blocking) while a run uses it: a second run
on the same directory is refused in one line naming the holder, instead of the two discarding and reading each
other's parts. Under the lock the temporary files of part writes a killed run left behind (``atomic_path``'s
``.part_<i>.pt.<random>.tmp``) are removed; no other run can be writing them then.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import socket
from pathlib import Path
from typing import IO

from ..core.digests import content_digest
from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch
from .checkpoint import RunIdentity, differences

KIND = "condense-artifact-part"
PARTS_FORMAT = 2  # 1: a bare part, tied to its run by one identity.pt for the whole directory, no checksum
LOCK_NAME = ".condense-parts.lock"
LEGACY_IDENTITY = "identity.pt"  # format 1's directory-wide identity, removed on open (its parts are stale)

_PART = re.compile(r"part_\d+\.pt")
# atomic_path's temporary name for part_<i>.pt (fileio._temp_prefix + mkstemp's random characters + .tmp)
_OWN_TEMP = re.compile(r"\.part_\d+\.pt\.[A-Za-z0-9_]+\.tmp|\.identity\.pt\.[A-Za-z0-9_]+\.tmp")

log = logging.getLogger("condense.artifact")


class PartStore:
    """Part ``i`` of the artifact ``identity`` describes is ``directory/part_<i>.pt``. Use as a context manager
    (or :meth:`open` / :meth:`close`): the lock is held from open to close, and released on any exit."""

    def __init__(self, directory: str | os.PathLike, identity: RunIdentity):
        self.directory = Path(directory)
        self.identity = identity
        self._lock: IO | None = None
        self._locked = False  # False where the file system takes no locks: then nothing another run writes is removed

    def __enter__(self) -> PartStore:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _part(self, index: int) -> Path:
        return self.directory / f"part_{index}.pt"

    def _parts(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if _PART.fullmatch(p.name))

    def open(self) -> PartStore:
        """Lock the directory (made if missing), remove what a killed run of this store left, and refuse a
        directory that holds anything else (it is someone's: :meth:`clear` must not empty it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            foreign = []
            for path in self.directory.iterdir():
                if _OWN_TEMP.fullmatch(path.name) or path.name == LEGACY_IDENTITY:
                    if self._locked:  # no run but this one can be writing it
                        log.info("%s: removing %s, left by an earlier run", self.directory, path.name)
                        path.unlink()
                elif not _PART.fullmatch(path.name) and path.name != LOCK_NAME:
                    foreign.append(path.name)
            if foreign:
                raise CondenseError(
                    f"--checkpoint-dir {str(self.directory)!r} holds other files ({', '.join(sorted(foreign)[:3])}); "
                    "give an empty or own directory"
                )
        except BaseException:
            self.close()
            raise
        return self

    def _acquire(self) -> None:
        path = self.directory / LOCK_NAME
        try:
            # held open until close(): the flock lives as long as the handle; not truncated before the lock is ours
            handle = open(path, "a+")  # noqa: SIM115
        except OSError as exc:
            raise CondenseError(f"cannot write {str(path)!r} ({exc.strerror}); choose a writable --checkpoint-dir") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                # a file system without locks (Lustre mounted without flock): the parts' identities still keep
                # another run's parts out; only the removal of leftover temporary files needs the lock
                log.warning("%s: cannot lock %s (%s); going on unlocked", self.directory, LOCK_NAME, exc.strerror or exc)
                self._lock = handle
                return
            handle.seek(0)
            holder = handle.readline(200).strip() or "another run"
            handle.close()
            raise CondenseError(
                f"--checkpoint-dir {str(self.directory)!r} is in use by {holder}; wait for it to end or give this run "
                "a directory of its own"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"condense artifact pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._lock, self._locked = handle, True

    def close(self) -> None:
        """Release the lock (closing the file releases the flock)."""
        if self._lock is not None:
            self._lock.close()
            self._lock, self._locked = None, False

    def _check_open(self) -> None:
        if self._lock is None:
            raise RuntimeError("PartStore used before open() (or after close())")

    def load(self, index: int) -> dict | None:
        """Part ``index`` if this run finished it, else None (a stale part is discarded); a damaged part is refused."""
        self._check_open()
        path = self._part(index)
        if not path.exists():
            return None
        stored = load_torch(path, what="artifact part")
        if not isinstance(stored, dict) or stored.get("kind") != KIND or stored.get("format") != PARTS_FORMAT:
            return self._discard(path, "it was written by an older condense")
        payload = {k: v for k, v in stored.items() if k != "checksum"}
        if content_digest(payload) != stored.get("checksum"):
            raise CondenseError(
                f"artifact part {str(path)!r} does not match its checksum (the file was damaged after it was written); "
                "delete it and rerun: only that part is made again"
            )
        if stored.get("index") != index:  # a part copied or renamed onto another's name: not this part
            raise CondenseError(f"artifact part {str(path)!r} holds part {stored.get('index')}, not {index}; delete it and rerun")
        changed = differences(stored["identity"], self.identity.to_dict())
        if changed:
            return self._discard(path, "made by another run (" + "; ".join(changed) + ")")
        return stored["part"]

    def _discard(self, path: Path, why: str) -> None:  # the stale policy (module docstring): made again
        log.warning("%s is stale: %s; making it again", path, why)
        path.unlink()
        return None

    def save(self, index: int, part: dict) -> None:
        self._check_open()
        payload = {"kind": KIND, "format": PARTS_FORMAT, "index": index, "identity": self.identity.to_dict(), "part": part}
        save_torch({**payload, "checksum": content_digest(payload)}, self._part(index))

    def clear(self) -> None:
        """Once the artifact is written: the parts, the lock file and the directory if nothing else is left. The
        lock is still held (released by :meth:`close`), so no run can start on parts being removed."""
        self._check_open()
        for path in (*self._parts(), self.directory / LOCK_NAME):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: someone's file appeared, or a new run's lock file
            self.directory.rmdir()
