"""No command deletes or overwrites what it did not write (issue 32, holes 4-6): `export` owns exactly the
files its card lists, an output never lies inside a directory the stage reads (an MTT set, a mirror), and a
directory the stage writes into never holds its inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from conftest import write_set

from condense.cli import main


def digests(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` with its sha256: a tree compared before and after a refused command."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


def error_line(capsys) -> str:
    """The one ``error:`` line a refused command prints last (the log may have printed the same before it)."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and sum(line.startswith("error:") for line in lines) == 1
    return lines[-1]


@pytest.fixture
def made_set(tmp_path) -> Path:
    gen = torch.Generator().manual_seed(5)
    return write_set(tmp_path / "set.pt", torch.randn(6, 1, 28, 28, generator=gen), torch.tensor([0, 0, 1, 1, 2, 2]), method="dm")


def export(data_file, set_path, out, *extra) -> int:
    return main(["export", "--data", str(data_file), "--set", str(set_path), *extra, "--out", str(out), "--quiet"])


# --- hole 4: export replaced a whole directory that merely held a card.json ---------------------------------


def test_export_refuses_a_directory_holding_a_card_json_and_other_files_and_deletes_nothing(data_file, made_set, tmp_path, capsys):
    out = tmp_path / "papers"
    out.mkdir()
    (out / "card.json").write_text("{}")  # any card.json: the old code took this for an earlier export
    (out / "thesis.tex").write_text("years of work")
    before = digests(out)
    assert export(data_file, made_set, out) == 2
    err = error_line(capsys)
    assert err.startswith("error: --out") and "card.json" in err
    assert digests(out) == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_lists_its_files_in_the_card_replaces_only_an_export_holding_nothing_else(data_file, made_set, tmp_path, capsys):
    out = tmp_path / "export"
    assert export(data_file, made_set, out) == 0
    card = json.loads((out / "card.json").read_text())
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert card["files"] == on_disk and card["card_format"] == 2
    assert len([f for f in on_disk if f.endswith(".png")]) == 6
    assert torch.load(out / "set.pt", weights_only=True)["card"]["files"] == on_disk
    assert export(data_file, made_set, out) == 0  # an earlier export holding only its own files is replaced
    (out / "images" / "notes.txt").write_text("mine")
    before = digests(out)
    assert export(data_file, made_set, out) == 2
    err = capsys.readouterr().err
    assert "'images/notes.txt' that no export wrote" in err
    assert digests(out) == before


def test_export_refuses_an_out_holding_its_own_inputs(data_file, tmp_path, capsys):
    gen = torch.Generator().manual_seed(1)
    out = tmp_path / "export"
    out.mkdir()
    inside = write_set(out / "set.pt", torch.randn(3, 1, 28, 28, generator=gen), torch.tensor([0, 1, 2]))
    before = digests(out)
    assert export(data_file, inside, out) == 2
    err = error_line(capsys)
    assert err.startswith("error: --out") and "--set" in err
    assert digests(out) == before
    # re-exporting from an export's own set.pt: the input would be replaced by the swap
    first = tmp_path / "first"
    assert export(data_file, inside, first) == 0
    before = digests(first)
    assert export(data_file, first / "set.pt", first) == 2
    assert digests(first) == before


