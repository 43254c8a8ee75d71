import pytest
import torch

from condense.cli import main
from condense.coreset import herding_order
from condense.synset import load_set


def test_herding_order_hand_computed():
    # mean 3.25; step 1 takes 2 (|2-3.25|), step 2 takes 1 ((2+1)/2=1.5 is closest),
    # step 3 takes 10 ((3+10)/3=4.33 beats (3+0)/3=1).
    feats = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    assert herding_order(feats, 3).tolist() == [2, 1, 3]


def test_herding_never_repeats_and_full_selection_is_a_permutation():
    feats = torch.randn(20, 6, generator=torch.Generator().manual_seed(1))
    order = herding_order(feats, 20)
    assert sorted(order.tolist()) == list(range(20))


def test_random_coreset_per_class_counts_and_determinism(data_file, tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.pt"
        assert main(["coreset", "--method", "random", "--data", str(data_file), "--ipc", "3", "--seed", "7", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
        outs.append(load_set(out))
    (images, labels, meta), (images2, _, meta2) = outs
    assert images.shape == (9, 1, 28, 28)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(images, images2) and meta["indices"] == meta2["indices"]
    assert len(set(meta["indices"])) == 9


def test_ipc_larger_than_class_is_a_clear_error(data_file, tmp_path, capsys):
    out = tmp_path / "s.pt"
    code = main(["coreset", "--method", "random", "--data", str(data_file), "--ipc", "9", "--device", "cpu", "--out", str(out)])
    assert code == 2 and not out.exists()
    assert "--ipc 9" in capsys.readouterr().err


def test_unknown_coreset_method(data_file, tmp_path, capsys):
    code = main(["coreset", "--method", "kcenter", "--data", str(data_file), "--ipc", "1", "--out", str(tmp_path / "s.pt")])
    assert code == 2
    assert "unknown coreset method 'kcenter'" in capsys.readouterr().err


def test_herding_uses_the_trained_network(data_file, tmp_path):
    model = tmp_path / "net.pt"
    assert main(["full-baseline", "--data", str(data_file), "--model", "convnet_w32", "--epochs", "1", "--device", "cpu",
                 "--out-model", str(model), "--out", str(tmp_path / "full.json"), "--quiet"]) == 0
    out = tmp_path / "h.pt"
    assert main(["coreset", "--method", "herding", "--data", str(data_file), "--ipc", "2", "--embed-model", str(model),
                 "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    images, labels, meta = load_set(out)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    # herding is deterministic given the network: no seed dependence
    out2 = tmp_path / "h2.pt"
    main(["coreset", "--method", "herding", "--data", str(data_file), "--ipc", "2", "--embed-model", str(model),
          "--seed", "5", "--device", "cpu", "--out", str(out2), "--quiet"])
    assert load_set(out2)[2]["indices"] == meta["indices"]


def test_herding_without_model_is_an_error(data_file, tmp_path, capsys):
    assert main(["coreset", "--method", "herding", "--data", str(data_file), "--ipc", "1", "--out", str(tmp_path / "s.pt")]) == 2
    assert "--embed-model" in capsys.readouterr().err
