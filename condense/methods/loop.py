"""The condensation loop: iterations of a method's step with their seeds, and hooks that watch it.

Iteration ``it`` draws everything random from seeds derived from (run seed, it): the network
initialisation (torch's global RNG) and a generator for real batches and augmentation. The
state a resume needs is therefore only the images, the optimiser state, the loss curve and the
next iteration; a run resumed from a checkpoint ends with exactly the tensors of an uninterrupted
run. As in the reference code, ``iterations N`` runs iterations 0..N (N + 1 image updates).

Hooks see every iteration (``after_iteration``), a stop signal (``on_stop``: SIGTERM or SIGUSR1, noted
between iterations, :mod:`condense.core.signals`) and the end of the run (``on_end``, called by
:func:`end_run` once the caller has written the set, so a checkpoint is never deleted before the
set it leads to exists): checkpoints (:mod:`condense.methods.checkpoint`) are one; snapshots, cost
meters and divergence checks plug in the same way.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..core import signals
from ..core.errors import CondenseError
from ..core.runtime import derive_seed, make_generator, progress
from ..data.records import Provenance, SyntheticSet
from .problem import Problem
from .spec import MethodSpec

log = logging.getLogger("condense.distill")


@dataclass
class LoopState:
    """Where a run stands: the next iteration, the loss of each finished one, seconds spent iterating,
    and the energy spent (joules; None when no meter could be read in some part of the run)."""

    next_iteration: int = 0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    energy_j: float | None = 0.0
    snapshots: dict = field(default_factory=dict)  # iteration -> {"images", "meta"} of each snapshot written so far


@dataclass
class Run:
    """One condensation run as the hooks see it."""

    spec: MethodSpec
    problem: Problem
    seed: int
    state: LoopState
    identity: dict  # what a checkpoint must match to be resumed (checkpoint.RunIdentity as a dict)
    hooks: tuple = ()  # the hooks watching the run (set by condense)

    @property
    def iterations(self) -> int:
        return self.problem.settings.iterations


class Hook:
    """Override what you need; every method is called in the order the hooks were given.

    On CUDA the loop keeps each iteration's loss on the device and reads the losses in one go only where
    a hook needs them now (:meth:`needs_now`), so the GPU is not drained every iteration; the hooks then
    see the iterations since the last read, in order, with the images as they stand at the read. A hook
    that must act on the state of exactly iteration ``it`` says so with ``needs_now``; the default (True)
    keeps a hook that does not know about this in step with every iteration, as on the CPU."""

    keeps_checkpoint = False  # whether the hook writes the state a rerun resumes from

    def needs_now(self, run: Run, it: int) -> bool:
        return True

    def after_iteration(self, run: Run, it: int, loss: float, seconds: float) -> None:
        pass

    def on_stop(self, run: Run) -> str:
        """A stop signal arrived; every iteration so far has been seen. Returns what the user should know ('' if nothing)."""
        return ""

    def on_end(self, run: Run) -> None:
        """After the finished run's outputs are written."""


class FiniteGuard(Hook):
    """Stops a diverged run: a non-finite loss or non-finite images end the stage with an error naming the
    iteration. Give it before the checkpoint hook, so the last checkpoint written is the last finite state
    and is never overwritten with non-finite tensors; the set is not written. It checks whenever losses are
    read (each read: every loss since the previous one, and the images as they stand)."""

    def needs_now(self, run, it):
        return False

    def after_iteration(self, run, it, loss, seconds):
        current = it == run.state.next_iteration - 1  # the images are those of this iteration (always, on the CPU)
        if not math.isfinite(loss) or (current and not bool(torch.isfinite(run.problem.images).all())):
            what = f"loss {loss}" if not math.isfinite(loss) else "non-finite synthetic images"
            kept = " (the last checkpoint, from before it, is kept)" if any(h.keeps_checkpoint for h in run.hooks) else ""
            raise CondenseError(
                f"condensation diverged at iteration {it}: {what}; no set was written{kept}. "
                f"Lower --lr-img (now {run.problem.settings.lr_img}) or check the data"
            )


class LogHook(Hook):
    """A log line every ``every`` iterations and at the last one."""

    def __init__(self, every: int):
        self.every = every

    def needs_now(self, run, it):
        return it % self.every == 0 or it == run.iterations

    def after_iteration(self, run, it, loss, seconds):
        if self.needs_now(run, it):
            per = run.spec.real_images_per_iteration(run.problem.settings, run.problem.num_classes)
            # a method that draws no real images (MTT: the data reaches it through its experts) has no throughput to show
            rate = f", {per / seconds:.0f} real images/s" if per else ""
            log.info("iter %d/%d loss %.4f (%.2f s/iter%s)", it, run.iterations, loss, seconds, rate)


class EnergyHook(Hook):
    """Adds the energy of each iteration to the run's state, from a real meter; no meter: None from then on."""

    def __init__(self, meter):
        self.meter = meter
        self.meter.start()
        self._last = 0.0

    def needs_now(self, run, it):
        return False  # the meter counts on: a later read adds the same joules

    def after_iteration(self, run, it, loss, seconds):
        now = self.meter.joules()
        if now is None or run.state.energy_j is None:
            run.state.energy_j = None
            return
        run.state.energy_j += now - self._last
        self._last = now


