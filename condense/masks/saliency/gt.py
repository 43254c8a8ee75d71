"""The oracle mask source: the exact foreground of each image as its map (A = 1 on the object, 0 elsewhere).

Only datasets that store their foregrounds have it (``condense derive --kind backgrounds``); it is
the upper bound that the other sources are scored against and condensed beside.
"""

from __future__ import annotations

import torch

from ...core.errors import CondenseError
from . import SaliencySource, register_source


def attribute(network, images: torch.Tensor, labels: torch.Tensor, context) -> torch.Tensor:
    if context.foreground is None:
        raise CondenseError("the gt source needs a dataset that stores its foregrounds (condense derive --kind backgrounds)")
    return context.foreground.to(images.device).float()


SOURCE = register_source(
    SaliencySource(
        name="gt",
        label="exact foreground",
        needs="foreground",
        attribute=attribute,
        summary="the exact foreground (an oracle)",
    )
)
