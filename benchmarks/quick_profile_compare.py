"""Compare quick-profile runs timed by quick_profile_wall.sh: wall time and job-seconds per stage.

    .venv/bin/python benchmarks/quick_profile_compare.py RUNDIR LABEL [LABEL ...] [--out benchmarks/results/quick_profile_wall_cpu]

RUNDIR holds summary.txt and LABEL_job_times.csv of each run. The first label is the baseline of the
ratios. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pandas as pd
from bench_common import write_text

# job name (its benchmark file under results/<dataset>/benchmarks, without .tsv) -> stage
STAGES = [
    (r"sets/(dc|dsa|dm)(-mask[\d.]+)?_", lambda m: f"distill {m.group(1)}"),
    (r"sets/(random|herding)_|coresets/", lambda m: "coresets"),
    (r"eval/", lambda m: "evaluate"),
    (r"full/", lambda m: "whole-dataset network"),
    (r"attention/", lambda m: "attention (FCN, maps, masks)"),
]


def stage_of(job: str) -> str:
    for pattern, name in STAGES:
        if match := re.match(pattern, job):
            return name(match)
    return job


def read_summary(run_dir: Path) -> dict:
    """label -> {rc, wall_s, commit, start}; the last line of a label wins (a rerun replaces a run)."""
    runs = {}
    for line in (run_dir / "summary.txt").read_text().splitlines():
        label, *fields = shlex.split(line)
        runs[label] = dict(field.split("=", 1) for field in fields)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("labels", nargs="+")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "quick_profile_wall_cpu")
    args = parser.parse_args()
    summary = read_summary(args.run_dir)
    per_stage, report = {}, {"runs": {}}
    for label in args.labels:
        jobs = pd.read_csv(args.run_dir / f"{label}_job_times.csv")
        jobs["stage"] = jobs["job"].map(stage_of)
        per_stage[label] = jobs.groupby("stage")["seconds"].sum()
        run = summary[label]
        report["runs"][label] = {
            **run,
            "jobs": len(jobs),
            "job_seconds": float(jobs["seconds"].sum()),
            "peak_rss_mb": float(jobs["max_rss_mb"].max()),
            "per_stage_s": per_stage[label].round(1).to_dict(),
        }
    base = args.labels[0]
    table = pd.DataFrame(per_stage).fillna(0.0)
    lines = [
        "Quick profile (`snakemake --cores 2 all --configfile config/quick.yaml`, empty results directory),",
        "timed with `benchmarks/quick_profile_wall.sh`, runs one after the other on the same machine.",
        "",
        "| run | commit | started | wall | timed jobs | job-seconds | speed-up vs " + base + " |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in args.labels:
        r = report["runs"][label]
        wall = int(r["wall_s"])
        lines.append(
            f"| {label} | {r['commit']} | {r['start']} | {wall} s ({wall // 60} min {wall % 60} s) | {r['jobs']} | "
            f"{r['job_seconds']:.0f} | {int(report['runs'][base]['wall_s']) / wall:.2f}× |"
        )
    lines += [
        "",
        "Job-seconds per stage (the rules' benchmark files; tables and figures are not timed, 2 jobs run at a time):",
        "",
        "| stage | " + " | ".join(args.labels) + " |",
        "|---|" + "---|" * len(args.labels),
    ]
    for stage, row in table.sort_values(base, ascending=False).iterrows():
        lines.append(f"| {stage} | " + " | ".join(f"{row[label]:.0f}" for label in args.labels) + " |")
    write_text(args.out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
