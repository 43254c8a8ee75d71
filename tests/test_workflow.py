"""The Snakemake workflow: the paper grid as a dry run, and the smoke profile end to end."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent


def snakemake(*args, cwd: Path, check=True):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_counts(output: str) -> dict:
    """Parse Snakemake's 'Job stats' table into {rule: count}."""
    block = output.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}


def test_paper_config_dry_run_lists_the_full_grid(tmp_path):
    proc = snakemake("-n", "--cores", "8", "all", cwd=tmp_path)
    counts = job_counts(proc.stdout + proc.stderr)
    # 2 coreset + 3 condensation methods + (DC, DSA) × 4 mask ratios, × IPC {1, 10, 50} × 1 seed,
    # each evaluated on AlexNet and ConvNet.
    assert counts["coreset"] == 6
    assert counts["distill"] == 9 + 2 * 4 * 3
    assert counts["evaluate"] == (5 + 8) * 3 * 2
    assert counts["train_attention"] == 1 and counts["attention_maps"] == 1 and counts["mask"] == 4
    assert counts["full_baseline"] == 2
    assert counts["download"] == 1 and counts["table"] == 1
    assert "results/cifar10/eval/herding_ipc50_seed0/alexnet.json" in proc.stdout + proc.stderr


def test_bad_config_value_stops_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval:\n  num_nets: 0\n")
    proc = snakemake("-n", "--cores", "1", "--configfile", str(bad), cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "eval.num_nets = 0 is invalid" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_smoke_profile_end_to_end(tmp_path):
    smoke = str(REPO / "config" / "smoke.yaml")
    snakemake("--cores", "2", "all", "--configfile", smoke, cwd=tmp_path)
    results = tmp_path / "results" / "smoke" / "cifar10"
    table = (results / "tables" / "summary.md").read_text()
    for method in ("random", "herding", "dc", "dsa", "dm", "full"):
        assert f"| {method} " in table
    assert (results / "eval" / "herding_ipc3_seed0" / "convnet.json").exists()
    assert (results / "sets" / "dsa_ipc3_seed0.png").stat().st_size > 0
    assert (results / "sets" / "dsa-mask1.0_ipc3_seed0.pt").exists()
    assert (results / "attention" / "maps.png").stat().st_size > 0
    rows = pd.read_csv(results / "tables" / "summary.csv")
    assert {("dsa", 0.5), ("dsa", 1.0), ("dsa", 0.0), ("dm", 0.0)} <= set(zip(rows["method"], rows["mask_ratio"]))
    assert not list((results / "checkpoints").glob("*.ckpt"))  # removed after each finished run
    assert (results / "logs" / "download.log").stat().st_size > 0
    # Everything is up to date: a second run does nothing.
    again = snakemake("--cores", "2", "all", "--configfile", smoke, cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr
    # Rerun one stage: only the table is rebuilt.
    forced = snakemake("--cores", "2", "all", "--configfile", smoke, "--forcerun", "table", cwd=tmp_path)
    counts = job_counts(forced.stdout + forced.stderr)
    assert counts.get("table") == 1 and "evaluate" not in counts
