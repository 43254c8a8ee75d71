"""CAFE (condense/methods/cafe.py): its loss, gradient and first image update, and the network's training
epoch, against the official code on identical tensors; its stopping windows, learning-rate milestones, state
and real batches by hand.

The official code (github.com/kaiwang960112/CAFE) has no licence, so it is never copied here: the
cross-checks read a checkout named by ``CONDENSE_CAFE_DIR`` (or ``./official_cafe`` beside the tests) and
skip without one. ``distill.py``'s loss lines are not a function: the check executes them as written (sliced
out of ``main`` from ``####forward#####`` to ``loss.backward()``), with the hard-coded 10 classes patched to
the fixture's 3, on the official ``ConvNet`` (``networks.py``) and ``criterion_middle`` (``distill.py``).
"""

from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import read_set
from test_methods import distill, make_problem, write_maps_and_mask
from test_official_methods import copy_weights, drawn_batches, extract

from condense.cli import main
from condense.core.errors import CondenseError
from condense.methods import METHODS, cafe
from condense.models.classifiers import build_model
from condense.training.loop import train_epoch

CLASSES, IPC, REAL = 3, 2, 8  # the fixture's classes; make_problem's batch_real


def official() -> Path:
    folder = os.environ.get("CONDENSE_CAFE_DIR")
    if not folder or not Path(folder, "distill.py").exists():
        pytest.skip("set CONDENSE_CAFE_DIR to a kaiwang960112/CAFE checkout (unlicensed, so not shipped) to cross-check")
    return Path(folder)


def patched(source: str) -> str:
    """The official lines with the hard-coded CIFAR-10 class count (``view(10, ...)``) made the fixture's."""
    for old, new in (("view(10,", f"view({CLASSES},"), ("reshape(10,", f"reshape({CLASSES},"), ("// 10", f"// {CLASSES}")):
        source = source.replace(old, new)
    return source


def official_parts(folder: Path) -> dict:
    namespace = extract(folder / "networks.py", {"ConvNet"}, {"torch": torch, "nn": nn, "F": F})
    tree = ast.parse((folder / "distill.py").read_text())
    (middle,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "criterion_middle"]
    exec(patched(ast.get_source_segment((folder / "distill.py").read_text(), middle)), namespace)
    namespace["nn"] = nn
    return namespace


def official_loss_lines(folder: Path) -> str:
    """``main``'s forward-and-loss lines, dedented, patched: they read the gathered batches, ``net``, ``args``."""
    text = (folder / "distill.py").read_text()
    start = text.index("####forward#####")
    block = text[text.index("\n", start) + 1 : text.index("loss.backward()", start)]
    return patched(textwrap.dedent(block))


def cafe_problem(data_file, model="convnet_w32", **kw):
    """make_problem's problem (IPC 2, real initialisation) with CAFE's settings and state started."""
    problem = make_problem(data_file, "dm", ipc=IPC, model=model)
    problem.settings = METHODS.get("cafe").settings(method="cafe", ipc=IPC, model=model, **{"batch_real": REAL, **kw})
    METHODS.get("cafe").state.start(problem)
    return problem


def official_network(problem, convnet_class, norm: str, seed: int) -> nn.Module:
    """The official ConvNet with the weights of the network our step draws under ``seed``, training mode."""
    torch.manual_seed(seed)
    ours = build_model(problem.settings.model, 1, CLASSES, (28, 28))
    theirs = convnet_class(
        channel=1,
        num_classes=CLASSES,
        net_width=ours.config.width,
        net_depth=3,
        net_act="relu",
        net_norm=norm,
        net_pooling="avgpooling",
        im_size=(28, 28),
    )
    copy_weights(ours, theirs)
    return theirs.train()


