"""The Snakemake workflow: the paper grid as a dry run, and the smoke profile end to end."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def snakemake(*args, cwd: Path, check=True):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_counts(output: str) -> dict:
    """Parse Snakemake's 'Job stats' table into {rule: count}; "distill" sums the per-method distill rules."""
    block = output.split("Job stats:")[1]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}
    distill = sum(v for k, v in counts.items() if k.startswith("distill_"))
    return {**counts, "distill": distill} if distill else counts


def test_paper_config_dry_run_lists_the_full_grid(tmp_path):
    proc = snakemake("-n", "--cores", "8", "all", cwd=tmp_path)
    counts = job_counts(proc.stdout + proc.stderr)
    # 2 coreset + 8 condensation methods (DC, DSA, DM, DataDAM, MTT, CAFE, CAFE+DSA, IDC) + (DC, DSA) × 4 mask ratios,
    # × IPC {1, 10, 50} × 1 seed, each evaluated on AlexNet and ConvNet; MTT's experts made once by their own rule.
    assert counts["coreset"] == 6
    assert counts["distill"] == 8 * 3 + 2 * 4 * 3
    assert counts["evaluate"] == (10 + 8) * 3 * 2
    assert counts["artifact"] == 1
    assert counts["train_attention"] == 1 and counts["saliency"] == 1
    assert "mask" not in counts  # the authors' per-batch scheme (the paper profile's) stores no selection
    assert counts["full_baseline"] == 2
    assert counts["herding_order"] == 1  # herding embeds the training set once for IPC 1, 10 and 50
    assert counts["download"] == 1 and counts["table"] == 1
    # Table 1, Table 2 and the ConvNet table; Figure 3 (mask ratio), Figure 4 (images), matching loss, saliency maps.
    # + the saliency maps of every mask source, accuracy over condensation time (snapshots), t-SNE
    assert counts["paper_table"] == 3 and counts["figures"] == 6
    assert counts["evaluate_snapshot"] == (3 * 1 + 3 * 1 + 3 * 3 + 3 * 3) * 2  # DC, DSA: 1 snapshot; DM, DataDAM: 3
    assert "results/cifar10/eval/herding_ipc50_seed0/alexnet.json" in proc.stdout + proc.stderr


def test_an_evaluation_pool_judges_every_final_set_on_its_networks_and_adds_the_cross_architecture_table(tmp_path):
    pool = tmp_path / "pool.yaml"
    pool.write_text("eval: {pool: M}\n")
    proc = snakemake("-n", "--cores", "8", "all", "--configfile", str(pool), cwd=tmp_path)
    counts, out = job_counts(proc.stdout + proc.stderr), proc.stdout + proc.stderr
    # the paper grid (14 sets x 3 IPCs) on AlexNet and ConvNet, and the pool's MLP, LeNet, VGG11, ResNet18 (its
    # ConvNet and AlexNet are already there); snapshots stay on eval.models
    assert counts["evaluate"] == (10 + 8) * 3 * 6 and counts["evaluate_snapshot"] == (3 + 3 + 9 + 9) * 2
    assert counts["cross_arch_table"] == 1
    assert "results/cifar10/eval/dc_ipc1_seed0/resnet18.json" in out and "results/cifar10/tables/cross_arch.md" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval: {pool: Z}\n")
    proc = snakemake("-n", "--cores", "1", "--configfile", str(bad), cwd=tmp_path, check=False)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and len(lines) == 1 and "eval.pool" in lines[0] and "'Z'" in lines[0], lines


