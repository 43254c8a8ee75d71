"""Hand a set to anyone: an ImageFolder of PNGs, one tensor file and a dataset card.

``condense export --data D --set S --eval R.json ... --out DIR`` writes

- ``DIR/images/<NN>_<class>/<NNNN>.png``: each image in pixels ([0, 1] after undoing the dataset's
  normalisation, clamped, 8 bits), one folder per class, numbered so that torchvision's ``ImageFolder``
  (which sorts folder names) gives back this package's class indices;
- ``DIR/set.pt``: ``{"images", "labels", "classes", "mean", "std", "card"}``, the exact float images,
  normalised as they were trained on (``torch.load(..., weights_only=True)``; DD-Ranking's input, and
  ``condense evaluate --set DIR/set.pt`` reads it back);
- ``DIR/card.json`` and ``DIR/README.md``: the dataset card: what the set is, how it was made (method,
  settings, condensation network, seed, the digests of its inputs, its cost), the accuracy measured
  (from the ``--eval`` records of this very set) and how to load it.

The directory appears whole or not at all. Export owns exactly the files it writes, listed in the card
(``files``): an earlier export at ``--out`` is replaced only while it holds nothing else, and any other
non-empty directory is refused; ``--out`` may not hold the stage's inputs (``core/paths.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from .. import __version__
from ..core.checks import NON_NEGATIVE
from ..core.digests import file_digest
from ..core.errors import CondenseError
from ..core.fileio import write_torch
from ..core.paths import INPUT, OUTPUT_DIR
from ..data.decoders import decode_set
from ..data.records import EvalRecord, SyntheticSet
from ..data.set_formats import SET_FORMATS, ReadOptions, check_fits, files_beside, read_set
from ..data.store import denormalize, load_data
from ._args import add_common_arguments, add_number, add_path

log = logging.getLogger("condense.export")
CARD_FORMAT = 2  # 2: the card lists the files the export wrote (``files``)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_path(parser, "--data", INPUT, required=True, help="dataset file from `condense download` (class names, mean and std)")
    add_path(parser, "--set", INPUT, also=files_beside, required=True, help="the set to export (any format `condense evaluate` reads)")
    parser.add_argument("--set-format", default="auto", choices=["auto", *SET_FORMATS.names()], help="how --set is stored (default auto)")
    add_number(parser, "--set-experiment", int, NON_NEGATIVE, default=0, help="which experiment of an official result file (default 0)")
    add_path(parser, "--eval", INPUT, nargs="*", default=[], help="evaluation records of this set (`condense evaluate --out`) for the card")
    add_path(
        parser,
        "--out",
        OUTPUT_DIR,
        required=True,
        help="directory to write: absent, empty, or an earlier export holding only its own files (replaced)",
    )
    add_common_arguments(parser, seed=False, device=False)


def _folder(index: int, name: str, width: int) -> str:
    return f"{index:0{width}d}_" + (re.sub(r"[^A-Za-z0-9.+-]+", "_", name).strip("_") or "class")


def _same_set(record: EvalRecord, synthetic: SyntheticSet) -> bool:
    a, b = record.set, synthetic.provenance
    return (a.dataset, a.method, a.ipc, a.seed, a.mask, a.iteration, a.final) == (
        b.dataset,
        b.method,
        b.ipc,
        b.seed,
        b.mask,
        b.iteration,
        b.final,
    )


def _accuracies(paths: list[Path], synthetic: SyntheticSet) -> list[dict]:
    measured = []
    for path in paths:
        record = EvalRecord.load(path)
        if not _same_set(record, synthetic):
            p = record.set
            raise CondenseError(f"--eval {str(path)!r} judged {p.method} IPC {p.ipc} seed {p.seed} of {p.dataset}, not this set; "
                                "give the records of this set only")  # fmt: skip
        column = record.columns[0]
        measured.append({"kind": record.kind, "model": record.model, "value": column["label"], "mean": record.summary.get("mean"),
                         "std": record.summary.get("std"), "n": record.summary.get("n"), "settings": record.settings,
                         "device": record.device, "record": path.name})  # fmt: skip
    return measured


def make_card(synthetic: SyntheticSet, data, set_path: Path, accuracies: list[dict]) -> dict:
    p = synthetic.provenance
    return {
        "card_format": CARD_FORMAT,
        "dataset": p.dataset,
        "classes": list(data.classes),
        "images": int(synthetic.images.shape[0]),
        "image_shape": list(synthetic.images.shape[1:]),
        "images_per_class": torch.bincount(synthetic.labels, minlength=data.num_classes).tolist(),
        "normalization": {"mean": list(data.mean), "std": list(data.std)},
        "method": p.method,
        "ipc": p.ipc,
        "seed": p.seed,
        "condensation_model": p.model,
        "settings": p.settings,
        "mask": p.mask.variant if p.mask else None,
        "iteration": p.iteration,
        "learned_lr": synthetic.learned_lr,
        "inputs": p.inputs,
        "cost": p.cost,
        "source_file": {"name": set_path.name, "sha256": file_digest(set_path) if set_path.is_file() else None},
        "accuracy": accuracies,
        "exported_by": f"condense {__version__}",
    }


def _readme(card: dict) -> str:
    lines = [f"# {card['method']} set of {card['dataset']}, {card['ipc']} image(s) per class", ""]
    lines += [f"{card['images']} images of shape {tuple(card['image_shape'])} in {len(card['classes'])} classes, made by "
              f"`{card['method']}`" + (f" on `{card['condensation_model']}`" if card["condensation_model"] else "")
              + f" with seed {card['seed']}" + (f", masked with `{card['mask']}`" if card["mask"] else "") + "."]  # fmt: skip
    if card["learned_lr"] is not None:
        lines += ["", f"Train on it with learning rate {card['learned_lr']:g} (learned with the images)."]
    lines += ["", "## Accuracy measured", ""]
    if card["accuracy"]:
        lines += ["| kind | network | mean ± std | networks | device |", "|---|---|---|---|---|"]
        for a in card["accuracy"]:
            value = "—" if a["mean"] is None else f"{a['mean']:.2f} ± {a['std']:.2f}"
            lines.append(f"| {a['kind']} ({a['value']}) | {a['model']} | {value} | {a['n']} | {a['device']} |")
    else:
        lines.append("None recorded with this export (`condense export --eval RECORD ...`).")
    mean, std = card["normalization"]["mean"], card["normalization"]["std"]
    lines += ["", "## Load it", "", "```python", "import torch, torchvision.transforms as T",
              "from torchvision.datasets import ImageFolder",
              f"folder = ImageFolder('images', transform=T.Compose([T.ToTensor(), T.Normalize({mean}, {std})]))"
              + ("  # grayscale PNGs: ImageFolder opens them as RGB, so put T.Grayscale() first" if len(mean) == 1 else ""),
              "exact = torch.load('set.pt', weights_only=True)  # the float images as trained on, normalised",
              "```", "", "The PNGs are 8-bit; `set.pt` holds the exact values. The classes, in label order: "
              + ", ".join(f"{i} {name}" for i, name in enumerate(card["classes"])) + ".",
              "", "Everything about how the set was made: `card.json`."]  # fmt: skip
    return "\n".join(lines) + "\n"


OWN_FILES = ("card.json", "README.md", "set.pt")  # beside images/<class>/<NNNN>.png: everything export writes


def _owned_files(out: Path) -> list[str]:
    """The files an earlier export wrote at ``out`` (listed in its card), after checking that the directory holds
    exactly those: export replaces only what it made, so a user's file there (or an input) is never deleted."""
    card_path = out / "card.json"
    if not card_path.is_file():
        raise CondenseError(f"--out {str(out)!r} exists and is not an earlier export (no card.json); choose another directory")
    try:
        listed = json.loads(card_path.read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        listed = None
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise CondenseError(f"--out {str(out)!r} holds a card.json without the list of files an export wrote (an older "
                            "condense, or not an export); remove the directory yourself or choose another")  # fmt: skip
    present = sorted(str(path.relative_to(out)) for path in out.rglob("*") if not path.is_dir() or path.is_symlink())
    foreign = sorted(set(present) - set(listed))
    if foreign:
        raise CondenseError(f"--out {str(out)!r} holds {foreign[0]!r}" + (f" and {len(foreign) - 1} more file(s)" if len(foreign) > 1 else "")
                            + " that no export wrote; export replaces only its own files, so move them or choose another directory")  # fmt: skip
    return listed


def check_out(out: Path) -> None:
    """Before any work: ``--out`` is absent, empty, or an earlier export holding only its own files."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CondenseError(f"--out {str(out)!r} is not a directory; name a directory for the export")
    if out.is_dir() and any(out.iterdir()):
        _owned_files(out)
        cwd = Path(os.path.realpath(Path.cwd()))
        if cwd == Path(os.path.realpath(out)) or Path(os.path.realpath(out)) in cwd.parents:
            # the export is swapped in whole: the shell would be left in the deleted earlier export
            raise CondenseError(f"--out {str(out)!r} holds the current directory; run export from outside it (cd ..)")


def write_export(synthetic: SyntheticSet, data, card: dict, out: Path) -> None:
    """Write into a directory beside ``out``, then move it into place, so a failure leaves nothing half-written.
    An earlier export at ``out`` is replaced only when it holds exactly the files its card lists."""
    out = Path(os.path.abspath(out))  # `--out .`: the staging and old directories go beside the real name
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name[:40]}-", dir=out.parent))
    old: Path | None = None
    try:
        width = len(str(max(data.num_classes - 1, 1)))
        folders = [staging / "images" / _folder(c, name, width) for c, name in enumerate(data.classes)]
        for folder in folders:
            folder.mkdir(parents=True)
        # 8 bits as torchvision's save_image rounds them; grayscale stays one channel (mode L), colour is RGB
        pixels = denormalize(synthetic.images, data.mean, data.std).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
        counts = [0] * data.num_classes
        files = list(OWN_FILES)
        for image, label in zip(pixels, synthetic.labels.tolist(), strict=True):
            array = image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()
            png = folders[label] / f"{counts[label]:04d}.png"
            Image.fromarray(array, mode="L" if image.shape[0] == 1 else "RGB").save(png)
            files.append(str(png.relative_to(staging)))
            counts[label] += 1
        card = {**card, "files": sorted(files)}
        # write_torch: a full disk is an OSError (one line below), not torch's RuntimeError and a traceback
        write_torch({"images": synthetic.images.float().contiguous(), "labels": synthetic.labels.long(), "classes": list(data.classes),
                     "mean": list(data.mean), "std": list(data.std), "card": card}, staging / "set.pt")  # fmt: skip
        (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (staging / "README.md").write_text(_readme(card))
        os.chmod(staging, 0o755)
        if out.is_dir() and any(out.iterdir()):
            _owned_files(out)  # checked again right before the swap: nothing was added meanwhile
            old = Path(tempfile.mkdtemp(prefix=f".{out.name[:40]}-old-", dir=out.parent))
            os.replace(out, old / "export")
            os.replace(staging, out)
        else:
            if out.is_dir():
                out.rmdir()  # empty: os.replace onto it would also work, but not across every file system
            os.replace(staging, out)
    except OSError as exc:
        if old is not None and (old / "export").exists() and not out.exists():
            os.replace(old / "export", out)  # the swap failed half-way: put the earlier export back
        raise CondenseError(f"cannot write {str(out)!r} ({exc.strerror or exc}); free space or choose another location") from None
    finally:
        for leftover in (staging, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    check_out(Path(os.path.abspath(args.out)))  # a directory holding anything else is refused before reading the set
    data = load_data(args.data, torch.device("cpu"), with_train=False)
    synthetic = read_set(args.set, ReadOptions(dataset=data.name, experiment=args.set_experiment), args.set_format)
    check_fits(args.set, synthetic, data)
    synthetic = decode_set(synthetic)  # a parameterised set (IDC's multi-formation) as the images it trains on
    card = make_card(synthetic, data, Path(args.set), _accuracies(list(args.eval), synthetic))
    write_export(synthetic, data, card, args.out)
    log.info("exported %d images of %s (%s) to %s", card["images"], card["method"], card["dataset"], args.out)


if __name__ == "__main__":
    from ..cli import stage_main

    sys.exit(stage_main(__name__))
