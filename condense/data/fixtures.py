"""Tiny random data in a dataset's exact published file format, plus md5.json, for offline tests.

``condense fixture --dataset cifar10 --out DIR`` writes what the dataset's
website serves, so ``condense download --mirror DIR --md5-file DIR/md5.json``
exercises the real extraction and loading code:

* CIFAR-10/100: ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` holding
  Python-2-style protocol-2 pickles with the real batch names (keys ``data``
  uint8 N×3072, ``labels`` or ``fine_labels``/``coarse_labels``, ``filenames``,
  ``batch_label``; ``batches.meta``/``meta`` with the real label names). Keys
  are Python 2 byte strings, so they load as ``b'data'`` with
  ``encoding='bytes'`` and as ``'data'`` with ``encoding='latin1'`` (torchvision),
  like the originals.
* MNIST/FashionMNIST: the four big-endian idx ``.gz`` files.
* SVHN: ``train_32x32.mat``/``test_32x32.mat`` (needs scipy, not a dependency).

``md5.json`` lists the MD5 of every published file and of every file
torchvision checks after extraction (CIFAR batches and meta file; for the
MNIST family also the decompressed idx files). Images are class-dependent (a
per-class blocky pattern plus noise) so a classifier can learn from them. The
output depends only on the arguments: gzip/tar metadata use a fixed time, so
reruns are byte-identical.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import CondenseError
from ..core.fileio import atomic_path, write_json
from .sources import DatasetSpec, get_spec

FIXED_MTIME = 1230768000  # 2009-01-01, stamped on every tar member
MD5_FILE = "md5.json"

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# CIFAR-100 superclass -> its five classes; fine names sorted give the official fine_label_names order.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ["beaver", "dolphin", "otter", "seal", "whale"],
    "fish": ["aquarium_fish", "flatfish", "ray", "shark", "trout"],
    "flowers": ["orchid", "poppy", "rose", "sunflower", "tulip"],
    "food_containers": ["bottle", "bowl", "can", "cup", "plate"],
    "fruit_and_vegetables": ["apple", "mushroom", "orange", "pear", "sweet_pepper"],
    "household_electrical_devices": ["clock", "keyboard", "lamp", "telephone", "television"],
    "household_furniture": ["bed", "chair", "couch", "table", "wardrobe"],
    "insects": ["bee", "beetle", "butterfly", "caterpillar", "cockroach"],
    "large_carnivores": ["bear", "leopard", "lion", "tiger", "wolf"],
    "large_man-made_outdoor_things": ["bridge", "castle", "house", "road", "skyscraper"],
    "large_natural_outdoor_scenes": ["cloud", "forest", "mountain", "plain", "sea"],
    "large_omnivores_and_herbivores": ["camel", "cattle", "chimpanzee", "elephant", "kangaroo"],
    "medium_mammals": ["fox", "porcupine", "possum", "raccoon", "skunk"],
    "non-insect_invertebrates": ["crab", "lobster", "snail", "spider", "worm"],
    "people": ["baby", "boy", "girl", "man", "woman"],
    "reptiles": ["crocodile", "dinosaur", "lizard", "snake", "turtle"],
    "small_mammals": ["hamster", "mouse", "rabbit", "shrew", "squirrel"],
    "trees": ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"],
    "vehicles_1": ["bicycle", "bus", "motorcycle", "pickup_truck", "train"],
    "vehicles_2": ["lawn_mower", "rocket", "streetcar", "tank", "tractor"],
}
CIFAR100_COARSE = sorted(CIFAR100_SUPERCLASSES)
CIFAR100_FINE = sorted(n for names in CIFAR100_SUPERCLASSES.values() for n in names)
CIFAR100_FINE_TO_COARSE = {fine: CIFAR100_COARSE.index(coarse) for coarse, names in CIFAR100_SUPERCLASSES.items() for fine in names}


# --------------------------------------------------------------------------- images


def generate(name: str, per_class: int, test_per_class: int, seed: int) -> dict[str, Any]:
    """The fixture's content, without files: uint8 N×C×H×W images, int64 labels, class names.

    Every class has a fixed blocky template (4×4 cells per channel); an image is
    its class template plus Gaussian noise (σ 24), so classes differ in spatial
    pattern (which survives instance norm), not only in brightness. Train and
    test images are shuffled.
    """
    spec = get_spec(name)
    _check_counts(per_class, test_per_class)
    rng = np.random.default_rng(seed)
    c, (h, w), k = spec.channel, spec.im_size, spec.num_classes
    cells = 4
    grid = rng.uniform(30.0, 225.0, size=(k, c, cells, cells))
    templates = np.kron(grid, np.ones((1, 1, -(-h // cells), -(-w // cells))))[:, :, :h, :w]

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = rng.permutation(np.repeat(np.arange(k, dtype=np.int64), n))
        noise = rng.normal(0.0, 24.0, size=(labels.size, c, h, w))
        images = np.clip(np.rint(templates[labels] + noise), 0, 255).astype(np.uint8)
        return torch.from_numpy(images), torch.from_numpy(labels)

    train_images, train_labels = split(per_class)
    test_images, test_labels = split(test_per_class)
    if spec.name == "cifar10":
        classes = list(CIFAR10_CLASSES)
    elif spec.name == "cifar100":
        classes = list(CIFAR100_FINE)
    else:
        classes = spec.class_names()
    return {
        "name": spec.name,
        "classes": classes,
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }


def _check_counts(per_class: int, test_per_class: int) -> None:
    if per_class < 1:
        raise CondenseError(f"--per-class {per_class} must be at least 1")
    if test_per_class < 1:
        raise CondenseError(f"--test-per-class {test_per_class} must be at least 1")


# --------------------------------------------------------------------------- file formats


def py2_pickle(obj: Any) -> bytes:
    """Protocol-2 pickle as Python 2's cPickle wrote CIFAR: str as byte strings, numpy arrays via numpy.core.

    Handles dict, list, tuple, str/bytes, int, bool, None and uint8 numpy arrays,
    which is all the CIFAR files contain.
    """

    def save(o: Any) -> bytes:
        if isinstance(o, bool):
            return b"\x88" if o else b"\x89"
        if o is None:
            return b"N"
        if isinstance(o, (int, np.integer)):
            o = int(o)
            if 0 <= o < 256:
                return b"K" + bytes([o])
            if 0 <= o < 65536:
                return b"M" + struct.pack("<H", o)
            return b"J" + struct.pack("<i", o)
        if isinstance(o, str):
            o = o.encode("latin1")
        if isinstance(o, bytes):
            return (b"U" + bytes([len(o)]) if len(o) < 256 else b"T" + struct.pack("<i", len(o))) + o
        if isinstance(o, tuple):
            if 1 <= len(o) <= 3:
                return b"".join(save(x) for x in o) + b"\x85\x86\x87"[len(o) - 1 : len(o)]
            return b"(" + b"".join(save(x) for x in o) + b"t"
        if isinstance(o, list):
            return b"]" + (b"(" + b"".join(save(x) for x in o) + b"e" if o else b"")
        if isinstance(o, dict):
            return b"}" + (b"(" + b"".join(save(k) + save(v) for k, v in o.items()) + b"u" if o else b"")
        if isinstance(o, np.ndarray) and o.dtype == np.uint8:
            dtype = b"cnumpy\ndtype\n" + save(("u1", False, True)) + b"R" + save((3, "|", None, None, None, -1, -1, 0)) + b"b"
            state = b"(" + save(1) + save(tuple(o.shape)) + dtype + save(False) + save(np.ascontiguousarray(o).tobytes()) + b"t"
            return b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + save((0,)) + save("b") + b"\x87R" + state + b"b"
        raise TypeError(f"py2_pickle cannot store {type(o).__name__}")

    return b"\x80\x02" + save(obj) + b"."


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no file name and mtime 0, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def tar_gz(folder: str, files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding ``folder/`` and ``folder/<name>`` for each file, with fixed owners, modes and times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(folder)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
        tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))
    return gzip_bytes(buf.getvalue())


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file (big-endian header: 0x0000 08 ndim, then each dimension) of uint8 data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _write(out: Path, name: str, data: bytes) -> None:
    with atomic_path(out / name) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(0o644)  # like a downloaded file, not mkstemp's 0600


def _cifar_rows(images: torch.Tensor) -> np.ndarray:
    return images.numpy().reshape(images.shape[0], -1)  # N×3×32×32 -> N×3072, channel-major like the originals


def _filenames(split: str, n: int) -> list[str]:
    return [f"fixture_{split}_{i:05d}.png" for i in range(n)]


def _cifar10_files(spec: DatasetSpec, data: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    cls = spec.torchvision_class
    batches = [name for name, _ in cls.train_list]
    train_idx = np.array_split(np.arange(data["train_labels"].numel()), len(batches))
    inner: dict[str, bytes] = {}
    names = _filenames("train", data["train_labels"].numel())
    for i, (batch, idx) in enumerate(zip(batches, train_idx)):
        inner[batch] = py2_pickle(
            {
                "batch_label": f"training batch {i + 1} of {len(batches)}",
                "labels": [int(x) for x in data["train_labels"][idx]],
                "data": _cifar_rows(data["train_images"][idx]),
                "filenames": [names[j] for j in idx],
            }
        )
    ((test_name, _),) = cls.test_list
    inner[test_name] = py2_pickle(
        {
            "batch_label": "testing batch 1 of 1",
            "labels": [int(x) for x in data["test_labels"]],
            "data": _cifar_rows(data["test_images"]),
            "filenames": _filenames("test", data["test_labels"].numel()),
        }
    )
    inner[cls.meta["filename"]] = py2_pickle(
        {
            "num_cases_per_batch": int(len(train_idx[0])),
            "label_names": data["classes"],
            "num_vis": 3072,
        }
    )
    readme = b"<html><body>Fixture in the CIFAR-10 python format, generated by condense.</body></html>\n"
    archive = tar_gz(cls.base_folder, {**inner, "readme.html": readme})
    return {cls.filename: archive}, inner


def _cifar100_files(spec: DatasetSpec, data: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    cls = spec.torchvision_class
    coarse = [CIFAR100_FINE_TO_COARSE[n] for n in CIFAR100_FINE]
    inner: dict[str, bytes] = {}
    for split, (name, _) in (("train", cls.train_list[0]), ("test", cls.test_list[0])):
        labels = [int(x) for x in data[f"{split}_labels"]]
        inner[name] = py2_pickle(
            {
                "filenames": _filenames(split, len(labels)),
                "batch_label": f"{'training' if split == 'train' else 'testing'} batch 1 of 1",
                "fine_labels": labels,
                "coarse_labels": [coarse[x] for x in labels],
                "data": _cifar_rows(data[f"{split}_images"]),
            }
        )
    inner[cls.meta["filename"]] = py2_pickle({"fine_label_names": CIFAR100_FINE, "coarse_label_names": CIFAR100_COARSE})
    return {cls.filename: tar_gz(cls.base_folder, inner)}, inner


def _mnist_files(spec: DatasetSpec, data: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    published, inner = {}, {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        for kind, array in (
            ("images-idx3-ubyte", data[f"{split}_images"][:, 0].numpy()),
            ("labels-idx1-ubyte", data[f"{split}_labels"].numpy().astype(np.uint8)),
        ):
            plain = f"{prefix}-{kind}"
            inner[plain] = idx_bytes(array)
            published[f"{plain}.gz"] = gzip_bytes(inner[plain])
    expected = {name for name, _ in spec.torchvision_class.resources}
    if set(published) != expected:  # torchvision renamed its files: the fixture would no longer match
        raise CondenseError(
            f"torchvision's {spec.torchvision_class.__name__}.resources lists {sorted(expected)}, the fixture writes {sorted(published)}; update condense.fixtures"
        )
    return published, inner


def _svhn_files(spec: DatasetSpec, data: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    if importlib.util.find_spec("scipy") is None:
        raise CondenseError("the svhn fixture is written as MATLAB .mat files, which needs scipy; install it (pip install scipy) and rerun")
    import scipy.io

    published = {}
    for split in ("train", "test"):
        fname = spec.torchvision_class.split_list[split][1]
        images = data[f"{split}_images"].numpy()  # N×3×32×32 -> X: 32×32×3×N
        labels = data[f"{split}_labels"].numpy().astype(np.uint8)
        buf = io.BytesIO()
        scipy.io.savemat(
            buf,
            {
                "X": np.ascontiguousarray(images.transpose(2, 3, 1, 0)),
                "y": np.where(labels == 0, 10, labels).astype(np.uint8).reshape(-1, 1),
            },
        )
        blob = bytearray(buf.getvalue())
        blob[:116] = b"MATLAB 5.0 MAT-file, written by condense fixture".ljust(116, b" ")  # drop the creation time
        published[fname] = bytes(blob)
    return published, {}


_WRITERS = {
    "cifar10": _cifar10_files,
    "cifar100": _cifar100_files,
    "mnist": _mnist_files,
    "fashionmnist": _mnist_files,
    "svhn": _svhn_files,
}


def write_fixture(name: str, out: str | Path, per_class: int = 10, test_per_class: int = 5, seed: int = 0) -> dict[str, Any]:
    """Write the fixture files and ``md5.json`` into ``out``; return :func:`generate`'s dict plus ``"md5"``.

    ``"md5"`` is what ``md5.json`` holds: ``{file name: md5}`` for the published
    files and the files torchvision checks after extraction.
    """
    spec = get_spec(name)
    if name not in _WRITERS:
        raise CondenseError(f"no fixture writer for dataset {name!r}; choose one of: {', '.join(sorted(_WRITERS))}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CondenseError(f"--out {str(out)!r} is a file; give a directory for the fixture files")
    data = generate(name, per_class, test_per_class, seed)
    published, inner = _WRITERS[name](spec, data)
    md5s = {fname: _md5(blob) for fname, blob in sorted({**inner, **published}.items())}
    out.mkdir(parents=True, exist_ok=True)
    for fname, blob in published.items():
        _write(out, fname, blob)
    write_json(md5s, out / MD5_FILE)
    return {**data, "md5": md5s}
