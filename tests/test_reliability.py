"""A resumed run never mixes inputs, no output destroys an input, a stopped job loses nothing (README "Reliability").

One test (or one parametrised family) per hole the reliability issue listed; each failed on the code before
the fix: a stale checkpoint resumed against changed data, a damaged one resumed silently, ``--checkpoint``
overwriting the data, outputs overwriting inputs or each other, snapshots lost under ``--rerun-incomplete``,
a read-only directory found only at the final write, SIGTERM losing the run, config errors found inside a job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from conftest import make_stored_dataset, read_set, write_set

from condense.cli import main
from condense.core import signals
from condense.core.fileio import atomic_path, save_torch, write_json

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "config" / "smoke.yaml"
COMMON = ["--method", "dm", "--ipc", "1", "--model", "convnet_w32", "--batch-real", "8", "--device", "cpu", "--seed", "4", "--quiet"]


def distill(data, out, *extra):
    return main(["distill", "--data", str(data), "--out", str(out), *COMMON, *extra])


def snakemake(*args, cwd: Path, check=True, **popen):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def error_line(err: str) -> str:
    """The one ``error:`` line of a refused stage (the log handler repeats it on stderr with a time stamp)."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------------- stale and damaged checkpoints


def test_a_checkpoint_made_from_other_data_is_refused_naming_the_change_and_restart_starts_afresh(tmp_path, capsys):
    old, new = tmp_path / "old.pt", tmp_path / "new.pt"
    save_torch(make_stored_dataset(seed=0), old)
    save_torch(make_stored_dataset(seed=1), new)
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "set.pt"
    assert distill(old, out, "--iterations", "4", "--checkpoint", str(ckpt), "--checkpoint-every", "1", "--stop-after", "2") == 0
    before = ckpt.read_bytes()
    capsys.readouterr()
    assert distill(new, out, "--iterations", "4", "--checkpoint", str(ckpt)) == 2
    err = error_line(capsys.readouterr().err)
    assert "stale" in err and "inputs.data" in err and "--restart" in err
    assert ckpt.read_bytes() == before and not out.exists()  # refused before any work: nothing written
    # other settings are stale too, named by key
    assert distill(old, out, "--iterations", "4", "--lr-img", "0.5", "--checkpoint", str(ckpt)) == 2
    assert "settings.lr_img: 1.0 -> 0.5" in capsys.readouterr().err
    # --restart: the same tensors as a run that never saw the old checkpoint
    assert distill(new, out, "--iterations", "4", "--checkpoint", str(ckpt), "--restart") == 0
    fresh = tmp_path / "fresh.pt"
    assert distill(new, fresh, "--iterations", "4") == 0
    (a, _, ma), (b, _, mb) = read_set(out), read_set(fresh)
    assert torch.equal(a, b) and ma.losses == mb.losses
    assert ma.inputs["data"] == mb.inputs["data"] and len(ma.inputs["data"]) == 64  # provenance in the set


def _first_tensor_offset(path: Path) -> int:
    """Where the bytes of the first tensor stored in a torch zip file begin (its local file header read by hand)."""
    with zipfile.ZipFile(path) as archive:
        entry = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size >= 64)
    with open(path, "rb") as handle:
        handle.seek(entry.header_offset)
        header = handle.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return entry.header_offset + 30 + name_len + extra_len


@pytest.mark.parametrize("policy", ["refuse", "restart"])
def test_a_checkpoint_with_16_bytes_zeroed_is_never_resumed(data_file, tmp_path, capsys, policy):
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "set.pt"
    assert distill(data_file, out, "--iterations", "4", "--checkpoint", str(ckpt), "--checkpoint-every", "1", "--stop-after", "2") == 0
    offset = _first_tensor_offset(ckpt)
    raw = bytearray(ckpt.read_bytes())
    raw[offset + 16 : offset + 32] = bytes(16)
    ckpt.write_bytes(bytes(raw))
    assert torch.load(ckpt, weights_only=True)["next_iteration"] == 3  # torch still reads it: only the checksum can tell
    capsys.readouterr()
    code = distill(data_file, out, "--iterations", "4", "--checkpoint", str(ckpt), "--stale-checkpoint", policy)
    if policy == "refuse":
        assert code == 2 and "does not match its checksum" in capsys.readouterr().err and not out.exists()
    else:  # the workflow's policy: a fresh start, equal to a run that never had a checkpoint
        assert code == 0
        fresh = tmp_path / "fresh.pt"
        assert distill(data_file, fresh, "--iterations", "4") == 0
        assert torch.equal(read_set(out)[0], read_set(fresh)[0])


