"""No file from elsewhere runs code: the torch hub cache, CIFAR batches, compared results trees, and a scan.

Every malicious file here is built in the test: a pickle whose ``__reduce__`` calls ``pathlib.Path.touch``
on a marker path, so the payload running would leave the marker behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import pathlib
import pickle
import re
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_stored_dataset

import condense.models.fcn as fcn
from condense.cli import main
from condense.core.errors import CondenseError
from condense.core.fileio import save_torch
from condense.data.cifar_pickles import RestrictedUnpickler, restricted_load
from condense.data.fixtures import MD5_FILE, tar_gz, write_fixture
from condense.models.fcn import build_fcn
from condense.models.hub_weights import load_published_state, published_sha256_prefix, verify_sha256_prefix

REPO = Path(__file__).resolve().parents[1]
OFFICIAL_RESNET18 = "resnet18-f37072fd.pth"


class Payload:
    """Unpickling this touches ``marker``: the proof that a file ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache (``<tmp>/hub/checkpoints``) that no test may download into."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def no_network(*args, **kwargs):
        raise OSError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    return cache


def publish_as(monkeypatch, name: str) -> None:
    """Make ``name`` the published ImageNet ResNet-18 file (its sha256 prefix is then what is checked)."""
    monkeypatch.setattr(fcn, "resnet18_imagenet_url", lambda: f"https://download.pytorch.org/models/{name}")


def resnet18_state_file(path: Path) -> Path:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


# --------------------------------------------------------------------------- 1. the torch hub cache


def test_planted_hub_cache_file_is_refused_before_it_is_read(torch_home, tmp_path):
    marker = tmp_path / "ran"
    torch.save({"conv1.weight": Payload(marker)}, torch_home / OFFICIAL_RESNET18)
    with pytest.raises(CondenseError) as err:
        build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")
    msg = str(err.value)
    assert not marker.exists()
    assert "\n" not in msg and OFFICIAL_RESNET18 in msg and "not the published f37072fd" in msg
    assert (torch_home / OFFICIAL_RESNET18).is_file()  # left for the user to inspect; only a download is removed


