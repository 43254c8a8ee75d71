"""Test accuracy with and without augmentation, network by network: what DD-Ranking's augmentation-robust
score (ARS) is made of.

Each of ``num_nets`` networks is trained twice from the same initialisation (the accuracy evaluation's seeds):
once with ``augment`` (the dataset's DSA strategy by default, the reference's augmentation) and once without,
for the same ``epochs`` (DD-Ranking trains both for its ``num_epochs``, 300 by default), and each is tested on
the same test images. ``test_acc_aug`` (what tables show by default) and ``test_acc_naug`` are recorded per
network. ``condense table --layout relative`` combines them with a random real subset's of the same IPC into
ARS (``condense/reporting/relative.py``, ``docs/relative-scores.md``).

Where ours differs from DD-Ranking (``ddranking/metrics/aug_robust.py`` at b8b09664): its default augmentation
is CutMix (``data_aug_func='cutmix'``), ours the reference's DSA; it searches the learning rate of the random
subset (and of a set with none); ours is the reference protocol's fixed 0.01, or the set's learned one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.errors import CondenseError
from ..core.settings import setting
from ..data.augment import resolve_strategy
from ..training.evaluation import evaluate_set
from ..training.protocol import TrainSettings
from . import Column, EvaluationKind, register_evaluation
from .accuracy import resolve_lr, test_subset


@dataclass(frozen=True)
class AugmentationSettings:
    num_nets: int = setting(5, "random networks, each trained with and without augmentation (DD-Ranking's num_eval)", bounds=AT_LEAST_ONE)
    epochs: int = setting(300, "training epochs of both trainings (DD-Ranking's num_epochs)", bounds=AT_LEAST_ONE)
    augment: str = setting("dsa", "the augmentation of the first training: dsa (the dataset's DSA strategy) or a strategy string")
    batch_size: int = setting(256, "training batch size", bounds=AT_LEAST_ONE)
    lr: float = setting(None, "SGD learning rate, x0.1 at half the epochs (default: the set's learned learning rate where it "
                        "has one; else 0.01, the reference)", bounds=POSITIVE, resolve=resolve_lr)  # fmt: skip
    test_per_class: int = setting(0, "test on this many images per class, one fixed random subset (0 = the whole test set)",
                                  bounds=NON_NEGATIVE)  # fmt: skip

    def train_settings(self, traits, augmented: bool) -> TrainSettings:
        augment = resolve_strategy(self.augment, traits) if augmented else "none"
        return TrainSettings(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, augment=augment)


def run(synthetic, data, settings: AugmentationSettings, context):
    if resolve_strategy(settings.augment, data.traits) == "none":
        raise CondenseError("--augment none leaves nothing to compare; give dsa or a strategy string")
    test = test_subset(data, settings)
    images, labels = synthetic.images.to(context.device), synthetic.labels.to(context.device)

    def train(augmented: bool) -> list[dict]:
        return evaluate_set(images, labels, data.test_images[test], data.test_labels[test], model=context.model,
                            num_classes=data.num_classes, num_nets=settings.num_nets,
                            settings=settings.train_settings(data.traits, augmented), seed=context.seed, speed=context.speed)  # fmt: skip

    with_aug, without_aug = train(True), train(False)  # same seeds: network i starts from the same weights in both
    runs = []
    for aug, naug in zip(with_aug, without_aug):
        value = {"net": aug["net"], "seed": aug["seed"], "test_acc_aug": aug["test_acc"], "test_acc_naug": naug["test_acc"],
                 "diverged": bool(aug["diverged"] or naug["diverged"]), "seconds": aug["seconds"] + naug["seconds"]}  # fmt: skip
        runs.append(value)
        for hook in context.hooks:
            hook(value)
    return runs, {"test_images": int(test.numel())}


KIND = register_evaluation(
    EvaluationKind(
        name="augmentation",
        summary="test accuracy of the same networks trained with and without augmentation (DD-Ranking's ARS inputs)",
        settings=AugmentationSettings,
        columns=(
            Column("test_acc_aug", "test accuracy with augmentation (%)", scale=100.0),
            Column("test_acc_naug", "test accuracy without augmentation (%)", scale=100.0),
        ),  # fmt: skip
        run=run,
        record_settings=lambda settings, data: {
            **settings.train_settings(data.traits, True).to_dict(),
            "num_nets": settings.num_nets,
        },  # fmt: skip
    )
)
