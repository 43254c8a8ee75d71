"""IDC (Kim et al., ICML 2022) against the official code on identical tensors, and its set decoder.

Needs the official checkout (skipped without): ``CONDENSE_IDC_DIR`` = snu-mllab/Efficient-Dataset-Condensation.
Only the functions and classes a check needs are taken from its files (their modules import CUDA-only and
plotting code); ``misc/utils.py``'s ``rand_bbox`` uses ``np.int``, gone from current numpy, and is patched in
a scratch copy. The official code keeps its codes in [0, 1] pixels and normalises in its augmentation; ours
are normalised, so each check feeds it the denormalised tensors and compares in the normalised space.
"""

from __future__ import annotations

import ast
import os
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from condense.core.errors import CondenseError
from condense.data.decoders import DECODERS, check_decoder, decode, decode_set
from condense.data.records import Provenance, SyntheticSet
from condense.data.store import load_data
from condense.evaluations.accuracy import AccuracySettings
from condense.methods import METHODS
from condense.methods.idc import class_images, idc_iteration, initial_codes, match_loss, matched, network_update, pixel_metric_step
from condense.methods.problem import Problem
from condense.models.classifiers import build_model

MEAN, STD = 0.5, 0.25  # the fixture's (tests/conftest.py make_stored_dataset)


def checkout() -> Path:
    folder = os.environ.get("CONDENSE_IDC_DIR")
    if not folder or not Path(folder, "condense.py").exists():
        pytest.skip("set CONDENSE_IDC_DIR to the snu-mllab/Efficient-Dataset-Condensation checkout to cross-check")
    return Path(folder)


def extract(text: str, where: str, names: set[str], namespace: dict) -> dict:
    """Execute only the named top-level functions/classes of a file's text."""
    tree = ast.parse(text, where)
    body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names]
    assert {node.name for node in body} == names, f"{where} lacks {names - {node.name for node in body}}"
    exec(compile(ast.Module(body=body, type_ignores=[]), where, "exec"), namespace)
    return namespace


@pytest.fixture
def official(tmp_path):
    """The official pieces, from scratch copies of the checkout's files."""
    from math import ceil

    folder = checkout()
    scratch = tmp_path / "idc"
    scratch.mkdir()
    texts = {}
    for name in ("condense.py", "test.py", "train.py", "misc/utils.py", "models/convnet.py"):
        text = (folder / name).read_text()
        if name == "misc/utils.py":
            text = text.replace("np.int(", "int(")  # np.int was removed in numpy 1.24
        (scratch / name.replace("/", "_")).write_text(text)
        texts[name] = text
    base = {"torch": torch, "nn": nn, "F": F, "np": np, "ceil": ceil}
    ns = extract(texts["condense.py"], "condense.py", {"Synthesizer", "dist", "add_loss", "matchloss"}, dict(base))
    ns.update(extract(texts["models/convnet.py"], "convnet.py", {"ConvNet"}, dict(base)))
    ns["test_decode_zoom"] = extract(texts["test.py"], "test.py", {"decode_zoom"}, dict(base))["decode_zoom"]
    ns["utils_text"], ns["train_text"] = texts["misc/utils.py"], texts["train.py"]
    return ns


def pixels(x: torch.Tensor) -> torch.Tensor:
    return x * STD + MEAN


