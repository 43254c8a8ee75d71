"""MTT (trajectory matching): the experts artifact, the method, its learned learning rate through checkpoints and
evaluation, and cross-checks against the official code (``CONDENSE_MTT_DIR`` = GeorgeCazenavette/mtt-distillation:
``reparam_module.ReparamModule``, ``networks.ConvNet``, ``utils.epoch`` / ``rand_scale`` / ``rand_rotate``) on
identical tensors. ``distill.py``'s iteration is not a function there, so the check restates its lines on the
official ReparamModule and ConvNet, with the draws (expert, start epoch, student batches) our step makes."""

from __future__ import annotations

import importlib.util
import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_methods import make_problem
from test_official_methods import checkout, copy_weights, extract

from condense.cli import main
from condense.core.errors import CondenseError
from condense.core.runtime import derive_seed, make_generator
from condense.data.augment import AugmentParams, Draw, apply
from condense.data.records import SyntheticSet
from condense.data.store import load_data
from condense.methods import ARTIFACTS, METHODS
from condense.methods.mtt import (
    MTT_AUGMENT,
    ExpertSettings,
    flat_parameters,
    parameter_layout,
    student_batches,
    train_experts,
    unflatten,
)
from condense.methods.problem import Problem
from condense.models.classifiers import build_model

MODEL = "convnet_w32"  # the official ConvNet of width 32 (depth 3, instance norm, average pooling)