# ------------------------------------------------------------------------------ inputs and outputs never collide


def test_checkpoint_on_the_data_file_a_set_or_another_runs_checkpoint_is_refused_and_left_intact(data_file, tmp_path, capsys):
    out = tmp_path / "set.pt"
    other_set = tmp_path / "other_set.pt"
    write_set(other_set, torch.zeros(3, 1, 28, 28), torch.arange(3))
    other_ckpt = tmp_path / "other.ckpt"
    assert (
        distill(
            data_file,
            tmp_path / "x.pt",
            "--iterations",
            "4",
            "--ipc",
            "2",
            "--checkpoint",
            str(other_ckpt),
            "--checkpoint-every",
            "1",
            "--stop-after",
            "1",
        )
        == 0
    )
    json_file = tmp_path / "eval.json"
    write_json({"runs": []}, json_file)
    for target, needle in (
        (other_set, "holds an image set"),
        (other_ckpt, "checkpoint of another run"),
        (json_file, "not a readable condense checkpoint"),
    ):
        before = target.read_bytes()
        capsys.readouterr()
        assert distill(data_file, out, "--iterations", "4", "--checkpoint", str(target), "--restart") == 2
        err = capsys.readouterr().err
        assert needle in err and "left as it is" in err, err
        assert target.read_bytes() == before and not out.exists()
    before = data_file.read_bytes()
    assert distill(data_file, out, "--iterations", "4", "--checkpoint", str(data_file)) == 2
    assert "is also --data" in capsys.readouterr().err
    assert data_file.read_bytes() == before


@pytest.mark.parametrize(
    "stage, argv, needle",
    [
        ("distill", ["--out", "{x}", "--checkpoint", "{x}"], "--out and --checkpoint are the same file"),
        ("distill", ["--out", "{set}", "--grid", "{set}"], "--grid and --out are the same file"),
        ("distill", ["--out", "{data}"], "--out '{data}' is also --data"),
        ("distill", ["--out", "{x}", "--snapshot-at", "0", "--snapshots", "{dir}", "--grid", "{dir}/it0.pt"], "are the same file"),
        ("evaluate", ["--set", "{set}", "--out", "{set}"], "--out '{set}' is also --set"),
        ("evaluate", ["--set", "{set}", "--out", "{x}", "--log", "{set}"], "--log '{set}' is also --set"),
        ("coreset", ["--method", "random", "--ipc", "1", "--out", "{data}"], "is also --data"),
        ("table", ["{set}", "--out-md", "{x}", "--out-csv", "{x}"], "are the same file"),
    ],
)
def test_an_output_that_is_an_input_or_another_output_is_refused_before_any_work(stage, argv, needle, data_file, tmp_path, capsys):
    existing = tmp_path / "set.pt"
    write_set(existing, torch.zeros(3, 1, 28, 28), torch.arange(3))
    names = {"x": tmp_path / "x.pt", "set": existing, "data": data_file, "dir": tmp_path / "snaps"}
    filled = [a.format(**names) for a in argv]
    base = {
        "distill": ["--data", str(data_file), "--method", "dm", "--ipc", "1", "--iterations", "1"],
        "evaluate": ["--data", str(data_file)],
        "coreset": ["--data", str(data_file)],
        "table": [],
    }[stage]
    before = {p: p.read_bytes() for p in (existing, data_file)}
    capsys.readouterr()
    assert main([stage, *base, *filled]) == 2
    err = error_line(capsys.readouterr().err)
    assert needle.format(**names) in err, err
    assert all(p.read_bytes() == b for p, b in before.items())
    assert not names["x"].exists() and not names["dir"].exists()


