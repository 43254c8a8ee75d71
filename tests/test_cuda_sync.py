"""No host synchronisation inside the iteration loops on CUDA (skipped without a GPU).

torch.cuda.set_sync_debug_mode("error") turns every synchronising call (``.item()``, ``float()`` of a
device tensor, a device-to-host copy, ``nonzero``) into an error while it is set; it is set only around
each condensation step and each training pass, so the loop's own reads (one per log point) are allowed."""

import contextlib
import dataclasses

import pytest
import torch

from condense.core.accel import Speed
from condense.methods import METHODS
from condense.methods.loop import LoopState, Run, condense
from condense.methods.problem import Problem, initial_images
from condense.training.loop import train_epoch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@contextlib.contextmanager
def no_sync():
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


def cuda_data(data_file):
    from condense.data.store import load_data

    return load_data(data_file, torch.device("cuda"))


@pytest.mark.parametrize(
    "method, overrides",
    [
        ("dm", {"batch_real": 8, "iterations": 3}),
        ("dsa", {"batch_real": 8, "iterations": 2, "outer_loop": 2, "inner_loop": 1, "batch_train": 4}),
        ("datadam", {"batch_real": 8, "iterations": 3}),
    ],
)
@pytest.mark.parametrize("batch_classes", [False, True])
def test_condensation_steps_do_not_synchronise(data_file, method, overrides, batch_classes):
    data = cuda_data(data_file)
    spec = METHODS.get(method)
    settings = spec.resolve(ipc=2, model="convnet_w32", traits=data.traits, overrides=overrides)
    images, labels = initial_images(data, settings, 0)
    images.requires_grad_(True)
    problem = Problem(
        data,
        images,
        labels,
        torch.optim.SGD([images], lr=settings.lr_img, momentum=spec.image_momentum),
        settings,
        Speed(batch_classes=batch_classes),
    )
    problem.new_network()  # first construction (cuDNN set-up) outside the check

    def step(problem, generator):
        with no_sync():
            return spec.step(problem, generator)

    run = Run(dataclasses.replace(spec, step=step), problem, 0, LoopState(), {})
    assert condense(run, hooks=(), defer=True)
    assert len(run.state.losses) == settings.iterations + 1


def test_a_training_pass_does_not_synchronise(data_file):
    data = cuda_data(data_file)
    from condense.models.classifiers import build_model

    net = build_model("convnet_w32", data.channel, data.num_classes, data.im_size).cuda()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)  # draws on the CPU, copied without a sync
    train_epoch(net, optimizer, data.train_images, data.train_labels, 8, generator, "flip_scale_rotate")  # warm-up
    with no_sync():
        stats = train_epoch(net, optimizer, data.train_images, data.train_labels, 8, generator, "flip_scale_rotate")
    assert torch.isfinite(stats.loss)


@pytest.mark.parametrize("mask", ["fcn-r0.5-other-soft-fixed", "fcn-r0.5-other-soft-batch", "fcn-r0.5-black-soft-batch"])
def test_masked_batches_do_not_synchronise(data_file, mask):
    """Masks drawn per batch (a drawing fill or the batch scheme) go the dense way on CUDA: no count read."""
    from condense.masks.application import MaskedData
    from condense.masks.selection import select_masked
    from condense.masks.variant import parse_variant

    data = cuda_data(data_file)
    variant = parse_variant(mask)
    n = data.train_images.shape[0]
    maps = torch.randint(0, 256, (n, *data.im_size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    selected = select_masked(data.train_labels.cpu(), data.num_classes, variant.ratio, torch.Generator().manual_seed(0))
    view = MaskedData(data, maps, variant, selected if variant.scheme == "fixed" else None)
    assert view.dense
    generator = torch.Generator(device="cuda").manual_seed(0)
    view.sample_class(0, 4, generator)  # warm-up
    with no_sync():
        batch = view.sample_class(1, 4, generator)
    assert batch.shape[0] == 4
