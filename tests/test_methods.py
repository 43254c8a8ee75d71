import argparse
import dataclasses

import pytest
import torch
from conftest import read_set

from condense.cli import main
from condense.core.errors import CondenseError
from condense.data.store import load_data
from condense.methods import METHODS
from condense.methods.gradient_matching import freeze_batchnorm, loops_for
from condense.methods.problem import Problem
from condense.stages.distill import add_arguments, resolve_settings


def make_settings(method, **kw):
    """The method's settings dataclass built directly (no resolvers): one outer and one inner loop
    unless given, and only the fields the method has."""
    cls = METHODS.get(method).settings
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in {"outer_loop": 1, "inner_loop": 1, **kw}.items() if k in names}
    return cls(method=method, **values)


def make_problem(data_file, method, ipc=2, model="convnet_w32", strategy="none", lr_img=0.1, **kw):
    data = load_data(data_file)
    gen = torch.Generator().manual_seed(0)
    images = torch.cat([data.sample_class(c, ipc, gen) for c in range(data.num_classes)]).clone().requires_grad_(True)
    labels = torch.arange(data.num_classes).repeat_interleave(ipc)
    settings = make_settings(method, ipc=ipc, model=model, batch_real=8, strategy=strategy, lr_img=lr_img, **kw)
    opt = torch.optim.SGD([images], lr=lr_img, momentum=0.5)
    return Problem(data, images, labels, opt, settings)


def seeded_step(problem, seed=1):
    torch.manual_seed(seed)
    return float(METHODS.get(problem.settings.method).step(problem, torch.Generator().manual_seed(seed)))


def test_reference_loop_table_and_rule_outside_it():
    assert [loops_for(k) for k in (1, 10, 20, 30, 40, 50)] == [(1, 1), (10, 50), (20, 25), (30, 20), (40, 15), (50, 10)]
    assert loops_for(5) == (10, 50) and loops_for(11) == (20, 25) and loops_for(100) == (50, 10)
    with pytest.raises(CondenseError):
        loops_for(0)


@pytest.mark.parametrize(
    "method, strategy, lr",
    [("dc", "none", 0.1), ("dsa", "color_crop_cutout_flip_scale_rotate", 0.1), ("dm", "color_crop_cutout_flip_scale_rotate", 1.0)],
)
def test_one_step_decreases_the_matching_loss(data_file, method, strategy, lr):
    # Same network and same real batch/augmentation (same seeds) before and after one image update.
    problem = make_problem(data_file, method, strategy=strategy, lr_img=lr)
    before = problem.images.detach().clone()
    first = seeded_step(problem)
    assert not torch.equal(before, problem.images.detach())
    second = seeded_step(problem)
    assert second < first


def reference_dm_gradient(problem, seed):
    """The official main_DM.py loop, written plainly: per class, embed the real batch (with autograd,
    then detach) and the synthetic batch, add ‖mean real − mean syn‖²; the loss and d loss / d images."""
    from condense.models.classifiers import build_model

    data, s = problem.data, problem.settings
    torch.manual_seed(seed)
    net = build_model(s.model, data.channel, data.num_classes, data.im_size).train().requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    loss = torch.zeros(())
    for c in range(data.num_classes):
        real = data.sample_class(c, s.batch_real, gen)
        real, syn = problem.siamese(real, problem.images[problem.class_slice(c)], gen)
        loss = loss + ((net.embed(real).detach().mean(0) - net.embed(syn).mean(0)) ** 2).sum()
    return loss, torch.autograd.grad(loss, problem.images)[0]


@pytest.mark.parametrize("strategy", ["none", "color_crop_cutout_flip_scale_rotate"])
def test_dm_step_equals_the_plain_per_class_loop(data_file, strategy):
    # DM's step embeds real batches under no_grad and all synthetic classes in one batch: exact for
    # per-sample (instance) norms, so the loss and the image update equal the plain loop's.
    problem = make_problem(data_file, "dm", ipc=3, strategy=strategy, lr_img=1.0)
    before = problem.images.detach().clone()
    loss, grad = reference_dm_gradient(problem, seed=4)
    assert grad.abs().sum() > 0
    assert seeded_step(problem, seed=4) == pytest.approx(loss.item() / problem.num_classes, rel=1e-5)
    # first SGD step (momentum buffer empty): images move by -lr * gradient
    torch.testing.assert_close(problem.images.detach() - before, -1.0 * grad, rtol=1e-4, atol=1e-6)


def test_siamese_draw_is_shared_by_real_and_synthetic_batches(data_file):
    problem = make_problem(data_file, "dsa", strategy="crop_scale_rotate")
    image = problem.data.train_images[:1]
    real, syn = problem.siamese(image.repeat(5, 1, 1, 1), image, torch.Generator().manual_seed(3))
    assert not torch.equal(syn, image)
    assert torch.allclose(real, syn.expand_as(real), atol=1e-6)


