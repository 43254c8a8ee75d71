"""What a stage reads and writes, checked before any work: no output overwrites an input, no two outputs
are one file, and every output can be written where it is asked for.

Stages declare their path flags with a role (:data:`ROLES`; ``condense/stages/_args.py`` ``add_path``) and
the command line checks them all with :func:`check_io` right after parsing, so a mistake costs nothing:
``--out`` equal to ``--data`` would otherwise replace the dataset by the set, and a read-only or missing
directory would end hours of work in a traceback at the final write.

A directory given as an input (an MTT set directory, a mirror of published archives) is read whole: every
file in it counts as an input, and no output may be written inside it, since the stage may read any name
there (``evaluate --set mttdir --out mttdir/labels_best.pt`` would replace the set's labels). Likewise a
directory the stage writes into may not hold, contain or lie inside what the stage reads.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
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


MAX_TREE_FILES = 100_000  # files of an input directory keyed one by one (hard links); containment covers the rest


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, directory: Path) -> bool:
    """``path`` is ``directory`` or lies below it, after resolving links (both real paths)."""
    return path == directory or directory in path.parents


def _tree_files(directory: Path) -> Iterator[Path]:
    """The files under an input directory, at most :data:`MAX_TREE_FILES` of them."""
    count = 0
    for parent, _dirs, files in os.walk(directory):
        for name in files:
            yield Path(parent) / name
            count += 1
            if count >= MAX_TREE_FILES:
                return


def _check_input_trees(args: list[PathArg]) -> None:
    """No output lies inside an input directory, and no output directory overlaps an input."""
    trees = [(a, _real(a.path)) for a in args if a.role == INPUT and a.path.is_dir()]
    reads = [(a, _real(a.path)) for a in args if a.role == INPUT]
    for a in args:
        if a.role == INPUT:
            continue
        real = _real(a.path)
        for tree, tree_real in trees:
            if _inside(real, tree_real):
                raise CondenseError(
                    f"{a.flag} {str(a.path)!r} lies inside {tree.flag} {str(tree.path)!r}, a directory this stage reads; "
                    f"write {a.flag} outside it"
                )
        if a.role != OUTPUT_DIR:
            continue
        for read, read_real in reads:  # a directory written into must not hold (or lie inside) what is read
            if _inside(read_real, real) or _inside(real, read_real):
                raise CondenseError(
                    f"{a.flag} {str(a.path)!r} holds {read.flag} {str(read.path)!r}, which this stage reads; "
                    f"give {a.flag} a directory apart from its inputs"
                )


def check_io(args: Iterable[PathArg]) -> None:
    """One-line errors, before any work: an output (or a state file) that is also an input or another output,
    an output inside an input directory, and outputs that cannot be written."""
    args = [a for a in args if a.path is not None]
    inputs = {}
    for a in args:
        if a.role == INPUT:
            inputs.setdefault(_key(a.path), a)
            if a.path.is_dir():  # every file of a directory argument is read (hard links from elsewhere too)
                for file in _tree_files(a.path):
                    inputs.setdefault(_key(file), PathArg(f"{a.flag} (the file {str(file)!r})", file, INPUT))
    _check_input_trees(args)
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
