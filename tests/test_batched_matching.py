"""Gradient matching with every class in one batched call equals the class-by-class loop (CPU, float tolerance)."""

import dataclasses

import pytest
import torch
from conftest import read_set
from test_methods import make_problem, write_maps_and_mask

from condense.cli import main
from condense.core.accel import Speed, make_speed
from condense.core.errors import CondenseError
from condense.data.store import load_data
from condense.masks.application import masked_data
from condense.masks.variant import parse_variant
from condense.methods.gradient_matching import gradient_matching

BATCHED = Speed(batch_classes=True)


@pytest.fixture
def float64():
    """In double precision the two paths agree to rounding; in float32, cosine distances of small gradients
    amplify the different summation orders of batched kernels to ~1e-5 relative."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def in_double(problem):
    """The problem's real data and synthetic images in float64 (networks follow the default dtype)."""
    data = problem.data.data if hasattr(problem.data, "maps") else problem.data
    data.train_images = data.train_images.double()
    images = problem.images.detach().double().requires_grad_(True)
    problem.images = images
    problem.optimizer = torch.optim.SGD([images], lr=problem.settings.lr_img, momentum=0.5)
    return problem


def one_update(problem, seed=3):
    """The loss and the images' gradient of one outer loop (no image step), from fixed seeds."""
    torch.manual_seed(seed)
    fresh = problem.images.detach().clone()
    loss = gradient_matching(problem, torch.Generator().manual_seed(seed))
    step = problem.images.detach() - fresh  # one SGD step of lr_img (momentum has no history yet)
    return float(loss), step


@pytest.mark.parametrize(
    "method, strategy, model",
    [
        ("dc", "none", "convnet_w32"),
        ("dsa", "color_crop_cutout_flip_scale_rotate", "convnet_w32"),
        ("dc", "none", "convnet_bn"),  # BatchNorm with frozen statistics
        ("dsa", "flip_scale_rotate", "convnet_bn"),
    ],
)
def test_batched_classes_equal_the_class_loop(data_file, method, strategy, model, float64):
    results = {}
    for speed in (Speed(), BATCHED):
        problem = in_double(make_problem(data_file, method, ipc=2, model=model, strategy=strategy))
        problem.speed = speed
        results[speed.batch_classes] = one_update(problem)
    (loss_loop, step_loop), (loss_batched, step_batched) = results[False], results[True]
    assert loss_loop > 0 and loss_batched == pytest.approx(loss_loop, rel=1e-12)
    assert step_loop.abs().max() > 0
    torch.testing.assert_close(step_batched, step_loop, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("variant", ["fcn-r1.0-mean-soft-fixed", "fcn-r0.5-other-hard0.5-batch"])
def test_batched_classes_equal_the_class_loop_with_masks(data_file, tmp_path, variant, float64):
    _, maps_path = write_maps_and_mask(data_file, tmp_path, 1.0)
    from condense.data.maps import load_maps

    maps = load_maps(maps_path)
    results = {}
    for batched in (False, True):
        problem = make_problem(data_file, "dsa", ipc=2, strategy="flip_scale_rotate")
        real = load_data(data_file)
        real.train_images = real.train_images.double()
        everything = torch.ones(real.train_images.shape[0], dtype=torch.bool)
        problem.data = masked_data(real, maps, parse_variant(variant), everything)
        problem = in_double(problem)
        problem.speed = Speed(batch_classes=batched)
        results[batched] = one_update(problem)
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-12)
    torch.testing.assert_close(results[True][1], results[False][1], rtol=1e-9, atol=1e-12)


def test_classes_of_unequal_size_fall_back_to_the_loop(data_file):
    """A class smaller than batch_real gives batches that cannot be stacked: the same loss as the loop."""
    results = {}
    for batched in (False, True):
        problem = make_problem(data_file, "dc", ipc=2)
        problem.settings = dataclasses.replace(problem.settings, batch_real=100)  # every class has 8 images ...
        data = load_data(data_file)
        data.class_indices[1] = data.class_indices[1][3:]  # ... but class 1 only 5
        problem.data = data
        problem.speed = Speed(batch_classes=batched)
        results[batched] = one_update(problem)
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-6)


def test_auto_batches_on_cuda_only_and_bad_values_are_refused():
    assert make_speed(False, "cpu").batch_classes is False
    assert make_speed(False, "cuda").batch_classes is True
    assert make_speed(False, "cpu", "on").batch_classes is True and make_speed(False, "cuda", "off").batch_classes is False
    with pytest.raises(CondenseError, match="batch_classes 'yes' is invalid"):
        make_speed(False, "cpu", "yes")


def test_distill_batch_classes_flag_gives_the_same_set_within_tolerance(data_file, tmp_path):
    sets = {}
    for flag in ("off", "on"):
        out = tmp_path / f"{flag}.pt"
        assert (
            main(
                [
                    "distill",
                    "--method",
                    "dsa",
                    "--data",
                    str(data_file),
                    "--ipc",
                    "1",
                    "--iterations",
                    "2",
                    "--batch-real",
                    "4",
                    "--model",
                    "convnet_w32",
                    "--device",
                    "cpu",
                    "--seed",
                    "1",
                    "--batch-classes",
                    flag,
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
        sets[flag] = read_set(out)
    torch.testing.assert_close(sets["on"][0], sets["off"][0], rtol=1e-4, atol=1e-5)
    assert sets["on"][2].losses == pytest.approx(sets["off"][2].losses, rel=1e-4)
