"""The parts of a resumable artifact (MTT's experts in ``condense artifact --checkpoint-dir``) and the artifact's digest.

A kept part is used only by the run that made it and only while its checksum holds; the directory is locked while a
run uses it; a killed write's temporary file never blocks a rerun; identical runs write byte-identical artifacts
(the wall time goes beside the file, in ``.cost.json``). Runs are tiny: 2 experts, 1 epoch, 24 images."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import condense.methods.mtt as mtt
from condense.cli import main
from condense.core.digests import file_digest
from condense.core.errors import CondenseError
from condense.methods.artifacts import cost_path, load_artifact
from condense.methods.checkpoint import RunIdentity
from condense.methods.parts import LOCK_NAME, PartStore

MODEL = "convnet_w32"
TINY = ["--model", MODEL, "--num-experts", "2", "--train-epochs", "1", "--batch-train", "8", "--augment", "none", "--device", "cpu",
        "--threads", "1", "--quiet"]  # fmt: skip


class Killed(Exception):
    """Stands for a SIGKILL in the middle of a run: nothing after it runs."""


def make_experts(data_file: Path, out: Path, parts: Path | None, *extra: str) -> int:
    folder = ["--checkpoint-dir", str(parts)] if parts is not None else []
    return main(["artifact", "--kind", "experts", "--data", str(data_file), *TINY, "--out", str(out), *folder, *extra])


def killed_after_first_expert(monkeypatch, data_file: Path, parts: Path, *extra: str) -> None:
    """A run killed while training its second expert: the first one is kept in ``parts``."""
    real = mtt.train_expert

    def train(data, settings, seed, expert):
        if expert == 1:
            raise Killed
        return real(data, settings, seed, expert)

    with monkeypatch.context() as patch:
        patch.setattr(mtt, "train_expert", train)
        with pytest.raises(Killed):
            make_experts(data_file, parts.parent / "never.pt", parts, *extra)
    assert (parts / "part_0.pt").exists()


def trajectories(path: Path) -> torch.Tensor:
    return load_artifact(path, "experts", "fashionmnist")["trajectories"]


def error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, lines
    return lines[0]


def lock_is_free(parts: Path) -> bool:
    with open(parts / LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


# ------------------------------------------------------------------------------------------- damaged parts


def flip_a_trajectory_byte(path: Path) -> None:
    """Flip the high exponent bit of one stored float: torch still reads the file, the value becomes ~1e38."""
    stored = torch.load(path, weights_only=True)
    trajectory = stored.get("part", stored)["trajectory"]  # a part of this format, or a bare one (format 1)
    raw = bytearray(path.read_bytes())
    offset = bytes(raw).find(trajectory.numpy().tobytes())
    assert offset > 0
    raw[offset + 4 * 10 + 3] ^= 0x40  # float 10, little-endian: its most significant byte
    path.write_bytes(bytes(raw))
    again = torch.load(path, weights_only=True)
    assert again.get("part", again)["trajectory"].abs().max() > 1e30  # read silently: only a checksum can tell


def test_a_bit_flipped_part_is_refused_in_one_line_and_never_used(data_file, tmp_path, monkeypatch, capsys):
    parts, out = tmp_path / "parts", tmp_path / "experts.pt"
    killed_after_first_expert(monkeypatch, data_file, parts)
    flip_a_trajectory_byte(parts / "part_0.pt")
    capsys.readouterr()
    assert make_experts(data_file, out, parts) == 2
    line = error_line(capsys)
    assert "part_0.pt" in line and "checksum" in line and not out.exists()
    assert (parts / "part_0.pt").exists() and lock_is_free(parts)  # left for the user to see; the lock released on error
    (parts / "part_0.pt").unlink()  # as the message says: then only that part is made again
    assert make_experts(data_file, out, parts) == 0
    assert trajectories(out).abs().max() < 100


# ------------------------------------------------------------------------------------------- other runs' parts


def test_a_part_of_another_run_in_the_directory_is_made_again_not_used(data_file, tmp_path, monkeypatch):
    # run A (seed 0) and run B (seed 1) each killed after their first expert; A's part then lands in B's directory
    for seed in ("0", "1"):
        killed_after_first_expert(monkeypatch, data_file, tmp_path / f"parts{seed}", "--seed", seed)
    shutil.copy(tmp_path / "parts0" / "part_0.pt", tmp_path / "parts1" / "part_0.pt")
    resumed, straight = tmp_path / "resumed.pt", tmp_path / "straight.pt"
    assert make_experts(data_file, resumed, tmp_path / "parts1", "--seed", "1") == 0
    assert make_experts(data_file, straight, None, "--seed", "1") == 0
    assert torch.equal(trajectories(resumed), trajectories(straight))  # B's experts only: A's part was discarded


def test_two_stores_of_different_settings_on_one_directory_never_mix(data_file, tmp_path):
    from condense.data.store import load_data

    data = load_data(data_file)
    settings = {
        lr: mtt.ExpertSettings(model=MODEL, num_experts=2, train_epochs=1, batch_train=8, strategy="none", lr_teacher=lr)
        for lr in (0.01, 0.02)
    }
    identity = {lr: RunIdentity({"kind": "experts", "seed": 0}, {"lr_teacher": lr}, {}) for lr in settings}
    first = PartStore(tmp_path / "parts", identity[0.01]).open()
    try:
        # a second run on the directory while the first uses it: refused, before it can discard or read a part
        with pytest.raises(CondenseError, match="in use by"):
            PartStore(tmp_path / "parts", identity[0.02]).open()
        made_first = mtt.train_experts(data, settings[0.01], 0, "cpu", first)
    finally:
        first.close()
    with PartStore(tmp_path / "parts", identity[0.02]) as second:
        made_second = mtt.train_experts(data, settings[0.02], 0, "cpu", second)
    alone = mtt.train_experts(data, settings[0.02], 0, "cpu")
    assert torch.equal(made_second["trajectories"], alone["trajectories"])  # the second run's experts, none of the first's
    assert not torch.equal(made_second["trajectories"], made_first["trajectories"])


# ------------------------------------------------------------------------------------------- the lock


def test_a_directory_in_use_is_refused_in_one_line_naming_the_holder(data_file, tmp_path, capsys):
    parts, out = tmp_path / "parts", tmp_path / "experts.pt"
    with PartStore(parts, RunIdentity({"kind": "experts"}, {}, {})):  # another run holds the directory
        capsys.readouterr()
        assert make_experts(data_file, out, parts) == 2
        line = error_line(capsys)
        assert "in use by" in line and f"pid {os.getpid()}" in line and str(parts) in line and not out.exists()
    assert make_experts(data_file, out, parts) == 0  # released: the run goes ahead
    assert not parts.exists()


def test_the_lock_is_released_when_a_run_is_killed(data_file, tmp_path, monkeypatch):
    parts = tmp_path / "parts"
    killed_after_first_expert(monkeypatch, data_file, parts)
    assert lock_is_free(parts)


def test_without_file_locks_a_run_goes_on_and_leaves_temporary_files_alone(data_file, tmp_path, monkeypatch, caplog):
    import condense.methods.parts as parts_module

    def no_locks(handle, operation):
        raise OSError(38, "Function not implemented")  # ENOSYS: Lustre mounted without flock

    parts = tmp_path / "parts"
    parts.mkdir()
    leftover = parts / ".part_1.pt.k3j4h5g6.tmp"  # unlocked, it may be another run's write in progress
    leftover.write_bytes(b"")
    monkeypatch.setattr(parts_module.fcntl, "flock", no_locks)
    with PartStore(parts, RunIdentity({"kind": "experts"}, {}, {})) as store:
        store.save(0, {"x": torch.zeros(1)})
        assert store.load(0)["x"].tolist() == [0.0] and leftover.exists()
    assert "going on unlocked" in caplog.text


# ------------------------------------------------------------------------------------------- leftovers


def test_a_killed_writes_temporary_file_is_removed_and_never_blocks_a_rerun(data_file, tmp_path, monkeypatch):
    parts, out, straight = tmp_path / "parts", tmp_path / "experts.pt", tmp_path / "straight.pt"
    killed_after_first_expert(monkeypatch, data_file, parts)
    leftover = parts / ".part_1.pt.k3j4h5g6.tmp"  # atomic_path's name for part_1.pt, half written when a SIGKILL came
    leftover.write_bytes(b"PK\x03\x04 half a zip")
    assert make_experts(data_file, out, parts) == 0
    assert not leftover.exists() and not parts.exists()
    assert make_experts(data_file, straight, None) == 0
    assert torch.equal(trajectories(out), trajectories(straight))


def test_a_foreign_file_in_the_directory_is_still_refused(data_file, tmp_path, capsys):
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / ".notes.tmp").write_text("mine")  # a temporary-looking name that is not a part's
    assert make_experts(data_file, tmp_path / "experts.pt", parts) == 2
    assert "holds other files (.notes.tmp)" in error_line(capsys) and (parts / ".notes.tmp").exists()


# ------------------------------------------------------------------------------------------- upgrades


def test_a_directory_of_the_earlier_format_starts_over_cleanly(data_file, tmp_path):
    from condense.core.fileio import save_torch

    parts, out, straight = tmp_path / "parts", tmp_path / "experts.pt", tmp_path / "straight.pt"
    parts.mkdir()  # format 1: one identity.pt for the directory, bare parts without identity or checksum
    save_torch({"format": 1, "identity": {"kind": "experts"}}, parts / "identity.pt")
    save_torch({"trajectory": torch.full((2, 5), 1e30), "seconds": 1.0}, parts / "part_0.pt")
    assert make_experts(data_file, out, parts) == 0 and not parts.exists()
    assert make_experts(data_file, straight, None) == 0
    assert torch.equal(trajectories(out), trajectories(straight))


# ------------------------------------------------------------------------------------------- digests and costs


def test_identical_runs_write_byte_identical_artifacts_and_their_cost_stays_readable(data_file, tmp_path, monkeypatch):
    a, b, resumed = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "resumed.pt"
    assert make_experts(data_file, a, None) == 0 and make_experts(data_file, b, None) == 0
    killed_after_first_expert(monkeypatch, data_file, tmp_path / "parts")
    assert make_experts(data_file, resumed, tmp_path / "parts") == 0
    assert file_digest(a) == file_digest(b) == file_digest(resumed)  # so distill's checkpoints of them stay current
    for path in (a, b, resumed):
        cost = json.loads(cost_path(path).read_text())
        assert cost["seconds"] > 0 and cost["device"] == "cpu" and cost["bytes"] == trajectories(path).numel() * 4
    assert "cost" not in load_artifact(a, "experts", "fashionmnist")


def test_the_cost_file_is_checked_like_any_output(data_file, tmp_path, capsys):
    out = tmp_path / "experts.pt"
    assert make_experts(data_file, out, None, "--log", str(cost_path(out))) == 2  # the log would be overwritten
    assert "experts.cost.json" in error_line(capsys) and not out.exists()


def test_the_digest_of_a_one_element_view_is_that_of_its_values():
    from condense.core.digests import content_digest

    column = torch.arange(6.0).reshape(1, 6)[:, 0]  # shape (1,), stride (6,): what one epoch's train_loss is
    assert content_digest(column) == content_digest(torch.tensor([0.0]))