@pytest.mark.parametrize("model, norm", [("convnet_w32", "instancenorm"), ("convnet_bn", "batchnorm")])
def test_loss_gradient_and_first_update_equal_the_official(data_file, model, norm):
    folder = official()
    parts = official_parts(folder)
    problem = cafe_problem(data_file, model=model, max_passes=1)  # one image update, then the iteration ends
    seed = 3
    net = official_network(problem, parts["ConvNet"], norm, seed)
    image_syn = problem.images.detach().clone().requires_grad_(True)
    reals = drawn_batches(problem, seed)
    scope = {
        **parts,
        "torch": torch,
        "net": net,
        "num_classes": CLASSES,
        "args": problem.settings,  # the weights by their official names
        "img_real_gather": torch.cat(reals),
        "img_syn_gather": torch.cat([image_syn[c * IPC : (c + 1) * IPC] for c in range(CLASSES)]),
        "lab_real_gather": torch.arange(CLASSES).repeat_interleave(REAL),
        "criterion": nn.CrossEntropyLoss(),
        "criterion_sum": nn.CrossEntropyLoss(reduction="sum"),
        "loss": torch.tensor(0.0),
    }
    exec(official_loss_lines(folder), scope)
    scope["loss"].backward()
    before = problem.images.detach().clone()
    torch.manual_seed(seed)
    ours = float(METHODS.get("cafe").step(problem, torch.Generator().manual_seed(seed)))
    assert ours == pytest.approx(float(scope["loss"].detach()) / CLASSES, rel=1e-5)  # per class, one update
    assert float(scope["loss_output"].detach()) > float(scope["loss_middle"].detach()) * 1e-3 > 0  # every term is there
    torch.testing.assert_close(problem.images.grad, image_syn.grad, rtol=1e-4, atol=1e-7)
    step = before - problem.settings.lr_img * image_syn.grad  # the first SGD step: no momentum yet
    torch.testing.assert_close(problem.images.detach(), step, rtol=0, atol=1e-6)
    assert problem.learned["iteration"] == 1


def test_network_epoch_equals_the_official_epoch(data_file):
    folder = official()
    parts = official_parts(folder)
    epoch = extract(folder / "utils.py", {"epoch"}, {"np": __import__("numpy"), "torch": torch})["epoch"]
    problem = cafe_problem(data_file)
    theirs = official_network(problem, parts["ConvNet"], "instancenorm", seed=2)
    torch.manual_seed(2)
    ours = build_model("convnet_w32", 1, CLASSES, (28, 28))
    initial = ours.classifier.weight.detach().clone()
    images, labels = problem.images.detach().clone(), problem.labels
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))  # what train_epoch draws
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images[order], labels[order]), batch_size=256)
    args = type("Args", (), {"device": "cpu", "dsa": False})()
    epoch("train", loader, theirs, torch.optim.SGD(theirs.parameters(), lr=0.01), nn.CrossEntropyLoss(), args, aug=False)
    train_epoch(ours, torch.optim.SGD(ours.parameters(), lr=0.01), images, labels, 256, gen)
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert not torch.equal(initial, ours.classifier.weight)  # the step moved the network


def test_block_features_end_with_the_embedding_and_leave_the_network_unchanged():
    torch.manual_seed(0)
    net = build_model("convnet", 1, CLASSES, (28, 28))
    x = torch.randn(2, 1, 28, 28)
    features = net.block_features(x)
    assert [tuple(f.shape[1:]) for f in features] == [(128, 32, 32), (128, 16, 16), (128, 8, 8), (128 * 4 * 4,)]
    torch.testing.assert_close(features[-1], net.embed(x))
    torch.testing.assert_close(net.classifier(features[-1]), net(x))
    assert all(bool((f[:, :, :2] >= 0).all()) for f in features[:-1])  # ReLU outputs, before the pooling
    assert "_activations" not in "".join(net.state_dict())


def scripted(monkeypatch, values):
    """Probes that return ``values`` (Σ over classes) in turn; counts image updates and network epochs."""
    it = iter(values)
    monkeypatch.setattr(cafe, "probe", lambda net, problem, generator: torch.tensor(float(next(it))))
    counts = {"epochs": 0}

    def epoch(*args, **kw):
        counts["epochs"] += 1

    monkeypatch.setattr(cafe, "train_epoch", epoch)
    return counts


