"""Membership inference (LiRA): the math on tensors (condense/evaluations/lira.py) and the stage end to end
(condense/stages/membership.py) on data only memorisation can fit."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from condense.cli import main
from condense.core.fileio import save_torch
from condense.data.records import MembershipRecord
from condense.evaluations.lira import auc_of, balancing_partner, bootstrap_interval, keep_matrix, lira_scores, logit_confidence, roc, tpr_at


def test_each_image_is_in_exactly_half_the_shadows_drawn_independently_per_image():
    labels = torch.arange(3).repeat_interleave(16)
    keep = keep_matrix(labels, 6, torch.Generator().manual_seed(0))
    assert keep.shape == (6, 48) and (keep.sum(0) == 3).all()
    per_class = torch.stack([(keep & (labels == c)).sum(1) for c in range(3)]).double()
    assert (per_class.mean(1) == 8).all()  # half of every class on average over the shadows, exactly
    assert torch.equal(keep, keep_matrix(labels, 6, torch.Generator().manual_seed(0)))
    assert not torch.equal(keep, keep_matrix(labels, 6, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError):
        keep_matrix(labels, 5, torch.Generator())
    # independent per image: all 20 patterns of 3 IN among 6 appear about equally often over many images
    many = keep_matrix(torch.zeros(20_000, dtype=torch.long), 6, torch.Generator().manual_seed(2))
    codes = (many.long() * (2 ** torch.arange(6)).view(-1, 1)).sum(0)
    counts = torch.bincount(codes, minlength=64)[counts_nonzero := torch.bincount(codes, minlength=64) > 0]
    assert counts_nonzero.sum() == 20 and counts.min() > 850 and counts.max() < 1150  # 1000 each expected


def null_confidences(x: torch.Tensor, y: torch.Tensor, keep: torch.Tensor, classes: int, leave_self_out: bool = True) -> torch.Tensor:
    """A pipeline whose output cannot depend on an image's own membership: each shadow's nearest-class-mean
    classifier, the mean of the image's own class taken over the shadow's other members (``leave_self_out``).
    Driven by class composition only, the way class-mean matching (DM) is."""
    onehot = torch.nn.functional.one_hot(y, classes).double()
    conf = torch.zeros(keep.shape, dtype=torch.float64)
    rows = torch.arange(y.numel())
    for k in range(keep.shape[0]):
        member = keep[k].double().view(-1, 1)
        sums = ((onehot * member).T @ x).expand(y.numel(), -1, -1).clone()
        counts = (onehot * member).sum(0).expand(y.numel(), -1).clone()
        if leave_self_out:
            sums[rows, y] -= member * x
            counts[rows, y] -= member.flatten()
        logits = -((x.unsqueeze(1) - sums / counts.unsqueeze(-1)) ** 2).sum(-1)
        conf[k] = logit_confidence(logits, y)
    return conf


def test_a_null_pipeline_gives_chance_within_its_interval_and_a_leaking_one_does_not():
    gen = torch.Generator().manual_seed(0)
    classes, per_class, dim = 10, 30, 64
    y = torch.arange(classes).repeat_interleave(per_class)
    centres = torch.randn(classes, 3, dim, generator=gen, dtype=torch.float64)  # three modes per class
    x = centres[y, torch.randint(0, 3, (y.numel(),), generator=gen)] + torch.randn(y.numel(), dim, generator=gen, dtype=torch.float64)
    keep = keep_matrix(y, 16, torch.Generator().manual_seed(1))
    scores = lira_scores(null_confidences(x, y, keep, classes), keep, fixed_variance=True)
    low, high = bootstrap_interval(scores, keep, auc_of, "images", 200, torch.Generator().manual_seed(2))
    # a design whose images share IN/OUT patterns gave 0.70 here (0.65 with 16 shadows on real FashionMNIST)
    assert low < 0.5 < high and high - low < 0.1, (low, high)
    leaking = lira_scores(null_confidences(x, y, keep, classes, leave_self_out=False), keep, fixed_variance=True)
    assert bootstrap_interval(leaking, keep, auc_of, "images", 200, torch.Generator().manual_seed(2))[0] > 0.55


def test_logit_confidence_is_the_log_odds_of_the_label_and_stays_finite():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [500.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2, 0])
    p = torch.softmax(logits.double(), 1)[torch.arange(3), labels]
    conf = logit_confidence(logits, labels)
    assert conf[:2] == pytest.approx(torch.log(p / (1 - p))[:2].tolist())
    assert conf[1] == pytest.approx(math.log(0.5))  # p = 1/3: log(1/3 / (2/3))
    assert conf[2] == pytest.approx(500 - math.log(2))  # p rounds to 1 in float64; the log-odds does not


def test_roc_auc_and_tpr_on_hand_cases():
    fpr, tpr, auc = roc(torch.tensor([4.0, 3.0, 2.0, 1.0]), torch.tensor([True, True, False, False]))
    assert auc == 1.0 and tpr_at(fpr, tpr, 1e-9) == 1.0
    assert roc(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([True, True, False, False]))[2] == 0.0
    assert roc(torch.ones(4), torch.tensor([True, False, True, False]))[2] == 0.5  # ties count half
    # members 3 and 1 against non-members 2 and 0: pairs won 3>2, 3>0, 1>0, lost 1<2: 3/4
    fpr, tpr, auc = roc(torch.tensor([3.0, 2.0, 1.0, 0.0]), torch.tensor([True, False, True, False]))
    assert auc == 0.75 and tpr_at(fpr, tpr, 1e-9) == 0.5 and tpr_at(fpr, tpr, 0.5 + 1e-9) == 1.0
    assert tpr_at(fpr, tpr, 0.5) == 0.5  # strictly below the FPR, as the paper's code reads it


def test_lira_separates_gaussian_members_and_is_chance_when_they_look_alike():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat_interleave(40)
    for fixed in (True, False):
        alike = []
        for _ in range(10):  # pure noise: the mean AUC over draws is 0.5 within its standard error (~0.004)
            keep = keep_matrix(labels, 16, gen)
            noise = torch.randn(keep.shape, generator=gen)
            alike.append(roc(lira_scores(noise, keep, fixed), keep)[2])
        _, _, separated = roc(lira_scores(torch.where(keep, 2.0, 0.0) + 0.5 * noise, keep, fixed), keep)
        # fitting on the other 15 shadows alone (groups of 7 and 8) gave 0.47 here: the target's own group was smaller
        assert separated > 0.95 and abs(sum(alike) / len(alike) - 0.5) < 0.01, (fixed, separated, alike)


def test_the_balancing_partner_is_in_the_opposite_group_and_leaves_equal_groups():
    keep = keep_matrix(torch.zeros(50, dtype=torch.long), 8, torch.Generator().manual_seed(4))
    partner = balancing_partner(keep)
    images = torch.arange(50).expand_as(partner)
    assert (partner != torch.arange(8).view(-1, 1)).all() and (keep[partner, images] != keep).all()


def test_offline_scores_are_the_one_sided_test_and_queries_average_their_log_likelihoods():
    gen = torch.Generator().manual_seed(3)
    keep = keep_matrix(torch.zeros(5, dtype=torch.long), 8, gen)
    conf = torch.randn(8, 5, 2, generator=gen, dtype=torch.float64)
    k, i, q = 2, 3, 1
    others = [j for j in range(8) if j not in (k, int(balancing_partner(keep)[k, i]))]
    out = torch.tensor([conf[j, i, q] for j in others if not keep[j, i]], dtype=torch.float64)
    expected = torch.distributions.Normal(out.mean(), out.std(unbiased=False)).cdf(conf[k, i, q]).log()
    per_query = [lira_scores(conf[..., j], keep, fixed_variance=False, online=False) for j in range(2)]
    assert per_query[q][k, i].item() == pytest.approx(expected.item(), rel=1e-9)
    both = lira_scores(conf, keep, fixed_variance=False, online=False)
    assert torch.allclose(both, (per_query[0] + per_query[1]) / 2)
    online = [lira_scores(conf[..., j], keep, fixed_variance=True) for j in range(2)]
    assert torch.allclose(lira_scores(conf, keep, fixed_variance=True), (online[0] + online[1]) / 2)


def test_a_non_finite_confidence_is_an_error_not_a_silent_auc():
    keep = keep_matrix(torch.zeros(4, dtype=torch.long), 6, torch.Generator().manual_seed(0))
    conf = torch.zeros(6, 4)
    conf[1, 2] = float("nan")
    with pytest.raises(ValueError, match="image 2 under shadow 1 is nan"):
        lira_scores(conf, keep)


def test_the_thinned_curve_keeps_the_upper_corner_of_each_step():
    from condense.stages.membership import thin

    # one member above every non-member, then alternating: at FPR 0 the TPR reaches 1/3
    fpr, tpr, _ = roc(torch.tensor([9.0, 8.0, 7.0, 6.0, 5.0, 4.0]), torch.tensor([True, False, True, False, True, False]))
    curve = thin(fpr, tpr)
    at_zero = [t for f, t in zip(curve["fpr"], curve["tpr"], strict=True) if f == 0.0]
    assert max(at_zero) == pytest.approx(1 / 3)
    assert all(t <= tpr_at(fpr, tpr, f + 1e-12) + 1e-12 for f, t in zip(curve["fpr"], curve["tpr"], strict=True))


@pytest.fixture
def noise_data(tmp_path):
    """Random images with random labels: a network fits them only by memorising its members."""
    gen = torch.Generator().manual_seed(0)
    path = tmp_path / "noise.pt"
    save_torch({"name": "fashionmnist", "classes": ["a", "b", "c"], "mean": [0.5], "std": [0.25], "format": 1,
                "train_images": torch.randint(0, 256, (48, 1, 16, 16), generator=gen).to(torch.uint8),
                "train_labels": torch.arange(3).repeat_interleave(16),
                "test_images": torch.randint(0, 256, (30, 1, 16, 16), generator=gen).to(torch.uint8),
                "test_labels": torch.arange(3).repeat_interleave(10)}, path)  # fmt: skip
    return path


def membership(data, out, *extra) -> MembershipRecord:
    argv = ["membership", "--data", str(data), "--pool-per-class", "16", "--shadows", "6", "--model", "convnet_w32",
            "--train-epochs", "40", "--test-per-class", "0", "--device", "cpu", "--quiet", *extra, "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return MembershipRecord.load(out)


def test_a_network_that_memorised_its_members_gives_them_away_and_one_that_saw_none_does_not(noise_data, tmp_path, monkeypatch):
    memorised = membership(noise_data, tmp_path / "half.json", "--source", "half")
    assert memorised.auc > 0.95 and memorised.tpr["0.01"] > 0.3 and memorised.init_audit is None
    assert memorised.roc["fpr"][0] == 0.0 and memorised.roc["tpr"][-1] == 1.0
    raw = torch.load(tmp_path / "half.scores.pt", weights_only=True)  # anyone can re-score from the raw confidences
    assert (
        raw["confidence"].shape == (6, 48, 2)
    )  # the image and its mirror (FashionMNIST's classes survive a flip) and raw["keep"].dtype == torch.bool and raw["keep"].shape == (6, 48)
    rescored = roc(lira_scores(raw["confidence"], raw["keep"], fixed_variance=raw["fixed_variance"]), raw["keep"])[2]
    assert rescored == pytest.approx(memorised.auc, abs=1e-12)
    for over in ("images", "targets"):
        low, high = memorised.intervals[over]["auc"]
        assert low <= memorised.auc <= high
    assert 0.6 < memorised.offline["auc"] < memorised.auc and memorised.queries == [{"mirror": m, "dy": 0, "dx": 0} for m in (False, True)]
    again = json.loads((tmp_path / "half.json").read_text())
    assert membership(noise_data, tmp_path / "again.json", "--source", "half").auc == again["auc"]  # deterministic per seed
    import condense.stages.membership as stage

    monkeypatch.setattr(stage, "train_network", lambda *args, **kwargs: {})  # the networks never see their members
    untrained = membership(noise_data, tmp_path / "none.json", "--source", "half")
    assert abs(untrained.auc - 0.5) < 0.1


def test_the_images_that_initialised_a_set_leak_and_the_other_members_do_not(noise_data, tmp_path):
    # DM with one update of a tiny step: the set is its initial real images, which the target then memorises
    record = membership(noise_data, tmp_path / "dm.json", "--source", "set", "--method", "dm", "--ipc", "2", "--iterations", "0",
                        "--lr-img", "1e-6", "--batch-real", "4")  # fmt: skip
    audit = record.init_audit
    assert audit["init_images"] == 6 * 2 * 3  # shadows x IPC x classes
    assert audit["init_vs_nonmembers"]["auc"] > 0.95 and audit["other_members_vs_nonmembers"]["auc"] < 0.65
    assert record.method == "dm" and record.ipc == 2 and record.settings["condensation"]["iterations"] == 0


def test_dp_sgd_targets_leak_less_than_the_same_half_trained_plainly_and_spend_their_epsilon(noise_data, tmp_path):
    plain = membership(noise_data, tmp_path / "half.json", "--source", "half")
    private = membership(noise_data, tmp_path / "dp.json", "--source", "dpsgd", "--epsilon", "1", "--train-lr", "0.1")
    assert private.label == "DP-SGD ε 1 (half)" and private.ipc is None
    dp = private.settings["dp"]
    assert dp["epsilon"] == 1 and dp["delta"] == 1e-5 and 0.9 < dp["epsilon_spent"] <= 1.0 + 1e-6
    assert plain.auc > 0.95 and private.auc < 0.65  # noise data: only memorising leaks, and DP-SGD at ε 1 cannot memorise
    again = membership(noise_data, tmp_path / "dp2.json", "--source", "dpsgd", "--epsilon", "1", "--train-lr", "0.1")
    assert again.auc == private.auc  # deterministic per seed


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--shadows", "7"], "--shadows 7: give an even number of at least 6"),
        (["--source", "dpsgd"], "--epsilon goes with --source dpsgd"),
        (["--source", "half", "--epsilon", "2"], "--epsilon goes with --source dpsgd"),
        (["--source", "half", "--query-shift", "8"], "--query-shift 8 is not below half the image size"),
        (["--source", "random", "--ipc", "9"], "fewer than --ipc 9; raise --pool-per-class or lower --ipc"),
    ],
)
def test_bad_settings_are_one_line_before_any_training(noise_data, tmp_path, capsys, extra, needle):
    out = tmp_path / "m.json"
    argv = ["membership", "--data", str(noise_data), "--pool-per-class", "16", "--shadows", "6", "--device", "cpu", "--quiet"]
    assert main([*argv, *extra, "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(err) == 1 and needle in err[0] and not out.exists()


def test_the_table_and_the_figure_show_each_pipeline(noise_data, tmp_path):
    from condense.reporting.figures import FigureContext
    from condense.reporting.figures.membership import draw_membership

    records = [tmp_path / "half.json", tmp_path / "random.json"]
    membership(noise_data, records[0], "--source", "half")
    membership(noise_data, records[1], "--source", "random", "--ipc", "2")
    md, csv = tmp_path / "m.md", tmp_path / "m.csv"
    assert main(["table", *map(str, records), "--layout", "membership", "--out-md", str(md), "--out-csv", str(csv)]) == 0
    import pandas as pd

    frame = pd.read_csv(csv, dtype=str)
    loaded = [MembershipRecord.load(p) for p in records]
    assert list(frame["trained on"]) == ["half of the pool", "random IPC 2"]
    assert list(frame["AUC"]) == [f"{r.auc:.3f}" for r in loaded]
    ax = draw_membership(records, FigureContext()).axes[0]
    curves = [line for line in ax.get_lines() if line.get_label() != "chance"]
    assert [line.get_label().split(":")[0] for line in curves] == ["half of the pool", "random IPC 2"]
    assert all(min(line.get_xdata()) > 0 for line in curves)  # FPR 0 has no place on a log axis


def test_the_default_audit_marks_the_exact_copies_a_real_initialisation_takes_and_none_for_noise(noise_data):
    from condense.data.store import load_data
    from condense.methods import METHODS

    data = load_data(noise_data)
    spec = METHODS.get("dm")
    for init, expected in (("real", 2 * data.num_classes), ("noise", 0)):
        settings = spec.resolve(ipc=2, model="convnet", traits=data.traits, overrides={"init": init})
        images, _ = spec.initial(data, settings, 0)
        found = spec.init_sources(data, settings, images)
        assert found.sum() == expected
        if expected:  # each marked training image is one of the set's, and each of the set's is marked
            assert torch.equal(data.train_images[found].flatten(1).sort(0).values, images.flatten(1).sort(0).values)


def test_the_privacy_utility_figure_places_each_pipeline_by_accuracy_and_tpr(noise_data, tmp_path):
    from condense.reporting.figures import FIGURES, FigureContext

    records = [tmp_path / "half.json", tmp_path / "random.json", tmp_path / "dp.json"]
    membership(noise_data, records[0], "--source", "half")
    membership(noise_data, records[1], "--source", "random", "--ipc", "2")
    membership(noise_data, records[2], "--source", "dpsgd", "--epsilon", "2", "--train-lr", "0.1")
    loaded = [MembershipRecord.load(p) for p in records]
    ax = FIGURES.get("privacy_utility").draw(records, FigureContext()).axes[0]
    # one errorbar container per family: the real subsets joined (random IPC 2, then the half by accuracy), DP-SGD alone
    lines = {container.get_label(): container.lines[0] for container in ax.containers}
    real = lines["random real subsets"]
    expected = sorted(loaded[:2], key=lambda r: r.utility["mean"])
    assert list(real.get_xdata()) == [r.utility["mean"] for r in expected]
    assert list(real.get_ydata()) == [max(r.tpr["0.001"], 1e-4) for r in expected]
    assert list(lines["DP-SGD (whole half)"].get_xdata()) == [loaded[2].utility["mean"]]
    assert {t.get_text() for t in ax.texts} == {"IPC 2", "half", "ε 2"}


def test_the_workflow_trains_each_pipeline_with_its_sets_protocol_and_names_dp_sgd_by_epsilon(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parent.parent
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"membership": {"datasets": ["cifar10"], "train": {}, "pipelines": [
        {"source": "set", "method": "dm", "ipc": 1}, {"source": "random", "ipc": 1}, {"source": "dpsgd", "epsilon": 4}]},
        "eval": {"augment": {"dm": "dsa", "random": "none"}, "epochs": 3, "epochs_augmented": 5}}))  # fmt: skip
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path), "-n", "-p",
           "--cores", "1", "--configfile", str(repo / "config" / "smoke.yaml"), str(extra), "--", "results/smoke/cifar10/tables/membership.md"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    commands = [line for line in proc.stdout.splitlines() if "condense membership" in line]
    by_source = {re.search(r"--source (\w+)", c).group(1): c for c in commands}
    assert set(by_source) == {"set", "random", "dpsgd"}
    flags = {source: dict(re.findall(r"--(train-\w+) (\S+)", c)) for source, c in by_source.items()}
    assert flags["set"] == {"train-augment": "dsa", "train-epochs": "5"}  # DM sets: DSA, the augmented length
    assert flags["random"] == {"train-augment": "none", "train-epochs": "3"}  # random subsets: as in eval.augment
    assert flags["dpsgd"] == {"train-augment": "none", "train-epochs": "3"}
    assert "--epsilon 4" in by_source["dpsgd"] and "--train-augment none" in by_source["dpsgd"] and "--ipc" not in by_source["dpsgd"]
    assert "membership/dpsgd-eps4.json" in by_source["dpsgd"]


def test_an_independent_rescoring_of_the_raw_scores_gives_the_recorded_auc(noise_data, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "workflow" / "scripts" / "rescore_membership.py"
    out = tmp_path / "random.json"
    membership(noise_data, out, "--source", "random", "--ipc", "2")
    proc = subprocess.run([sys.executable, str(script), str(out), "--tolerance", "1e-9"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "random.json: AUC" in proc.stdout
    raw = torch.load(tmp_path / "random.scores.pt", weights_only=True)
    raw["confidence"] = raw["confidence"].flip(0)  # scores of other targets: the check must notice
    torch.save(raw, tmp_path / "random.scores.pt")
    assert subprocess.run([sys.executable, str(script), str(out), "--tolerance", "1e-9"], capture_output=True).returncode == 1