def official(folder: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"mtt_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official_convnet(networks, ours: nn.Module) -> nn.Module:
    theirs = networks.ConvNet(channel=1, num_classes=3, net_width=32, net_depth=3, net_act="relu", net_norm="instancenorm",
                              net_pooling="avgpooling", im_size=(28, 28))  # fmt: skip
    copy_weights(ours, theirs)
    return theirs


def fake_experts(seed: int = 0, experts: int = 2, epochs: int = 4) -> dict:
    """Trajectories that move like training does: an initialisation, then small random steps (no training needed)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = build_model(MODEL, 1, 3, (28, 28))
    start = flat_parameters(net)
    steps = 0.01 * torch.randn((experts, epochs, start.numel()), generator=gen)
    trajectories = torch.cat([start.expand(experts, 1, -1), start + steps.cumsum(1)], dim=1)
    return {"trajectories": trajectories, "model": MODEL, "layout": parameter_layout(net)}


def mtt_problem(data_file, **kw):
    settings = {"strategy": "none", "lr_img": 100.0, "syn_steps": 3, "expert_epochs": 2, "max_start_epoch": 2, "batch_syn": 4,
                "lr_lr": 1e-3, "lr_teacher": 0.01, **kw}  # fmt: skip
    problem = make_problem(data_file, "mtt", ipc=2, model=MODEL, **settings)
    problem.artifacts["experts"] = fake_experts()
    METHODS.get("mtt").state.start(problem)
    return problem


# ------------------------------------------------------------------------------------------- cross-checks


def test_flattening_order_and_functional_forward_equal_the_official_reparam_module():
    folder = checkout("CONDENSE_MTT_DIR", "GeorgeCazenavette/mtt-distillation")
    networks, reparam = official(folder, "networks"), official(folder, "reparam_module")
    torch.manual_seed(3)
    ours = build_model(MODEL, 1, 3, (28, 28))
    theirs = official_convnet(networks, ours)
    flat = flat_parameters(ours)
    # buffer.py keeps [p for p in net.parameters()]; distill.py flattens them with torch.cat([p.data.reshape(-1) ...])
    assert torch.equal(flat, torch.cat([p.data.reshape(-1) for p in theirs.parameters()]))
    assert [shape for _, shape in parameter_layout(ours)] == [list(p.shape) for p in theirs.parameters()]
    student = reparam.ReparamModule(theirs)
    assert torch.equal(student.flat_param.detach(), flat)  # its own flattening, the same order
    x = torch.randn(5, 1, 28, 28)
    moved = flat + 0.05 * torch.randn_like(flat)
    torch.testing.assert_close(torch.func.functional_call(ours, unflatten(ours, moved), (x,)), student(x, flat_param=moved))


def test_one_iteration_equals_the_official_unrolled_steps_loss_gradients_and_update(data_file):
    folder = checkout("CONDENSE_MTT_DIR", "GeorgeCazenavette/mtt-distillation")
    networks, reparam = official(folder, "networks"), official(folder, "reparam_module")
    problem = mtt_problem(data_file)
    s, seed = problem.settings, 11
    experts = problem.artifacts["experts"]["trajectories"]
    # the draws our step makes from its generator, in its order: expert, start epoch, the student batches
    gen = torch.Generator().manual_seed(seed)
    expert = int(torch.randint(experts.shape[0], (1,), generator=gen))
    start_epoch = int(torch.randint(s.max_start_epoch, (1,), generator=gen))
    batches = student_batches(problem.images.shape[0], s.batch_syn, s.syn_steps, gen)
    assert [len(b) for b in batches] == [2, 4, 2]  # 6 images in chunks of 4: the last chunk (2) first, as .pop() takes

    # distill.py, one iteration, on the official ReparamModule(ConvNet) and the same tensors
    torch.manual_seed(0)
    student_net = reparam.ReparamModule(official_convnet(networks, build_model(MODEL, 1, 3, (28, 28))))
    student_net.train()
    num_params = sum([np.prod(p.size()) for p in (student_net.parameters())])
    image_syn = problem.images.detach().clone().requires_grad_(True)
    syn_lr = torch.tensor(s.lr_teacher).requires_grad_(True)
    optimizer_img = torch.optim.SGD([image_syn], lr=s.lr_img, momentum=0.5)
    optimizer_lr = torch.optim.SGD([syn_lr], lr=s.lr_lr, momentum=0.5)
    expert_trajectory = [list(experts[expert, e : e + 1]) for e in range(experts.shape[1])]  # one flat "parameter" per epoch
    starting_params = expert_trajectory[start_epoch]
    target_params = torch.cat([p.data.reshape(-1) for p in expert_trajectory[start_epoch + s.expert_epochs]], 0)
    student_params = [torch.cat([p.data.reshape(-1) for p in starting_params], 0).requires_grad_(True)]
    starting_params = torch.cat([p.data.reshape(-1) for p in starting_params], 0)
    for these_indices in batches:
        x = image_syn[these_indices]
        this_y = problem.labels[these_indices]
        x = student_net(x, flat_param=student_params[-1])
        ce_loss = nn.CrossEntropyLoss()(x, this_y)
        grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]
        student_params.append(student_params[-1] - syn_lr * grad)
    param_loss = torch.nn.functional.mse_loss(student_params[-1], target_params, reduction="sum")
    param_dist = torch.nn.functional.mse_loss(starting_params, target_params, reduction="sum")
    param_loss /= num_params
    param_dist /= num_params
    grand_loss = param_loss / param_dist
    optimizer_img.zero_grad()
    optimizer_lr.zero_grad()
    grand_loss.backward()
    image_grad, lr_grad = image_syn.grad.clone(), syn_lr.grad.clone()
    optimizer_img.step()
    optimizer_lr.step()

    before_images, before_lr = problem.images.detach().clone(), problem.learned["syn_lr"].detach().clone()
    torch.manual_seed(seed)
    loss = METHODS.get("mtt").step(problem, torch.Generator().manual_seed(seed))
    after_images, after_lr = problem.images.detach(), problem.learned["syn_lr"].detach()
    assert float(loss) == pytest.approx(float(grand_loss.detach()), rel=1e-5)
    # the first SGD step (empty momentum buffers): update = lr × gradient
    torch.testing.assert_close((before_images - after_images) / s.lr_img, image_grad, rtol=1e-4, atol=1e-7)
    assert float((before_lr - after_lr) / s.lr_lr) == pytest.approx(float(lr_grad), rel=1e-4)
    assert float(lr_grad) != 0 and float(image_grad.abs().sum()) > 0  # both really learn
    torch.testing.assert_close(after_images, image_syn.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(after_lr, syn_lr.detach(), rtol=1e-6, atol=1e-9)


def test_mtt_scale_and_rotate_equal_the_official_diff_augment_with_align_corners():
    folder = checkout("CONDENSE_MTT_DIR", "GeorgeCazenavette/mtt-distillation")
    namespace = extract(folder / "utils.py", {"ParamDiffAug", "rand_scale", "rand_rotate", "set_seed_DiffAug"},
                        {"torch": torch, "F": F, "np": np})  # fmt: skip
    param = namespace["ParamDiffAug"]()
    param.latestseed, param.batchmode = -1, False  # DiffAugment(x, strategy, seed=-1, param): per image, global RNG
    for shape in ((4, 3, 16, 16), (4, 3, 12, 20)):
        x = torch.randn(shape)
        torch.manual_seed(5)
        theirs = namespace["rand_scale"](x, param)
        torch.manual_seed(5)
        sx, sy = torch.rand(4), torch.rand(4)  # the uniforms rand_scale drew, in its order
        torch.testing.assert_close(apply(x, Draw.of("scale", MTT_AUGMENT, w=sx, h=sy)), theirs, rtol=1e-5, atol=1e-5)
        torch.manual_seed(6)
        theirs = namespace["rand_rotate"](x, param)
        torch.manual_seed(6)
        angle = torch.rand(4)
        torch.testing.assert_close(apply(x, Draw.of("rotate", MTT_AUGMENT, angle=angle)), theirs, rtol=1e-5, atol=1e-5)
    # The grid conventions agree on square images (scale and rotate about the centre); a rotation of a non-square
    # image is where DSA's default (align_corners False) and MTT's differ.
    assert not torch.allclose(apply(x, Draw.of("rotate", AugmentParams(), angle=angle)), theirs, atol=1e-3)


def test_one_expert_epoch_equals_the_official_epoch_loop(data_file):
    folder = checkout("CONDENSE_MTT_DIR", "GeorgeCazenavette/mtt-distillation")
    networks = official(folder, "networks")
    namespace = extract(folder / "utils.py", {"epoch", "TensorDataset"}, {"torch": torch, "np": np, "Dataset": torch.utils.data.Dataset})
    data = load_data(data_file)
    settings = ExpertSettings(model=MODEL, num_experts=1, train_epochs=1, batch_train=10, strategy="none")
    seed = 4
    content = train_experts(data, settings, seed, "cpu")
    # buffer.py: the same network (seed of expert 0), the same shuffled order, one call of utils.epoch
    torch.manual_seed(derive_seed(seed, 0, 0))
    teacher_net = official_convnet(networks, build_model(MODEL, 1, 3, (28, 28)))
    assert torch.equal(content["trajectories"][0, 0], torch.cat([p.detach().reshape(-1) for p in teacher_net.parameters()]))
    order = torch.randperm(data.train_images.shape[0], generator=make_generator(derive_seed(seed, 0, 1))).tolist()
    dst_train = namespace["TensorDataset"](data.train_images, data.train_labels)
    trainloader = torch.utils.data.DataLoader(dst_train, batch_size=10, sampler=order, num_workers=0)
    teacher_optim = torch.optim.SGD(teacher_net.parameters(), lr=0.01, momentum=0, weight_decay=0)
    args = types.SimpleNamespace(device="cpu", dataset="FashionMNIST", dsa=False)
    train_loss, train_acc = namespace["epoch"]("train", dataloader=trainloader, net=teacher_net, optimizer=teacher_optim,
                                               criterion=nn.CrossEntropyLoss(), args=args, aug=False)  # fmt: skip
    flat = torch.cat([p.detach().reshape(-1) for p in teacher_net.parameters()])
    torch.testing.assert_close(content["trajectories"][0, 1], flat, rtol=1e-5, atol=1e-6)
    assert not torch.equal(content["trajectories"][0, 1], content["trajectories"][0, 0])
    assert float(content["train_loss"][0, 0]) == pytest.approx(train_loss, rel=1e-5)
    assert float(content["train_acc"][0, 0]) == pytest.approx(train_acc, abs=1e-6)


# ------------------------------------------------------------------------------------------- behaviour


def test_experts_are_deterministic_per_seed_and_record_their_cost(data_file):
    data = load_data(data_file)
    settings = ARTIFACTS.get("experts").resolve({"model": MODEL, "num_experts": 2, "train_epochs": 2, "batch_train": 8}, data)
    assert settings.strategy == data.traits.dsa_strategy  # DSA on, as buffer.py's default
    a, b = train_experts(data, settings, 1, "cpu"), train_experts(data, settings, 1, "cpu")
    other = train_experts(data, settings, 2, "cpu")
    size = sum(p.numel() for p in build_model(MODEL, 1, 3, (28, 28)).parameters())
    assert a["trajectories"].shape == (2, 3, size) and torch.equal(a["trajectories"], b["trajectories"])
    assert not torch.equal(a["trajectories"], other["trajectories"])
    assert not torch.equal(a["trajectories"][0], a["trajectories"][1])  # each expert its own initialisation
    assert a["cost"]["bytes"] == 2 * 3 * size * 4 and a["cost"]["seconds"] > 0


def test_experts_resume_expert_by_expert_and_end_equal(data_file, tmp_path, monkeypatch):
    import condense.methods.mtt as mtt
    from condense.methods.checkpoint import RunIdentity
    from condense.methods.parts import LOCK_NAME, PartStore

    data = load_data(data_file)
    settings = ExpertSettings(model=MODEL, num_experts=3, train_epochs=2, batch_train=8, strategy="none")
    straight = train_experts(data, settings, 5, "cpu")
    real, calls = mtt.train_epoch, []

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # the first epoch of the third expert: a kill
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(mtt, "train_epoch", counted)
    identity = RunIdentity({"kind": "experts", "seed": 5}, {}, {})
    with pytest.raises(KeyboardInterrupt), PartStore(tmp_path / "parts", identity) as parts:
        train_experts(data, settings, 5, "cpu", parts)
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == sorted([LOCK_NAME, "part_0.pt", "part_1.pt"])
    calls.clear()
    with PartStore(tmp_path / "parts", identity) as parts:
        resumed = train_experts(data, settings, 5, "cpu", parts)
        assert len(calls) == 2  # only the third expert trained again
        assert torch.equal(resumed["trajectories"], straight["trajectories"]) and torch.equal(resumed["train_loss"], straight["train_loss"])
        parts.clear()
    assert not (tmp_path / "parts").exists()
    # parts of another identity are discarded, not reused; a directory with other files is refused
    with PartStore(tmp_path / "parts", identity) as parts:
        parts.save(0, {"x": torch.zeros(1)})
    with PartStore(tmp_path / "parts", RunIdentity({"kind": "experts", "seed": 6}, {}, {})) as parts:
        assert parts.load(0) is None
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(CondenseError, match="holds other files"):
        PartStore(tmp_path / "other", identity).open()


def test_a_masked_run_and_a_missing_artifact_are_refused(data_file):
    problem = make_problem(data_file, "mtt", ipc=2, model=MODEL, strategy="none")
    start = METHODS.get("mtt").state.start
    with pytest.raises(CondenseError, match="needs its expert trajectories"):
        start(problem)  # e.g. membership's shadows, which make no artifacts
    problem.artifacts["experts"] = fake_experts()
    problem.data = types.SimpleNamespace(num_classes=3)  # a masked view of the data, not the RealData itself
    with pytest.raises(CondenseError, match="takes no --mask"):
        start(problem)


def test_a_set_whose_learned_lr_is_not_positive_is_evaluated_only_with_an_explicit_lr():
    from condense.evaluations import EVALUATIONS

    kind = EVALUATIONS.get("accuracy")
    negative = types.SimpleNamespace(learned_lr=-0.5)
    with pytest.raises(CondenseError, match="learned learning rate -0.5 is not positive"):
        kind.resolve({}, synthetic=negative)
    assert kind.resolve({"lr": 0.02}, synthetic=negative).lr == 0.02
    assert kind.resolve({}, synthetic=types.SimpleNamespace(learned_lr=0.003)).lr == 0.003


def test_normalised_loss_is_one_where_the_student_does_not_move(data_file):
    # a vanishing learning rate leaves θ̂ = θ*_t: ‖θ*_t − θ*_{t+M}‖² / ‖θ*_t − θ*_{t+M}‖² = 1 whatever the draws
    problem = mtt_problem(data_file, lr_teacher=1e-12)
    assert float(METHODS.get("mtt").step(problem, torch.Generator().manual_seed(0))) == pytest.approx(1.0, abs=1e-6)


def test_memory_batches_cover_every_image_before_repeating():
    batches = student_batches(10, 3, 5, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [1, 3, 3, 3, 1]
    assert sorted(torch.cat(batches[:4]).tolist()) == list(range(10))  # one permutation, then a fresh one
    assert [len(b) for b in student_batches(6, None, 2, torch.Generator())] == [6, 6]  # default: the whole set


def cli(*args) -> int:
    return main([*map(str, args)])


def test_condense_resume_and_evaluate_with_the_learned_lr(data_file, tmp_path, capsys):
    experts = tmp_path / "experts.pt"
    assert cli("artifact", "--kind", "experts", "--data", data_file, "--model", MODEL, "--num-experts", 2, "--train-epochs", 3,
               "--batch-train", 8, "--out", experts, "--checkpoint-dir", tmp_path / "parts", "--device", "cpu", "--quiet") == 0  # fmt: skip
    assert not (tmp_path / "parts").exists()  # removed once the artifact is written
    common = ["distill", "--method", "mtt", "--data", data_file, "--ipc", 2, "--model", MODEL, "--iterations", 3, "--syn-steps", 3,
              "--expert-epochs", 2, "--max-start-epoch", 2, "--lr-img", 100, "--batch-syn", 4,
              "--artifact", f"experts={experts}", "--device", "cpu", "--quiet"]  # fmt: skip
    straight, resumed, ckpt = tmp_path / "straight.pt", tmp_path / "resumed.pt", tmp_path / "run.ckpt"
    assert cli(*common, "--out", straight) == 0
    assert cli(*common, "--out", resumed, "--checkpoint", ckpt, "--checkpoint-every", 2, "--stop-after", 1) == 0
    assert not resumed.exists()
    assert cli(*common, "--out", resumed, "--checkpoint", ckpt, "--checkpoint-every", 2) == 0
    a, b = SyntheticSet.load(straight), SyntheticSet.load(resumed)
    assert torch.equal(a.images, b.images) and a.learned_lr == b.learned_lr and a.provenance.losses == b.provenance.losses
    assert a.learned_lr != pytest.approx(0.01, abs=1e-9) and len(a.provenance.losses) == 4  # it learned; iterations 0..3
    assert "artifact:experts" in a.provenance.inputs
    assert a.provenance.cost["real_images_per_second"] is None  # it draws none: the cost table shows "—", not 0
    record = tmp_path / "eval.json"
    assert cli("evaluate", "--data", data_file, "--set", straight, "--model", MODEL, "--num-nets", 1, "--epochs", 2,
               "--device", "cpu", "--quiet", "--out", record) == 0  # fmt: skip
    stored = json.loads(record.read_text())
    assert stored["settings"]["lr"] == a.learned_lr  # distill.py's evaluation: args.lr_net = syn_lr.item()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-start-epoch", 3, "--expert-epochs", 2], "needs experts of at least 4 epochs, the artifact has 3"),
        (["--model", "convnet"], "trained convnet_w32 networks, but --model is convnet"),
        (["--batch-syn", 0], "--batch-syn 0 is out of range"),
    ],
)
def test_bad_settings_are_refused_before_any_compute(data_file, tmp_path, capsys, flags, message):
    experts = tmp_path / "experts.pt"
    torch.save({"format": 1, "kind": "experts", "dataset": "fashionmnist", "settings": {}, "seed": 0, "content": fake_experts(epochs=3)},
               experts)  # fmt: skip
    args = {"--model": MODEL, "--max-start-epoch": 2, "--expert-epochs": 1}
    for key, value in zip(flags[::2], flags[1::2]):
        args[key] = value
    code = cli("distill", "--method", "mtt", "--data", data_file, "--ipc", 2, *[x for kv in args.items() for x in kv],
               "--artifact", f"experts={experts}", "--device", "cpu", "--quiet", "--out", tmp_path / "x.pt")  # fmt: skip
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.slow
def test_the_workflow_makes_the_experts_by_the_artifact_rule_with_the_configs_settings(tmp_path):
    """A dry run: the generic `artifact` rule makes the experts from `artifacts.experts` (its own seed), the mtt set
    takes them by --artifact, and the evaluation passes no --lr where eval.lr is null (the set's learned rate)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    overlay = tmp_path / "mtt.yaml"
    overlay.write_text(
        "ipcs: [1]\ncoreset: {methods: []}\nattention: {masks: []}\n"
        "distill:\n  methods: [mtt]\n  mtt: {iterations: 2, syn_steps: 2, expert_epochs: 1, max_start_epoch: 1}\n"
        "eval:\n  lr: null\nartifacts:\n  experts: {num_experts: 2, train_epochs: 2, seed: 1}\n"
    )
    target = "results/smoke/cifar10/eval/mtt_ipc1_seed0/convnet.json"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path), "-n", "-p",
           "--cores", "1", target, "--configfile", str(repo / "config" / "smoke.yaml"), str(overlay)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    experts = "results/smoke/cifar10/artifacts/experts_seed1.pt"
    made = [line for line in out.splitlines() if "artifact --kind experts" in line]
    assert len(made) == 1 and f"--out {experts}" in made[0], out[-3000:]
    assert all(flag in made[0].split(" --") for flag in ("num-experts 2", "train-epochs 2", "seed 1")), made[0]
    assert "--checkpoint-dir results/smoke/cifar10/checkpoints/artifacts/experts_seed1 " in out  # resumable expert by expert
    assert "distill --method mtt" in out and f"--artifact experts={experts}" in out and "--syn-steps 2" in out
    evaluate = next(line for line in out.splitlines() if "condense evaluate" in line)
    assert "--lr " not in evaluate and "--augment dsa" in evaluate  # the spec's eval_augment: no eval.augment.mtt entry needed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_an_mtt_iteration_on_cuda_does_not_synchronise_and_learns(data_file):
    """The step on CUDA under torch's sync debug mode (any host synchronisation is an error), with DSA."""
    data = load_data(data_file, torch.device("cuda"))
    spec = METHODS.get("mtt")
    settings = spec.resolve(ipc=2, model=MODEL, traits=data.traits,
                            overrides={"syn_steps": 3, "expert_epochs": 2, "max_start_epoch": 2, "batch_syn": 4, "lr_img": 100.0})  # fmt: skip
    images = torch.cat([data.sample_class(c, 2, torch.Generator().manual_seed(c)) for c in range(3)]).clone().requires_grad_(True)
    labels = torch.arange(3, device="cuda").repeat_interleave(2)
    problem = Problem(data, images, labels, torch.optim.SGD([images], lr=100.0, momentum=0.5), settings)
    problem.artifacts["experts"] = fake_experts()
    spec.state.start(problem)
    problem.new_network()  # first construction (cuDNN set-up) outside the check
    before = problem.learned["syn_lr"].detach().clone()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss = spec.step(problem, torch.Generator().manual_seed(0))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert loss.is_cuda and torch.isfinite(loss) and not torch.equal(before, problem.learned["syn_lr"].detach())
