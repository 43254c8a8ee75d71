"""Speed options shared by the stages: ``torch.compile`` with a channels-last layout.

Measured on the 2-core CPU (docs/environment.md and ``benchmarks/``): eager PyTorch spends
much of a ConvNet step in unfused norm / ReLU / pooling passes over large activation
maps. ``torch.compile`` fuses them, and with channels-last activations oneDNN's
convolutions run faster. Measured side by side (benchmarks/results/official_vs_ours_cpu.md):
1.0-1.1x on training steps, 1.3-1.4x on forward-heavy work (DM, test passes), for a
one-off compile of 5-40 s per graph and process. Channels-last without compile is
slower, so the two come as one switch.

Compiled graphs are specialised to their module, so the stages reuse ONE network
instance and load each fresh random initialisation into it in place
(:meth:`FastNet.load_`): the compile is paid once per process, not per network.
``torch.compile`` cannot differentiate twice (``create_graph=True``), so gradient
matching runs the synthetic side on the eager module; both views share parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .errors import CondenseError


@dataclass(frozen=True)
class Speed:
    """How networks run: eager (the straightforward reference) or compiled with channels-last; and whether
    gradient matching computes every class's gradients in one batched call (``torch.func.vmap``) rather
    than class by class (same loss within float tolerance; fewer, larger kernels, which pays on a GPU)."""

    compile: bool = False
    batch_classes: bool = False
    ensemble: bool = False  # evaluation: a set's networks trained as one vmap-ed ensemble (condense.training.ensemble)

    @property
    def channels_last(self) -> bool:
        return self.compile

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """Images in the layout the networks expect (a no-op for eager runs)."""
        if self.channels_last and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images


EAGER = Speed()


AUTO_ON_OFF = ("auto", "on", "off")


def make_speed(compile: bool, device: torch.device | str = "cpu", batch_classes: str = "auto", ensemble: str = "auto") -> Speed:
    """The Speed of a stage; compiling on the CPU first checks that torch.compile has a C++ compiler
    (Inductor builds C++ kernels there), so a machine without one fails at once with the fix.
    ``batch_classes`` "auto" batches the classes on CUDA only: on the CPU the class-by-class loop already
    runs at the convolution roofline (benchmarks/results/batched_paths_cpu.md). ``ensemble`` likewise."""
    on_cuda = torch.device(device).type == "cuda"
    chosen = {}
    for name, value in (("batch_classes", batch_classes), ("ensemble", ensemble)):
        if value not in AUTO_ON_OFF:
            raise CondenseError(f"{name} {value!r} is invalid; use one of: {', '.join(AUTO_ON_OFF)}")
        chosen[name] = on_cuda if value == "auto" else value == "on"
    speed = Speed(compile=bool(compile), **chosen)
    if speed.compile and torch.device(device).type == "cpu":
        check_cpp_compiler()
    return speed


def check_cpp_compiler() -> None:
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # a torch that moved it: let torch.compile report for itself
        return
    try:
        get_cpp_compiler()
    except Exception as exc:  # torch raises its own InvalidCxxCompiler
        raise CondenseError(
            f"--compile on the CPU needs a C++ compiler ({str(exc).splitlines()[0]}); install g++ "
            f"(apt-get install g++) or run without --compile (drop the stage from the config's `compile` list)"
        ) from None


class FastNet:
    """One network instance, its optional compiled view, and in-place re-initialisation.

    ``eager`` is the module itself; ``forward`` and ``embed`` are compiled views of it when
    ``speed.compile`` is set (else the module's own methods). All share the parameters."""

    def __init__(self, net: nn.Module, speed: Speed = EAGER):
        self.eager = net.to(memory_format=torch.channels_last) if speed.channels_last else net
        if speed.compile:
            # dynamic=False: batch sizes here are few and fixed; static graphs are faster on CPU.
            self.forward = torch.compile(self.eager, dynamic=False)
            self.embed = torch.compile(self.eager.embed, dynamic=False) if hasattr(self.eager, "embed") else None
        else:
            self.forward = self.eager
            self.embed = getattr(self.eager, "embed", None)

    def load_(self, fresh: nn.Module) -> FastNet:
        """Copy ``fresh``'s parameters and buffers into the reused module (keeps its layout and graphs)."""
        target = self.eager.state_dict()
        to_device = next(iter(target.values())).is_cuda
        with torch.no_grad():
            for name, value in fresh.state_dict().items():
                # The fresh network is initialised on the CPU (the reference's random stream). A blocking
                # host-to-device copy waits for the device's queue every iteration; from pinned memory the
                # copy is queued like a kernel (the caching host allocator keeps the buffer until it ran).
                target[name].copy_(value.pin_memory() if to_device else value, non_blocking=to_device)
        return self

    def parameters(self) -> list[torch.Tensor]:
        return list(self.eager.parameters())
