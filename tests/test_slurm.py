"""The SLURM profile against a real single-node SLURM cluster started on this machine.

The module fixture runs workflow/cluster/slurm-up.sh (munge, slurmctld, slurmd on localhost,
one fake GPU through GRES) and always runs slurm-down.sh afterwards. Needs root, the Debian
packages `slurmctld slurmd slurm-client munge` and the `slurm` extra (snakemake-executor-plugin-slurm);
`bash workflow/setup.sh` as root installs both. Skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import make_stored_dataset, read_set

from condense.core.fileio import save_torch

REPO = Path(__file__).resolve().parent.parent
UP = REPO / "workflow" / "cluster" / "slurm-up.sh"
DOWN = REPO / "workflow" / "cluster" / "slurm-down.sh"
TEST_PROFILE = REPO / "workflow" / "profiles" / "slurm-test"
SMOKE = REPO / "config" / "smoke.yaml"
SLURM_DIR = Path(os.environ.get("CONDENSE_SLURM_DIR", "/tmp/condense-slurm"))
MARK = "# written by condense workflow/cluster/slurm-up.sh"
TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun")
# The smoke profile, smaller still (one IPC, one coreset, one plain condensation method, no masks and
# no snapshots: 18 jobs instead of 36), so that each kind of rule runs once or a few times as its own
# SLURM job; the masked rules run through Snakemake locally in test_workflow.py.
SMALLER = "ipcs: [1]\ncoreset: {methods: [herding]}\ndistill: {methods: [dm], dm: {snapshots: []}}\nattention: {masks: []}\n"


def _skip_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root: starts munged, slurmctld and slurmd (workflow/cluster/slurm-up.sh)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None]
    if missing:
        return (
            f"SLURM not installed ({', '.join(missing)} missing): apt-get install --no-install-recommends "
            "slurmctld slurmd slurm-client munge, or run `bash workflow/setup.sh` as root"
        )
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed: pip install -e '.[slurm]'"
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and MARK not in conf.read_text(errors="replace"):
        return "/etc/slurm/slurm.conf belongs to a real cluster; the test cluster would replace it"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")]


def _sh(*cmd, check=True, timeout=60) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node cluster (slurm-up.sh is idempotent), always stopped afterwards, even on failure."""
    try:
        up = subprocess.run(["bash", str(UP)], capture_output=True, text=True, timeout=120)
        if up.returncode != 0:
            pytest.fail(f"slurm-up.sh failed ({up.returncode}):\n{up.stdout}\n{up.stderr}")
        yield SLURM_DIR
    finally:
        down = subprocess.run(["bash", str(DOWN)], capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, f"slurm-down.sh failed:\n{down.stdout}\n{down.stderr}"


def _snakemake_cmd(workdir: Path, *args) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]


def _job_states(job_ids) -> dict[int, str]:
    """Job id -> state; finished jobs stay listed for MinJobAge (600 s on the test cluster)."""
    out = _sh("squeue", "-h", "-t", "all", "-j", ",".join(map(str, job_ids)), "-o", "%i %T").stdout
    return {int(job): state for job, state in (line.split() for line in out.splitlines() if line.strip())}


def _scontrol_job(job_id) -> str:
    return _sh("scontrol", "show", "job", str(job_id)).stdout


def _job_counts(output: str) -> dict[str, int]:
    """Snakemake's first 'Job stats' table as {rule: count}."""
    block = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}


_MEASURED = ("seconds", "per_second", "peak_", "energy")  # wall time, throughput, memory, energy: measurements of the run


def _strip_timing(value):
    if isinstance(value, dict):
        return {k: _strip_timing(v) for k, v in value.items() if not any(m in k for m in _MEASURED)}
    if isinstance(value, list):
        return [_strip_timing(v) for v in value]
    return value


