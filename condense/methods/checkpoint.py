"""Checkpoints of a condensation run: all the state a resume needs, tied to the run and to the inputs it was made from.

A checkpoint holds the method's state (the images, their optimiser, anything else it learns), the loss curve, the snapshots written so far and the run's
:class:`RunIdentity`: *which* run it is (dataset, method, IPC, seed, network, mask), its resolved settings
and the sha256 of every input file (data, maps, selection), plus a checksum of its own content. It is
resumed only when all of that matches; otherwise:

- a file that is not a condense checkpoint, or the checkpoint of another run, is refused and never
  overwritten (``--checkpoint`` pointing at the data or a set must not destroy it);
- a checkpoint of this run made from other inputs or settings, damaged (its checksum fails) or of an older
  format is *stale*: a one-line refusal naming what changed, or, with ``on_stale="restart"`` (the workflow's
  choice: a changed input reruns the job from scratch) or ``restart=True`` (``--restart``), a fresh start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core.digests import content_digest
from ..core.errors import CondenseError
from ..core.fileio import load_torch, save_torch
from .loop import Hook, LoopState, Run
from .problem import Problem
from .spec import IMAGES, MethodState

log = logging.getLogger("condense.distill")

KIND = "condense-checkpoint"
FORMAT = 2  # 1: no input digests, no checksum, no snapshots
STALE_CHOICES = ("refuse", "restart")


@dataclass(frozen=True)
class RunIdentity:
    """What a checkpoint must match to be resumed."""

    run: dict  # which run: dataset, method, ipc, seed, model, mask (another run's checkpoint is never touched)
    settings: dict  # the resolved settings
    inputs: dict  # input name (data, maps, selection) -> sha256 of the file

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        r = self.run
        mask = f" with mask {r['mask']}" if r.get("mask") else ""
        return f"{r.get('method')} ipc {r.get('ipc')} seed {r.get('seed')} on {r.get('dataset')} ({r.get('model')}){mask}"


def differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every value that differs between two nested dicts (digests shortened)."""
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(key, "(none)"), current.get(key, "(none)")
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{name}.")
        elif a != b:
            short = [v[:12] if isinstance(v, str) and len(v) == 64 else v for v in (a, b)]
            out.append(f"{name}: {short[0]!r} -> {short[1]!r}")
    return out