def normalised(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


def make_idc_problem(data_file, method="idc", ipc=2, **overrides) -> Problem:
    """A problem as ``condense distill`` builds it (the spec's initial set, its optimiser, its state started)."""
    data = load_data(data_file)
    spec = METHODS.get(method)
    given = {"batch_real": 8, "inner_loop": 1, "n_data": 0, "augment": "none", "lr_img": 1.0, **overrides}
    settings = spec.resolve(ipc=ipc, model="convnet_w32", traits=data.traits, overrides=given)
    images, labels = spec.initial(data, settings, 0)
    images.requires_grad_(True)
    problem = Problem(data, images, labels, torch.optim.SGD([images], lr=settings.lr_img, momentum=spec.image_momentum), settings)
    spec.state.start(problem)
    return problem


def same_network(official, problem, seed: int) -> nn.Module:
    """The official ConvNet (width 32) with the weights of the network our step draws under ``seed``."""
    torch.manual_seed(seed)
    ours = build_model(problem.settings.model, 1, 3, (28, 28))
    theirs = official["ConvNet"](3, net_norm="instance", net_depth=3, net_width=32, channel=1, im_size=(28, 28))
    by_type = {kind: [m for m in ours.modules() if isinstance(m, kind)] for kind in (nn.Conv2d, nn.GroupNorm, nn.Linear)}
    pairs = [*zip(by_type[nn.Conv2d], theirs.layers["conv"]), *zip(by_type[nn.GroupNorm], theirs.layers["norm"]),
             (by_type[nn.Linear][0], theirs.classifier)]  # fmt: skip
    assert len(pairs) == 7
    for mine, other in pairs:
        other.load_state_dict(mine.state_dict())
    return theirs.train()


def args_for(problem, **extra) -> Namespace:
    s = problem.settings
    return Namespace(ipc=s.ipc, factor=s.factor, decode_type="single", match="grad", bias=False, fc=False, metric=s.metric, **extra)


# ------------------------------------------------------------------------------------------------ the decoder


@pytest.mark.parametrize("factor, size", [(2, 28), (3, 28), (2, 32)])
def test_multiformation_equals_the_official_decode(official, factor, size):
    gen = torch.Generator().manual_seed(factor)
    codes = torch.rand((6, 1, size, size), generator=gen)  # 3 classes of 2 codes, [0, 1] pixels
    labels = torch.arange(3).repeat_interleave(2)
    synset = official["Synthesizer"](Namespace(ipc=2, factor=factor, decode_type="single"), 3, 1, size, size, device="cpu")
    theirs = torch.cat([synset.decode_zoom(codes[2 * c : 2 * c + 2], labels[2 * c : 2 * c + 2], factor)[0] for c in range(3)])
    at_test = torch.cat([official["test_decode_zoom"](codes[2 * c : 2 * c + 2], labels[2 * c : 2 * c + 2], factor)[0] for c in range(3)])
    torch.testing.assert_close(theirs, at_test)  # condensation and evaluation decode alike
    decoder = {"name": "multiformation", "factor": factor, "pad": [(0.5 - MEAN) / STD]}
    ours, ours_labels, _ = decode(normalised(codes), labels, decoder)
    torch.testing.assert_close(ours, normalised(theirs), rtol=1e-5, atol=1e-5)
    assert ours_labels.tolist() == torch.arange(3).repeat_interleave(2 * factor**2).tolist()


def test_mix_initialisation_equals_the_official(official, data_file):
    problem = make_idc_problem(data_file, ipc=2, factor=2)
    data = problem.data
    assert problem.settings.init == "mix"

    class Loader:  # the official ClassMemDataLoader.class_sample(c, ipc): the class's first ipc images, [0, 1] pixels
        def class_sample(self, c, n):
            return pixels(data.train_images[data.class_indices[c][:n]]), None

    synset = official["Synthesizer"](Namespace(ipc=2, factor=2, decode_type="single"), 3, 1, 28, 28, device="cpu")
    synset.init(Loader(), init_type="mix")
    torch.testing.assert_close(problem.images.detach(), normalised(synset.data.detach()), rtol=1e-5, atol=1e-5)


def test_decoder_records_are_checked_and_decoded(tmp_path):
    images, labels = torch.randn(6, 1, 28, 28), torch.arange(3).repeat_interleave(2)
    made = Provenance(dataset="fashionmnist", method="idc", ipc=2, seed=0)
    synthetic = SyntheticSet(
        images, labels, made, soft_labels=torch.eye(3)[labels], decoder={"name": "multiformation", "factor": 2, "pad": [0.0]}
    )
    synthetic.save(tmp_path / "set.pt")
    decoded = decode_set(SyntheticSet.load(tmp_path / "set.pt"))
    assert decoded.decoder is None and decoded.images.shape == (24, 1, 28, 28)
    assert decoded.labels.tolist() == torch.arange(3).repeat_interleave(8).tolist()
    assert torch.equal(decoded.soft_labels, torch.eye(3)[decoded.labels])
    torch.testing.assert_close(decoded.images[:2], F.interpolate(images[:2, :, :14, :14], size=(28, 28), mode="bilinear"))
    with pytest.raises(CondenseError, match="decoder 'zoom'.*multiformation"):
        check_decoder({"name": "zoom"}, "image set 'x'")
    with pytest.raises(CondenseError, match="integer factor"):
        check_decoder({"name": "multiformation", "factor": 0}, "image set 'x'")
    assert "multiformation" in DECODERS


# ---------------------------------------------------------------------------------- the loss and its update


@pytest.mark.parametrize("metric", ["l1", "mse"])
def test_loss_gradient_and_one_update_equal_the_official(official, data_file, metric):
    problem = make_idc_problem(data_file, ipc=2, factor=2, metric=metric)
    seed = 3
    theirs = same_network(official, problem, seed)
    torch.manual_seed(seed)
    fast_params = matched(list(theirs.parameters()))
    assert [tuple(p.shape) for p in fast_params] == [(32, 1, 3, 3), (32, 32, 3, 3), (32, 32, 3, 3)]
    # the official: pixel codes, class 0's real batch normalised in its augmentation, matchloss, one SGD step
    synset = official["Synthesizer"](args_for(problem), 3, 1, 28, 28, device="cpu")
    synset.data.data = pixels(problem.images.detach()).clone()
    lr = problem.optimizer.param_groups[0]["lr"]
    optim_img = torch.optim.SGD([synset.data], lr=lr, momentum=0.5)
    real = problem.data.sample_class(0, 8, torch.Generator().manual_seed(seed))
    img_syn, lab_syn = synset.sample(0, max_size=128)
    both = normalised(torch.cat([pixels(real), img_syn]))
    loss = official["matchloss"](args_for(problem), both[:8], both[8:], torch.zeros(8, dtype=torch.long), lab_syn, theirs)
    optim_img.zero_grad()
    loss.backward()
    grad_theirs = synset.data.grad.clone()
    optim_img.step()
    # ours on the same network and batch
    torch.manual_seed(seed)
    net = problem.new_network().eager.train()
    syn = class_images(problem, 0, torch.Generator().manual_seed(0))
    ours = match_loss(net, net, matched(list(net.parameters())), real, syn, 0, metric)
    assert float(ours.detach()) == pytest.approx(loss.item(), rel=1e-5)
    before = problem.images.detach().clone()
    pixel_metric_step(problem, ours)
    # d loss / d normalised code = d loss / d pixel code × std; the official step in pixels is ours in the normalised space
    torch.testing.assert_close(problem.images.grad / problem.learned["idc"]["pixel_metric"], grad_theirs * STD, rtol=1e-4, atol=1e-6)
    assert not torch.equal(before, problem.images.detach())
    torch.testing.assert_close(problem.images.detach(), normalised(synset.data.detach()), rtol=1e-5, atol=1e-6)


def test_one_iteration_equals_the_official_outer_iteration(official, data_file):
    """condense.py's loop body for one network, inner_loop 2, no network update: the clamp, per class a matching
    step with the momentum of the images carried across classes and rounds; the logged loss and the codes after."""
    problem = make_idc_problem(data_file, ipc=2, factor=2, inner_loop=2)
    with torch.no_grad():
        problem.images.mul_(3.0)  # some pixels outside [0, 1]: the clamp matters
    seed = 5
    theirs = same_network(official, problem, seed)
    synset = official["Synthesizer"](args_for(problem), 3, 1, 28, 28, device="cpu")
    synset.data.data = pixels(problem.images.detach()).clone()
    optim_img = torch.optim.SGD([synset.data], lr=problem.optimizer.param_groups[0]["lr"], momentum=0.5)
    gen = torch.Generator().manual_seed(seed)  # our step's draws with no augmentation: the real batches alone
    synset.data.data = torch.clamp(synset.data.data, min=0.0, max=1.0)
    loss_total = 0.0
    for _ in range(2):
        for c in range(3):
            img = pixels(problem.data.sample_class(c, 8, gen))
            img_syn, lab_syn = synset.sample(c, max_size=128)
            both = normalised(torch.cat([img, img_syn]))
            loss = official["matchloss"](args_for(problem), both[:8], both[8:], torch.full((8,), c), lab_syn, theirs)
            loss_total += loss.item()
            optim_img.zero_grad()
            loss.backward()
            optim_img.step()
    torch.manual_seed(seed)
    ours = float(idc_iteration(problem, torch.Generator().manual_seed(seed)))
    assert ours == pytest.approx(loss_total / 3 / 2, rel=1e-5)
    torch.testing.assert_close(problem.images.detach(), normalised(synset.data.detach()), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------- the augmentation


class FakeAugmentRandom:
    """numpy.random for the official DiffAug in batch mode, answering with the uniforms of our draw: per family the
    same parameters, integers mapped as ours map them."""

    def __init__(self, answers: list):
        self.answers = list(answers)

    def uniform(self):
        kind, value = self.answers.pop(0)
        assert kind == "uniform", kind
        return value

    def randint(self, low, high=None):
        kind, value = self.answers.pop(0)
        assert kind == "randint", kind
        assert (low if high is not None else 0) <= value < (high if high is not None else low)
        return value


@pytest.mark.parametrize("strategy", ["color_crop_cutout", "color_crop_cutout_flip_scale_rotate", "crop_flip_rotate"])
def test_siamese_augmentation_equals_the_official_diffaug(official, strategy):
    """misc/augment.py DiffAug(strategy, batch=True), IDC's matching augmentation: flip, colour, one of the rest,
    cutout, one parameter set for the real and synthetic images together."""
    from condense.data.augment import apply, parse_strategy, sample_idc

    text = (checkout() / "misc" / "augment.py").read_text()
    x = normalised(torch.rand((5, 1, 28, 28), generator=torch.Generator().manual_seed(1)))
    rest = [f for f in parse_strategy(strategy) if f not in ("flip", "color", "cutout")]
    picked = set()
    for seed in range(8):
        draw = sample_idc(strategy, 1, torch.Generator().manual_seed(seed), per_image=False)
        answers = []
        for step in draw.steps:
            u = {k: float(v[0]) for k, v in step.values.items()}
            if step.family in rest:
                answers.append(("randint", rest.index(step.family)))  # the single pick
                picked.add(step.family)
            if step.family == "crop":  # a shift in [-4, 4] at 28 pixels (int(28 · 0.125 + 0.5)), rows then columns
                answers += [("randint", int(u[k] * 9) - 4) for k in ("h", "w")]
            elif step.family == "cutout":  # a centre in [0, 28] (size 14)
                answers += [("randint", int(u[k] * 29)) for k in ("h", "w")]
            else:  # flip's coin, colour's three, scale's x then y, rotate's angle
                answers += [("uniform", u[k]) for k in step.values]
        fake_np = Namespace(random=FakeAugmentRandom(answers), pi=np.pi, cos=np.cos, sin=np.sin)
        augment = extract(text, "augment.py", {"DiffAug"}, {"torch": torch, "F": F, "np": fake_np})["DiffAug"]
        theirs = augment(strategy=strategy, batch=True)(x.clone())
        assert not fake_np.random.answers
        torch.testing.assert_close(apply(x, draw), theirs, rtol=1e-5, atol=1e-5)
    assert picked == set(rest)  # every single pick was exercised


# ------------------------------------------------------------------------------------------ the network update


class FakeRandom:
    """numpy.random for the official code, answering each call with the value our generator drew in its place."""

    def __init__(self, answers: list):
        self.answers = list(answers)

    def _next(self, kind):
        got, value = self.answers.pop(0)
        assert got == kind, f"official code asked {kind}, expected {got}"
        return value

    def rand(self, *shape):
        return np.array([self._next("rand")])

    def beta(self, a, b):
        return self._next("beta")

    def randint(self, high):
        return self._next("randint")


@pytest.mark.parametrize("mixup", ["vanilla", "cut"])
def test_network_update_equals_the_official_train_epoch(official, data_file, mixup):
    """train.py ``train_epoch(..., n_data)`` on the same real batches (and, under CutMix, the same draws)."""
    problem = make_idc_problem(data_file, ipc=1, factor=1, n_data=10, batch_real=4, mixup_net=mixup, mix_p=0.6)
    seed = 2
    theirs = same_network(official, problem, seed)
    torch.manual_seed(seed)
    net = problem.new_network().eager.train()
    # replay our generator: the order of the real images, then per batch (no augmentation) the CutMix draws
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(24, generator=gen)[:12]
    answers, indices = [], []
    for _ in range(3):
        if mixup == "vanilla":
            answers.append(("rand", 0.0))  # drawn there for every batch and unused without CutMix; we draw nothing
        else:
            r = float(torch.rand((), generator=gen))
            answers.append(("rand", r))
            if r < 0.6:
                lam = float(np.random.default_rng(int(torch.randint(2**62, (1,), generator=gen))).beta(1.0, 1.0))
                indices.append(torch.randperm(4, generator=gen))
                answers += [("beta", lam), ("randint", int(torch.randint(28, (1,), generator=gen))),
                            ("randint", int(torch.randint(28, (1,), generator=gen)))]  # fmt: skip
    fake = FakeRandom(answers)
    fake_np = Namespace(random=fake, sqrt=np.sqrt, clip=np.clip, int=int)
    bbox = extract(official["utils_text"], "utils.py", {"rand_bbox"}, {"np": fake_np})["rand_bbox"]

    class Meter:
        avg = 0.0

        def update(self, *a):
            pass

    class Loader:  # the official real loader's batches: pixels, moved to the device already
        device = "already"

        def __iter__(self):
            for b in range(3):
                idx = order[4 * b : 4 * b + 4]
                yield pixels(problem.data.train_images[idx]), problem.data.train_labels[idx]

    namespace = {"torch": torch, "np": fake_np, "time": __import__("time"), "AverageMeter": Meter, "rand_bbox": bbox,
                 "random_indices": lambda target, nclass: indices.pop(0), "accuracy": lambda out, t, topk: (torch.zeros(()),) * 2}  # fmt: skip
    train_epoch = extract(official["train_text"], "train.py", {"train_epoch"}, namespace)["train_epoch"]
    args = Namespace(mix_p=0.6, beta=1.0, nclass=3, print_freq=10, verbose=False, epoch_print_freq=1)
    optim_theirs = torch.optim.SGD(theirs.parameters(), 0.01, momentum=0.9, weight_decay=5e-4)
    train_epoch(args, Loader(), theirs, nn.CrossEntropyLoss(), optim_theirs, aug=normalised, mixup=mixup, n_data=10)
    assert not fake.answers and not indices
    optim_ours = torch.optim.SGD(net.parameters(), 0.01, momentum=0.9, weight_decay=5e-4)
    before = [p.detach().clone() for p in net.parameters()]
    network_update(problem, net, optim_ours, torch.Generator().manual_seed(seed))
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for mine, other in zip(convs, theirs.layers["conv"]):
        torch.testing.assert_close(mine.weight, other.weight, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        [m for m in net.modules() if isinstance(m, nn.Linear)][0].weight, theirs.classifier.weight, rtol=1e-4, atol=1e-6
    )


def test_idc_evaluation_training_equals_the_official_train(official, data_file):
    """train.py ``train`` (the scratch copy without its ``.cuda()`` calls): SGD with MultiStepLR at 2/3 and 5/6 of
    the epochs (× 0.2, momentum kept), ``epochs`` passes, on the same batches; no augmentation or CutMix here
    (their draws are checked above), so the batches are all there is to replay."""
    from condense.training.evaluation import train_network
    from condense.training.protocol import TrainSettings

    data = load_data(data_file)
    images, labels = data.train_images[:12], data.train_labels[:12]
    settings = TrainSettings(epochs=6, lr=0.05, batch_size=5, augment="none", protocol="idc", cutmix=0.0)
    assert settings.milestones == (4, 5)
    torch.manual_seed(4)
    net = build_model("convnet_w32", 1, 3, (28, 28))
    problem = Namespace(settings=Namespace(model="convnet_w32"))
    theirs = same_network(official, problem, 4)
    replay = torch.Generator().manual_seed(9)

    class Loader:  # our loop's batches: a permutation per pass, then batches of 5
        device = "already"

        def __iter__(self):
            order = torch.randperm(12, generator=replay)
            for start in range(0, 12, 5):
                yield images[order[start : start + 5]], labels[order[start : start + 5]]

    class Meter:
        avg = 0.0

        def update(self, *a):
            pass

    text = official["train_text"].replace(".cuda()", "")
    namespace = {"torch": torch, "np": np, "nn": nn, "optim": torch.optim, "time": __import__("time"), "AverageMeter": Meter,
                 "accuracy": lambda out, t, topk: (torch.zeros(()),) * 2, "DiffAug": None, "get_time": str}  # fmt: skip
    extract(text, "train.py", {"train", "train_epoch", "validate"}, namespace)
    args = Namespace(epochs=6, lr=0.05, momentum=0.9, weight_decay=5e-4, pretrained=False, dsa=False, mixup="vanilla", mix_p=0.5,
                     beta=1.0, nclass=3, print_freq=10, verbose=False, epoch_print_freq=6, save_ckpt=False)  # fmt: skip
    namespace["train"](args, theirs, Loader(), [(images[:3], labels[:3])], plotter=None, logger=lambda *a: None)
    train_network(net, images, labels, settings, torch.Generator().manual_seed(9))
    for mine, other in zip([m for m in net.modules() if isinstance(m, nn.Conv2d)], theirs.layers["conv"]):
        torch.testing.assert_close(mine.weight, other.weight, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------- settings and protocol


def test_reproduce_defaults_by_dataset_and_factor(data_file):
    from condense.data.traits import DatasetTraits

    def resolved(method, base, ipc=10, **given):
        traits = DatasetTraits("color_crop_cutout_flip_scale_rotate", True, None, base)
        return METHODS.get(method).resolve(ipc=ipc, model="convnet", traits=traits, overrides=given)

    fashion = resolved("idc", "fashionmnist")
    assert (fashion.metric, fashion.lr_img, fashion.n_data, fashion.factor, fashion.init, fashion.mix_p) == ("l1", 1e-4, 500, 2, "mix", 0.5)
    assert (fashion.iterations, fashion.inner_loop, fashion.batch_real, fashion.batch_syn_max) == (1999, 100, 64, 128)
    cifar = resolved("idc", "cifar10")
    assert (cifar.metric, cifar.lr_img, cifar.n_data, cifar.strategy, cifar.mixup_net) == ("mse", 5e-3, 2000, "color_crop_cutout", "cut")
    mnist = resolved("idc", "mnist")
    assert (mnist.strategy, mnist.mixup_net) == ("color_crop", "vanilla")  # reproduce.py: MNIST with factor > 1
    assert resolved("idc_i", "mnist").mixup_net == "cut" and resolved("idc_i", "mnist").init == "random"
    assert resolved("idc", "fashionmnist", factor=1).init == "random"
    # tune_lr_img: × ipc / 10 × (28 / 32)² for FashionMNIST (imsize_base 32), as argument.py computes it
    problem = make_idc_problem(data_file, ipc=2, factor=2, lr_img=1e-4)
    assert problem.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 * 2 / 10 * (28 / 32) ** 2)


def test_distill_help_lists_the_official_defaults():
    import argparse

    from condense.stages.distill import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = " ".join(parser.format_help().split())
    for flag in ("--factor", "--metric", "--n-data", "--inner-loop", "--batch-syn-max", "--mixup-net", "--mix-p", "--net-epoch"):
        assert flag in text
    assert (
        "(default: idc 2, idc_i 1)" in text and "idc by dataset (reproduce.py): cifar10/cifar100/svhn 5e-3, mnist/fashionmnist 1e-4" in text
    )
    assert "(default: by dataset (reproduce.py): cifar10/cifar100 2000, else 500)" in text and "idc 1999" in text


def test_idc_evaluation_is_asked_for_not_applied(data_file):
    data = load_data(data_file)
    from condense.evaluations import EVALUATIONS

    kind = EVALUATIONS.get("accuracy")
    idc = kind.resolve({"augment": "idc", "epochs": 9}).train_settings(data.traits)
    assert (idc.protocol, idc.batch_size, idc.cutmix, idc.augment, idc.milestones) == (
        "idc",
        64,
        0.5,
        "color_crop_flip_scale_rotate",
        (6, 7),
    )
    reference = kind.resolve({"augment": "dsa"}).train_settings(data.traits)
    assert (reference.protocol, reference.batch_size, reference.cutmix) == ("reference", 256, 0.0)
    assert "protocol" not in reference.to_dict()  # the reference records keep their keys
    assert AccuracySettings().augment == "none" and METHODS.get("dsa").eval_augment == "dsa"
    assert METHODS.get("idc").eval_augment == "idc" == METHODS.get("idc_i").eval_augment
    from condense.training.evaluation import TRAINERS
    from condense.training.protocol import PROTOCOLS

    assert set(TRAINERS) == set(PROTOCOLS)


def test_idc_distill_evaluate_snapshot_and_resume(data_file, tmp_path):
    """The stage end to end on tiny data: the set stores codes with their decoder, a snapshot too, evaluation
    decodes them (IDC's protocol), and a resumed run ends with exactly the uninterrupted run's codes."""
    from condense.cli import main

    common = ["distill", "--method", "idc", "--data", str(data_file), "--ipc", "1", "--model", "convnet_w32", "--iterations", "1",
              "--inner-loop", "1", "--batch-real", "4", "--n-data", "4", "--device", "cpu", "--quiet"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "a.pt"), "--snapshot-at", "0", "--snapshots", str(tmp_path / "snaps")]) == 0
    made = SyntheticSet.load(tmp_path / "a.pt")
    assert made.images.shape == (3, 1, 28, 28) and made.decoder == {"name": "multiformation", "factor": 2, "pad": [0.0]}
    assert SyntheticSet.load(tmp_path / "snaps" / "it0.pt").decoder == made.decoder
    ckpt = ["--checkpoint", str(tmp_path / "ck.pt"), "--checkpoint-every", "1", "--out", str(tmp_path / "b.pt")]
    assert main([*common, *ckpt, "--stop-after", "0"]) == 0 and not (tmp_path / "b.pt").exists()
    assert main([*common, *ckpt]) == 0
    assert torch.equal(SyntheticSet.load(tmp_path / "b.pt").images, made.images)
    evaluate = ["evaluate", "--data", str(data_file), "--set", str(tmp_path / "a.pt"), "--model", "convnet_w32", "--num-nets", "1",
                "--epochs", "2", "--augment", "idc", "--device", "cpu", "--quiet", "--out", str(tmp_path / "eval.json")]  # fmt: skip
    assert main(evaluate) == 0
    import json

    record = json.loads((tmp_path / "eval.json").read_text())
    assert record["settings"]["protocol"] == "idc" and record["settings"]["batch_size"] == 64


