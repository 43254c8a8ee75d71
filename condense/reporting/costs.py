"""What condensation costs: one row per set, from the set's own record and its evaluations.

A condensed set records its cost as it is made (``meta['cost']``: seconds iterating, real images per
second, peak host and GPU memory, energy from a real meter or None); an evaluation JSON records the
seconds and peak memory of training and testing its networks. Energy is shown only where a meter was
read (RAPL, NVML) — else "—", never an estimate.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.errors import CondenseError
from ..data.records import EvalRecord, SyntheticSet

MISSING = "—"


def _fmt(value, spec: str) -> str:
    return MISSING if value is None or (isinstance(value, float) and value != value) else format(value, spec)


def cost_rows(set_paths: list[Path], eval_paths: list[Path], labels: dict) -> pd.DataFrame:
    """The cost table: one row per condensed set (snapshots left out), its evaluations beside it."""
    evals: dict[tuple, list[EvalRecord]] = {}
    for path in eval_paths:  # matched to their sets by what they evaluated, not by a path (relative to some run)
        record = EvalRecord.load(path)
        made = record.set
        if made.final and made.method != "full":
            key = (record.dataset, made.method, made.mask.variant if made.mask else None, made.ipc, made.seed)
            evals.setdefault(key, []).append(record)
    rows = []
    for path in set_paths:
        made = SyntheticSet.load(path).provenance
        cost = made.cost
        if cost is None or not made.final:
            continue  # a coreset, a set made before costs were recorded, or a snapshot
        mine = evals.get((made.dataset, made.method, made.mask.variant if made.mask else None, made.ipc, made.seed), [])
        eval_s = sum(r.cost.get("seconds", 0.0) for r in mine)
        eval_peak = max((r.cost.get("peak_host_mb") or 0.0 for r in mine), default=None)
        rows.append(
            {
                "dataset": made.dataset,
                "method": labels.get(made.method, made.method),
                "mask": f"{made.mask.label}, r = {made.mask.ratio:g}" if made.mask else "none",
                "ipc": made.ipc,
                "seed": made.seed,
                "device": cost.get("device"),
                "iterations": cost.get("iterations"),
                "condensation s": _fmt(cost.get("seconds"), ".1f"),
                "real images / s": _fmt(cost.get("real_images_per_second"), ".0f"),
                "peak host MB": _fmt(cost.get("peak_host_mb"), ".0f"),
                "peak GPU MB": _fmt(cost.get("peak_gpu_mb"), ".0f"),
                "energy J": _fmt(cost.get("energy_j"), ".0f") if cost.get("energy_meter") else MISSING,
                "evaluation s": _fmt(eval_s if mine else None, ".1f"),
                "evaluation peak host MB": _fmt(eval_peak if mine else None, ".0f"),
                "evaluated by": ", ".join(sorted(f"{r.model} × {len(r.runs)}" for r in mine)) or MISSING,
            }
        )
    if not rows:
        raise CondenseError("no condensed set with a cost record among the inputs (coresets and older sets have none)")
    return pd.DataFrame(rows).sort_values(["dataset", "method", "mask", "ipc", "seed"], kind="stable")