def _as_nobody(cmd: list[str]) -> list[str]:
    """The command as an unprivileged user where we are root (root writes into read-only directories)."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only for the stage")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]


def test_a_read_only_output_directory_is_refused_before_any_work():
    top = Path(tempfile.mkdtemp(prefix="condense-ro-"))  # not under pytest's 0700 tmp: the other user must read it
    try:
        top.chmod(0o755)
        data = top / "data.pt"
        save_torch(make_stored_dataset(), data)
        data.chmod(0o644)
        locked = top / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(top)}
        cmd = _as_nobody(
            [
                sys.executable,
                "-m",
                "condense",
                "distill",
                "--data",
                str(data),
                *COMMON,
                "--iterations",
                "1",
                "--out",
                str(locked / "set.pt"),
            ]
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=top, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "cannot write in directory" in proc.stderr and str(locked) in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: --out")
        assert list(locked.iterdir()) == []
    finally:
        (top / "locked").chmod(0o755)
        shutil.rmtree(top)


def test_a_long_file_name_that_the_file_system_takes_is_written(tmp_path):
    name = "x" * 250 + ".json"  # 255 bytes: the file system's limit; the temporary name is shortened, not the file's
    write_json({"ok": 1}, tmp_path / name)
    assert json.loads((tmp_path / name).read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_failed_write_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    from condense.core import fileio
    from condense.core.errors import CondenseError

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", full_disk)
    with pytest.raises(CondenseError, match="No space left on device"):
        write_json({"a": 1}, tmp_path / "out.json")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- signals and resume


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_a_stop_signal_writes_a_checkpoint_exits_128_plus_n_and_the_rerun_equals_an_uninterrupted_run(data_file, tmp_path, sig):
    out, ckpt, log = tmp_path / "set.pt", tmp_path / "run.ckpt", tmp_path / "run.log"
    argv = [
        sys.executable,
        "-m",
        "condense",
        "distill",
        "--data",
        str(data_file),
        *COMMON,
        "--iterations",
        "120",  # long enough that the signal lands mid-run (it is sent at iteration 3), short enough to rerun twice
        "--checkpoint",
        str(ckpt),
        "--checkpoint-every",
        "100000",
        "--log-every",
        "1",
        "--out",
        str(out),
        "--log",
        str(log),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(lambda: log.exists() and "iter 3/" in log.read_text(), 120, "the run to be iterating")
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 128 + sig, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert f"stopped by {signal.Signals(sig).name} after iteration" in err and "rerun the same command to resume" in err
    assert ckpt.exists() and not out.exists()
    stopped_at = torch.load(ckpt, weights_only=True)["next_iteration"]
    assert 4 <= stopped_at < 120  # only the signal wrote it (checkpoint-every is larger than the run)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert subprocess.run(argv, env=env, capture_output=True).returncode == 0
    assert f"resumed from {ckpt} at iteration {stopped_at}" in log.read_text()
    straight = tmp_path / "straight.pt"
    assert distill(data_file, straight, "--iterations", "120") == 0
    (a, _, ma), (b, _, mb) = read_set(out), read_set(straight)
    assert torch.equal(a, b) and ma.losses == mb.losses
    assert not ckpt.exists()


def test_a_stop_signal_outside_the_loop_removes_the_temporary_file():
    with signals.handled(), pytest.raises(signals.Terminated) as stopped, atomic_path(Path(tempfile.mkdtemp()) / "out.pt") as tmp:
        tmp.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert stopped.value.exit_status == 128 + signal.SIGTERM
    assert not tmp.exists() and list(tmp.parent.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous handler is back


# ---------------------------------------------------------------------------------------------- the workflow


def _overlay(tmp_path: Path, **changes) -> Path:
    """The smoke profile cut to one DM set with two snapshots, and ``changes`` (nested dicts merged)."""
    config = {
        "distill": {"methods": ["dm"], "dm": {"iterations": 60, "snapshots": [0, 1]}},
        "coreset": {"methods": []},
        "attention": {"masks": []},
    }
    for key, value in changes.items():
        config.setdefault(key, {}).update(value)
    path = tmp_path / f"overlay{len(list(tmp_path.glob('overlay*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


SET = "results/smoke/cifar10/sets/dm_ipc1_seed0.pt"
SNAPSHOTS = [f"results/smoke/cifar10/snapshots/dm_ipc1_seed0/it{i}.pt" for i in (0, 1)]
CKPT = "results/smoke/cifar10/checkpoints/dm_ipc1_seed0.ckpt"


def _kill_snakemake_during_distill(workdir: Path, overlay: Path, min_iteration: int) -> None:
    """Start Snakemake on the set and SIGKILL it and its job once the job's checkpoint has passed ``min_iteration``."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        SET,
        "--configfile",
        str(SMOKE),
        str(overlay),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def passed():
        try:
            return torch.load(workdir / CKPT, weights_only=True)["next_iteration"] >= min_iteration
        except Exception:
            return False

    try:
        _wait_for(passed, 240, "the distill job's checkpoint")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # the killed Snakemake left its lock, as a power loss would: the user unlocks, then reruns
    snakemake("--unlock", SET, "--configfile", str(SMOKE), str(overlay), cwd=workdir)