def test_sets_condensed_on_another_network_carry_it_in_their_path_command_and_tables(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("distill: {dc: {models: [resnet18]}, dm: {models: [convnet, resnet18]}}\n")
    proc = snakemake("-n", "-p", "--cores", "8", "all", "--configfile", str(other), cwd=tmp_path)
    counts, out = job_counts(proc.stdout + proc.stderr), proc.stdout + proc.stderr
    # the paper grid's 48 condensations, and DC and DM again on ResNet18 at IPC 1, 10, 50 (convnet is distill.model)
    assert counts["distill"] == 8 * 3 + 2 * 4 * 3 + 2 * 3
    assert counts["evaluate"] == (10 + 8 + 2) * 3 * 2  # evaluated like every set, on AlexNet and ConvNet
    made = [
        line
        for line in out.splitlines()
        if "distill --method dm " in line and "--out results/cifar10/sets/dm-on-resnet18_ipc10_seed0.pt" in line
    ]
    assert len(made) == 1 and " --model resnet18 " in made[0], made
    assert any(
        "distill --method dm " in line and "/sets/dm_ipc10_seed0.pt" in line and " --model convnet " in line for line in out.splitlines()
    )
    assert "--rows method,set_model,mask_label,mask_ratio,ipc --columns model" in out  # the tables tell the two sets apart


def test_bad_config_value_stops_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("eval:\n  num_nets: 0\n")
    proc = snakemake("-n", "--cores", "1", "--configfile", str(bad), cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "eval.num_nets = 0 is invalid" in proc.stdout + proc.stderr


SMOKE = str(REPO / "config" / "smoke.yaml")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke profile run once for this module: (working directory, results directory)."""
    workdir = tmp_path_factory.mktemp("smoke")
    snakemake("--cores", "2", "all", "--configfile", SMOKE, cwd=workdir)
    return workdir, workdir / "results" / "smoke" / "cifar10"


@pytest.mark.slow
def test_smoke_profile_end_to_end(smoke_run):
    workdir, results = smoke_run
    table = (results / "tables" / "summary.md").read_text()
    for method in ("random", "herding", "dc", "dsa", "dm", "datadam", "full"):
        assert f"| {method} " in table
    assert (results / "eval" / "herding_ipc3_seed0" / "convnet.json").exists()
    continual = sorted(results.glob("eval/*/convnet.continual.json"))  # continual learning with three memories at IPC 3
    assert [p.parent.name for p in continual] == ["dm_ipc3_seed0", "herding_ipc3_seed0", "random_ipc3_seed0"]
    assert all(len(json.loads(p.read_text())["per_step"]) == 5 for p in continual)
    assert (results / "figures" / "continual.png").stat().st_size > 0
    with open(results / "tables" / "membership.csv") as handle:  # LiRA against three pipelines
        attacked = {row["trained on"]: float(row["AUC"]) for row in csv.DictReader(handle)}
    assert set(attacked) == {"dm IPC 1", "random IPC 1", "half of the pool"} and all(0 <= a <= 1 for a in attacked.values())
    assert (results / "figures" / "membership.png").stat().st_size > 0
    relative = (results / "tables" / "relative.md").read_text()  # every set against random and the whole data
    methods = {line.split("|")[3].strip() for line in relative.splitlines() if line.startswith("| cifar10")}
    assert "| LRS" in relative and methods == {"herding", "dc", "dsa", "dm", "datadam"}, relative  # random is a column
    cells = [[cell.strip() for cell in line.split("|")] for line in relative.splitlines() if line.startswith("| cifar10")]
    ars = {(c[3], c[4], c[6]): c[-2] for c in cells if c[2] == "convnet"}  # (method, mask, ipc) -> ARS
    # ARS where the set and random were evaluated with and without augmentation (DM at IPC 3), else —
    assert float(ars[("dm", "none", "3")]) > 0 and ars[("dm", "none", "1")] == ars[("herding", "none", "3")] == "—", relative
    for kind in ("continual", "augmentation"):  # each configured kind's own table
        assert "dm" in (results / "tables" / f"evaluation-{kind}.md").read_text()
    assert (results / "sets" / "dsa_ipc3_seed0.png").stat().st_size > 0
    assert (results / "sets" / "dsa-mask-fcn-r1.0-mean-soft-fixed_ipc3_seed0.pt").exists()
    assert (results / "attention" / "fcn" / "maps.png").stat().st_size > 0
    rows = pd.read_csv(results / "tables" / "summary.csv")
    assert {("dsa", 0.5), ("dsa", 1.0), ("dsa", 0.0), ("dm", 0.0)} <= set(zip(rows["method"], rows["mask_ratio"]))
    # Paper-layout tables and figures: smoke runs IPC 1 and 3 on ConvNet only.
    for layout in ("table1", "table2", "convnet"):
        for ext in ("md", "csv", "tex", "html"):
            assert (results / "tables" / f"{layout}.{ext}").stat().st_size > 0
    convnet = pd.read_csv(results / "tables" / "convnet.csv", dtype=str, keep_default_na=False).set_index("method")
    assert convnet.loc["DSA + mask", "IPC 1: ours"].endswith("(2)")  # 2 evaluation networks
    assert convnet.loc["whole dataset", "whole dataset: ours"].endswith("(1)")
    assert "IPC 3: ours" in convnet.columns and "IPC 10: ours" in convnet.columns  # IPC 10: published only, ours "—"
    assert convnet.loc["DC", "IPC 10: ours"] == "—"
    table2 = pd.read_csv(results / "tables" / "table2.csv", dtype=str, keep_default_na=False).set_index("method")
    assert set(table2["IPC 1: ours"]) <= {"—", ""}  # no AlexNet evaluations in the smoke profile: nothing filled in
    for figure in ("mask_ratio", "synthetic_images", "matching_loss", "saliency_maps", "accuracy_vs_time", "tsne"):
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{figure}.{ext}").stat().st_size > 1000
    # DataDAM, the fourth method; DM's snapshots and their evaluations; the cost table
    assert (results / "eval" / "datadam_ipc3_seed0" / "convnet.json").exists()
    assert (results / "snapshots" / "dm_ipc1_seed0" / "it0.pt").exists()
    snapshot = json.loads((results / "eval" / "dm_ipc1_seed0" / "it1" / "convnet.json").read_text())
    assert snapshot["iteration"] == 1 and snapshot["final"] is False and snapshot["set_seconds"] > 0
    cost = pd.read_csv(results / "tables" / "cost.csv", dtype=str, keep_default_na=False)
    assert set(cost["method"]) == {"DC", "DSA", "DM", "DataDAM"} and set(cost["energy J"]) <= {"—"} | set(cost["energy J"])
    assert (cost["device"] == "cpu").all() and (cost["evaluated by"] == "convnet × 2").all()
    assert "<table" in (results / "tables" / "cost.html").read_text()
    assert not list((results / "checkpoints").glob("*.ckpt"))  # removed after each finished run
    assert (results / "logs" / "download.log").stat().st_size > 0
    # Everything is up to date: a second run does nothing.
    again = snakemake("--cores", "2", "all", "--configfile", SMOKE, cwd=workdir)
    assert "Nothing to be done" in again.stdout + again.stderr
    # Rerun one stage: only the table is rebuilt.
    forced = snakemake("--cores", "2", "all", "--configfile", SMOKE, "--forcerun", "table", cwd=workdir)
    counts = job_counts(forced.stdout + forced.stderr)
    assert counts.get("table") == 1 and "evaluate" not in counts


@pytest.mark.slow
def test_report_of_the_smoke_run(smoke_run):
    workdir, _ = smoke_run
    snakemake("--report", "report.html", "--configfile", SMOKE, cwd=workdir)
    report = (workdir / "report.html").read_text()
    assert len(report) > 100_000
    # Every category of the report, and the files in it (named in the report's data).
    for name in (
        "Tables",
        "Figures",
        "Synthetic images",
        "Attention maps",
        "table1.html",
        "table2.html",
        "convnet.html",
        "summary.html",
        "mask_ratio.png",
        "synthetic_images.png",
        "matching_loss.png",
        "maps.png",
        "dsa-mask-fcn-r1.0-mean-soft-fixed_ipc3_seed0.png",
        "Test accuracy vs mask ratio",
        "cost.html",
        "What each condensed set",
        "accuracy_vs_time.png",
        "Test accuracy over the course of condensation",
        "tsne.png",
        "Synthetic sets in feature space",
        "saliency_maps.png",
        "under every mask source",
    ):
        assert name in report, name


def test_quick_profile_limits_alexnet_and_sweeps_mask_ratios_for_dm_only(tmp_path):
    proc = snakemake(
        "-n",
        "-p",
        "--cores",
        "2",
        "all",
        "--configfile",
        str(REPO / "config" / "quick.yaml"),
        "--config",
        f"results={tmp_path / 'r'}",
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    # FashionMNIST: DC, DSA at IPC 1 (± mask at ratio 1), DM at IPC {1, 10} (0, 0.25, 0.5, 1), DataDAM at
    # IPC {1, 10} (± mask); the background slice: DM at IPC 1, 3 seeds, unmasked, gt and FCN masks at ratio 1.
    sets = set(re.findall(r"results/quick/([\w-]+)/sets/([\w.-]+)\.pt", out.replace(str(tmp_path / "r"), "results/quick")))
    by_dataset = {d: {name for dd, name in sets if dd == d} for d, _ in sets}
    assert set(by_dataset) == {"fashionmnist", "fmnist-bg-correlated"}
    assert len(by_dataset["fashionmnist"] - {f"{c}_ipc{i}_seed0" for c in ("random", "herding") for i in (1, 10)}) == 2 + 2 + 8 + 4
    assert by_dataset["fmnist-bg-correlated"] == {
        f"dm{v}_ipc1_seed{s}" for v in ("", "-mask-gt-r1.0-other-soft-fixed", "-mask-fcn-r1.0-other-soft-fixed") for s in range(3)
    }
    assert counts["distill"] == 16 + 9
    # FashionMNIST's 20 sets on ConvNet plus AlexNet for DC/DSA (± mask) at IPC 1; the slice's 9 sets on ConvNet.
    assert counts["evaluate"] == 20 + 4 + 9
    assert counts["derive"] == 1 and counts["full_baseline"] == 2 and counts["saliency_scores"] == 1
    alexnet = set(re.findall(r"eval/([\w.-]+)_seed0/alexnet\.json", out))
    masked = "-mask-fcn-r1.0-mean-soft-fixed"
    assert alexnet == {"dc_ipc1", "dsa_ipc1", f"dc{masked}_ipc1", f"dsa{masked}_ipc1"}
    assert "dm-mask-fcn-r0.25-mean-soft-fixed_ipc10_seed0.pt" in out and "dsa-mask-fcn-r0.5" not in out
    # compile: [distill.dm] compiles DM's condensation jobs (masked or not) and nothing else.
    commands = [line for line in out.splitlines() if " -m condense " in line]
    compiled = {re.search(r"-m condense ([\w-]+)(?: --method (\w+))?", line).groups() for line in commands if "--compile" in line}
    assert compiled == {("distill", "dm")}
    assert sum("--compile" in line for line in commands) == 8 + 9
    # eval.model_epochs: AlexNet trains 300 epochs, ConvNet the profile's 80.
    epochs = {
        (m.group(1), m.group(2)) for line in commands if (m := re.search(r"--model (\w+) .*--epochs (\d+)", line)) and " evaluate " in line
    }
    assert epochs == {("alexnet", "300"), ("convnet", "80")}


def test_quick_methods_profile_runs_the_new_methods_at_its_stated_reductions(tmp_path):
    """config/quick-methods.yaml over quick.yaml: MTT, CAFE, CAFE+DSA and IDC at IPC 1 and 10 beside random, every
    row on the quick protocol (DSA, 80 epochs), MTT's sets trained with their learned lr (no --lr)."""
    proc = snakemake(
        "-n", "-p", "--cores", "2", "all",
        "--configfile", str(REPO / "config" / "quick.yaml"), str(REPO / "config" / "quick-methods.yaml"),
        "--config", f"results={tmp_path / 'r'}",
        cwd=tmp_path,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    assert {k: counts[k] for k in ("distill_mtt", "distill_cafe", "distill_cafe_dsa", "distill_idc", "artifact")} == {
        "distill_mtt": 2, "distill_cafe": 2, "distill_cafe_dsa": 2, "distill_idc": 2, "artifact": 1
    }  # fmt: skip
    assert counts["evaluate"] == 10  # 4 methods and random, at IPC 1 and 10, on ConvNet only
    commands = [line for line in out.splitlines() if " -m condense " in line]
    distill = {m.group(1): line for line in commands if (m := re.search(r" distill --method (\w+)", line))}
    assert {"--iterations 100", "--init real", "--window 3", "--probe-per-class 64"} <= set(
        re.findall(r"--[\w-]+ \S+", distill["cafe_dsa"])
    )
    assert {"--iterations 20", "--inner-loop 10"} <= set(re.findall(r"--[\w-]+ \S+", distill["idc"]))
    assert "--augment none" in distill["cafe"] and "--augment dsa" in distill["cafe_dsa"]
    evaluate = [line for line in commands if " evaluate " in line]
    assert len(evaluate) == 10 and all("--augment dsa" in line and "--epochs 80" in line for line in evaluate)
    assert not any("--lr " in line for line in evaluate if "/mtt_" in line)


def test_backgrounds_study_dag(tmp_path):
    """The background benchmark profile: two derived datasets, every source's maps, scores, the study grids."""
    proc = snakemake(
        "-n",
        "-p",
        "--cores",
        "2",
        "all",
        "--configfile",
        str(REPO / "config" / "quick.yaml"),
        str(REPO / "config" / "backgrounds.yaml"),
        "--config",
        f"results={tmp_path / 'r'}",
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    assert counts["derive"] == 2 and counts["saliency_scores"] == 2
    assert counts["paper_table"] == 2  # the ConvNet table of each; no AlexNet evaluated, nothing published: no Table 1/2
    assert counts["saliency"] == 6 + 3  # correlated: gt, fcn and the four attributions; independent: gt, fcn, smoothgrad
    # (a) DM IPC 1 × 3 seeds × (plain + 6 sources × 3 fills); (b) DM IPC 10 and DSA IPC 1 × 3 seeds × (plain +
    # 3 sources × 2 fills); (c) 3 sources × 3 ratios × 3 seeds; (d) the independent variant: 3 seeds × (plain + 3 sources)
    assert counts["distill"] == 3 * (1 + 6 * 3) + 2 * 3 * (1 + 3 * 2) + 3 * 3 * 3 + 3 * (1 + 3)
    assert "dm-mask-gradcam-r1.0-mean-soft-fixed_ipc10" not in out and "dsa-mask-gt-r1.0-black" not in out
    assert "fmnist-bg-correlated/sets/dm-mask-smoothgrad-r0.75-other-soft-fixed_ipc1_seed1.pt" in out
    assert "fmnist-bg-independent/sets/dm-mask-fcn-r1.0-other-soft-fixed_ipc1_seed2.pt" in out
    assert "derive --kind backgrounds" in out and "--variant correlated" in out and "--variant independent" in out
    assert "saliency --source gt" in out and "--network" not in next(line for line in out.splitlines() if "saliency --source gt" in line)
    assert "fmnist-bg-correlated/sets/dm-mask-gt-r1.0-other-soft-fixed_ipc1_seed2.pt" in out
    assert "fmnist-bg-independent/full/convnet_seed0.json" in out  # the whole-dataset network on both variants


@pytest.mark.slow
def test_a_new_mask_grid_reruns_only_its_own_jobs(smoke_run, tmp_path):
    """Adding a grid (and a saliency setting) must not retrain the FCN or remake the maps and sets made from them."""
    workdir, _ = smoke_run
    extra = tmp_path / "more.yaml"
    extra.write_text(
        yaml.safe_dump(
            {
                "attention": {
                    "masks": [
                        {"methods": ["dsa"], "ratios": [0.5, 1.0], "schemes": ["fixed"]},
                        {
                            "methods": ["dm"],
                            "ipcs": [1],
                            "ratios": [0.5],
                            "sources": ["gradcam"],
                            "fills": ["black", "other"],
                            "schemes": ["batch"],
                        },
                        {"methods": ["dm"], "ipcs": [1], "ratios": [1.0], "fills": ["black"], "schemes": ["fixed"]},
                    ],
                    "saliency": {"smoothgrad": {"samples": 7}},
                }
            }
        )
    )
    proc = snakemake("-n", "--cores", "2", "all", "--configfile", SMOKE, str(extra), cwd=workdir)
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts.get("distill") == 1 and counts.get("evaluate") == 1  # the new DM + FCN black-fill set only
    assert "train_attention" not in counts and "saliency" not in counts


def test_the_privacy_profile_runs_ten_membership_pipelines_and_nothing_else_heavy(tmp_path):
    proc = snakemake("-n", "--cores", "2", "all", "--configfile", str(REPO / "config" / "privacy.yaml"), cwd=tmp_path)
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["membership"] == 10 and counts["figures"] == 2  # the ROCs and the privacy-utility figure
    assert not {"distill", "coreset", "full_baseline", "evaluate"} & set(counts)
    assert "--source dpsgd --epsilon 1 " in proc.stdout or "dpsgd-eps1" in proc.stdout + proc.stderr