def test_train_attention_with_a_planted_hub_file_exits_2_without_output(torch_home, tmp_path, capsys):
    marker = tmp_path / "ran"
    torch.save({"conv1.weight": Payload(marker)}, torch_home / OFFICIAL_RESNET18)
    data, out = tmp_path / "data.pt", tmp_path / "fcn.pt"
    save_torch(make_stored_dataset(n_per_class=2, n_test_per_class=1), data)
    argv = ["train-attention", "--model", "resnet18_fcn", "--pretrained", "imagenet", "--data", str(data), "--out", str(out)]
    assert main([*argv, "--epochs", "1", "--device", "cpu", "--threads", "1", "--quiet"]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and "sha256" in lines[0], lines
    assert not marker.exists() and not out.exists()


def test_a_download_that_fails_its_hash_never_enters_the_cache(torch_home, tmp_path, monkeypatch):
    marker = tmp_path / "ran"

    def serve_payload(url, dst, hash_prefix=None, progress=True):
        torch.save({"conv1.weight": Payload(marker)}, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", serve_payload)
    with pytest.raises(CondenseError) as err:
        build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")
    assert "\n" not in str(err.value) and "is not the published file" in str(err.value)
    assert not marker.exists()
    assert list(torch_home.iterdir()) == []  # neither the file nor its temporary copy


def test_a_download_whose_hash_matches_is_moved_into_the_cache_and_used(torch_home, tmp_path, monkeypatch):
    served = resnet18_state_file(tmp_path / "served.pth")
    name = f"resnet18-{sha256(served)[:8]}.pth"
    publish_as(monkeypatch, name)
    downloads = []

    def serve(url, dst, hash_prefix=None, progress=True):
        downloads.append(url)
        Path(dst).write_bytes(served.read_bytes())

    monkeypatch.setattr(torch.hub, "download_url_to_file", serve)
    net = build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")
    reference = torch.load(served, weights_only=True)
    assert torch.equal(net.body.layer1[0].conv1.weight, reference["layer1.0.conv1.weight"])
    assert [p.name for p in torch_home.iterdir()] == [name] and (torch_home / name).read_bytes() == served.read_bytes()
    build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")
    assert len(downloads) == 1  # the second time from the verified cache


def test_a_file_with_the_right_hash_is_still_loaded_weights_only(torch_home, tmp_path, monkeypatch):
    """Defence in depth: even a file whose hash matches its name may hold only tensors and containers."""
    marker = tmp_path / "ran"
    staged = tmp_path / "staged.pth"
    torch.save({"conv1.weight": Payload(marker)}, staged)
    name = f"resnet18-{sha256(staged)[:8]}.pth"
    staged.rename(torch_home / name)
    publish_as(monkeypatch, name)
    with pytest.raises(CondenseError) as err:
        build_fcn("resnet18_fcn", 3, 10, (32, 32), pretrained="imagenet")
    assert "\n" not in str(err.value) and not marker.exists()


def test_the_expected_hash_comes_from_the_published_file_name(tmp_path):
    assert published_sha256_prefix(f"https://download.pytorch.org/models/{OFFICIAL_RESNET18}") == "f37072fd"
    with pytest.raises(CondenseError, match="carries no sha256 prefix"):
        published_sha256_prefix("https://example.org/models/resnet18.pth")
    blob = tmp_path / "w.pth"
    blob.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    verify_sha256_prefix(blob, digest[:8], "fix")
    with pytest.raises(CondenseError, match=f"has sha256 {digest[:16]}.*not the published 00000000"):
        verify_sha256_prefix(blob, "00000000", "fix")
    with pytest.raises(CondenseError, match="carries no sha256 prefix"):
        load_published_state("https://example.org/models/resnet18.pth", what="weights")


# --------------------------------------------------------------------------- 2. CIFAR batches


def tampered_cifar_mirror(tmp_path: Path, marker: Path) -> Path:
    """A CIFAR-10 fixture whose data_batch_1 also carries a payload, with an md5.json that approves it."""
    mirror = tmp_path / "mirror"
    write_fixture("cifar10", mirror, per_class=1, test_per_class=1, seed=0)
    archive = mirror / "cifar-10-python.tar.gz"
    with tarfile.open(archive) as tar:
        inner = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    rows = np.zeros((2, 3072), dtype=np.uint8)
    inner["data_batch_1"] = pickle.dumps({"data": rows, "labels": [0, 1], "filenames": [], "x": Payload(marker)}, protocol=2)
    archive.write_bytes(tar_gz("cifar-10-batches-py", inner))
    md5s = json.loads((mirror / MD5_FILE).read_text())
    md5s["data_batch_1"] = hashlib.md5(inner["data_batch_1"]).hexdigest()
    md5s[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    (mirror / MD5_FILE).write_text(json.dumps(md5s))
    return mirror


def test_a_cifar_archive_approved_by_md5_file_cannot_run_code(tmp_path, capsys):
    marker = tmp_path / "ran"
    mirror = tampered_cifar_mirror(tmp_path, marker)
    out = tmp_path / "data.pt"
    argv = ["download", "--dataset", "cifar10", "--out", str(out), "--root", str(tmp_path / "root")]
    assert main([*argv, "--mirror", str(mirror), "--md5-file", str(mirror / MD5_FILE), "--quiet"]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and "data_batch_1 asks to import" in lines[0], lines
    assert not marker.exists() and not out.exists()


@pytest.mark.parametrize(
    "module, name",
    [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("__builtin__", "getattr"), ("pathlib", "Path"), ("numpy", "load")],
)
def test_the_restricted_unpickler_imports_only_numpy_array_rebuilders(module, name):
    blob = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    with pytest.raises(CondenseError, match=rf"^batch asks to import {re.escape(module)}\.{re.escape(name)}, which"):
        restricted_load(io.BytesIO(blob), "batch")


def test_the_restricted_unpickler_reads_arrays_pickled_by_this_numpy():
    """numpy 2 names numpy._core.multiarray._reconstruct (the original files: numpy.core); protocol 4, as Python 3's
    protocol 2 would store the bytes through _codecs.encode, which no CIFAR batch needs."""
    rows = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251
    blob = pickle.dumps({"data": rows, "labels": [3, 4]}, protocol=4)
    assert b"numpy._core.multiarray" in blob
    loaded = RestrictedUnpickler(io.BytesIO(blob), "batch").load()
    assert np.array_equal(loaded["data"], rows) and loaded["data"].dtype == np.uint8 and loaded["labels"] == [3, 4]


# --------------------------------------------------------------------------- 3. compare_results.py


def compare_results(argv: list[str], monkeypatch) -> int:
    spec = importlib.util.spec_from_file_location("compare_results", REPO / "workflow" / "scripts" / "compare_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["compare_results.py", *argv])
    return module.main()


def test_compare_results_refuses_a_crafted_pt_and_compares_real_ones(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "ran"
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        save_torch({"images": torch.ones(2, 3), "meta": {"seed": 0}}, root / "sets" / "good.pt")
    assert compare_results([str(old), str(new)], monkeypatch) == 0
    assert "no tensor, number or table differs" in capsys.readouterr().out
    for root in (old, new):
        torch.save({"images": Payload(marker)}, root / "sets" / "crafted.pt")
    assert compare_results([str(old), str(new)], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "not loadable (a .pt must load with weights_only=True" in out and "sets/crafted.pt" in out
    assert not marker.exists()