@pytest.mark.slow
def test_a_preempted_workflow_job_with_snapshots_resumes_under_rerun_incomplete(tmp_path):
    overlay = _overlay(tmp_path)
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    _kill_snakemake_during_distill(killed, overlay, min_iteration=3)
    assert not (killed / SET).exists()
    snakemake("--cores", "1", SET, "--configfile", str(SMOKE), str(overlay), "--rerun-incomplete", cwd=killed)
    snakemake("--cores", "1", SET, "--configfile", str(SMOKE), str(overlay), cwd=straight)
    assert "resumed from" in (killed / "results/smoke/cifar10/logs/sets/dm_ipc1_seed0.log").read_text()
    for rel in (SET, *SNAPSHOTS):
        (a, _, ma), (b, _, mb) = read_set(killed / rel), read_set(straight / rel)
        assert torch.equal(a, b) and ma.losses == mb.losses, rel
    assert not (killed / CKPT).exists()


@pytest.mark.slow
def test_a_checkpoint_from_before_a_data_change_is_not_resumed_by_the_workflow(tmp_path):
    first, changed = _overlay(tmp_path), _overlay(tmp_path, data={"fixture_per_class": 10})
    workdir, straight = tmp_path / "run", tmp_path / "straight"
    _kill_snakemake_during_distill(workdir, first, min_iteration=3)
    snakemake("--cores", "1", SET, "--configfile", str(SMOKE), str(changed), "--rerun-incomplete", cwd=workdir)
    log = (workdir / "results/smoke/cifar10/logs/sets/dm_ipc1_seed0.log").read_text()
    assert "is stale (made from other inputs or settings (inputs.data" in log and "resumed from" not in log
    snakemake("--cores", "1", SET, "--configfile", str(SMOKE), str(changed), cwd=straight)
    (a, _, ma), (b, _, mb) = read_set(workdir / SET), read_set(straight / SET)
    assert torch.equal(a, b) and ma.losses == mb.losses  # as if the old checkpoint had never been there


@pytest.mark.parametrize(
    "overlay, needle",
    [
        ({"distill": {"dc": {"iterations": 2.5}}}, "config: distill.dc: --iterations 2.5 is not an integer"),
        ({"distill": {"dm": {"iterations": "1e12"}}}, "config: distill.dm: --iterations '1e12' is not an integer (YAML reads"),
        ({"distill": {"dsa": {"lr_img": "fast"}}}, "config: distill.dsa: --lr-img 'fast' is not a number"),
        ({"resources": {"distil": {"threads": 2}}}, "'distil' was unexpected) at resources"),
        ({"seeds": [2**64]}, "config: key seeds.0 = 18446744073709551616 is invalid"),
        ({"plugins": ["{bad_plugin}"]}, "failed while importing"),
    ],
)
def test_a_config_error_is_one_line_and_exit_2_before_any_job(overlay, needle, tmp_path):
    plugin = tmp_path / "bad_plugin.py"
    plugin.write_text("x = 1\nraise RuntimeError('the plugin is broken')\n")
    text = yaml.safe_dump(overlay).replace("'{bad_plugin}'", str(plugin)).replace("{bad_plugin}", str(plugin))
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    proc = snakemake("-n", "--cores", "1", "--configfile", str(SMOKE), str(bad), cwd=tmp_path, check=False)
    assert proc.returncode == 2
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_the_schemas_resource_rules_are_the_rules_that_ask_for_resources():
    import re

    asked = set()
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        asked |= set(re.findall(r'res(?:ource)?s?\("([a-z_]+)"', rules.read_text()))
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert asked == set(schema["properties"]["resources"]["properties"])


def test_evaluate_refuses_a_set_from_another_dataset_or_with_labels_beyond_its_classes(data_file, tmp_path, capsys):
    other = tmp_path / "cifar100_set.pt"
    write_set(other, torch.zeros(3, 1, 28, 28), torch.arange(3), dataset="cifar100")
    wide = tmp_path / "wide.pt"
    write_set(wide, torch.zeros(3, 1, 28, 28), torch.tensor([0, 1, 7]))
    for path, needle in ((other, "was made from cifar100, not fashionmnist"), (wide, "labels 0..7 but fashionmnist has 3 classes")):
        capsys.readouterr()
        assert main(["evaluate", "--data", str(data_file), "--set", str(path), "--out", str(tmp_path / "e.json"), "--device", "cpu"]) == 2
        assert needle in capsys.readouterr().err
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("seed", [str(2**63), str(2**64)])
def test_a_seed_beyond_63_bits_is_refused_rather_than_wrapped(seed, tmp_path, capsys):
    assert main(["mask", "--data", str(tmp_path / "d.pt"), "--ratio", "0.5", "--out", str(tmp_path / "m.pt"), "--seed", seed]) == 2
    assert "<= 9223372036854775807" in capsys.readouterr().err
