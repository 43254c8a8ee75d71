import json

import torch
from conftest import write_set

from condense.cli import main
from condense.training.evaluation import summarize


def run_eval(data_file, set_file, out, *extra):
    args = [
        "evaluate",
        "--data",
        str(data_file),
        "--set",
        str(set_file),
        "--model",
        "convnet_w32",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    return main(args)


def make_set(data_file, tmp_path, ipc=4):
    out = tmp_path / "set.pt"
    assert (
        main(
            ["coreset", "--method", "random", "--data", str(data_file), "--ipc", str(ipc), "--device", "cpu", "--out", str(out), "--quiet"]
        )
        == 0
    )
    return out


def test_summarize_uses_population_std():
    got = summarize([0.5, 0.7])
    assert got["n"] == 2 and abs(got["mean"] - 60.0) < 1e-9 and abs(got["std"] - 10.0) < 1e-9  # ddof=0 gives 10, ddof=1 14.1


def test_evaluate_writes_per_network_results_and_is_deterministic(data_file, tmp_path):
    set_file = make_set(data_file, tmp_path)
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        assert run_eval(data_file, set_file, out, "--num-nets", "2", "--epochs", "2", "--seed", "3") == 0
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert [r["test_acc"] for r in a["runs"]] == [r["test_acc"] for r in b["runs"]]
    assert [r["train_loss"] for r in a["runs"]] == [r["train_loss"] for r in b["runs"]]
    assert len(a["runs"]) == 2 and a["runs"][0]["seed"] != a["runs"][1]["seed"]
    assert (a["method"], a["ipc"], a["model"], a["n"]) == ("random", 4, "convnet_w32", 2)
    assert a["settings"]["epochs"] == 2 and a["settings"]["weight_decay"] == 5e-4
    for r in a["runs"]:
        assert 0.0 <= r["test_acc"] <= 1.0 and r["seconds"] > 0
    assert abs(a["mean"] - 100 * sum(r["test_acc"] for r in a["runs"]) / 2) < 1e-9


def test_another_seed_gives_other_networks(data_file, tmp_path):
    set_file = make_set(data_file, tmp_path)
    outs = []
    for seed in ("0", "1"):
        out = tmp_path / f"{seed}.json"
        run_eval(data_file, set_file, out, "--num-nets", "1", "--epochs", "1", "--seed", seed)
        outs.append(json.loads(out.read_text())["runs"][0])
    assert outs[0]["seed"] != outs[1]["seed"] and outs[0]["train_loss"] != outs[1]["train_loss"]


def test_networks_learn_an_easy_dataset(data_file, tmp_path):
    set_file = make_set(data_file, tmp_path, ipc=8)
    out = tmp_path / "r.json"
    assert run_eval(data_file, set_file, out, "--num-nets", "1", "--epochs", "30") == 0
    result = json.loads(out.read_text())
    assert result["runs"][0]["test_acc"] >= 0.9  # classes differ by brightness; chance is 1/3


def test_dsa_augmented_evaluation_trains_on_augmented_images_reproducibly(data_file, tmp_path):
    from condense.data.augment import strategy_for

    set_file = make_set(data_file, tmp_path)
    runs = {}
    for name, augment in (("dsa", "dsa"), ("dsa_again", "dsa"), ("plain", "none")):
        out = tmp_path / f"{name}.json"
        assert run_eval(data_file, set_file, out, "--num-nets", "2", "--epochs", "3", "--augment", augment) == 0
        runs[name] = json.loads(out.read_text())
    assert runs["dsa"]["settings"]["augment"] == strategy_for("fashionmnist")  # the dataset's reference strategy
    assert runs["plain"]["settings"]["augment"] == "none"
    # the same seed draws the same augmentations: identical networks; without them the networks train otherwise
    assert [r["train_loss"] for r in runs["dsa"]["runs"]] == [r["train_loss"] for r in runs["dsa_again"]["runs"]]
    assert all(a["train_loss"] != b["train_loss"] for a, b in zip(runs["dsa"]["runs"], runs["plain"]["runs"]))


def test_mismatched_set_is_rejected_without_output(data_file, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    write_set(bad, torch.zeros(2, 3, 32, 32), torch.tensor([0, 1]))
    out = tmp_path / "r.json"
    assert run_eval(data_file, bad, out) == 2
    assert not out.exists() and "(3, 32, 32)" in capsys.readouterr().err


def test_unknown_model_is_a_clear_error(data_file, tmp_path, capsys):
    set_file = make_set(data_file, tmp_path)
    code = main(
        [
            "evaluate",
            "--data",
            str(data_file),
            "--set",
            str(set_file),
            "--model",
            "resnet999",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 2 and "unknown model 'resnet999'" in capsys.readouterr().err


def test_reduced_test_set_is_a_fixed_per_class_subset(data_file, tmp_path):
    set_file = make_set(data_file, tmp_path, ipc=2)
    outs = [tmp_path / f"{i}.json" for i in range(2)]
    for out, seed in zip(outs, ("0", "1")):  # another evaluation seed, the same test subset
        assert run_eval(data_file, set_file, out, "--num-nets", "1", "--epochs", "2", "--test-per-class", "2", "--seed", seed) == 0
    results = [json.loads(out.read_text()) for out in outs]
    assert [r["test_images"] for r in results] == [6, 6]  # 2 per class × 3 classes
    for r in results:
        assert round(r["runs"][0]["test_acc"] * 6) == r["runs"][0]["test_acc"] * 6  # a fraction of 6 images
