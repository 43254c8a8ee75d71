"""Compare two results trees artifact by artifact: did a change of code change any output?

    python workflow/scripts/compare_results.py OLD NEW [--rename 'REGEX=>REPLACEMENT' ...]

Pairs files by their path under each root (after the renames, applied to OLD's paths) and compares
what they hold, not their bytes: torch files and JSON recursively (tensors bit for bit, numbers
exactly), tables and PNGs byte for byte. What cannot be equal between two runs is reported apart,
never as a difference: wall-clock fields (``seconds``, ``train_seconds``, ``set_seconds``) and what a run
measured about itself (``cost``: throughput, peak memory, energy) with the cost table and the accuracy-over-time
figure drawn from them, PDFs (they embed their creation time), logs and benchmark files. Keys present on one side only and strings that differ
(e.g. a path that moved) are listed as such. Exit status 1 when any tensor, number or table differs, or when a
file cannot be loaded: torch files are read with ``weights_only=True``, so a crafted ``.pt`` is refused, never run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import torch

TIMING = {"seconds", "train_seconds", "set_seconds"}
MEASURED = {"cost"}  # what a run measured about itself (seconds, throughput, peak memory, energy): never equal twice
# Files drawn from those measurements (listed apart, never as a difference)
MEASURED_FILES = re.compile(r"(^|/)tables/cost\.(md|csv|tex|html)$|(^|/)figures/accuracy_vs_time\.png$")
VERSIONS = {"format"}  # file-format versions: a deliberate change, listed apart
SKIPPED_DIRS = {"logs", "benchmarks", "checkpoints", "mirror", "raw"}


def load(path: Path):
    if path.suffix == ".pt":
        # weights_only: the trees compared may come from elsewhere (another machine, a colleague's run), and a full
        # unpickle would run whatever a crafted .pt asks for. Every artifact condense writes loads this way (its
        # stages read them back with condense.core.fileio.load_torch, which is weights-only too).
        return torch.load(path, map_location="cpu", weights_only=True)
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return path.read_bytes()


def compare(a, b, where: str, report: dict) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in b:
                report["removed"].append(f"{where}.{key}")
            elif key not in a:
                report["added"].append(f"{where}.{key}")
            elif key in TIMING or key in MEASURED:
                report["timing"] += 1
            elif key in VERSIONS and a[key] != b[key]:
                report["versions"].append(f"{where}.{key}: {a[key]!r} -> {b[key]!r}")
            else:
                compare(a[key], b[key], f"{where}.{key}", report)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            report["different"].append(f"{where}: length {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{where}[{i}]", report)
    elif torch.is_tensor(a) and torch.is_tensor(b):
        report["tensors"] += 1
        if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
            report["different"].append(f"{where}: tensor {tuple(a.shape)} {a.dtype} vs {tuple(b.shape)} {b.dtype}")
    elif isinstance(a, str) and isinstance(b, str):
        if a != b:
            report["strings"].append(f"{where}: {a!r} -> {b!r}")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        report["numbers"] += 1
        if not (a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))):
            report["different"].append(f"{where}: {a!r} vs {b!r}")
    elif a != b:
        report["different"].append(f"{where}: {a!r} vs {b!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rename", action="append", default=[], help="REGEX=>REPLACEMENT applied to OLD's relative paths")
    args = parser.parse_args()
    renames = [tuple(r.split("=>", 1)) for r in args.rename]

    def mapped(rel: str) -> str:
        for pattern, replacement in renames:
            rel = re.sub(pattern, replacement, rel)
        return rel

    def files(root: Path) -> dict[str, Path]:
        return {
            str(p.relative_to(root)): p
            for p in sorted(root.rglob("*"))
            if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(root).parts)
        }

    old, new = files(args.old), files(args.new)
    old_mapped = {mapped(rel): path for rel, path in old.items()}
    report_lines, failed = [], False
    totals = {"files": 0, "tensors": 0, "numbers": 0, "timing": 0}
    for rel in sorted(set(old_mapped) | set(new)):
        if rel not in new:
            report_lines.append(f"only in OLD: {rel}")
            failed = True
            continue
        if rel not in old_mapped:
            report_lines.append(f"only in NEW: {rel}")
            failed = True
            continue
        a_path, b_path = old_mapped[rel], new[rel]
        totals["files"] += 1
        if a_path.suffix == ".pdf":
            report_lines.append(f"not compared (embeds its creation time): {rel}")
            continue
        if MEASURED_FILES.search(rel):
            report_lines.append(f"not compared (drawn from the run's own timings and memory): {rel}")
            continue
        report = {"removed": [], "added": [], "different": [], "strings": [], "versions": [], "tensors": 0, "numbers": 0, "timing": 0}
        try:
            pair = load(a_path), load(b_path)
        except Exception as exc:  # weights_only refuses a pickle that imports more than tensors and containers; broken files
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            report_lines.append(f"not loadable (a .pt must load with weights_only=True, JSON must parse): {rel}: {first}")
            failed = True
            continue
        compare(*pair, rel, report)
        for key in ("tensors", "numbers", "timing"):
            totals[key] += report[key]
        for kind in ("different", "versions", "removed", "added", "strings"):
            for line in report[kind]:
                report_lines.append(f"{kind}: {line}")
        failed |= bool(report["different"])
    print("\n".join(report_lines))
    print(
        f"compared {totals['files']} files: {totals['tensors']} tensors and {totals['numbers']} numbers; "
        f"{totals['timing']} timing and cost fields skipped; {'DIFFERENCES FOUND' if failed else 'no tensor, number or table differs'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
