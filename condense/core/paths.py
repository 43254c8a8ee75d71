"""What a stage reads and writes, checked before any work: no output overwrites an input, no two outputs
are one file, and every output can be written where it is asked for.

Stages declare their path flags with a role (:data:`ROLES`; ``condense/stages/_args.py`` ``add_path``) and
the command line checks them all with :func:`check_io` right after parsing, so a mistake costs nothing:
``--out`` equal to ``--data`` would otherwise replace the dataset by the set, and a read-only or missing
directory would end hours of work in a traceback at the final write.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CondenseError

INPUT, OUTPUT, STATE, OUTPUT_DIR = "input", "output", "state", "output_dir"
ROLES = (INPUT, OUTPUT, STATE, OUTPUT_DIR)  # state: read and rewritten by the stage (a checkpoint)


@dataclass(frozen=True)
class PathArg:
    flag: str  # as the user wrote it: ``--out``, ``--data`` or a positional's name
    path: Path
    role: str


def name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _key(path: Path):
    """One key per file: (device, inode) where it exists (hard and symbolic links agree), else its real path."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def _probe(directory: Path, what: str) -> None:
    """Create and remove a file in ``directory``: the one test every reason to refuse a write answers
    (permissions, a read-only file system, ACLs)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".condense-probe-", dir=directory)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise CondenseError(f"{what}: cannot write in directory {str(directory)!r} ({exc.strerror}); choose a writable location") from None


def check_writable(arg: PathArg) -> None:
    """The output (or output directory) can be made: its name fits, no file stands where a directory must,
    and the directory that will hold it accepts new files."""
    path, what = arg.path, f"{arg.flag} {str(arg.path)!r}"
    if arg.role == OUTPUT_DIR:
        if path.exists() and not path.is_dir():
            raise CondenseError(f"{what} is a file, not a directory; name a directory")
        target_dir = path
    else:
        if path.is_dir():
            raise CondenseError(f"{what} is a directory; name a file")
        target_dir = path.parent
        limit = name_max(_existing_ancestor(target_dir))
        size = len(os.fsencode(path.name))
        if size > limit:
            raise CondenseError(f"{what}: a file name of {size} bytes is longer than the {limit} the file system allows; shorten it")
    holder = _existing_ancestor(target_dir)
    if not holder.is_dir():
        raise CondenseError(f"{what}: {str(holder)!r} is a file, so no directory can be made there; choose another path")
    _probe(holder, what)


def check_io(args: Iterable[PathArg]) -> None:
    """One-line errors, before any work: an output (or a state file) that is also an input or another output,
    and outputs that cannot be written."""
    args = [a for a in args if a.path is not None]
    inputs = {}
    for a in args:
        if a.role == INPUT:
            inputs.setdefault(_key(a.path), a)
    written: dict = {}
    for a in args:
        if a.role == INPUT:
            continue
        if a.role == OUTPUT_DIR:  # a directory the stage adds files to (a download cache): only its writability counts
            check_writable(a)
            continue
        key = _key(a.path)
        if key in inputs:
            other = inputs[key]
            raise CondenseError(
                f"{a.flag} {str(a.path)!r} is also {other.flag}: writing it would destroy an input; give {a.flag} another path"
            )
        if key in written:
            other = written[key]
            raise CondenseError(f"{a.flag} and {other.flag} are the same file {str(a.path)!r}; give each its own path")
        written[key] = a
    for a in written.values():
        check_writable(a)


def path_args(pairs: Sequence[tuple[str, object, str]]) -> list[PathArg]:
    """(flag, a path / a list of paths / None, role) -> PathArgs, one per path given."""
    out = []
    for flag, value, role in pairs:
        for path in value if isinstance(value, (list, tuple)) else [value]:
            if path is not None:
                out.append(PathArg(flag, Path(path), role))
    return out