class SnapshotHook(Hook):
    """Writes the set as it stands after the iterations in ``paths`` (iteration -> file): no extra condensation
    work. Each snapshot also goes into the run's state, so a checkpoint carries the snapshots taken before it and
    a resumed run rewrites them (:meth:`restore`) even where the files were deleted meanwhile (Snakemake removes
    an interrupted job's outputs). ``provenance(run, it)`` gives each snapshot's :class:`Provenance`."""

    def __init__(self, paths: dict, provenance):
        self.paths, self.provenance = dict(paths), provenance

    def needs_now(self, run, it):
        return it in self.paths

    def after_iteration(self, run, it, loss, seconds):
        if self.needs_now(run, it):
            # plain tensors and the flat meta: what a checkpoint can hold (torch's weights-only loading)
            taken = {"images": run.problem.images.detach().cpu().clone(), "meta": self.provenance(run, it).to_meta(),
                     "extra": _plain(run.spec.export(run.problem))}  # a parameterised set's decoder, ... as in the final set  # fmt: skip
            run.state.snapshots[it] = taken
            self._write(run, it, taken)

    def restore(self, run: Run) -> None:
        """Write every snapshot the (resumed) state carries, as it was taken."""
        for it, taken in sorted(run.state.snapshots.items()):
            if it in self.paths:
                self._write(run, it, taken)

    def _write(self, run: Run, it: int, taken: dict) -> None:
        where = f"snapshot {it}"
        extra = taken.get("extra", {})  # a checkpoint written before snapshots carried it has none
        SyntheticSet(taken["images"], run.problem.labels.cpu(), Provenance.from_meta(taken["meta"], where), **extra).save(self.paths[it])


def _plain(extra: dict) -> dict:
    """A set's extra fields as a checkpoint can hold them (tensors on the CPU)."""
    return {key: value.detach().cpu().clone() if isinstance(value, torch.Tensor) else value for key, value in extra.items()}


def defers(device: torch.device) -> bool:
    """Whether the loop keeps losses on the device between reads by default: on CUDA, where a read drains
    the queue of kernels; on the CPU a read costs nothing."""
    return device.type == "cuda"


def condense(run: Run, hooks: Sequence[Hook] = (), stop_after: int | None = None, defer: bool | None = None) -> bool:
    """Run iterations ``run.state.next_iteration`` .. ``run.iterations`` (or ``stop_after``); True when finished.

    ``defer`` (default: on CUDA) keeps the losses on the device between the points where a hook needs them
    (:meth:`Hook.needs_now`, and the last iteration), so nothing drains the GPU inside the loop; on the CPU
    reading a loss costs nothing and every iteration is read at once. The progress bar shows the loss and
    the real images consumed per second at each read."""
    problem, state, step = run.problem, run.state, run.spec.step
    run.hooks = tuple(hooks)
    if run.iterations < 0:
        raise CondenseError(f"--iterations {run.iterations} must be at least 0")
    if defer is None:
        defer = defers(problem.images.device)
    last = run.iterations if stop_after is None else min(run.iterations, stop_after)
    per_iteration = run.spec.real_images_per_iteration(problem.settings, problem.num_classes)
    bar = progress(
        range(state.next_iteration, last + 1), desc=f"{run.spec.name} ipc {problem.settings.ipc}", total=last + 1 - state.next_iteration
    )
    pending: list[tuple[int, torch.Tensor]] = []  # (iteration, its loss, still on the device) since the last read
    began = time.perf_counter()
    with signals.deferred():  # a stop signal is noted and acted on between iterations
        for it in bar:
            torch.manual_seed(derive_seed(run.seed, it, 0))  # this iteration's random network
            loss = step(problem, make_generator(derive_seed(run.seed, it, 1)))
            pending.append((it, loss.detach().reshape(()) if isinstance(loss, torch.Tensor) else torch.tensor(float(loss))))
            state.next_iteration = it + 1
            stop = signals.stop_requested()
            if defer and it < last and stop is None and not any(hook.needs_now(run, it) for hook in hooks):
                continue
            values = torch.stack([value.float() for _, value in pending]).tolist()  # the one read (one sync on CUDA)
            took = (time.perf_counter() - began) / len(pending)
            for (done, _), value in zip(pending, values):
                state.seconds += took
                state.losses.append(value)
                for hook in hooks:
                    hook.after_iteration(run, done, value, took)
            bar.set_postfix(loss=f"{values[-1]:.4f}", **({"img_s": f"{per_iteration / took:.0f}"} if per_iteration else {}))
            pending.clear()
            if stop is not None and it < last:
                notes = [note for hook in hooks if (note := hook.on_stop(run))]
                kept = "; ".join(notes) or "no checkpoint was asked for (--checkpoint), so a rerun starts over"
                raise signals.Terminated(stop, f"stopped by {signals.name(stop)} after iteration {it}; {kept}")
            began = time.perf_counter()
    return last == run.iterations


def end_run(run: Run, hooks: Sequence[Hook] = ()) -> None:
    """Tell the hooks the finished run's outputs are written (the checkpoint goes then)."""
    for hook in hooks:
        hook.on_end(run)
