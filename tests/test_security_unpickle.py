"""No file from elsewhere runs code: the torch hub cache, CIFAR batches, compared results trees, and a scan.

Every malicious file here is built in the test: a pickle whose ``__reduce__`` calls ``pathlib.Path.touch``
on a marker path, so the payload running would leave the marker behind.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import pathlib
import pickle
import re
import sys
import tarfile
import tokenize
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


def approve(mirror: Path, archive: Path) -> None:
    md5s = json.loads((mirror / MD5_FILE).read_text())
    md5s[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    (mirror / MD5_FILE).write_text(json.dumps(md5s))


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
    (mirror / MD5_FILE).write_text(json.dumps(md5s))
    approve(mirror, archive)
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


@pytest.mark.parametrize("kind", ["dotdot", "symlink"])
def test_a_cifar_archive_approved_by_md5_file_cannot_write_outside_its_folder(tmp_path, capsys, kind):
    """A member ``../../x`` (or a symlink pointing out, then a file through it) must not be extracted: a file
    planted outside (a .pth in site-packages) would run code at the next interpreter start."""
    mirror = tmp_path / "mirror"
    write_fixture("cifar10", mirror, per_class=1, test_per_class=1, seed=0)
    archive = mirror / "cifar-10-python.tar.gz"
    outside = tmp_path / "outside"
    outside.mkdir()
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
        if kind == "dotdot":
            evil = tarfile.TarInfo("cifar-10-batches-py/../../../outside/planted.pth")
        else:
            link = tarfile.TarInfo("cifar-10-batches-py/out")
            link.type, link.linkname = tarfile.SYMTYPE, str(outside)
            tar.addfile(link)
            evil = tarfile.TarInfo("cifar-10-batches-py/out/planted.pth")
        evil.size = 5
        tar.addfile(evil, io.BytesIO(b"x = 1"))
    archive.write_bytes(buf.getvalue())
    approve(mirror, archive)
    out, root = tmp_path / "data.pt", tmp_path / "root"
    argv = ["download", "--dataset", "cifar10", "--out", str(out), "--root", str(root), "--mirror", str(mirror)]
    assert main([*argv, "--md5-file", str(mirror / MD5_FILE), "--quiet"]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and "nothing was extracted" in lines[0], lines
    assert list(outside.iterdir()) == [] and not out.exists()
    assert [p.name for p in root.iterdir()] == []  # the extraction folder is gone too


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


# --------------------------------------------------------------------------- 4. the scan

SCANNED = ("condense", "workflow", "benchmarks", "tests", "Snakefile")
SCANNED_SUFFIXES = {".py", ".smk", ".sh"}
RESTRICTED_UNPICKLER = "condense/data/cifar_pickles.py"  # the one module that may unpickle
THIS_FILE = "tests/test_security_unpickle.py"  # holds the patterns below as code

ANYWHERE = {
    r"weights_only\s*=\s*False": "a full unpickle (weights_only=False)",
    r"\bload_state_dict_from_url\b": "torch.hub's loader (unpickles a cached file with weights_only=False, unchecked)",
    r"\btorch\s*\.\s*hub\s*\.\s*load\s*\(": "torch.hub.load (runs a repository's hubconf.py)",
    r"\.\s*get_state_dict\s*\(": "torchvision's weights API (load_state_dict_from_url underneath)",
    r"\b\w+_Weights\s*\.\s*[A-Z0-9_]+\b(?!\s*\.\s*url\b)": "a torchvision weights enum (only its .url may be read)",
    r"\bweights\s*=\s*['\"]": "torchvision weights by name (downloads and unpickles them)",
    r"\bpretrained\s*=\s*True\b": "torchvision's pretrained=True (the weights API)",
    r"allow_pickle\s*=\s*True": "numpy.load(allow_pickle=True)",
    r"\bjoblib\b": "joblib (pickle underneath)",
    r"\bdill\b": "dill (pickle underneath)",
    r"\bread_pickle\b": "pandas.read_pickle",
    r"\btorch\s*\.\s*jit\s*\.\s*load\b": "torch.jit.load (runs TorchScript code)",
    r"\b(add_)?safe_globals\b": "widening what weights_only=True may import",
    r"\bfrom\s+torch(\s*\.\s*serialization)?\s+import\b.*\bload\b": "torch.load imported by name (its calls escape the check)",
}
# Reviewed exceptions, by file and kind: official result files store accuracies as numpy floats, so reading them
# lets weights_only=True also build numpy scalars and dtypes (constructors of plain values, no callable from data).
REVIEWED = {("condense/data/set_formats.py", "widening what weights_only=True may import")}
OUTSIDE_RESTRICTED_UNPICKLER = {
    r"\b(c?[Pp]ickle|_pickle)\s*\.\s*(load|loads|Unpickler)\b": "pickle.load/loads/Unpickler",
    r"\bfrom\s+(c?[Pp]ickle|_pickle)\s+import\b.*\b(load|loads|Unpickler)\b": "pickle.load/loads/Unpickler",
    r"(?<![\w.])Unpickler\b": "an Unpickler",
    r"\b(shelve|marshal)\b": "shelve/marshal",
}


def code_lines(path: Path) -> dict[int, str]:
    """{line number: its code} for a Python file without comments or docstrings (prose may name what code may not
    call); other files (shell) as they are."""
    text = path.read_text(errors="replace")
    if path.suffix == ".sh":
        return dict(enumerate(text.splitlines(), start=1))
    lines: dict[int, list[str]] = {}
    starts_statement = True  # a string that starts a statement is a docstring (or a no-op): prose, not code
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            starts_statement = True
            continue
        if tok.type in (tokenize.COMMENT, tokenize.NL) or (tok.type == tokenize.STRING and starts_statement):
            continue
        starts_statement = False
        lines.setdefault(tok.start[0], []).append(tok.string)
    return {n: " ".join(parts) for n, parts in lines.items()}


def unsafe_torch_loads(path: Path) -> list[int]:
    """Lines of ``torch.load`` (or ``torch.serialization.load``) not called with the literal ``weights_only=True``."""
    tree = ast.parse(path.read_text())
    safe = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords)
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "load"
        and ast.unparse(node.value) in ("torch", "torch.serialization")
        and id(node) not in safe
    ]


def offenders(root: Path, files: list[Path]) -> list[str]:
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        patterns = dict(ANYWHERE)
        if rel != RESTRICTED_UNPICKLER:
            patterns.update(OUTSIDE_RESTRICTED_UNPICKLER)
        for number, code in sorted(code_lines(path).items()):
            for pattern, what in patterns.items():
                if re.search(pattern, code) and (rel, what) not in REVIEWED:
                    found.append(f"{rel}:{number}: {what}")
        if path.suffix == ".py":
            found += [f"{rel}:{number}: torch.load without weights_only=True" for number in unsafe_torch_loads(path)]
        elif path.suffix == ".sh":
            found += [
                f"{rel}:{n}: torch.load without weights_only=True"
                for n, code in code_lines(path).items()
                if re.search(r"torch\s*\.\s*load\s*\(", code) and "weights_only=True" not in code
            ]
    return found


def scanned_files(root: Path) -> list[Path]:
    files = []
    for top in SCANNED:
        base = root / top
        candidates = [base] if base.is_file() else base.rglob("*")
        for path in candidates:
            rel = path.relative_to(root)
            if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue  # .venv, benchmarks/.official (third-party checkouts, not run as ours), caches
            if (path.suffix in SCANNED_SUFFIXES or path.name == "Snakefile") and rel.as_posix() != THIS_FILE:
                files.append(path)
    return sorted(files)


def test_no_code_in_the_tree_unpickles_outside_the_restricted_unpickler():
    files = scanned_files(REPO)
    assert len(files) > 50 and REPO / "condense" / "models" / "fcn.py" in files and REPO / "Snakefile" in files
    assert offenders(REPO, files) == []


def test_the_scan_reports_each_offender_by_file_and_line(tmp_path):
    bad = tmp_path / "workflow" / "scripts" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        '"""Docstrings may say torch.load(p, weights_only=False) and pickle.load."""\n'
        "import pickle\n"
        "import torch\n"
        "a = torch.load(\n    'x.pt',\n)  # comments may say weights_only=False\n"
        "b = torch.load('x.pt', weights_only=True)\n"
        "c = pickle.loads(b'')\n"
        "d = torch.hub.load_state_dict_from_url('u')\n"
        "e = torch.load('x.pt', map_location='cpu', weights_only=False)\n"
        "f = ResNet18_Weights.IMAGENET1K_V1.get_state_dict()\n"
        "g = ResNet18_Weights.IMAGENET1K_V1.url\n"
        "from torch import load\n"
    )
    shell = tmp_path / "benchmarks" / "run.sh"
    shell.parent.mkdir(parents=True)
    shell.write_text("python -c 'import torch; torch.load(\"x.pt\")'\n")
    found = offenders(tmp_path, scanned_files(tmp_path))
    assert sorted(found) == sorted(
        [
            "workflow/scripts/bad.py:4: torch.load without weights_only=True",
            "workflow/scripts/bad.py:8: pickle.load/loads/Unpickler",
            "workflow/scripts/bad.py:9: torch.hub's loader (unpickles a cached file with weights_only=False, unchecked)",
            "workflow/scripts/bad.py:10: a full unpickle (weights_only=False)",
            "workflow/scripts/bad.py:10: torch.load without weights_only=True",
            "workflow/scripts/bad.py:11: torchvision's weights API (load_state_dict_from_url underneath)",
            "workflow/scripts/bad.py:11: a torchvision weights enum (only its .url may be read)",
            "workflow/scripts/bad.py:13: torch.load imported by name (its calls escape the check)",
            "benchmarks/run.sh:1: torch.load without weights_only=True",
        ]
    ), found
