"""CIFAR's python batches, read without letting them run code: a restricted unpickler.

The CIFAR-10/100 "python version" files are Python-2 protocol-2 pickles of a dict: ``data`` (a uint8
numpy array, N×3072, channel-major), ``labels`` (CIFAR-10) or ``fine_labels``/``coarse_labels``
(CIFAR-100), ``batch_label`` and ``filenames``; the meta file holds the label names. torchvision reads
them with a plain ``pickle.load``, so a batch in an archive that an ``--md5-file`` approved (a private
mirror) could run any code the moment it is opened. Here the only globals a batch may import are the
exact numpy functions that rebuild an array (``_reconstruct``, ``ndarray``, ``dtype``); every other
import (``os.system``, ``builtins.getattr``, ``pathlib.Path``, ...) is refused before it is resolved, so
no callable outside that list can be reached. The structure read back is then checked: ``data`` must be
a uint8 N×3072 array and the labels N integers.

This is the one module that may unpickle (tests/test_security_unpickle.py scans the tree for others).
"""

from __future__ import annotations

import importlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import CondenseError

__all__ = ["CifarSplit", "RestrictedUnpickler", "read_cifar_split", "restricted_load"]

CIFAR_ROW = 3 * 32 * 32  # one image as stored: 1024 red, then 1024 green, then 1024 blue bytes


def _reconstruct() -> Any:
    """numpy's array-rebuilding function (``numpy._core`` since numpy 2, ``numpy.core`` before)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise CondenseError("this numpy has no multiarray._reconstruct, which CIFAR's batches need; install numpy from the lock")


# (module, name) as a pickle names them -> how to get the object; nothing else can be imported.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # what Python 2's numpy wrote (the original files)
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # what numpy 2 writes
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose only importable globals are numpy's array rebuilders; ``source`` names the file in errors."""

    def __init__(self, file: io.BufferedIOBase, source: str, encoding: str = "latin1"):
        # latin1, as torchvision reads them: Python-2 str -> str, array bytes intact ("bytes": the CIFAR website's recipe)
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        # Every import a pickle makes goes through here (GLOBAL, STACK_GLOBAL, INST, OBJ, EXT*), so refusing
        # here means no function outside the list is ever called, whatever opcodes follow.
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise CondenseError(
                f"{self.source} asks to import {module}.{name}, which a CIFAR batch never does; it was not loaded (a pickle "
                "that imports can run code); replace the archive with an official copy"
            )
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        raise CondenseError(
            f"{self.source} holds a persistent id, which a CIFAR batch never does; replace the archive with an official copy"
        )


def restricted_load(file: io.BufferedIOBase, source: str) -> Any:
    """Unpickle the binary ``file`` with :class:`RestrictedUnpickler`; any failure is a one-line CondenseError naming ``source``."""
    try:
        return RestrictedUnpickler(file, source).load()
    except CondenseError:
        raise
    except Exception as exc:  # truncated or foreign bytes raise many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CondenseError(f"{source} is not a CIFAR python batch ({first}); replace the archive with an intact copy") from None


@dataclass(frozen=True)
class CifarSplit:
    """One split as :meth:`condense.data.sources.CifarFormat.to_tensors` reads it (torchvision's attribute names)."""

    data: np.ndarray  # uint8 N×32×32×3 (HWC, as torchvision's CIFAR10.data)
    targets: list[int]
    classes: list[str]


def _read(path: Path) -> Any:
    with open(path, "rb") as handle:  # a handle, not read_bytes: CIFAR-100's train file is 150 MB
        return restricted_load(handle, str(path))


def _batch(path: Path) -> tuple[np.ndarray, list[int]]:
    entry = _read(path)
    if not isinstance(entry, dict):
        raise CondenseError(f"{path} holds a {type(entry).__name__}, not a CIFAR batch dict; replace the archive with an intact copy")
    data = entry.get("data")
    labels = entry.get("labels", entry.get("fine_labels"))  # CIFAR-10, CIFAR-100 (torchvision's rule)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR_ROW:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise CondenseError(f"{path}: 'data' is {got}, expected a uint8 N×{CIFAR_ROW} array; replace the archive with an intact copy")
    if not isinstance(labels, list) or len(labels) != data.shape[0] or not all(type(x) is int for x in labels):
        raise CondenseError(f"{path}: the labels are not {data.shape[0]} integers; replace the archive with an intact copy")
    return data, labels


def _label_names(path: Path, key: str) -> list[str]:
    meta = _read(path)
    names = meta.get(key) if isinstance(meta, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CondenseError(f"{path} holds no list of names under {key!r}; replace the archive with an intact copy")
    return names


def read_cifar_split(cls: type, root: Path, train: bool) -> CifarSplit:
    """Read one split of torchvision's CIFAR layout (``root/<cls.base_folder>/<batch>``) as torchvision would,
    with :class:`RestrictedUnpickler` instead of ``pickle.load``. The caller has checked the files' digests."""
    folder = Path(root) / cls.base_folder
    rows, targets = [], []
    for name, _md5 in cls.train_list if train else cls.test_list:
        data, labels = _batch(folder / name)
        rows.append(data)
        targets.extend(labels)
    data = np.vstack(rows).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return CifarSplit(data=data, targets=targets, classes=_label_names(folder / cls.meta["filename"], cls.meta["key"]))