def test_smoke_workflow_through_slurm_equals_a_local_run(slurm_cluster, tmp_path):
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    slurm_dir.mkdir()
    local_dir.mkdir()
    (tmp_path / "smaller.yaml").write_text(SMALLER)
    smoke_args = ("all", "--configfile", str(SMOKE), str(tmp_path / "smaller.yaml"))
    # The local reference runs beside the SLURM run (that one mostly waits on status checks).
    local = subprocess.Popen(
        _snakemake_cmd(local_dir, "--cores", "1", *smoke_args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # The whole-dataset network asks for a GPU (as in config.yaml): sbatch --gpus=1, served by the
        # fake GRES gpu; the stage itself runs on CPU (smoke: device cpu). Only one job asks, so that
        # the single fake GPU does not serialise the others.
        proc = subprocess.run(
            _snakemake_cmd(slurm_dir, "--profile", str(TEST_PROFILE), *smoke_args, "--set-resources", "full_baseline:gpu=1"),
            capture_output=True,
            text=True,
            timeout=600,
        )
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"snakemake --profile slurm-test failed ({proc.returncode}):\n{log[-6000:]}"
        local_out, _ = local.communicate(timeout=600)
        assert local.returncode == 0, f"local smoke run failed:\n{local_out[-4000:]}"
    finally:
        if local.poll() is None:
            local.kill()
            local.wait()

    # Every job but the local `all` went through sbatch: one SLURM log per job, named by its job id.
    assert "submitted with SLURM jobid" in log
    planned = _job_counts(log)
    remote = set(re.findall(r"^rule (\w+):", log, re.M))
    assert {"fixture", "download", "full_baseline", "coreset", "distill_dm", "evaluate", "table"} <= remote  # one distill rule per method
    logs_by_rule: dict[str, list[Path]] = {}
    for p in (slurm_dir / ".snakemake" / "slurm_logs").glob("rule_*/*/*.log"):
        logs_by_rule.setdefault(p.parent.parent.name.removeprefix("rule_"), []).append(p)
    assert {rule: len(paths) for rule, paths in logs_by_rule.items()} == {r: planned[r] for r in remote}, logs_by_rule
    job_ids = {rule: [int(p.stem) for p in paths] for rule, paths in logs_by_rule.items()}
    states = _job_states([i for ids in job_ids.values() for i in ids])
    assert set(states.values()) == {"COMPLETED"}, states
    # GPU requests were scheduled through GRES; the other rules asked for none.
    gpu_job = _scontrol_job(job_ids["full_baseline"][0])
    assert "TresPerJob=gres:gpu:1" in gpu_job, gpu_job
    assert "gres:gpu" not in _scontrol_job(job_ids["distill_dm"][0])
    # Requests from config['resources'] reached sbatch (smoke: 1000 MB, 10 minutes).
    table_job = _scontrol_job(job_ids["table"][0])
    assert "TimeLimit=00:10:00" in table_job and "mem=1000M" in table_job, table_job

    # Same results as the local run: tensors bit for bit, accuracies and losses exactly.
    a_root, b_root = slurm_dir / "results" / "smoke" / "cifar10", local_dir / "results" / "smoke" / "cifar10"
    sets = sorted(p.relative_to(a_root) for p in a_root.glob("sets/*.pt"))
    assert sets == sorted(p.relative_to(b_root) for p in b_root.glob("sets/*.pt"))
    assert {"dm_ipc1_seed0.pt", "herding_ipc1_seed0.pt"} <= {p.name for p in sets}
    for rel in sets:
        (ia, la, ma), (ib, lb, mb) = read_set(a_root / rel), read_set(b_root / rel)
        assert torch.equal(ia, ib) and torch.equal(la, lb), rel
        assert _strip_timing(ma.to_meta()) == _strip_timing(mb.to_meta()), rel
    jsons = sorted(p.relative_to(a_root) for p in [*a_root.glob("eval/*/*.json"), *a_root.glob("full/*.json")])
    assert jsons == sorted(p.relative_to(b_root) for p in [*b_root.glob("eval/*/*.json"), *b_root.glob("full/*.json")])
    assert len(jsons) >= 3
    for rel in jsons:
        ja, jb = json.loads((a_root / rel).read_text()), json.loads((b_root / rel).read_text())
        assert [r["test_acc"] for r in ja["runs"]] == [r["test_acc"] for r in jb["runs"]], rel
        assert _strip_timing(ja) == _strip_timing(jb), rel
    for name in ("summary.md", "summary.csv"):
        assert (a_root / "tables" / name).read_text() == (b_root / "tables" / name).read_text()
    assert (a_root / "logs" / "download.log").stat().st_size > 0  # stage logs stay under results/


DISTILL_ARGS = (
    "--method",
    "dm",
    "--ipc",
    "2",
    "--model",
    "convnet",
    "--iterations",
    "200",
    "--batch-real",
    "8",
    "--seed",
    "3",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--log-every",
    "10",
)


def _distill_cmd(data: Path, out: Path, checkpoint: Path | None, log: Path) -> list[str]:
    cmd = [sys.executable, "-m", "condense", "distill", "--data", str(data), *DISTILL_ARGS, "--out", str(out), "--log", str(log), "--quiet"]
    if checkpoint is not None:
        cmd += ["--checkpoint", str(checkpoint), "--checkpoint-every", "1"]
    return cmd


def _sbatch(cmd: list[str], workdir: Path, output: Path) -> int:
    wrap = " ".join(subprocess.list2cmdline([c]) for c in cmd)
    out = _sh(
        "sbatch",
        "--parsable",
        "--job-name",
        "condense-preempt",
        "--chdir",
        workdir,
        "--output",
        output,
        "--cpus-per-task",
        "1",
        "--mem",
        "1000",
        "--time",
        "10",
        "--wrap",
        wrap,
    ).stdout
    return int(out.strip().split(";")[0])


def _wait(predicate, timeout: float, what: str, poll: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_distill_preempted_in_slurm_resumes_to_identical_tensors(slurm_cluster, tmp_path):
    data = tmp_path / "data.pt"
    save_torch(make_stored_dataset(n_per_class=20), data)
    out, ckpt, log = tmp_path / "preempted.pt", tmp_path / "run.ckpt", tmp_path / "preempted.log"
    # The uninterrupted reference, locally, beside the SLURM job.
    straight = tmp_path / "straight.pt"
    reference = subprocess.Popen(
        _distill_cmd(data, straight, None, tmp_path / "straight.log"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        cmd = _distill_cmd(data, out, ckpt, log)
        first = _sbatch(cmd, tmp_path, tmp_path / "slurm-first.out")

        def checkpoint_at(min_iteration):
            if _job_states([first]).get(first) in ("COMPLETED", "FAILED"):
                raise AssertionError(f"job {first} ended before it was cancelled")
            try:
                return torch.load(ckpt, weights_only=True)["next_iteration"] >= min_iteration
            except Exception:  # not there yet, or being replaced
                return False

        _wait(lambda: checkpoint_at(5), 120, "a checkpoint from the first job")
        _sh("scancel", first)  # preemption: SIGTERM, then SIGKILL after KillWait
        _wait(lambda: _job_states([first]).get(first) == "CANCELLED", 30, f"job {first} to be cancelled")
        assert not out.exists()
        stopped_at = torch.load(ckpt, weights_only=True)["next_iteration"]
        assert 5 <= stopped_at <= 200

        second = _sbatch(cmd, tmp_path, tmp_path / "slurm-second.out")  # the same command, resubmitted

        def finished():
            state = _job_states([second]).get(second)
            return state if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY") else None

        state = _wait(finished, 300, f"job {second} to finish")
        assert state == "COMPLETED", f"{state}:\n{log.read_text()}"
        assert reference.wait(timeout=300) == 0, reference.stderr.read()
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()

    text = log.read_text()
    assert "resumed from" in text, text
    resumed_at = int(text.split("resumed from", 1)[1].split("at iteration", 1)[1].split()[0])
    assert resumed_at == stopped_at  # the second job went on from the first one's last checkpoint
    assert not ckpt.exists()  # removed once the run is complete
    (a, la, ma), (b, lb, mb) = read_set(straight), read_set(out)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert ma.losses == mb.losses and len(mb.losses) == 201


def test_distill_warned_before_its_time_limit_checkpoints_and_exits_138(slurm_cluster, tmp_path):
    """The profile's `--signal=USR1@300`, scaled down: SLURM signals the job's step (srun, as the executor plugin
    runs each job) before its time limit; distill finishes the iteration, writes its checkpoint and exits."""
    data = tmp_path / "data.pt"
    save_torch(make_stored_dataset(n_per_class=20), data)
    out, ckpt, log = tmp_path / "set.pt", tmp_path / "run.ckpt", tmp_path / "run.log"
    cmd = [
        sys.executable,
        "-m",
        "condense",
        "distill",
        "--data",
        str(data),
        *DISTILL_ARGS[:6],
        "--iterations",
        "1000000",
        *DISTILL_ARGS[8:],
        "--checkpoint",
        str(ckpt),
        "--checkpoint-every",
        "1000000",
        "--out",
        str(out),
        "--log",
        str(log),
        "--quiet",
    ]
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/bash\nexport PYTHONPATH=" + str(REPO) + "\nsrun " + subprocess.list2cmdline(cmd) + "\n")
    script.chmod(0o755)
    job = int(
        _sh(
            "sbatch",
            "--parsable",
            "--job-name",
            "condense-warned",
            "--chdir",
            tmp_path,
            "--output",
            tmp_path / "slurm.out",
            "--cpus-per-task",
            "1",
            "--mem",
            "1000",
            "--time",
            "2",
            "--signal",
            "USR1@100",
            script,
        )
        .stdout.strip()
        .split(";")[0]
    )

    def ended():
        state = _job_states([job]).get(job)
        return state if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT") else None

    assert _wait(ended, 150, f"job {job} to be warned and stop") == "FAILED"  # exit status 138, not the time limit
    assert "ExitCode=138:0" in _scontrol_job(job)
    text = log.read_text()
    assert "stopped by SIGUSR1 after iteration" in text and "rerun the same command to resume" in text
    stopped = torch.load(ckpt, weights_only=True)["next_iteration"]
    assert 0 < stopped < 1000000 and not out.exists()
