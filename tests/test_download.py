"""The download stage and the fixture writer: published formats, checksums, mirrors and errors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
import torchvision

from condense.cli import main
from condense.core.errors import CondenseError
from condense.core.fileio import load_torch
from condense.data.cifar_pickles import RestrictedUnpickler
from condense.data.fixtures import MD5_FILE, write_fixture
from condense.data.sources import DATASETS, get_spec, prepare

FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
PER_CLASS, TEST_PER_CLASS = 3, 2
FIXTURE_DATASETS = ["cifar10", "cifar100", "fashionmnist", "mnist"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """name -> (fixture dir, what write_fixture returned), built once per module."""
    base = tmp_path_factory.mktemp("fixtures")
    return {name: (base / name, write_fixture(name, base / name, PER_CLASS, TEST_PER_CLASS, seed=1)) for name in FIXTURE_DATASETS}


def copy_mirror(fixtures, name, tmp_path) -> Path:
    mirror = tmp_path / "mirror"
    shutil.copytree(fixtures[name][0], mirror)
    return mirror


@pytest.mark.parametrize("name", FIXTURE_DATASETS)
def test_fixture_round_trips_through_prepare(fixtures, name, tmp_path):
    mirror, written = fixtures[name]
    spec = get_spec(name)
    data = prepare(name, tmp_path / "root", mirror=mirror, md5_file=mirror / MD5_FILE)

    assert set(data) == {"name", "classes", "mean", "std", "train_images", "train_labels", "test_images", "test_labels", "format", "traits"}
    assert data["name"] == name and data["format"] == 1
    assert data["mean"] == list(spec.mean) and data["std"] == list(spec.std)
    assert data["classes"] == written["classes"] and len(data["classes"]) == spec.num_classes
    for split, per_class in (("train", PER_CLASS), ("test", TEST_PER_CLASS)):
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        assert tuple(images.shape) == (spec.num_classes * per_class, spec.channel, *spec.im_size)
        assert int(labels.min()) >= 0 and int(labels.max()) < spec.num_classes
        assert torch.bincount(labels, minlength=spec.num_classes).tolist() == [per_class] * spec.num_classes
        assert torch.equal(images, written[f"{split}_images"]), "pixels must round-trip exactly"
        assert torch.equal(labels, written[f"{split}_labels"])


def test_class_names():
    assert get_spec("fashionmnist").class_names() == list(torchvision.datasets.FashionMNIST.classes)
    assert get_spec("mnist").class_names() == [str(c) for c in range(10)]
    assert get_spec("svhn").class_names() == [str(c) for c in range(10)]
    assert DATASETS.names() == ["cifar10", "cifar100", "fashionmnist", "mnist", "svhn"]


def test_md5_json_lists_archives_and_inner_files(fixtures):
    cifar_dir, cifar = fixtures["cifar10"]
    cls = torchvision.datasets.CIFAR10
    expected = {cls.filename, cls.meta["filename"], *(n for n, _ in cls.train_list + cls.test_list)}
    assert set(cifar["md5"]) == expected
    assert json.loads((cifar_dir / MD5_FILE).read_text()) == cifar["md5"]
    assert cifar["md5"][cls.filename] == md5(cifar_dir / cls.filename)
    mnist_dir, mnist = fixtures["mnist"]
    names = [n for n, _ in torchvision.datasets.MNIST.resources]
    assert set(mnist["md5"]) == set(names) | {n[:-3] for n in names}


def test_cifar_pickles_have_original_python2_keys(fixtures):
    """Like the real files: keys load as b'data' with encoding='bytes' (the CIFAR website's recipe)."""
    mirror, written = fixtures["cifar100"]
    with tarfile.open(mirror / "cifar-100-python.tar.gz") as tar:
        train = RestrictedUnpickler(tar.extractfile("cifar-100-python/train"), "train", encoding="bytes").load()
        meta = RestrictedUnpickler(tar.extractfile("cifar-100-python/meta"), "meta", encoding="bytes").load()
    assert {b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label"} <= set(train)
    assert train[b"data"].dtype.name == "uint8" and train[b"data"].shape == (100 * PER_CLASS, 3072)
    assert [n.decode() for n in meta[b"fine_label_names"]] == written["classes"]
    assert len(meta[b"coarse_label_names"]) == 20 and max(train[b"coarse_labels"]) < 20


def test_fixture_is_deterministic(tmp_path):
    for name in ("cifar10", "mnist"):
        a = write_fixture(name, tmp_path / "a" / name, 2, 1, seed=5)
        write_fixture(name, tmp_path / "b" / name, 2, 1, seed=5)
        c = write_fixture(name, tmp_path / "c" / name, 2, 1, seed=6)
        files = sorted(p.name for p in (tmp_path / "a" / name).iterdir())
        for f in files:
            assert (tmp_path / "a" / name / f).read_bytes() == (tmp_path / "b" / name / f).read_bytes(), f
        assert a["md5"] != c["md5"]


def test_fixture_images_depend_on_class(fixtures):
    written = fixtures["cifar10"][1]
    images, labels = written["train_images"].float(), written["train_labels"]
    means = torch.stack([images[labels == c].mean(0) for c in range(10)])
    within = (images - means[labels]).abs().mean()
    between = (means[:, None] - means[None, :]).abs().mean()
    assert between > 1.5 * within


@pytest.mark.parametrize("dataset, filename", [("cifar10", "cifar-10-python.tar.gz"), ("fashionmnist", "train-images-idx3-ubyte.gz")])
def test_corrupt_archive_names_file_and_both_digests(fixtures, tmp_path, dataset, filename):
    mirror = copy_mirror(fixtures, dataset, tmp_path)
    archive = mirror / filename
    expected = md5(archive)
    blob = bytearray(archive.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    archive.write_bytes(bytes(blob))
    with pytest.raises(CondenseError) as err:
        prepare(dataset, tmp_path / "root", mirror=mirror, md5_file=mirror / MD5_FILE)
    msg = str(err.value)
    assert filename in msg and expected in msg and md5(archive) in msg
    assert "\n" not in msg


def test_inner_file_digest_mismatch_is_reported(fixtures, tmp_path):
    mirror = copy_mirror(fixtures, "cifar10", tmp_path)
    md5s = json.loads((mirror / MD5_FILE).read_text())
    md5s["data_batch_3"] = "0" * 32
    (mirror / MD5_FILE).write_text(json.dumps(md5s))
    with pytest.raises(CondenseError, match="data_batch_3"):
        prepare("cifar10", tmp_path / "root", mirror=mirror, md5_file=mirror / MD5_FILE)


def test_official_digests_reject_fixture(fixtures, tmp_path):
    """Without the md5 file the fixture fails torchvision's official archive digest."""
    with pytest.raises(CondenseError, match=torchvision.datasets.CIFAR10.tgz_md5):
        prepare("cifar10", tmp_path / "root", mirror=fixtures["cifar10"][0])


def test_digests_are_read_from_torchvision_at_call_time(fixtures, monkeypatch, tmp_path):
    mirror, written = fixtures["cifar10"]
    cls = torchvision.datasets.CIFAR10
    m = written["md5"]
    monkeypatch.setattr(cls, "tgz_md5", m[cls.filename])
    monkeypatch.setattr(cls, "train_list", [[n, m[n]] for n, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[n, m[n]] for n, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": m[cls.meta["filename"]]})
    data = prepare("cifar10", tmp_path / "root", mirror=mirror)
    assert torch.equal(data["train_images"], written["train_images"])


def test_md5_overrides_do_not_leak_into_torchvision(fixtures, tmp_path):
    cls = torchvision.datasets.CIFAR10
    before = (cls.tgz_md5, [list(x) for x in cls.train_list], dict(cls.meta))
    mnist_before = list(torchvision.datasets.MNIST.resources)
    prepare("cifar10", tmp_path / "r1", mirror=fixtures["cifar10"][0], md5_file=fixtures["cifar10"][0] / MD5_FILE)
    prepare("mnist", tmp_path / "r2", mirror=fixtures["mnist"][0], md5_file=fixtures["mnist"][0] / MD5_FILE)
    assert (cls.tgz_md5, [list(x) for x in cls.train_list], dict(cls.meta)) == before
    assert list(torchvision.datasets.MNIST.resources) == mnist_before


def test_decompressed_mirror_files_are_accepted(fixtures, tmp_path):
    """MNIST-family mirrors may hold `name` instead of `name.gz`; the content digest is then checked."""
    src, written = fixtures["mnist"]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    import gzip

    for gz in src.glob("*.gz"):
        (mirror / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
    data = prepare("mnist", tmp_path / "root", mirror=mirror, md5_file=src / MD5_FILE)
    assert torch.equal(data["test_images"], written["test_images"])
    with pytest.raises(CondenseError, match="no digest is known"):
        prepare("mnist", tmp_path / "root2", mirror=mirror)  # MNIST has no built-in content digests


def test_mirror_missing_files(fixtures, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CondenseError) as err:
        prepare("cifar10", tmp_path / "root", mirror=empty)
    assert str(empty) in str(err.value) and "cifar-10-python.tar.gz" in str(err.value)

    mirror = copy_mirror(fixtures, "fashionmnist", tmp_path)
    (mirror / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(CondenseError) as err:
        prepare("fashionmnist", tmp_path / "root", mirror=mirror, md5_file=mirror / MD5_FILE)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "train-images" not in msg

    with pytest.raises(CondenseError, match="does not exist"):
        prepare("mnist", tmp_path / "root", mirror=tmp_path / "nowhere")


@pytest.mark.parametrize("name, expect", [("cifar10", "cifar-10-python.tar.gz"), ("fashionmnist", "train-images-idx3-ubyte.gz")])
def test_no_network_and_no_mirror(name, expect, monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(CondenseError) as err:
        prepare(name, tmp_path / "root")
    msg = str(err.value)
    assert "--mirror" in msg and expect in msg and "\n" not in msg


def test_unknown_dataset_and_bad_md5_file(fixtures, tmp_path):
    with pytest.raises(CondenseError, match="cifar10, cifar100, fashionmnist, mnist, svhn"):
        prepare("imagenet", tmp_path / "root")
    bad = tmp_path / "bad.json"
    bad.write_text('{"cifar-10-python.tar.gz": "not-a-digest"}')
    with pytest.raises(CondenseError, match="not-a-digest"):
        prepare("cifar10", tmp_path / "root", mirror=fixtures["cifar10"][0], md5_file=bad)
    bad.write_text("{")
    with pytest.raises(CondenseError, match="not valid JSON"):
        prepare("cifar10", tmp_path / "root", mirror=fixtures["cifar10"][0], md5_file=bad)


@pytest.mark.skipif(importlib.util.find_spec("scipy") is not None, reason="scipy is installed")
def test_svhn_needs_scipy(tmp_path):
    with pytest.raises(CondenseError, match="scipy"):
        write_fixture("svhn", tmp_path / "svhn", 1, 1, seed=0)
    with pytest.raises(CondenseError, match="scipy"):
        prepare("svhn", tmp_path / "root", mirror=tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="needs scipy")
def test_svhn_round_trip(tmp_path):
    written = write_fixture("svhn", tmp_path / "svhn", 2, 1, seed=0)
    data = prepare("svhn", tmp_path / "root", mirror=tmp_path / "svhn", md5_file=tmp_path / "svhn" / MD5_FILE)
    assert torch.equal(data["train_images"], written["train_images"])
    assert torch.equal(data["test_labels"], written["test_labels"])


@pytest.mark.skipif(not FASHION_DEBIAN.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashionmnist_from_debian(tmp_path):
    """Debian recompresses the .gz files: only the decompressed-content digests match."""
    data = prepare("fashionmnist", tmp_path / "root", mirror=FASHION_DEBIAN)
    assert tuple(data["train_images"].shape) == (60000, 1, 28, 28)
    assert tuple(data["test_images"].shape) == (10000, 1, 28, 28)
    assert data["train_images"].dtype == torch.uint8 and data["train_labels"].dtype == torch.int64
    assert data["classes"] == list(torchvision.datasets.FashionMNIST.classes) and len(data["classes"]) == 10
    assert torch.bincount(data["train_labels"], minlength=10).tolist() == [6000] * 10
    assert torch.bincount(data["test_labels"], minlength=10).tolist() == [1000] * 10


def test_cli_end_to_end(tmp_path):
    fx = tmp_path / "fx"
    assert (
        main(["fixture", "--dataset", "mnist", "--out", str(fx), "--per-class", "2", "--test-per-class", "1", "--seed", "3", "--quiet"])
        == 0
    )
    out = tmp_path / "results" / "mnist" / "data.pt"
    argv = [
        "download",
        "--dataset",
        "mnist",
        "--out",
        str(out),
        "--root",
        str(tmp_path / "root"),
        "--mirror",
        str(fx),
        "--md5-file",
        str(fx / MD5_FILE),
        "--quiet",
    ]
    assert main(argv) == 0
    stored = load_torch(out, what="dataset")
    assert stored["name"] == "mnist" and stored["format"] == 1 and tuple(stored["train_images"].shape) == (20, 1, 28, 28)
    assert [p.name for p in out.parent.iterdir()] == ["data.pt"]  # no temporary files left

    bad_out = tmp_path / "results" / "bad" / "data.pt"
    assert main(["download", "--dataset", "nosuch", "--out", str(bad_out), "--quiet"]) == 2
    (fx / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    assert main([*argv[:3], "--out", str(bad_out), *argv[5:]]) == 2
    assert not bad_out.exists()
    assert not bad_out.parent.exists() or not any(bad_out.parent.iterdir())
    assert main(["fixture", "--dataset", "mnist", "--out", str(fx), "--per-class", "0", "--quiet"]) == 2


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "condense.stages.download", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--mirror" in proc.stdout
