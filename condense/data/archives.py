"""Archives from elsewhere, unpacked without writing outside their folder.

torchvision's ``extract_archive`` calls ``tarfile.extractall`` without a filter, which on Python 3.11–3.13
trusts the archive fully: a member named ``../../x`` or ``/abs/x``, or a symlink followed by a file through
it, is written outside the extraction folder. An archive approved by ``--md5-file`` (a private mirror) could
so plant code (a ``.pth`` file in site-packages runs at the next interpreter start). Here every member must
be a plain file or directory whose path stays inside the folder; anything else stops the extraction before
a byte is written.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from ..core.errors import CondenseError

__all__ = ["extract_tar"]


def _unsafe(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` may not be extracted, or None."""
    if not (member.isfile() or member.isdir()):
        return "is a link or a special file"
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        return "would be written outside the extraction folder"
    return None


def extract_tar(archive: Path, dest: Path) -> None:
    """Extract the (optionally compressed) tar ``archive`` into ``dest``, after checking every member."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                if (why := _unsafe(member)) is not None:
                    raise CondenseError(
                        f"archive {archive} holds {member.name!r}, which {why}; nothing was extracted; replace it with an official copy"
                    )
            # the "data" filter (Python 3.11.4+) re-checks the same and drops modes such as setuid
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, **extra)
    except CondenseError:
        raise
    except OSError as exc:
        if exc.errno is not None:  # a failed write (a full disk, a size limit): the caller reports it as such
            raise
        raise CondenseError(f"cannot extract {archive} ({exc}); replace it with an intact copy") from None
    except Exception as exc:  # tarfile/gzip raise many types for damaged archives
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise CondenseError(f"cannot extract {archive} ({text[:300]}); replace it with an intact copy") from None