def test_the_stopping_windows_follow_the_official_running_accuracy(data_file, monkeypatch):
    # window 2: lambda_1 0.04 (outer), lambda_2 0.03 (inner). The running value acc <- (acc + probe) / 3.
    problem = cafe_problem(data_file, window=2, batch_real=2)
    # pass 1: acc 0.9/3 = 0.3; inner: 0.3, 0.1 + 0.3/3 = 0.2 (span 0.1 > 0.03: back to the images)
    # pass 2: (0.3 + 0.3)/3 = 0.2, span 0.1 >= 0.04: inner 0.9/3 = 0.3, (0.3 + 0.0)/3 = 0.1 (span 0.2)
    # pass 3: (0.2 + 0.42)/3 = 0.2067, span 0.0067 < 0.04: the iteration ends
    counts = scripted(monkeypatch, [0.9, 0.9, 0.3, 0.3, 0.9, 0.0, 0.42])
    loss = METHODS.get("cafe").step(problem, torch.Generator().manual_seed(0))
    assert counts["epochs"] == 4 and torch.isfinite(loss)


def test_the_caps_end_loops_that_never_settle(data_file, monkeypatch):
    # pass 1: acc 0; the network's probes never move (span 0 <= lambda_2): max_epochs ends its training;
    # pass 2: acc 1, span 1 >= lambda_1, so the outer loop would go on: max_passes ends it
    problem = cafe_problem(data_file, window=2, batch_real=2, max_passes=2, max_epochs=3)
    counts = scripted(monkeypatch, [0.0, 0.0, 0.0, 0.0, 3.0])
    before = problem.images.detach().clone()
    loss = METHODS.get("cafe").step(problem, torch.Generator().manual_seed(0))
    assert counts["epochs"] == 3 and not torch.equal(before, problem.images.detach()) and torch.isfinite(loss)


def test_learning_rate_milestones_and_the_iteration_in_the_state(data_file):
    s = cafe_problem(data_file).settings
    assert [cafe.lr_at(s, it) for it in (0, 1199, 1200, 1600, 1799, 1800, 5000)] == [0.1, 0.1, 0.05, 0.025, 0.025, 0.0125, 0.0125]
    problem = cafe_problem(data_file, window=1)  # a window of one probe spans 0: one image update per iteration
    problem.learned["iteration"] = 1600
    saved = METHODS.get("cafe").state.save(problem)
    other = cafe_problem(data_file, window=1)
    METHODS.get("cafe").state.load(other, saved)
    assert other.learned["iteration"] == 1600
    METHODS.get("cafe").step(other, torch.Generator().manual_seed(0))  # windows of 10: runs until they settle
    assert other.optimizer.param_groups[0]["lr"] == 0.025 and other.learned["iteration"] == 1601


def test_real_batches_and_probes_come_from_the_problem_data(data_file, monkeypatch):
    # A masked run hands the step a masked view of the data (condense/masks/application.py): every real image
    # the step sees, matched or probed, must come through problem.data.sample_class.
    problem = cafe_problem(data_file, window=1, batch_real=5, probe_per_class=3, max_passes=1)
    calls = []
    real = problem.data

    class Masked:
        num_classes, channel, im_size = real.num_classes, real.channel, real.im_size

        def sample_class(self, c, n, generator):
            calls.append((c, n))
            return torch.zeros_like(real.sample_class(c, n, generator))  # everything masked out

    problem.data = Masked()
    torch.manual_seed(0)
    masked = float(METHODS.get("cafe").step(problem, torch.Generator().manual_seed(0)))
    assert calls == [(c, 5) for c in range(CLASSES)] + [(c, 3) for c in range(CLASSES)]
    problem.data = real
    problem.learned["iteration"] = 0
    torch.manual_seed(0)
    assert float(METHODS.get("cafe").step(problem, torch.Generator().manual_seed(0))) != pytest.approx(masked)


@pytest.mark.parametrize("model", ["mlp", "convnet_d2"])
def test_networks_without_three_blocks_are_refused(data_file, model):
    with pytest.raises(CondenseError, match=f"--model {model} .*ConvNet of depth 3"):
        cafe_problem(data_file, model=model)


