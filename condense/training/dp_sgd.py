"""DP-SGD training with Opacus (Abadi et al. 2016; the field's library, Yousefpour et al. 2021): the privacy
baseline a condensed set is weighed against in :mod:`condense.stages.membership` (``--source dpsgd``).

The network trains on real images directly, with per-example gradients clipped to ``max_grad_norm`` and
Gaussian noise calibrated by Opacus's accountant (PRV) so that the whole training is (``epsilon``, ``delta``)-DP
with Poisson-sampled batches of expected size ``batch_size`` (drawn from torch's global generator, which the caller
seeds: Opacus takes a sampler generator only in its secure mode). Otherwise it follows the reference protocol's
optimiser (SGD, momentum 0.9, weight decay 5e-4, lr × 0.1 after half the epochs; one pass per epoch instead of
the reference's epochs + 1, since the accountant counts epochs) and applies no augmentation (DP-SGD's
standard; augmentation multiplicity is another method). Layers Opacus cannot take per-example gradients of
(batch norm) are replaced by its ``ModuleValidator.fix`` (group norm); ConvNet's instance norm needs none.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..core.errors import CondenseError
from .protocol import TrainSettings


@dataclass(frozen=True)
class DPSettings:
    epsilon: float  # the target ε of the whole training
    delta: float = 1e-5  # the usual δ, below 1 / n for every pool here
    max_grad_norm: float = 1.0  # per-example clipping bound C

    def to_dict(self) -> dict:
        return asdict(self)


def _opacus():
    try:
        import opacus
    except ImportError:
        raise CondenseError("--source dpsgd needs Opacus; install it (pip install 'condense[privacy]' or pip install opacus)") from None
    return opacus


def private_model(net: nn.Module) -> nn.Module:
    """``net`` as Opacus can train it: unchanged when it validates, else with batch norm replaced by group norm."""
    _opacus()
    from opacus.validators import ModuleValidator

    return net if not ModuleValidator.validate(net, strict=False) else ModuleValidator.fix(net)


def train_dp(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, train: TrainSettings, dp: DPSettings,
             generator: torch.Generator) -> dict:  # fmt: skip
    """Train ``net`` (from :func:`private_model`) in place with DP-SGD; returns the final loss, the ε the
    accountant reached, the noise multiplier and the seconds."""
    opacus = _opacus()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=min(train.batch_size, images.shape[0]), generator=generator
    )
    optimizer = torch.optim.SGD(net.parameters(), lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    engine = opacus.PrivacyEngine(accountant="prv")
    model, optimizer, loader = engine.make_private_with_epsilon(
        module=net, optimizer=optimizer, data_loader=loader, target_epsilon=dp.epsilon, target_delta=dp.delta,
        epochs=train.epochs, max_grad_norm=dp.max_grad_norm, noise_generator=generator,
    )  # fmt: skip
    started, loss = time.perf_counter(), torch.tensor(float("nan"))
    model.train()
    for epoch in range(train.epochs):
        if epoch == train.epochs // 2:  # the reference's one drop, × 0.1 after half
            for group in optimizer.param_groups:
                group["lr"] *= 0.1
        for x, y in loader:
            if x.shape[0] == 0:  # Poisson sampling may draw an empty batch
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
    if not torch.isfinite(loss):
        raise CondenseError(f"DP-SGD training diverged (loss {loss.item()}); lower --train-lr or raise --max-grad-norm")
    model.eval()
    model.remove_hooks()  # ``net`` (trained in place) queries like any network from here on
    return {"train_loss": float(loss), "epsilon": float(engine.get_epsilon(dp.delta)), "noise_multiplier": float(optimizer.noise_multiplier),
            "train_seconds": time.perf_counter() - started}  # fmt: skip