class CheckpointHook(Hook):
    """Every ``every`` iterations (never after the last: the set is written then), and when a stop signal
    arrives (:meth:`on_stop`), all the state there is; removed once the run's outputs are written."""

    keeps_checkpoint = True

    def __init__(self, path: Path, every: int, restart: bool = False, on_stale: str = "refuse"):
        if on_stale not in STALE_CHOICES:
            raise CondenseError(f"stale-checkpoint policy {on_stale!r} is not one of: {', '.join(STALE_CHOICES)}")
        self.path, self.every, self.restart, self.on_stale = Path(path), every, restart, on_stale

    def needs_now(self, run, it):
        return (it + 1) % self.every == 0 and it < run.iterations

    def after_iteration(self, run, it, loss, seconds):
        if self.needs_now(run, it):
            self.save(run)

    def on_stop(self, run) -> str:
        if run.state.next_iteration <= run.iterations:
            self.save(run)
            return f"the checkpoint {str(self.path)!r} holds iterations 0..{run.state.next_iteration - 1}: rerun the same command to resume"
        return ""

    def on_end(self, run):
        if self.path.exists():
            self.path.unlink()

    def save(self, run: Run) -> None:
        p, s = run.problem, run.state
        payload = {
            "kind": KIND,
            "format": FORMAT,
            "identity": run.identity,
            "next_iteration": s.next_iteration,
            "state": run.spec.state.save(p),  # the images and their optimiser, and whatever else the method learns
            "losses": list(s.losses),
            "seconds": s.seconds,
            "energy_j": s.energy_j,
            "snapshots": s.snapshots,
        }
        save_torch({**payload, "checksum": content_digest(payload)}, self.path)

    def _read(self) -> dict:
        """The file as a checkpoint dict, or a refusal: anything else at that path is someone's data."""
        try:
            saved = load_torch(self.path, what="checkpoint")
        except CondenseError:
            raise CondenseError(
                f"--checkpoint {str(self.path)!r} exists but is not a readable condense checkpoint; it is "
                "left as it is: name a new file (or delete it yourself if it is a damaged checkpoint)"
            ) from None
        legacy = isinstance(saved, dict) and saved.get("format") == 1 and "identity" in saved
        if not isinstance(saved, dict) or (saved.get("kind") != KIND and not legacy):
            raise CondenseError(
                f"--checkpoint {str(self.path)!r} is not a condense checkpoint ({_what(saved)}); it is left as "
                "it is: name a new file for this run's checkpoint"
            )
        return saved

    def resume(
        self, problem: Problem, identity: RunIdentity, snapshots: Sequence[int] = (), state: MethodState = IMAGES
    ) -> LoopState | None:
        """The saved state if the checkpoint at ``path`` is this run's and current, loaded into ``problem``;
        None where there is none (or a stale one is restarted); a CondenseError for anything else.
        ``snapshots``: the iterations snapshotted now; a checkpoint past one it holds no snapshot of is stale.
        ``state``: how the method's state is loaded (its :class:`MethodState`)."""
        if not self.path.exists():
            return None
        saved = self._read()
        saved_run = _run_of(saved)
        if not _same_run(saved_run, identity.run):
            other = RunIdentity(saved_run, {}, {}).describe()
            raise CondenseError(
                f"--checkpoint {str(self.path)!r} is the checkpoint of another run ({other}), not of "
                f"{identity.describe()}; it is left as it is: give this run its own checkpoint file"
            )
        if self.restart:
            log.warning("checkpoint %s: starting afresh as asked (--restart)", self.path)
            return None
        stale = _staleness(saved, identity, snapshots)
        if stale:
            if self.on_stale == "restart":
                log.warning("checkpoint %s is stale (%s); starting afresh", self.path, stale)
                return None
            raise CondenseError(
                f"checkpoint {str(self.path)!r} is stale: {stale}; it is never resumed against other inputs "
                "or settings: pass --restart to start afresh"
            )
        state.load(problem, saved["state"])
        log.info("resumed from %s at iteration %d", self.path, saved["next_iteration"])
        return LoopState(saved["next_iteration"], list(saved["losses"]), saved["seconds"], saved["energy_j"], dict(saved["snapshots"]))


def _what(saved) -> str:
    if isinstance(saved, dict):
        if {"images", "labels", "meta"} <= set(saved):
            return "it holds an image set"
        if "train_images" in saved:
            return "it holds a dataset"
        return f"a file with the keys {', '.join(sorted(map(str, saved))[:6])}"
    return f"it holds a {type(saved).__name__}"


def _run_of(saved: dict) -> dict:
    """The run a checkpoint belongs to (format 1 recorded it inside its settings)."""
    identity = saved["identity"]
    if saved.get("kind") == KIND:
        return identity["run"]
    settings = identity.get("settings", {})
    return {
        "dataset": None,
        "method": settings.get("method"),
        "ipc": settings.get("ipc"),
        "seed": identity.get("seed"),
        "model": settings.get("model"),
        "mask": identity.get("mask"),
    }


def _same_run(saved_run: dict, run: dict) -> bool:
    """Format 1 did not record the dataset: such a checkpoint is taken as this run's when the rest agrees."""
    if saved_run.get("dataset") is None:
        run = {**run, "dataset": None}
    return saved_run == run


def _staleness(saved: dict, identity: RunIdentity, snapshots: Sequence[int]) -> str:
    """Why a checkpoint of this run cannot be resumed ('' if it can)."""
    if saved.get("kind") != KIND or saved.get("format") != FORMAT:
        return f"it was written by an older condense (checkpoint format {saved.get('format')}, now {FORMAT})"
    payload = {k: v for k, v in saved.items() if k != "checksum"}
    if content_digest(payload) != saved.get("checksum"):
        return "its content does not match its checksum (the file was damaged after it was written)"
    changed = differences(
        {"settings": saved["identity"]["settings"], "inputs": saved["identity"]["inputs"]},
        {"settings": identity.settings, "inputs": identity.inputs},
    )
    if changed:
        return "made from other inputs or settings (" + "; ".join(changed) + ")"
    missing = [it for it in snapshots if it < saved["next_iteration"] and it not in saved["snapshots"]]
    if missing:
        return f"it is past iteration {', '.join(map(str, missing))} but holds no snapshot of it (--snapshot-at changed)"
    return ""
