"""Test accuracy of fresh networks trained on the set: the reference protocol (docs/reference-protocol.md).

SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, lr × 0.1 at half the epochs; 1000 epochs with DSA
augmentation for DSA/DM sets, 300 without (:mod:`condense.training.evaluation`). Each network gets its own
seed derived from the run seed, so a run is reproducible network by network; all are tested on one fixed
subset of the test split (``test_per_class``; 0 = all of it), the same for every set.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE
from ..core.errors import CondenseError
from ..core.runtime import make_generator
from ..core.settings import setting
from ..data.augment import parse_strategy, resolve_strategy
from ..data.store import subset_per_class
from ..training.cutmix import idc_mix_p
from ..training.evaluation import evaluate_set
from ..training.protocol import TrainSettings
from . import Column, EvaluationKind, register_evaluation

REFERENCE_LR = 0.01  # the official evaluate_synset's lr_net (IDC's argument.py lr too)
IDC = "idc"  # the augment value that selects IDC's evaluation protocol


def resolve_lr(value, context) -> float:
    """The training learning rate: the one given, else the set's learned one (MTT), else the reference 0.01.
    Shared by every kind that trains on a set."""
    if value is not None:
        return value
    learned = context.get("learned_lr")
    if learned is not None and not float(learned) > 0:  # MTT's learned rate is not kept positive (nor is it officially)
        raise CondenseError(f"the set's learned learning rate {learned} is not positive, so it cannot train; give --lr")
    return REFERENCE_LR if learned is None else float(learned)


IDC_BATCH = 64  # IDC's argument.py batch_size


def _batch_size(value, context) -> int:
    if value is not None:
        return value
    return IDC_BATCH if context["settings"].get("augment") == IDC else 256


@dataclass(frozen=True)
class AccuracySettings:
    num_nets: int = setting(5, "random networks to train", bounds=AT_LEAST_ONE)
    epochs: int = setting(300, "300 without augmentation, 1000 with DSA (reference; IDC's protocol: 1000)", bounds=AT_LEAST_ONE)
    augment: str = setting("none", "none, dsa (the dataset's reference DSA strategy), an explicit strategy string, or idc: "
                           "IDC's protocol (its evaluation of IDC sets: the dataset's DSA strategy without cutout in IDC's "
                           "order, CutMix, lr × 0.2 after 2/3 and 5/6 of the epochs, batch 64); only for the sets it is "
                           "asked for")  # fmt: skip
    batch_size: int = setting(None, "training batch size (default 256; 64 with --augment idc)", bounds=AT_LEAST_ONE, resolve=_batch_size)
    lr: float = setting(None, "SGD learning rate, ×0.1 at half the epochs (default: the set's learned learning rate where it "
                        "has one, as MTT's evaluation does; else 0.01, the reference)", bounds=POSITIVE, resolve=resolve_lr)  # fmt: skip
    test_per_class: int = setting(0, "test on this many images per class, one fixed random subset (0 = the whole "
                                  "test set; for quick profiles)", bounds=NON_NEGATIVE)  # fmt: skip

    def train_settings(self, traits) -> TrainSettings:
        return train_settings_of(self, traits)


def train_settings_of(settings, traits) -> TrainSettings:
    """The training an ``augment`` value stands for: the reference protocol with that augmentation, or IDC's
    (``idc``: ``argument.py`` with CutMix: the DSA strategy without cutout, mix_p by dataset, β 1)."""
    if settings.augment == IDC:
        strategy = "_".join(name for name in parse_strategy(traits.dsa_strategy) if name != "cutout") or "none"
        return TrainSettings(epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size, augment=strategy,
                             protocol="idc", cutmix=idc_mix_p(traits.base))  # fmt: skip
    return TrainSettings(
        epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size, augment=resolve_strategy(settings.augment, traits)
    )


def test_subset(data, settings: AccuracySettings):
    """The same test images for every set and network (their own fixed seed), so rows stay comparable."""
    return subset_per_class(data.test_labels, settings.test_per_class, data.num_classes, make_generator(0), flag="--test-per-class")


def run(synthetic, data, settings: AccuracySettings, context):
    test = test_subset(data, settings)
    images, labels = synthetic.images.to(context.device), synthetic.labels.to(context.device)
    runs = evaluate_set(images, labels, data.test_images[test], data.test_labels[test], model=context.model,
                        num_classes=data.num_classes, num_nets=settings.num_nets, settings=settings.train_settings(data.traits),
                        seed=context.seed, speed=context.speed, hooks=context.hooks)  # fmt: skip
    return runs, {"test_images": int(test.numel()), "compile": context.speed.compile}


KIND = register_evaluation(
    EvaluationKind(
        name="accuracy",
        summary="test accuracy of fresh networks trained on the set (the reference protocol)",
        settings=AccuracySettings,
        columns=(Column("test_acc", "test accuracy (%)", scale=100.0),),
        run=run,
        record_settings=lambda settings, data: settings.train_settings(data.traits).to_dict(),
    )
)