def test_distill_runs_cafe_dsa_deterministically(data_file, tmp_path):
    small = ["--ipc", "1", "--iterations", "1", "--window", "2", "--max-passes", "3", "--max-epochs", "2", "--probe-per-class", "4"]
    outs = [tmp_path / "a.pt", tmp_path / "b.pt"]
    for out in outs:
        assert distill(data_file, out, "--method", "cafe_dsa", *small) == 0
    (a, _, made), (b, _, _) = (read_set(out) for out in outs)
    assert torch.equal(a, b) and made.settings["strategy"] == "color_crop_cutout_flip_scale_rotate"
    assert made.settings["window"] == 2 and len(made.losses) == 2


def test_resume_after_a_kill_equals_an_uninterrupted_run(data_file, tmp_path):
    common = ["--method", "cafe", "--ipc", "1", "--iterations", "2", "--seed", "4", "--window", "2", "--max-passes", "2"]
    common += ["--max-epochs", "2", "--probe-per-class", "4"]
    straight, resumed, ckpt = tmp_path / "straight.pt", tmp_path / "resumed.pt", tmp_path / "run.ckpt"
    assert distill(data_file, straight, *common) == 0
    assert distill(data_file, resumed, *common, "--checkpoint", str(ckpt), "--checkpoint-every", "1", "--stop-after", "1") == 0
    assert torch.load(ckpt, weights_only=True)["state"]["iteration"] == 2
    assert distill(data_file, resumed, *common, "--checkpoint", str(ckpt)) == 0
    (a, _, ma), (b, _, mb) = read_set(straight), read_set(resumed)
    assert torch.equal(a, b) and ma.losses == mb.losses and len(ma.losses) == 3


def test_distill_help_lists_every_cafe_setting_with_its_official_default(capsys):
    with pytest.raises(SystemExit):
        main(["distill", "--method", "cafe", "--help"])
    text = " ".join(capsys.readouterr().out.split())

    def described(flag: str) -> str:  # the option's own entry (after the usage line), up to the next option
        entry = text[text.rindex(f" --{flag} ") + 1 :]
        return entry[: entry.index(" --", 3)] if " --" in entry[3:] else entry

    official = {"iterations": "2000", "lr-img": "0.1", "lr-net": "0.01", "batch-real": "256", "batch-train": "256"}
    official |= {"init": "'noise'", "augment": "'none'", "first-weight": "1", "second-weight": "1", "third-weight": "0.1"}
    official |= {"fourth-weight": "0.1", "inner-weight": "0.01", "lambda-1": "0.04", "lambda-2": "0.03", "window": "10"}
    official |= {"probe-per-class": "128"}
    for flag, value in official.items():
        entry = described(flag)
        assert f"cafe {value}," in entry or f"(default: {value})" in entry, (flag, entry)
    assert "cafe_dsa 'dsa'" in described("augment") and "CAFE:" in described("lambda-1")


def test_masked_run_ratio_zero_is_the_plain_run_and_ratio_one_differs(data_file, tmp_path):
    common = ["--method", "cafe", "--ipc", "1", "--iterations", "0", "--seed", "2", "--window", "2", "--max-passes", "2"]
    common += ["--max-epochs", "2", "--probe-per-class", "4"]
    plain = tmp_path / "plain.pt"
    assert distill(data_file, plain, *common) == 0
    results = {}
    for ratio in (0.0, 1.0):
        mask, maps = write_maps_and_mask(data_file, tmp_path, ratio)
        out = tmp_path / f"r{ratio}.pt"
        masking = ["--mask", f"fcn-r{ratio}-mean-soft-fixed", "--selection", str(mask), "--maps", str(maps)]
        assert distill(data_file, out, *common, *masking) == 0
        results[ratio] = read_set(out)
    assert torch.equal(results[0.0][0], read_set(plain)[0])
    assert not torch.equal(results[1.0][0], read_set(plain)[0]) and results[1.0][2].mask_ratio == 1.0
