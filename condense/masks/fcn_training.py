"""Train the attention FCN: BCE between pooled class maps and the one-hot label (paper §3.2, eq. 2).

Loss: ``binary_cross_entropy_with_logits(pool_logits(φ(x), pool), one_hot(y))`` with ``pool avg``
(the paper's text) or ``lse`` (smooth max, the authors' code). SGD with momentum and weight decay,
a cosine learning-rate schedule stepped per batch over all steps down to ``eta_min``, random crops
(``crop_pad`` px of padding, as integer translations, filled with the mean colour — zero in
normalised space — or black, as torchvision's ``RandomCrop(32, padding=8)`` pads the authors'
PIL images) and horizontal flips (only for datasets whose traits say a flip keeps the class),
both drawn per image on a CPU generator and applied to the whole batch at once. It runs through the same training loop as every classifier
(:func:`condense.training.loop.fit`). The test accuracy of the pooled logits (argmax) measures how
well the FCN learned the task.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, UNIT
from ..core.errors import CondenseError
from ..core.runtime import make_generator
from ..core.settings import setting
from ..data.augment import AugmentParams, apply, parse_strategy, sample
from ..data.store import RealData, subset_per_class
from ..models.fcn import FCNS, POOLINGS, build_fcn, pool_logits
from ..training.loop import accuracy, fit

log = logging.getLogger("condense.train_attention")


@dataclass(frozen=True)
class FCNTrainingSettings:
    """The attention FCN's training, each default the authors' (``self-attention.py``; DESIGN §5) where they state one.
    Deviations: ``lr`` (their script states none; torch's SGD then has none either) and ``pretrained`` (their
    ImageNet weights need a download: pass ``--pretrained imagenet`` where one is possible); docs/deviations.md."""

    model: str = setting("resnet18_fcn", "attention model", choices=lambda: FCNS.names())
    pool: str = setting(
        "lse", "spatial pooling of the class maps: lse (the authors' code) or avg (the paper)", choices=lambda: POOLINGS.names()
    )
    epochs: int = setting(50, "training epochs (the authors: 50)", bounds=AT_LEAST_ONE)
    lr: float = setting(
        0.1, "initial learning rate, cosine-annealed to eta_min over all steps (ours: the authors state none)", bounds=POSITIVE
    )
    batch_size: int = setting(128, "batch size (the authors: 128)", bounds=AT_LEAST_ONE)
    weight_decay: float = setting(1e-4, "SGD weight decay (the authors: 1e-4)", bounds=NON_NEGATIVE)
    momentum: float = setting(0.9, "SGD momentum (the authors: 0.9)", bounds=UNIT)
    per_class: int = setting(0, "train on this many images per class (0 = all); for quick profiles", bounds=NON_NEGATIVE)
    augment: str = setting("auto", "'_'-joined families applied in turn with per-image parameters (crop, flip, ...), none, or auto "
                           "(crop_flip; crop only where a flip changes the class, e.g. digits)")  # fmt: skip
    crop_pad: int = setting(8, "random-crop padding in pixels (the authors: RandomCrop(32, padding=8))", bounds=NON_NEGATIVE)
    crop_fill: str = setting("black", "what the crop's padding holds: black (the authors', PIL padding) or mean (zero in "
                             "normalised space)", choices=("mean", "black"))  # fmt: skip
    eta_min: float = setting(0.001, "floor of the cosine schedule (the authors: 0.001)", bounds=NON_NEGATIVE)
    pretrained: str = setting(None, "resnet18_fcn: imagenet (torchvision's published file, cached or downloaded once, sha256-checked) or a LOCAL "
                              "resnet18 state dict; none = from scratch (ours: the authors start from ImageNet)")  # fmt: skip

    def check(self) -> None:
        """What one field's range cannot say: the schedule's floor stays below its start."""
        if not 0 <= self.eta_min < self.lr:
            raise CondenseError(f"--eta-min {self.eta_min} must be in [0, --lr {self.lr})")

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_augment(augment: str, flip_safe: bool) -> tuple[str, ...]:
    if augment == "auto":
        return ("crop", "flip") if flip_safe else ("crop",)
    return parse_strategy(augment)


def per_image_augment(families: tuple[str, ...], params: AugmentParams, crop_fill: torch.Tensor | None = None):
    """Each family in turn, parameters drawn per image (vectorised over the batch). ``crop_fill``
    (1, C, 1, 1): the value the crop's padding takes (default 0, the mean colour); a translation
    with zero fill of x − f, plus f, is the translation with fill f."""

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for family in families:
            draw = sample(family, x.shape[0], generator, x.device, params, per_image=True)
            if family == "crop" and crop_fill is not None:
                x = apply(x - crop_fill, draw) + crop_fill
            else:
                x = apply(x, draw)
        return x

    return augment


def black_fill(data: RealData) -> torch.Tensor:
    """Pixel value 0 in normalised space, (1, C, 1, 1)."""
    mean = torch.as_tensor(data.mean, dtype=torch.float32, device=data.train_images.device).view(1, -1, 1, 1)
    std = torch.as_tensor(data.std, dtype=torch.float32, device=data.train_images.device).view(1, -1, 1, 1)
    return -mean / std


def train_fcn(data: RealData, settings: FCNTrainingSettings, seed: int):
    """(trained FCN, metrics dict) on ``data``'s device; the same seed gives the same network."""
    settings.check()
    device = data.train_images.device
    families = resolve_augment(settings.augment, data.traits.flip_safe)
    params = AugmentParams(ratio_crop_pad=settings.crop_pad / data.im_size[0])  # int(H * ratio + 0.5) = crop_pad
    gen = make_generator(seed)
    idx = subset_per_class(data.train_labels, settings.per_class, data.num_classes, gen)
    images, labels = data.train_images[idx], data.train_labels[idx]
    targets_eye = torch.eye(data.num_classes, device=device)

    torch.manual_seed(seed)
    net = build_fcn(settings.model, data.channel, data.num_classes, data.im_size, pretrained=settings.pretrained).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
    n = images.shape[0]
    steps_per_epoch = -(-n // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch, eta_min=settings.eta_min)
    log.info(
        "training %s (%s pooling, augment %s) on %d images of %s for %d epochs",
        settings.model,
        settings.pool,
        "_".join(families) or "none",
        n,
        data.name,
        settings.epochs,
    )

    epoch_losses: list[float] = []
    train_acc = [0.0]

    def after_epoch(epoch, stats, bar):
        epoch_losses.append(float(stats.loss_sum) / n)
        train_acc[0] = float(stats.correct) / n
        bar.set_postfix(loss=f"{epoch_losses[-1]:.4f}", acc=f"{train_acc[0]:.3f}")
        log.info(
            "epoch %d/%d: loss %.4f, running train accuracy %.4f, lr %.4g",
            epoch + 1,
            settings.epochs,
            epoch_losses[-1],
            train_acc[0],
            scheduler.get_last_lr()[0],
        )

    pooled = lambda maps: pool_logits(maps, settings.pool)  # noqa: E731
    started = time.perf_counter()
    fit(
        net,
        images,
        labels,
        passes=settings.epochs,
        batch_size=settings.batch_size,
        generator=gen,
        optimizer=optimizer,
        augment=per_image_augment(families, params, black_fill(data) if settings.crop_fill == "black" else None) if families else None,
        loss_fn=lambda logits, y: F.binary_cross_entropy_with_logits(logits, targets_eye[y]),
        logits_fn=pooled,
        after_step=scheduler.step,
        after_epoch=after_epoch,
        desc=f"train {settings.model}",
    )
    train_seconds = time.perf_counter() - started

    test_acc = accuracy(net, data.test_images, data.test_labels, batch_size=512, logits_fn=pooled)
    log.info("test accuracy of the pooled maps %.4f (%.0f s of training)", test_acc, train_seconds)
    recorded = {
        **asdict(settings),
        "augment": "_".join(families) or "none",
        "pretrained": str(settings.pretrained) if settings.pretrained else None,
        "schedule": "cosine",
    }
    metrics = {
        "n_train": n,
        "test_acc": test_acc,
        "train_loss": epoch_losses[-1],
        "train_acc": train_acc[0],
        "epochs": settings.epochs,
        "epoch_losses": epoch_losses,
        "seconds": train_seconds,
        "settings": recorded,
    }
    return net, metrics
