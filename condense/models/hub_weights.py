"""Published pretrained weights from the torch hub cache, verified by their sha256 before anything reads them.

torch.hub (and torchvision's weights API on top of it) unpickles a cached file with ``weights_only=False``
and never re-checks the hash of a file already in ``$TORCH_HOME/hub/checkpoints``, so a file planted
there (or copied there by hand from a wrong source) would run whatever its pickle asks for. Here:

* the expected digest comes from the published file name, as ``torch.hub``'s ``check_hash`` reads it
  (``resnet18-f37072fd.pth``: ``f37072fd`` is the start of the file's sha256, ``torch.hub.HASH_REGEX``);
* a cached file is hashed before it is loaded; one that does not match is refused, never read;
* a download goes to a temporary file beside the cache entry, is hashed, and only then moved into place;
* the file is read with :func:`condense.core.fileio.load_torch` (``weights_only=True``), so even a file with
  the right hash can only yield tensors and plain containers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlparse

import torch

from ..core.errors import CondenseError
from ..core.fileio import atomic_path, load_torch

__all__ = ["hub_cache_path", "published_sha256_prefix", "sha256_of", "verify_sha256_prefix", "load_published_state"]


def hub_cache_path(url: str) -> Path:
    """Where torch.hub keeps the file of ``url``: ``<torch.hub.get_dir()>/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / _file_name(url)


def _file_name(url: str) -> str:
    return Path(urlparse(url).path).name


def published_sha256_prefix(url: str) -> str:
    """The sha256 prefix that the published file name of ``url`` carries (``name-<hex>.ext``)."""
    match = torch.hub.HASH_REGEX.search(_file_name(url))
    if match is None or len(match.group(1)) < 8:
        raise CondenseError(
            f"weights url {url!r} carries no sha256 prefix in its file name (name-<8+ hex digits>.ext), so its file "
            "cannot be verified; use a local state-dict file instead"
        )
    return match.group(1)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256_prefix(path: Path, prefix: str, fix: str) -> None:
    """Raise a one-line CondenseError unless the sha256 of ``path`` starts with ``prefix``; ``fix`` ends it."""
    actual = sha256_of(path)
    if not actual.startswith(prefix):
        raise CondenseError(
            f"{str(path)!r} has sha256 {actual[: max(len(prefix), 16)]}..., not the published {prefix}...; "
            f"it was not loaded (it could run code); {fix}"
        )


def _download_verified(url: str, cache: Path, prefix: str) -> None:
    """Download ``url`` to a temporary file beside ``cache``, verify it, and only then move it to ``cache``."""
    with atomic_path(cache) as tmp:
        try:
            torch.hub.download_url_to_file(url, str(tmp), hash_prefix=None, progress=False)
        except Exception as exc:  # URLError/OSError offline, HTTPError; atomic_path would misreport an OSError
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CondenseError(
                f"{_file_name(url)} is not in the torch cache and could not be downloaded ({first}); copy the official "
                f"file (from {url}) to {cache}, or use a local state-dict file"
            ) from None
        # a mismatch raises inside the block: atomic_path then removes the temporary file, the cache stays empty
        verify_sha256_prefix(tmp, prefix, f"the download from {url} is not the published file; retry, or copy the official file to {cache}")


def load_published_state(url: str, what: str) -> dict:
    """The state dict published at ``url``: the verified torch-cache copy, else one verified download into the cache.

    Every path that reaches ``torch.load`` has passed the sha256-prefix check of the file name, and the load is
    ``weights_only=True``."""
    prefix = published_sha256_prefix(url)
    cache = hub_cache_path(url)
    if not cache.is_file():
        _download_verified(url, cache, prefix)
    else:
        verify_sha256_prefix(
            cache, prefix, f"delete it and rerun to download the official file, or copy the official file (from {url}) there"
        )
    return load_torch(cache, what=what)
