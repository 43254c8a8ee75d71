"""One file format for every trained network: the whole-dataset classifier, the attention FCN, ...

``{"format": 2, "kind", "name", "channel", "num_classes", "im_size", "state_dict", "meta"}``: the
:class:`~condense.models.spec.NetworkSpec` rebuilds the module from its registry, the CPU state
dict fills it, ``meta`` says how it was trained (dataset, seed, settings, accuracy).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch
from .classifiers import build_model
from .fcn import build_fcn
from .spec import NetworkSpec

FORMAT = 2
BUILDERS = {"classifier": build_model, "fcn": build_fcn}
_KEYS = ("kind", "name", "channel", "num_classes", "im_size", "state_dict")


def save_network(path: str | Path, net: nn.Module, meta: dict) -> None:
    """Write a trained network (its spec, CPU state dict and ``meta``) atomically."""
    spec: NetworkSpec | None = getattr(net, "network_spec", None)
    if spec is None:
        raise ValueError("save_network needs a network made by build_model or build_fcn (it has no network_spec)")
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    save_torch({"format": FORMAT, **spec.to_dict(), "state_dict": state, "meta": dict(meta)}, path)


def load_network(path: str | Path, device: torch.device | str = "cpu", kind: str | None = None) -> nn.Module:
    """Rebuild a saved network in eval mode on ``device``; ``net.meta`` holds the saved meta.

    ``kind`` ("classifier" or "fcn"), when given, must match the file's."""
    stored = load_torch(path, what="trained network")
    if not isinstance(stored, dict) or any(k not in stored for k in _KEYS) or stored["kind"] not in BUILDERS:
        raise CondenseError(
            f"trained network file {str(path)!r} lacks {', '.join(_KEYS)}; rerun the stage that trained it "
            "(`condense full-baseline` or `condense train-attention`)"
        )
    if kind is not None and stored["kind"] != kind:
        raise CondenseError(
            f"network file {str(path)!r} holds a {stored['kind']} ({stored['name']}), but a {kind} is needed here; "
            f"pass the output of {'`condense full-baseline`' if kind == 'classifier' else '`condense train-attention`'}"
        )
    net = BUILDERS[stored["kind"]](stored["name"], stored["channel"], stored["num_classes"], tuple(stored["im_size"]))
    net.load_state_dict(stored["state_dict"])
    net.meta = dict(stored.get("meta", {}))
    return net.to(device).eval()
