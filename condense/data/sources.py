"""The datasets the pipeline knows, and :func:`prepare`: published files → one dict of uint8 tensors.

Each :class:`DatasetSpec` carries the official DC/DSA/DM constants (channel,
image size, class count, mean/std from the authors' ``utils.get_dataset``) and a
*storage format* that knows how torchvision stores that dataset on disk.

Checksums
---------
torchvision is imported only when a dataset is read (the workflow imports this registry for
the dataset names). The list of original files and their expected MD5s is read from the torchvision
class attributes at call time (``CIFAR10.filename``/``tgz_md5``/``train_list``/
``test_list``/``meta``, ``MNIST.resources``, ``SVHN.split_list``), never copied
here, so a test can monkeypatch them. On top of that:

* FashionMNIST also accepts the MD5 of the *decompressed* files (docs/environment.md):
  Debian's ``dataset-fashion-mnist`` package recompresses the ``.gz`` files, so
  their archive digests differ from torchvision's while the content matches.
* ``md5_file`` is a JSON object ``{file name: md5}`` that overrides expected
  digests, for private mirrors and for generated fixtures
  (:mod:`condense.data.fixtures` writes one). Keys may name the published files
  (``cifar-10-python.tar.gz``, ``train-images-idx3-ubyte.gz``,
  ``train_32x32.mat``), the decompressed MNIST-family files
  (``train-images-idx3-ubyte``: content digest) and the files torchvision itself
  re-checks after extraction (CIFAR's ``data_batch_1`` … ``test_batch``,
  ``batches.meta``; CIFAR-100's ``train``, ``test``, ``meta``). Unknown keys are
  ignored. The overrides reach torchvision through a subclass made per call
  (same class name, so torchvision's folder layout is unchanged) that carries
  the overridden attributes; the torchvision classes themselves are never
  modified, so other callers in the same process keep the official digests.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import CondenseError
from ..core.fileio import read_json
from ..core.registry import Registry
from ..core.runtime import log
from .archives import extract_tar
from .augment import strategy_for
from .cifar_pickles import read_cifar_split
from .traits import DatasetTraits

FORMAT = 1
"""Version of the dict :func:`prepare` returns (key ``"format"``)."""

_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class RequiredFile:
    """One published file a mirror directory must hold."""

    name: str  # as published, e.g. "cifar-10-python.tar.gz" or "train-images-idx3-ubyte.gz"
    md5: str  # expected digest of that file
    plain_name: str | None = None  # for .gz files: the decompressed name, also accepted in a mirror
    content_md5s: tuple[str, ...] = ()  # for .gz files: accepted digests of the decompressed content

    def describe(self) -> str:
        return f"{self.name} (or {self.plain_name})" if self.plain_name else self.name


def _short(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _subclass(base: type, attrs: dict[str, Any]) -> type:
    """A per-call subclass of a torchvision dataset class with some class attributes replaced.

    It keeps the base's name because MNIST-family classes derive their folder
    (``root/<ClassName>/raw``) from it.
    """
    if not attrs:
        return base
    return type(base.__name__, (base,), {**attrs, "__module__": __name__, "__doc__": base.__doc__})


def _reraise_write_error(exc: Exception) -> None:
    """Raise ``exc`` again if it is a failed write (a full disk, a file-size limit: an OSError with an errno, which
    ``prepare`` reports as such), not a damaged archive (gzip's BadGzipFile is an OSError without one)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        raise exc


def _replace_file(src: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    os.replace(src, dest)


class StorageFormat:
    """How torchvision stores one family of datasets on disk; subclasses implement each step."""

    def split_kwargs(self, train: bool) -> dict[str, Any]:
        return {"train": train}

    def check_requirements(self, name: str) -> None:
        """Raise CondenseError when an optional package the loader needs is missing."""

    def override(self, cls: type, md5s: Mapping[str, str]) -> type:
        raise NotImplementedError

    def required_files(self, cls: type, md5s: Mapping[str, str], content_md5s: Mapping[str, str]) -> list[RequiredFile]:
        raise NotImplementedError

    def place(self, cls: type, found: Mapping[str, Path], root: Path) -> None:
        """Put the verified mirror files where ``cls(root, download=False)`` reads them."""
        raise NotImplementedError

    def read_split(self, cls: type, root: Path, train: bool, download: bool) -> Any:
        """One split as torchvision's dataset object (or an object with the attributes that
        :meth:`to_tensors` and :meth:`class_names` read), downloading first when asked."""
        return cls(str(root), download=download, **self.split_kwargs(train))

    def to_tensors(self, ds: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 N×C×H×W images, int64 labels) from a loaded torchvision dataset."""
        raise NotImplementedError

    def class_names(self, ds: Any) -> list[str] | None:
        """Class names torchvision reports, or None where it has none."""
        return list(ds.classes) if hasattr(ds, "classes") else None


class CifarFormat(StorageFormat):
    """CIFAR-10/100: one ``.tar.gz`` of python pickles. Every extracted file's MD5 is checked, and the batches are
    read by :mod:`condense.data.cifar_pickles` (a restricted unpickler), never by torchvision's ``pickle.load``:
    an archive approved by ``--md5-file`` is trusted for its bytes, not to run code."""

    def override(self, cls: type, md5s: Mapping[str, str]) -> type:
        attrs: dict[str, Any] = {}
        if cls.filename in md5s:
            attrs["tgz_md5"] = md5s[cls.filename]
        for list_name in ("train_list", "test_list"):
            entries = getattr(cls, list_name)
            if any(name in md5s for name, _ in entries):
                attrs[list_name] = [[name, md5s.get(name, md5)] for name, md5 in entries]
        if cls.meta["filename"] in md5s:
            attrs["meta"] = {**cls.meta, "md5": md5s[cls.meta["filename"]]}
        return _subclass(cls, attrs)

    def required_files(self, cls, md5s, content_md5s):
        return [RequiredFile(cls.filename, cls.tgz_md5)]

    @staticmethod
    def inner_files(cls: type) -> list[tuple[str, str]]:
        return [(name, md5) for name, md5 in list(cls.train_list) + list(cls.test_list)] + [(cls.meta["filename"], cls.meta["md5"])]

    def place(self, cls, found, root):
        archive = found[cls.filename]
        with tempfile.TemporaryDirectory(dir=root, prefix=".extract-") as tmp:
            extract_tar(archive, Path(tmp))  # not torchvision's extract_archive: members may not leave the folder
            src = Path(tmp) / cls.base_folder
            problems = self._problems(cls, Path(tmp))
            if problems:
                raise CondenseError(
                    f"archive {archive} passed its checksum but its contents do not match torchvision's per-file digests "
                    f"({'; '.join(problems)}); use an intact archive, or for a private copy list those files' md5s in --md5-file"
                )
            _replace_file(src, root / cls.base_folder)

    def read_split(self, cls, root, train, download):
        # torchvision's CIFAR10.__init__ step by step (download, digests, batches), with extraction and unpickling restricted
        problems = self._problems(cls, root)
        if download and problems:
            from torchvision.datasets.utils import download_url

            download_url(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)  # raises unless the md5 matches
            extract_tar(root / cls.filename, root)
            problems = self._problems(cls, root)
        if problems:
            raise CondenseError(
                f"{root} does not hold {cls.__name__}'s files with their digests ({'; '.join(problems)}); "
                f"delete {root / cls.base_folder} and rerun (--mirror DIR for a local copy, --md5-file for a private one)"
            )
        return read_cifar_split(cls, root, train)

    def _problems(self, cls: type, root: Path) -> list[str]:
        """What is wrong with the extracted files under ``root`` (missing, or another md5 than ``cls`` expects)."""
        problems = []
        for name, md5 in self.inner_files(cls):
            path = root / cls.base_folder / name
            if not path.is_file():
                problems.append(f"{cls.base_folder}/{name} is missing")
            elif (actual := _md5(path)) != md5:
                problems.append(f"{cls.base_folder}/{name} has md5 {actual}, expected {md5}")
        return problems

    def to_tensors(self, ds):
        images = torch.from_numpy(np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2)))
        labels = torch.as_tensor(np.asarray(ds.targets, dtype=np.int64))
        return images, labels


class MnistFormat(StorageFormat):
    """MNIST family: four gzipped idx files, decompressed into ``root/<ClassName>/raw``."""

    def override(self, cls, md5s):
        if not any(name in md5s for name, _ in cls.resources):
            return cls
        return _subclass(cls, {"resources": [(name, md5s.get(name, md5)) for name, md5 in cls.resources]})

    def required_files(self, cls, md5s, content_md5s):
        required = []
        for name, md5 in cls.resources:
            plain = name[: -len(".gz")] if name.endswith(".gz") else None
            content: tuple[str, ...] = ()
            if plain is not None:
                if plain in md5s:
                    content = (md5s[plain],)
                elif plain in content_md5s:
                    content = (content_md5s[plain],)
            required.append(RequiredFile(name, md5, plain, content))
        return required

    def place(self, cls, found, root):
        raw = root / cls.__name__ / "raw"
        processed = root / cls.__name__ / "processed"
        if all((processed / f).is_file() for f in (cls.training_file, cls.test_file)):
            raise CondenseError(
                f"{processed} holds torchvision's legacy cache, which torchvision would load instead of the mirror files; "
                f"delete that folder and rerun"
            )
        raw.mkdir(parents=True, exist_ok=True)
        for name, _ in cls.resources:
            src = found[name]
            plain = name[: -len(".gz")] if name.endswith(".gz") else name
            with tempfile.TemporaryDirectory(dir=raw, prefix=".extract-") as tmp:
                if src.name == name and name != plain:
                    try:
                        from torchvision.datasets.utils import extract_archive

                        out = Path(extract_archive(str(src), tmp))
                    except Exception as exc:
                        _reraise_write_error(exc)
                        raise CondenseError(f"cannot decompress {src} ({_short(exc)}); replace it with an intact copy") from None
                else:
                    out = Path(tmp) / plain
                    shutil.copyfile(src, out)
                _replace_file(out, raw / plain)

    def to_tensors(self, ds):
        images = ds.data.unsqueeze(1).to(torch.uint8).contiguous().clone()
        labels = torch.as_tensor(ds.targets, dtype=torch.int64).clone()
        return images, labels


class SvhnFormat(StorageFormat):
    """SVHN: one MATLAB ``.mat`` file per split, read with scipy; labels ``.labels`` (10 → 0 done by torchvision)."""

    splits = ("train", "test")

    def split_kwargs(self, train):
        return {"split": "train" if train else "test"}

    def check_requirements(self, name):
        if importlib.util.find_spec("scipy") is None:
            raise CondenseError(
                f"dataset {name!r} is stored as MATLAB .mat files, which need scipy; install it (pip install scipy) and rerun"
            )

    def override(self, cls, md5s):
        if not any(entry[1] in md5s for entry in cls.split_list.values()):
            return cls
        split_list = {split: [url, fname, md5s.get(fname, md5)] for split, (url, fname, md5) in cls.split_list.items()}
        return _subclass(cls, {"split_list": split_list})

    def required_files(self, cls, md5s, content_md5s):
        return [RequiredFile(cls.split_list[s][1], cls.split_list[s][2]) for s in self.splits]

    def place(self, cls, found, root):
        for split in self.splits:
            name = cls.split_list[split][1]
            tmp = root / f".{name}.tmp"
            shutil.copyfile(found[name], tmp)
            os.replace(tmp, root / name)

    def to_tensors(self, ds):
        images = torch.from_numpy(np.ascontiguousarray(ds.data, dtype=np.uint8))
        labels = torch.from_numpy(np.asarray(ds.labels, dtype=np.int64).reshape(-1).copy())
        return images, labels

    def class_names(self, ds):
        return None


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: the official constants plus how torchvision reads it (``torchvision_name``: the class
    in ``torchvision.datasets``, resolved when used)."""

    name: str
    torchvision_name: str
    channel: int
    im_size: tuple[int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    digits: bool  # digit datasets (MNIST, SVHN) name their classes '0'..'9', as the official code does
    storage: StorageFormat
    content_md5s: tuple[tuple[str, str], ...] = ()  # decompressed file -> md5, accepted besides the archive digest

    @property
    def torchvision_class(self) -> type:
        from torchvision import datasets

        return getattr(datasets, self.torchvision_name)

    @property
    def traits(self) -> DatasetTraits:
        """What travels in the data file: the official DSA strategy (no flip for digits), published numbers by name."""
        return DatasetTraits(dsa_strategy=strategy_for(self.name), flip_safe=not self.digits, published_as=self.name, base=self.name)

    def required_files(self, md5s: Mapping[str, str] | None = None) -> list[RequiredFile]:
        """The published files a mirror must hold, with the digests in force now (torchvision's, then overrides)."""
        md5s = dict(md5s or {})
        cls = self.storage.override(self.torchvision_class, md5s)
        return self.storage.required_files(cls, md5s, dict(self.content_md5s))

    def class_names(self, ds: Any = None) -> list[str]:
        if self.digits:
            return [str(c) for c in range(self.num_classes)]
        names = self.storage.class_names(ds) if ds is not None else None
        if names is None:
            names = list(getattr(self.torchvision_class, "classes", None) or [str(c) for c in range(self.num_classes)])
        return [str(n) for n in names]


DATASETS: Registry[DatasetSpec] = Registry("dataset")

for _spec in (
    DatasetSpec("cifar10", "CIFAR10", 3, (32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), False, CifarFormat()),
    DatasetSpec("cifar100", "CIFAR100", 3, (32, 32), 100, (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762), False, CifarFormat()),
    DatasetSpec("svhn", "SVHN", 3, (32, 32), 10, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), True, SvhnFormat()),
    DatasetSpec("mnist", "MNIST", 1, (28, 28), 10, (0.1307,), (0.3081,), True, MnistFormat()),
    DatasetSpec(
        "fashionmnist",
        "FashionMNIST",
        1,
        (28, 28),
        10,
        (0.2861,),
        (0.3530,),
        False,
        MnistFormat(),
        content_md5s=(  # docs/environment.md: official uncompressed digests; Debian's recompressed .gz files match these
            ("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            ("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
            ("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
            ("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
        ),
    ),
):
    DATASETS.add(_spec.name, _spec)
del _spec


def get_spec(name: str) -> DatasetSpec:
    """The spec registered as ``name``; an unknown name is a CondenseError listing the valid ones."""
    return DATASETS.get(name)


def read_md5_file(path: str | os.PathLike) -> dict[str, str]:
    """Load and validate a ``{file name: md5}`` JSON file."""
    data = read_json(path, what="md5")
    if not isinstance(data, dict):
        raise CondenseError(f"md5 file {str(path)!r} must hold a JSON object {{file name: md5}}, not {type(data).__name__}")
    md5s = {}
    for key, value in data.items():
        if not isinstance(value, str) or not _MD5_RE.match(value.lower()):
            raise CondenseError(f"md5 file {str(path)!r}: entry {key!r} has {value!r}, which is not a 32-digit hex md5; fix that entry")
        md5s[str(key)] = value.lower()
    return md5s


def _gunzip_md5(path: Path) -> str | None:
    """MD5 of a gzip file's decompressed content, or None when it cannot be decompressed."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def _md5(path: Path) -> str:
    from torchvision.datasets.utils import calculate_md5

    return calculate_md5(path)


def _verify(req: RequiredFile, path: Path) -> None:
    """Accept the file if its digest matches the archive digest, or (for .gz) its content matches a content digest."""
    actual = _md5(path)
    fix = "replace it with an intact copy, or for a deliberate private copy list its md5 in --md5-file"
    if path.name == req.name:
        if actual == req.md5:
            log.info("verified %s (md5 %s)", path, actual)
            return
        expected = f"md5 {req.md5}"
        got = f"got {actual}"
        if req.plain_name is not None:
            content = _gunzip_md5(path)
            if content is not None and content in req.content_md5s:
                log.info("verified %s by its decompressed content (md5 %s)", path, content)
                return
            if req.content_md5s:
                expected += f" (or decompressed content md5 {' or '.join(req.content_md5s)})"
            got += f" (decompressed content md5 {content or 'unreadable: not a valid gzip file'})"
        raise CondenseError(f"checksum mismatch for {path}: expected {expected}, {got}; {fix}")
    # the decompressed form of a .gz file
    if not req.content_md5s:
        raise CondenseError(
            f"no digest is known for the decompressed file {path}; put {req.name} in the mirror instead, "
            f"or list {path.name}'s md5 in --md5-file"
        )
    if actual in req.content_md5s:
        log.info("verified %s (md5 %s)", path, actual)
        return
    raise CondenseError(f"checksum mismatch for {path}: expected md5 {' or '.join(req.content_md5s)}, got {actual}; {fix}")


def _locate(required: Sequence[RequiredFile], mirror: Path) -> tuple[dict[str, Path], list[str]]:
    found, missing = {}, []
    for req in required:
        candidates = [mirror / req.name] + ([mirror / req.plain_name] if req.plain_name else [])
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            missing.append(req.describe())
        else:
            found[req.name] = hit
    return found, missing


def _no_network_hint(spec: DatasetSpec, md5s: Mapping[str, str]) -> str:
    files = ", ".join(r.describe() for r in spec.required_files(md5s))
    return f"copy {files} into a directory and rerun with --mirror DIR (plus --md5-file FILE for a private copy with other digests)"


def _instantiate(spec: DatasetSpec, cls: type, root: Path, train: bool, download: bool, md5s: Mapping[str, str]):
    split = "train" if train else "test"
    try:
        return spec.storage.read_split(cls, root, train, download)
    except CondenseError:
        raise
    except Exception as exc:  # URLError/OSError without network; torchvision's RuntimeError for bad downloads or files
        if download:
            hint = "no network? " if isinstance(exc, OSError) or "urlopen error" in str(exc) else ""
            raise CondenseError(
                f"could not download {spec.name} ({split}) into {root} ({hint}{_short(exc)}); "
                f"without network, {_no_network_hint(spec, md5s)}"
            ) from None
        raise CondenseError(
            f"torchvision could not load {spec.name} ({split}) from {root} ({_short(exc)}); check the mirror files and rerun"
        ) from None


def _check_split(spec: DatasetSpec, split: str, images: torch.Tensor, labels: torch.Tensor, source: str) -> None:
    want = (spec.channel, *spec.im_size)
    if images.dim() != 4 or tuple(images.shape[1:]) != want or labels.shape != (images.shape[0],):
        raise CondenseError(
            f"{spec.name} {split} data from {source} has images {tuple(images.shape)} and labels {tuple(labels.shape)}, "
            f"expected N×{'×'.join(map(str, want))} and N labels; the files are not {spec.name}, replace them"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= spec.num_classes):
        raise CondenseError(
            f"{spec.name} {split} labels from {source} span {int(labels.min())}..{int(labels.max())}, "
            f"expected 0..{spec.num_classes - 1}; the files are not {spec.name}, replace them"
        )


def prepare(
    name: str,
    root: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    md5_file: str | os.PathLike | None = None,
) -> dict:
    """Get dataset ``name`` as uint8 tensors, verifying checksums on the way.

    Without ``mirror`` torchvision downloads into ``root`` (with its own checksum
    checks). With ``mirror`` the published files are read from that directory,
    verified (archive digest, or for MNIST-family ``.gz`` files the decompressed
    content digest), placed under ``root`` where torchvision expects them and
    loaded with ``download=False``. ``md5_file`` overrides expected digests (see
    the module docstring).

    Returns ``{"name", "classes", "mean", "std", "train_images", "train_labels",
    "test_images", "test_labels", "format", "traits"}`` with uint8 N×C×H×W images and int64
    labels. Nothing is written except torchvision's files under ``root``.
    """
    spec = get_spec(name)
    md5s = read_md5_file(md5_file) if md5_file is not None else {}
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise CondenseError(f"--root {str(root)!r} is a file, not a directory; give a directory for the original dataset files")
    root.mkdir(parents=True, exist_ok=True)
    spec.storage.check_requirements(spec.name)
    cls = spec.storage.override(spec.torchvision_class, md5s)

    if mirror is None:
        source = f"torchvision's download into {root}"
        download = True
    else:
        mirror = Path(mirror)
        if not mirror.is_dir():
            raise CondenseError(f"mirror directory {str(mirror)!r} does not exist; pass the directory that holds the {spec.name} files")
        required = spec.storage.required_files(cls, md5s, dict(spec.content_md5s))
        found, missing = _locate(required, mirror)
        if missing:
            raise CondenseError(
                f"mirror directory {str(mirror)!r} lacks {', '.join(missing)} needed for {spec.name}; copy them there or drop --mirror to download"
            )
        for req in required:
            _verify(req, found[req.name])
        try:
            spec.storage.place(cls, found, root)
        except OSError as exc:  # copying or extracting the mirror's files under --root: a full disk or a size limit
            where = exc.filename or root
            raise CondenseError(
                f"cannot write {str(where)!r} ({exc.strerror or exc}); free space under --root {str(root)!r} or choose another, then rerun"
            ) from None
        source = f"mirror {mirror}"
        download = False

    out: dict[str, Any] = {"name": spec.name}
    classes = None
    for split, train in (("train", True), ("test", False)):
        ds = _instantiate(spec, cls, root, train, download, md5s)
        images, labels = spec.storage.to_tensors(ds)
        _check_split(spec, split, images, labels, source)
        out[f"{split}_images"], out[f"{split}_labels"] = images, labels
        if classes is None:
            classes = spec.class_names(ds)
        del ds
    if len(classes) != spec.num_classes:
        raise CondenseError(
            f"{spec.name} from {source} names {len(classes)} classes, expected {spec.num_classes}; the files are not {spec.name}, replace them"
        )
    return {
        "name": spec.name,
        "classes": classes,
        "mean": [float(m) for m in spec.mean],
        "std": [float(s) for s in spec.std],
        "train_images": out["train_images"],
        "train_labels": out["train_labels"],
        "test_images": out["test_images"],
        "test_labels": out["test_labels"],
        "format": FORMAT,
        "traits": spec.traits.to_dict(),
    }