def test_batchnorm_statistics_come_from_real_data_and_stay_frozen(data_file):
    problem = make_problem(data_file, "dc", model="convnet_bn")
    torch.manual_seed(0)
    net = problem.new_network().eager
    freeze_batchnorm(net, problem, torch.Generator().manual_seed(0))
    bn = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn and all(not m.training for m in bn)
    stats = [m.running_mean.clone() for m in bn]
    assert any(not torch.equal(s, torch.zeros_like(s)) for s in stats)
    net(problem.images)  # a forward in the frozen state must not move the statistics
    assert all(torch.equal(s, m.running_mean) for s, m in zip(stats, bn))


def test_gradient_matching_with_batchnorm_equals_a_hand_written_step_on_frozen_real_statistics(data_file):
    """One DC iteration on a BatchNorm network, written out: running statistics set from real images and frozen
    (the synthetic forwards must not move them), per-class weight gradients, Σ_rows (1 − cos), one SGD step."""
    import torch.nn.functional as F

    from condense.models.classifiers import build_model

    problem = make_problem(data_file, "dc", model="convnet_bn", outer_loop=1)
    by_hand = make_problem(data_file, "dc", model="convnet_bn", outer_loop=1)
    torch.manual_seed(1)
    net = build_model("convnet_bn", by_hand.data.channel, by_hand.num_classes, by_hand.data.im_size)
    generator = torch.Generator().manual_seed(1)
    freeze_batchnorm(net, by_hand, generator)
    frozen = [m.running_mean.clone() for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    reals, syns = by_hand.class_batches(generator)
    weights = [p for p in net.parameters() if p.dim() > 1]
    loss = torch.zeros(())
    for c, (real, syn) in enumerate(zip(reals, syns)):
        target_real, target_syn = torch.full((real.shape[0],), c), torch.full((syn.shape[0],), c)
        g_real = torch.autograd.grad(F.cross_entropy(net(real), target_real), weights)
        g_syn = torch.autograd.grad(F.cross_entropy(net(syn), target_syn), weights, create_graph=True)
        for gr, gs in zip(g_real, g_syn):
            gr, gs = gr.reshape(gr.shape[0], -1), gs.reshape(gs.shape[0], -1)
            loss = loss + (1 - (gr * gs).sum(1) / (gr.norm(dim=1) * gs.norm(dim=1) + 1e-6)).sum()
    grad = torch.autograd.grad(loss, by_hand.images)[0]
    before = problem.images.detach().clone()
    assert seeded_step(problem, seed=1) == pytest.approx(loss.item() / problem.num_classes, rel=1e-5)
    torch.testing.assert_close(problem.images.detach() - before, -0.1 * grad, rtol=1e-4, atol=1e-7)  # lr 0.1, first step
    used = [m.running_mean for m in problem._net.eager.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert frozen and all(torch.equal(a, b) for a, b in zip(frozen, used))


def distill(data_file, out, *extra):
    return main(
        [
            "distill",
            "--data",
            str(data_file),
            "--model",
            "convnet_w32",
            "--batch-real",
            "8",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
        + ([] if "--ipc" in extra else ["--ipc", "2"])
    )


@pytest.mark.parametrize("method", ["dc", "dsa", "dm"])
def test_resume_after_a_kill_equals_an_uninterrupted_run(data_file, tmp_path, method):
    # Killed during iteration 2, after the checkpoint at the end of iteration 1: the rerun
    # repeats iteration 2 from the checkpoint and must land on the same tensors.
    loops = [] if method == "dm" else ["--outer-loop", "2", "--inner-loop", "1"]  # DM has no loops
    common = ["--method", method, "--iterations", "3", "--seed", "4", *loops, "--ipc", "1"]
    straight = tmp_path / "straight.pt"
    assert distill(data_file, straight, *common) == 0
    resumed, ckpt = tmp_path / "resumed.pt", tmp_path / "run.ckpt"
    assert distill(data_file, resumed, *common, "--checkpoint", str(ckpt), "--checkpoint-every", "2", "--stop-after", "2") == 0
    assert ckpt.exists() and not resumed.exists()
    assert torch.load(ckpt, weights_only=True)["next_iteration"] == 2
    assert distill(data_file, resumed, *common, "--checkpoint", str(ckpt), "--checkpoint-every", "2") == 0
    a, la, ma = read_set(straight)
    b, lb, mb = read_set(resumed)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert ma.losses == mb.losses and len(ma.losses) == 4
    assert not ckpt.exists()  # removed once the run is complete


def test_distill_output_grid_and_determinism(data_file, tmp_path):
    outs = []
    for name in ("a", "b"):
        out, grid = tmp_path / f"{name}.pt", tmp_path / f"{name}.png"
        assert distill(data_file, out, "--method", "dm", "--iterations", "2", "--seed", "1", "--grid", str(grid)) == 0
        outs.append(read_set(out))
        assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (a, labels, meta), (b, _, _) = outs
    assert torch.equal(a, b)
    assert a.shape == (6, 1, 28, 28) and labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert meta.settings["lr_img"] == 1.0 and meta.settings["init"] == "real"
    assert meta.settings["strategy"] == "color_crop_cutout_flip_scale_rotate"
    assert meta.cost["real_images_per_second"] > 0  # DM draws batch_real per class each iteration


def resolved(data_file, *argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", str(data_file), "--out", "x.pt", *argv])
    return resolve_settings(args, load_data(data_file)).to_dict()


def test_reference_defaults_per_method(data_file):
    dc = resolved(data_file, "--method", "dc", "--ipc", "2")
    assert (dc["iterations"], dc["lr_img"], dc["lr_net"], dc["init"], dc["strategy"], dc["dis_metric"]) == (
        1000,
        0.1,
        0.01,
        "noise",
        "none",
        "ours",
    )
    assert (dc["batch_real"], dc["batch_train"]) == (256, 256)
    assert (dc["outer_loop"], dc["inner_loop"]) == (10, 50)  # ipc 2 takes the IPC-10 entry
    dsa = resolved(data_file, "--method", "dsa", "--ipc", "1")
    assert (dsa["init"], dsa["strategy"], dsa["outer_loop"], dsa["inner_loop"]) == ("real", "color_crop_cutout_flip_scale_rotate", 1, 1)
    dm = resolved(data_file, "--method", "dm", "--ipc", "8")
    assert (dm["iterations"], dm["lr_img"], dm["init"]) == (20000, 1.0, "real")
    assert resolved(data_file, "--method", "dc", "--ipc", "1", "--augment", "none", "--lr-img", "0.5")["lr_img"] == 0.5


def test_bad_method_and_ipc(data_file, tmp_path, capsys):
    assert distill(data_file, tmp_path / "x.pt", "--method", "kip") == 2
    assert "unknown condensation method 'kip'" in capsys.readouterr().err
    code = main(["distill", "--method", "dsa", "--data", str(data_file), "--ipc", "50", "--device", "cpu", "--out", str(tmp_path / "y.pt")])
    assert code == 2 and "--ipc 50" in capsys.readouterr().err


def write_maps_and_mask(data_file, tmp_path, ratio):
    from condense.data.maps import save_maps

    data = load_data(data_file)
    maps = tmp_path / "maps.pt"
    gen = torch.Generator().manual_seed(0)
    save_maps(
        maps, torch.randint(0, 256, (data.train_images.shape[0], *data.im_size), generator=gen, dtype=torch.uint8), data.name, "fcn", {}
    )
    mask = tmp_path / f"mask{ratio}.pt"
    assert main(["mask", "--data", str(data_file), "--ratio", str(ratio), "--seed", "0", "--out", str(mask), "--quiet"]) == 0
    return mask, maps


def test_masked_matching_ratio_zero_is_the_unmasked_run_and_ratio_one_differs(data_file, tmp_path):
    common = ["--method", "dm", "--iterations", "1", "--seed", "2"]
    plain = tmp_path / "plain.pt"
    assert distill(data_file, plain, *common) == 0
    results = {}
    for ratio in (0.0, 1.0):
        mask, maps = write_maps_and_mask(data_file, tmp_path, ratio)
        out = tmp_path / f"r{ratio}.pt"
        assert (
            distill(data_file, out, *common, "--mask", f"fcn-r{ratio}-mean-soft-fixed", "--selection", str(mask), "--maps", str(maps)) == 0
        )
        results[ratio] = read_set(out)
    assert torch.equal(results[0.0][0], read_set(plain)[0])
    assert not torch.equal(results[1.0][0], read_set(plain)[0])
    assert results[1.0][2].mask_ratio == 1.0 and results[0.0][2].mask_ratio == 0.0


@pytest.mark.parametrize("per_iteration, shown", [(640, True), (0, False)])
def test_the_log_line_shows_real_image_throughput_only_for_a_method_that_draws_real_images(caplog, per_iteration, shown):
    from types import SimpleNamespace

    from condense.methods.loop import LogHook

    run = SimpleNamespace(
        iterations=4,
        spec=SimpleNamespace(real_images_per_iteration=lambda settings, num_classes: per_iteration),
        problem=SimpleNamespace(settings=None, num_classes=10),
    )
    with caplog.at_level("INFO", logger="condense"):
        LogHook(every=2).after_iteration(run, 2, 1.5, 0.5)
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("iter 2/4 loss 1.5000 (0.50 s/iter")
    assert ("1280 real images/s" in line) == shown  # 640 images in 0.5 s; MTT (0 per iteration) shows no rate
