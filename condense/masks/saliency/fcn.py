"""The paper's mask source: the attention FCN's map A = sigmoid(logsumexp over classes of φ(x)) (eq. 3)."""

from __future__ import annotations

import torch

from ...models.fcn import attention_map
from . import SaliencySource, register_source


@torch.no_grad()
def attribute(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    return attention_map(network(images))


SOURCE = register_source(
    SaliencySource(
        name="fcn",
        label="FCN attention",
        needs="fcn",
        attribute=attribute,
        summary="sigmoid(logsumexp of the attention FCN's class maps), the paper's eq. 3",
    )
)
