import pytest
import torch
from conftest import read_set

from condense.baselines.coreset import herding_order
from condense.cli import main
from condense.core.fileio import load_torch, save_torch


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
        assert (
            main(
                [
                    "coreset",
                    "--method",
                    "random",
                    "--data",
                    str(data_file),
                    "--ipc",
                    "3",
                    "--seed",
                    "7",
                    "--device",
                    "cpu",
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
        outs.append(read_set(out))
    (images, labels, meta), (images2, _, meta2) = outs
    assert images.shape == (9, 1, 28, 28)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(images, images2) and meta.indices == meta2.indices
    assert len(set(meta.indices)) == 9


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
    assert (
        main(
            [
                "full-baseline",
                "--data",
                str(data_file),
                "--model",
                "convnet_w32",
                "--epochs",
                "1",
                "--device",
                "cpu",
                "--out-model",
                str(model),
                "--out",
                str(tmp_path / "full.json"),
                "--quiet",
            ]
        )
        == 0
    )
    out = tmp_path / "h.pt"
    assert (
        main(
            [
                "coreset",
                "--method",
                "herding",
                "--data",
                str(data_file),
                "--ipc",
                "2",
                "--embed-model",
                str(model),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    images, labels, meta = read_set(out)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    # herding is deterministic given the network: no seed dependence
    out2 = tmp_path / "h2.pt"
    main(
        [
            "coreset",
            "--method",
            "herding",
            "--data",
            str(data_file),
            "--ipc",
            "2",
            "--embed-model",
            str(model),
            "--seed",
            "5",
            "--device",
            "cpu",
            "--out",
            str(out2),
            "--quiet",
        ]
    )
    assert read_set(out2)[2].indices == meta.indices


def test_herding_order_is_nested_across_k():
    # The IPC-k herding set is a prefix of the IPC-K one: what lets `herding-order` embed once for every IPC.
    for seed in range(3):
        feats = torch.randn(40, 8, generator=torch.Generator().manual_seed(seed))
        full = herding_order(feats, 12)
        for k in (1, 2, 5, 11, 12):
            assert torch.equal(herding_order(feats, k), full[:k])


@pytest.fixture
def embed_model(data_file, tmp_path):
    model = tmp_path / "net.pt"
    assert (
        main(
            [
                "full-baseline",
                "--data",
                str(data_file),
                "--model",
                "convnet_w32",
                "--epochs",
                "1",
                "--device",
                "cpu",
                "--out-model",
                str(model),
                "--out",
                str(tmp_path / "full.json"),
                "--quiet",
            ]
        )
        == 0
    )
    return model


def make_order(data_file, model, out, k):
    return main(
        [
            "herding-order",
            "--data",
            str(data_file),
            "--embed-model",
            str(model),
            "--ipc",
            str(k),
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ]
    )


def herding_set(data_file, out, ipc, *source):
    return main(
        [
            "coreset",
            "--method",
            "herding",
            "--data",
            str(data_file),
            "--ipc",
            str(ipc),
            *source,
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ]
    )


def test_herding_from_order_file_equals_herding_from_the_network(data_file, embed_model, tmp_path):
    order = tmp_path / "order.pt"
    assert make_order(data_file, embed_model, order, 3) == 0
    stored = load_torch(order)
    assert stored["dataset"] == "fashionmnist" and stored["ipc"] == 3 and stored["embed_model"] == str(embed_model)
    assert stored["picks"].shape == (3, 3) and stored["picks"].dtype == torch.int64
    for ipc in (2, 3):
        from_order, direct = tmp_path / f"order{ipc}.pt", tmp_path / f"direct{ipc}.pt"
        assert herding_set(data_file, from_order, ipc, "--order", str(order)) == 0
        assert herding_set(data_file, direct, ipc, "--embed-model", str(embed_model)) == 0
        (images, labels, meta), (images2, labels2, meta2) = read_set(from_order), read_set(direct)
        assert torch.equal(images, images2) and torch.equal(labels, labels2)
        assert meta.indices == meta2.indices and meta == meta2
        assert list(meta.indices) == stored["picks"][:, :ipc].flatten().tolist()
    # the IPC-2 set is the first two greedy picks of each class, not any two of the three
    assert list(read_set(tmp_path / "order2.pt")[2].indices) == stored["picks"][:, :2].flatten().tolist()


def error_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


def test_ipc_beyond_the_order_file_is_a_clear_error(data_file, embed_model, tmp_path, capsys):
    order = tmp_path / "order.pt"
    assert make_order(data_file, embed_model, order, 2) == 0
    out = tmp_path / "s.pt"
    assert herding_set(data_file, out, 3, "--order", str(order)) == 2 and not out.exists()
    (err,) = error_lines(capsys)
    assert "--ipc 3 exceeds the 2 picks" in err and "herding-order --ipc 3" in err


def test_order_file_of_another_dataset_is_a_clear_error(data_file, embed_model, tmp_path, capsys):
    order = tmp_path / "order.pt"
    assert make_order(data_file, embed_model, order, 2) == 0
    stored = load_torch(order)
    stored["dataset"] = "cifar10"
    save_torch(stored, order)
    out = tmp_path / "s.pt"
    assert herding_set(data_file, out, 1, "--order", str(order)) == 2 and not out.exists()
    (err,) = error_lines(capsys)
    assert "'cifar10', not 'fashionmnist'" in err and "rerun `condense herding-order" in err


def test_herding_order_ipc_larger_than_class_is_a_clear_error(data_file, embed_model, tmp_path, capsys):
    out = tmp_path / "order.pt"
    assert make_order(data_file, embed_model, out, 9) == 2 and not out.exists()
    assert "--ipc 9 is outside 1..8" in capsys.readouterr().err


def test_herding_with_both_sources_is_an_error(data_file, embed_model, tmp_path, capsys):
    order = tmp_path / "order.pt"
    assert make_order(data_file, embed_model, order, 1) == 0
    out = tmp_path / "s.pt"
    assert herding_set(data_file, out, 1, "--order", str(order), "--embed-model", str(embed_model)) == 2 and not out.exists()
    assert "not both" in capsys.readouterr().err


def test_herding_without_model_is_an_error(data_file, tmp_path, capsys):
    out = tmp_path / "s.pt"
    assert main(["coreset", "--method", "herding", "--data", str(data_file), "--ipc", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--embed-model" in err and "--order" in err and not out.exists()
