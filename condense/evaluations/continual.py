"""Class-incremental learning with the set as memory: the official ``CL_DM.py`` protocol.

For each of ``class_orders`` class orders (order ``o`` is ``numpy.random.seed(o); numpy.random.permutation``
of the classes, as ``CL_DM.py``'s ``seed_cl``), the classes arrive in ``steps`` equal groups; after each step
the memory is the set's images of every class seen so far, ``num_nets`` fresh networks (outputs for every
class) are trained on it with DSA augmentation (``CL_DM.py`` sets ``args.dsa = True`` for every method) for
``epochs`` epochs, and each is tested on the test images of the classes seen. A perfect memory (the whole
training data) therefore reaches joint training at the last step.

Recorded per (class order, network): ``test_acc``, the accuracy after the last step (every class seen; the
value tables show), and ``step_accs``, the accuracy after each step; the record's extra facts hold the class
orders and the mean ± std per step over orders and networks (``CL_DM.py``'s printed line), which the
``continual`` figure draws against the number of classes seen.

Where ours differs (``docs/deviations.md``): ``CL_DM.py`` loads memories condensed step by step (files
``cl_res_DSA_*`` made by code that is not published); here the memory at each step is the classes' images of
one set condensed over all classes at once (DC, DSA, DM and DataDAM condense each class's images by a loss of
that class alone, so only the random draws differ), kept in the set's order. Network seeds: those of the
accuracy evaluation with seed ``seed + order``, the same at every step of an order, so order 0's last step
equals ``condense evaluate --kind accuracy`` of the set with the same settings network by network.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import AT_LEAST_ONE, POSITIVE
from ..core.errors import CondenseError
from ..core.settings import setting
from ..data.augment import resolve_strategy
from ..training.evaluation import evaluate_set
from ..training.protocol import TrainSettings
from . import Column, EvaluationKind, register_evaluation


@dataclass(frozen=True)
class ContinualSettings:
    steps: int = setting(5, "class groups arriving one after another (CL_DM.py: 5 or 10); must divide the class count",
                         bounds=AT_LEAST_ONE)  # fmt: skip
    class_orders: int = setting(5, "class orders (CL_DM.py's seed_cl 0..4)", bounds=AT_LEAST_ONE)
    num_nets: int = setting(3, "networks per step and order (CL_DM.py's num_eval)", bounds=AT_LEAST_ONE)
    epochs: int = setting(1000, "training epochs per network (CL_DM.py's epoch_eval_train)", bounds=AT_LEAST_ONE)
    augment: str = setting("dsa", "dsa (CL_DM.py augments every method's memory), none, or a strategy string")
    batch_size: int = setting(256, "training batch size", bounds=AT_LEAST_ONE)
    lr: float = setting(0.01, "SGD learning rate, x0.1 at half the epochs (CL_DM.py's lr_net)", bounds=POSITIVE)

    def train_settings(self, traits) -> TrainSettings:
        return TrainSettings(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, augment=resolve_strategy(self.augment, traits))


def class_order(order: int, num_classes: int) -> list[int]:
    """``CL_DM.py``: ``np.random.seed(seed_cl); np.random.permutation(num_classes)``."""
    return np.random.RandomState(order).permutation(num_classes).tolist()


def run(synthetic, data, settings: ContinualSettings, context):
    classes = data.num_classes
    if classes % settings.steps:
        raise CondenseError(f"--steps {settings.steps} does not divide the {classes} classes of {data.name}; choose a divisor")
    per_step = classes // settings.steps
    images, labels = synthetic.images.to(context.device), synthetic.labels.to(context.device)
    test_images, test_labels = data.test_images, data.test_labels
    train = settings.train_settings(data.traits)
    runs, orders = [], []
    for order in range(settings.class_orders):
        sequence = class_order(order, classes)
        orders.append(sequence)
        accs = []  # [step][net]
        for step in range(settings.steps):
            seen = torch.tensor(sequence[: (step + 1) * per_step], device=labels.device)
            memory = torch.isin(labels, seen)
            tested = torch.isin(test_labels, seen.to(test_labels.device))
            nets = evaluate_set(images[memory], labels[memory], test_images[tested], test_labels[tested], model=context.model,
                                num_classes=classes, num_nets=settings.num_nets, settings=train, seed=context.seed + order,
                                speed=context.speed)  # fmt: skip
            accs.append(nets)
        for i in range(settings.num_nets):
            last = accs[-1][i]
            value = {"net": i, "seed": last["seed"], "order": order, "test_acc": last["test_acc"],
                     "step_accs": [accs[s][i]["test_acc"] for s in range(settings.steps)],
                     "diverged": any(accs[s][i]["diverged"] for s in range(settings.steps)),
                     "seconds": sum(accs[s][i]["seconds"] for s in range(settings.steps))}  # fmt: skip
            runs.append(value)
            for hook in context.hooks:
                hook(value)
    return runs, {
        "class_orders": orders,
        "test_images": int(test_labels.numel()),
        "per_step": per_step_summary(runs, settings.steps, per_step),
    }


def per_step_summary(runs: list[dict], steps: int, per_step: int) -> list[dict]:
    """Mean ± population std (%) per step over every class order and network that did not diverge."""
    kept = [r for r in runs if not r["diverged"]]
    summary = []
    for s in range(steps):
        accs = [100 * r["step_accs"][s] for r in kept]
        summary.append({"classes_seen": (s + 1) * per_step, "mean": statistics.fmean(accs) if accs else None,
                        "std": statistics.pstdev(accs) if accs else None, "n": len(accs)})  # fmt: skip
    return summary


KIND = register_evaluation(
    EvaluationKind(
        name="continual",
        summary="class-incremental learning with the set as memory (CL_DM.py): accuracy on the classes seen after each step",
        settings=ContinualSettings,
        columns=(Column("test_acc", "accuracy after the last step (%)", scale=100.0),),
        run=run,
        record_settings=lambda settings, data: {
            **settings.train_settings(data.traits).to_dict(),
            "steps": settings.steps,
            "class_orders": settings.class_orders,
            "num_nets": settings.num_nets,
        },  # fmt: skip
    )
)