def test_every_real_image_comes_through_the_problems_data_view(data_file):
    """Masks transform the real data (condense/masks/application.py): IDC draws its matching batches
    (``sample_class``) and its network-update batches (``images_at``) through the problem's view of the data,
    so a masked view masks both; its initial codes come from the raw images, as every method's."""
    problem = make_idc_problem(data_file, ipc=1, factor=2, n_data=8, batch_real=4)
    raw = problem.data
    calls = {"sample_class": 0, "images_at": 0}

    class Blackout:  # a view that "masks" every image to the mean colour (0 in the normalised space)
        def __getattr__(self, name):
            return getattr(raw, name)

        def sample_class(self, c, n, generator):
            calls["sample_class"] += 1
            return torch.zeros_like(raw.sample_class(c, n, generator))

        def images_at(self, idx, generator):
            calls["images_at"] += 1
            return torch.zeros_like(raw.images_at(idx, generator))

    problem.data = Blackout()
    torch.manual_seed(0)
    idc_iteration(problem, torch.Generator().manual_seed(0))
    assert calls == {"sample_class": 3, "images_at": 2}  # 3 classes; ceil(8 / 4) network batches
    images, _ = initial_codes(Blackout(), problem.settings, 0)
    assert images.abs().sum() > 0  # raw images: the view's masking never reaches the initial codes


