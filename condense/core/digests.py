"""Digests that tie an artifact to what it was made from: of a file's bytes, and of a nested value's content.

``file_digest`` names an input (the data file, the maps, a selection) in a checkpoint's identity, so a
checkpoint is never resumed against changed inputs. ``content_digest`` hashes a nested structure of
tensors, numbers and strings in a canonical way (independent of how torch serialises it), so a file whose
bytes were damaged after it was written is recognised even where ``torch.load`` still reads it.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Any

import torch

_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def content_digest(value: Any) -> str:
    """sha256 (hex) of a nested value: dicts (keys sorted), lists/tuples, tensors (dtype, shape and bytes),
    str, bool, int, float and None. Anything else is a TypeError: a digest must not depend on repr()."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _feed(h, value: Any) -> None:
    if isinstance(value, dict):
        h.update(b"d%d" % len(value))
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(b"l%d" % len(value))
        for item in value:
            _feed(h, item)
    elif isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        h.update(f"t{tensor.dtype}{tuple(tensor.shape)}".encode())
        flat = tensor.reshape(-1)
        if flat.numel() and flat.stride(0) != 1:
            # a view of one element (a column of a one-row table) keeps its parent's stride yet counts as
            # contiguous, so contiguous() leaves it as it is and view(uint8) refuses it: copy it to stride 1
            flat = torch.empty(flat.shape, dtype=flat.dtype).copy_(flat)
        h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, bool) or value is None:
        h.update(b"b" + repr(value).encode())
    elif isinstance(value, int):
        h.update(b"i" + str(value).encode())
    elif isinstance(value, float):
        h.update(b"f" + struct.pack("<d", value))
    elif isinstance(value, str):
        data = value.encode()
        h.update(b"s%d:" % len(data) + data)
    else:
        raise TypeError(f"content_digest cannot hash a {type(value).__name__}")
