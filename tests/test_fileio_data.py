import pytest
import torch

from condense.core.errors import CondenseError
from condense.core.fileio import atomic_path, load_torch, read_json, save_torch, write_json
from condense.data.store import denormalize, load_data, normalize


def test_atomic_path_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_torch_and_json_round_trip(tmp_path):
    save_torch({"x": torch.arange(5)}, tmp_path / "a.pt")
    assert torch.equal(load_torch(tmp_path / "a.pt")["x"], torch.arange(5))
    write_json({"a": [1, 2]}, tmp_path / "a.json")
    assert read_json(tmp_path / "a.json") == {"a": [1, 2]}


def test_corrupted_torch_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "data.pt"
    save_torch({"x": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CondenseError) as err:
        load_torch(path, what="dataset")
    message = str(err.value)
    assert "data.pt" in message and "corrupted" in message and "\n" not in message


def test_missing_file_names_the_stage(tmp_path):
    with pytest.raises(CondenseError, match="does not exist"):
        load_torch(tmp_path / "nope.pt", what="dataset")


def test_normalize_matches_hand_computation_and_inverts():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    out = normalize(x, [0.2], [0.5])
    assert torch.allclose(out.flatten(), torch.tensor([-0.4, 0.0, 1.6]))
    assert torch.allclose(denormalize(out, [0.2], [0.5]) * 255, x.float())


def test_load_data_normalises_and_indexes_classes(data_file):
    data = load_data(data_file)
    assert data.train_images.dtype == torch.float32
    assert data.train_images.shape == (24, 1, 28, 28)
    assert (data.num_classes, data.channel, data.im_size) == (3, 1, (28, 28))
    for c, idx in enumerate(data.class_indices):
        assert idx.numel() == 8 and bool((data.train_labels[idx] == c).all())
    gen = torch.Generator().manual_seed(0)
    assert data.sample_class(1, 5, gen).shape == (5, 1, 28, 28)


def test_load_data_without_the_training_set_keeps_the_test_set_and_shapes(data_file):
    full, test_only = load_data(data_file), load_data(data_file, with_train=False)
    assert test_only.train_images.shape == (0, 1, 28, 28) and test_only.train_labels.numel() == 0
    assert (test_only.num_classes, test_only.channel, test_only.im_size) == (full.num_classes, full.channel, full.im_size)
    assert torch.equal(test_only.test_images, full.test_images) and torch.equal(test_only.test_labels, full.test_labels)


def test_load_data_rejects_a_foreign_file(tmp_path):
    save_torch({"images": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(CondenseError, match="condense download"):
        load_data(tmp_path / "x.pt")


def test_equal_objects_give_byte_identical_files(tmp_path):
    save_torch({"x": torch.arange(10)}, tmp_path / "a.pt")
    save_torch({"x": torch.arange(10)}, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_subset_per_class_counts_and_all():
    from condense.data.store import subset_per_class

    labels = torch.tensor([0, 1, 0, 1, 0, 2, 2])
    gen = torch.Generator().manual_seed(0)
    idx = subset_per_class(labels, 2, 3, gen)
    assert labels[idx].tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(subset_per_class(labels, 0, 3, gen), torch.arange(7))
    with pytest.raises(CondenseError, match="--per-class 3"):
        subset_per_class(labels, 3, 3, gen)
