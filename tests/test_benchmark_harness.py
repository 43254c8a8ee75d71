"""The official-vs-ours benchmark harness runs one cheap row against the official code and writes both times.

Needs a copy of VICO-UoE/DatasetCondensation: set CONDENSE_OFFICIAL_DIR to it (skipped otherwise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OFFICIAL = os.environ.get("CONDENSE_OFFICIAL_DIR")


@pytest.mark.skipif(not OFFICIAL or not Path(OFFICIAL, "utils.py").exists(), reason="set CONDENSE_OFFICIAL_DIR to the official code")
def test_one_row_writes_json_and_markdown(tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "bench"
    cmd = [
        sys.executable,
        str(repo_root / "benchmarks" / "official_vs_ours.py"),
        "--official",
        OFFICIAL,
        "--rows",
        "dc_inner_epoch_ipc10",
        "--repeats",
        "1",
        "--threads",
        "2",
        "--per-class",
        "300",
        "--test-size",
        "100",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=repo_root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["official"]["patches"] and report["matmul"]["gflops"] > 0
    assert report["machine"]["env"].get("MALLOC_MMAP_THRESHOLD_") == "4294967296"  # re-executed with the allocator setting
    (row,) = report["rows"]
    assert "error" not in row, row
    for side in ("official", "ours"):
        assert len(row[side]["samples_s"]) == 1 and row[side]["median_s"] > 0
    assert row["speedup"]["ours"] == pytest.approx(row["official"]["median_s"] / row["ours"]["median_s"])
    table = out.with_suffix(".md").read_text()
    assert "| DC inner-loop epoch on the synthetic set, IPC 10 |" in table
    assert f"{row['official']['median_s']:.3f} | {row['ours']['median_s']:.3f}" in table