def test_an_old_export_without_a_file_list_and_a_non_directory_out_are_refused(data_file, made_set, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    (old / "card.json").write_text(json.dumps({"card_format": 1}))
    (old / "set.pt").write_bytes(b"x")
    assert export(data_file, made_set, old) == 2
    assert "without the list of files" in capsys.readouterr().err and (old / "set.pt").read_bytes() == b"x"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(data_file, made_set, empty) == 0 and (empty / "card.json").is_file()


def test_re_exporting_into_the_current_directory_is_refused_and_leaves_nothing_beside_it(
    data_file, made_set, tmp_path, monkeypatch, capsys
):
    work = tmp_path / "work"
    assert export(data_file, made_set, work) == 0
    before = digests(work)
    monkeypatch.chdir(work)
    assert export(data_file, made_set, ".") == 2  # the swap would leave the shell in a deleted directory
    assert "holds the current directory" in error_line(capsys)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [] and digests(work) == before


# --- hole 5: evaluate --out inside an MTT set directory ------------------------------------------------------


@pytest.mark.parametrize("name", ["labels_best.pt", "synthetic_lr", "images_best.pt", "new_record.json"])
def test_evaluate_refuses_an_out_inside_the_set_directory_it_reads(data_file, tmp_path, capsys, name):
    gen = torch.Generator().manual_seed(2)
    mtt = tmp_path / "logged_files"
    mtt.mkdir()
    torch.save(torch.randn(3, 1, 28, 28, generator=gen), mtt / "images_best.pt")
    torch.save(torch.tensor([0, 1, 2]), mtt / "labels_best.pt")
    torch.save(torch.tensor(0.03), mtt / "synthetic_lr")
    before = digests(mtt)
    argv = ["evaluate", "--data", str(data_file), "--set", str(mtt), "--model", "convnet_w32", "--num-nets", "1", "--epochs", "1"]
    assert main([*argv, "--device", "cpu", "--quiet", "--out", str(mtt / name)]) == 2
    assert "lies inside --set" in error_line(capsys)
    assert digests(mtt) == before


def test_a_hard_link_to_a_file_of_an_input_directory_counts_as_that_input(data_file, tmp_path, capsys):
    mtt = tmp_path / "logged_files"
    mtt.mkdir()
    torch.save(torch.zeros(3, 1, 28, 28), mtt / "images_best.pt")
    torch.save(torch.tensor([0, 1, 2]), mtt / "labels_best.pt")
    link = tmp_path / "elsewhere.json"
    link.hardlink_to(mtt / "labels_best.pt")
    before = digests(mtt)
    argv = ["evaluate", "--data", str(data_file), "--set", str(mtt), "--num-nets", "1", "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(link)]) == 2
    assert "labels_best.pt" in capsys.readouterr().err and digests(mtt) == before


@pytest.mark.parametrize("name", ["labels_10.pt", "synthetic_lr", "synthetic_lr.txt"])
def test_evaluate_refuses_an_out_onto_a_file_read_beside_one_mtt_images_file(data_file, tmp_path, capsys, name):
    logged = tmp_path / "logged_files"
    logged.mkdir()
    torch.save(torch.zeros(3, 1, 28, 28), logged / "images_10.pt")
    torch.save(torch.tensor([0, 1, 2]), logged / "labels_10.pt")
    torch.save(torch.tensor(0.03), logged / "synthetic_lr")
    before = digests(logged)
    argv = ["evaluate", "--data", str(data_file), "--set", str(logged / "images_10.pt"), "--num-nets", "1", "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(logged / name)]) == 2
    assert "--set (beside it)" in error_line(capsys) and digests(logged) == before


# --- hole 6: download --out into the mirror ------------------------------------------------------------------


@pytest.fixture
def mirror(tmp_path) -> Path:
    fx = tmp_path / "mirror"
    argv = ["fixture", "--dataset", "mnist", "--out", str(fx), "--per-class", "2", "--test-per-class", "1", "--seed", "3", "--quiet"]
    assert main(argv) == 0
    return fx


@pytest.mark.parametrize(
    "where",
    [
        lambda fx, tmp: ["--out", str(fx / "train-images-idx3-ubyte.gz"), "--root", str(tmp / "root")],  # replaced an archive
        lambda fx, tmp: ["--out", str(fx / "data.pt"), "--root", str(tmp / "root")],  # a new file in the mirror
        lambda fx, tmp: ["--out", str(tmp / "data.pt"), "--root", str(fx)],  # torchvision's files written into the mirror
        lambda fx, tmp: ["--out", str(tmp / "data.pt"), "--root", str(fx.parent)],  # the mirror inside --root
    ],
    ids=["out-onto-an-archive", "out-inside", "root-is-the-mirror", "root-holds-the-mirror"],
)
def test_download_writes_nothing_inside_the_mirror_it_reads(mirror, tmp_path, capsys, where):
    before = digests(mirror)
    argv = ["download", "--dataset", "mnist", "--mirror", str(mirror), "--md5-file", str(mirror / "md5.json"), "--quiet"]
    assert main([*argv, *where(mirror, tmp_path)]) == 2
    err = error_line(capsys)
    assert err.startswith("error: --") and "--mirror" in err
    assert digests(mirror) == before
    assert not (tmp_path / "data.pt").exists()