def test_membership_shadows_train_on_the_decoded_set(data_file):
    """``condense membership --source set --method idc`` trains each shadow on the images the codes decode into."""
    from condense.core.accel import EAGER
    from condense.stages.membership import condensed

    data = load_data(data_file)
    spec = METHODS.get("idc")
    settings = spec.resolve(ipc=1, model="convnet_w32", traits=data.traits,
                            overrides={"iterations": 0, "inner_loop": 1, "n_data": 0, "batch_real": 4})  # fmt: skip
    images, labels, _ = condensed(data, spec, settings, 0, EAGER)
    assert images.shape == (12, 1, 28, 28) and labels.tolist() == torch.arange(3).repeat_interleave(4).tolist()


@pytest.mark.parametrize("init, per_class", [("mix", 4), ("random", 1), ("noise", 0)])
def test_the_membership_audit_names_exactly_the_real_images_idc_started_from(data_file, init, per_class):
    """``mix`` tiles downsampled images (no exact copy for the default audit to find): the audit marks the first
    ipc · factor² of each class, and exactly those feed the initial codes: changing a marked image changes
    them, changing any other does not."""
    from condense.core.accel import EAGER
    from condense.stages.membership import condensed

    data = load_data(data_file)
    spec = METHODS.get("idc")
    settings = spec.resolve(ipc=1, model="convnet_w32", traits=data.traits,
                            overrides={"iterations": 0, "inner_loop": 1, "n_data": 0, "batch_real": 4, "init": init})  # fmt: skip
    *_, init_mask = condensed(data, spec, settings, 0, EAGER)
    assert init_mask.sum() == per_class * data.num_classes
    for c in range(data.num_classes):
        assert init_mask[data.class_indices[c][:per_class]].all()
    if init == "noise":
        return
    before, _ = initial_codes(data, settings, 0)
    marked, unmarked = init_mask.nonzero().flatten(), (~init_mask).nonzero().flatten()
    for index, moves in ((unmarked[0], False), (marked[-1], True)):
        data.train_images[index] += 1.0
        after, _ = initial_codes(data, settings, 0)
        data.train_images[index] -= 1.0
        assert (not torch.equal(before, after)) == moves
