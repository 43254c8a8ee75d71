"""What rebuilds a network: its registry (kind), name and shape. Every builder attaches it to the module."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class NetworkSpec:
    kind: str  # "classifier" (condense.models.classifiers.MODELS) or "fcn" (condense.models.fcn.FCNS)
    name: str
    channel: int
    num_classes: int
    im_size: tuple[int, int]

    def to_dict(self) -> dict:
        return {**asdict(self), "im_size": list(self.im_size)}
