"""Membership inference (LiRA): the math on tensors (condense/evaluations/lira.py) and the stage end to end
(condense/stages/membership.py) on data only memorisation can fit."""

from __future__ import annotations

import json
import math

import pytest
import torch

from condense.cli import main
from condense.core.fileio import save_torch
from condense.data.records import MembershipRecord
from condense.evaluations.lira import keep_matrix, lira_scores, logit_confidence, roc, tpr_at


def test_each_image_is_in_half_the_shadows_and_each_shadow_holds_half_of_each_class():
    labels = torch.arange(3).repeat_interleave(16)
    keep = keep_matrix(labels, 6, torch.Generator().manual_seed(0))
    assert keep.shape == (6, 48) and (keep.sum(0) == 3).all()
    per_class = torch.stack([(keep & (labels == c)).sum(1) for c in range(3)])
    assert per_class.min() >= 7 and per_class.max() <= 9  # 16 / 2 = 8, to one image (16 is not a multiple of 6)
    assert torch.equal(keep, keep_matrix(labels, 6, torch.Generator().manual_seed(0)))
    assert not torch.equal(keep, keep_matrix(labels, 6, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError):
        keep_matrix(labels, 5, torch.Generator())


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
    assert auc == 1.0 and tpr_at(fpr, tpr, 0.0) == 1.0
    assert roc(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([True, True, False, False]))[2] == 0.0
    assert roc(torch.ones(4), torch.tensor([True, False, True, False]))[2] == 0.5  # ties count half
    # members 3 and 1 against non-members 2 and 0: pairs won 3>2, 3>0, 1>0, lost 1<2: 3/4
    fpr, tpr, auc = roc(torch.tensor([3.0, 2.0, 1.0, 0.0]), torch.tensor([True, False, True, False]))
    assert auc == 0.75 and tpr_at(fpr, tpr, 0.0) == 0.5 and tpr_at(fpr, tpr, 0.5) == 1.0


def test_lira_separates_gaussian_members_and_is_chance_when_they_look_alike():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat_interleave(40)
    keep = keep_matrix(labels, 16, gen)
    noise = torch.randn(keep.shape, generator=gen)
    for fixed in (True, False):
        _, _, separated = roc(lira_scores(torch.where(keep, 2.0, 0.0) + 0.5 * noise, keep, fixed), keep)
        _, _, alike = roc(lira_scores(noise, keep, fixed), keep)
        assert separated > 0.95 and abs(alike - 0.5) < 0.03, (fixed, separated, alike)


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


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--shadows", "7"], "--shadows 7: give an even number of at least 6"),
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
