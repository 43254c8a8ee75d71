#!/bin/bash
# The quick profile's wall time at one commit, from an empty results directory (run by hand, on an
# otherwise idle machine; one commit after the other, never two at once on 2 cores):
#
#   git worktree add --detach /work/runs/after HEAD
#   benchmarks/quick_profile_wall.sh /work/runs/after after /work/runs
#   .venv/bin/python benchmarks/quick_profile_compare.py /work/runs before after
#
# WORKTREE is a checkout of the commit to time; the Snakemake and Python of this repository's .venv
# run it (Snakefile's CONDENSE is `python -m condense`, which imports the worktree's package).
# torch.compile starts from an empty cache (TORCHINDUCTOR_CACHE_DIR), as on a fresh machine.
# Writes OUTDIR/LABEL.log (Snakemake's output), OUTDIR/LABEL_job_times.csv (the rules' benchmark
# files) and appends "LABEL rc=.. wall_s=.. commit=.. start=.." to OUTDIR/summary.txt.
set -u
worktree=$1 label=$2 outdir=$3
venv=$(cd "$(dirname "$0")/.." && pwd)/.venv
cd "$worktree"
rm -rf results/quick .snakemake/incomplete
export TORCHINDUCTOR_CACHE_DIR=$outdir/inductor-$label; rm -rf "$TORCHINDUCTOR_CACHE_DIR"
start=$(date +%s)
"$venv/bin/snakemake" --cores 2 all --configfile config/quick.yaml > "$outdir/$label.log" 2>&1
rc=$?
end=$(date +%s)
echo "$label rc=$rc wall_s=$((end-start)) commit=$(git rev-parse --short HEAD) start=$(date -d @$start -Is)" | tee -a "$outdir/summary.txt"
python3 - "$label" "$outdir" <<'PY'
import csv, glob, os, sys
label, outdir = sys.argv[1:]
rows = []  # every dataset of the profile (FashionMNIST and the background slice)
for f in sorted(glob.glob("results/quick/*/benchmarks/**/*.tsv", recursive=True)):
    dataset, root = f.split("/")[2], "/".join(f.split("/")[:4])
    r = next(csv.DictReader(open(f), delimiter="\t"))
    rows.append((os.path.relpath(f, root)[:-4], float(r["s"]), float(r["max_rss"]), dataset))
with open(f"{outdir}/{label}_job_times.csv", "w") as out:
    out.write("job,seconds,max_rss_mb,dataset\n")
    for job, s, rss, dataset in rows:
        out.write(f"{job},{s:.1f},{rss:.1f},{dataset}\n")
print(label, "jobs", len(rows), "job-seconds", round(sum(row[1] for row in rows)))
PY
