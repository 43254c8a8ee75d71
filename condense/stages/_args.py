"""Flags every stage shares, and the flags of a method's settings dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from pathlib import Path

from ..core.accel import AUTO_ON_OFF, Speed, make_speed
from ..core.checks import AT_LEAST_ONE, SEED, Bounds, check_number
from ..core.errors import CondenseError
from ..core.paths import OUTPUT, PathArg, check_io
from ..core.settings import FIELD_TYPES, flag_name, user_fields


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line (``error: ...``) and exit status 2, like every other bad input."""

    def error(self, message: str):
        raise CondenseError(f"{message}; see `{self.prog} --help`")


def add_number(parser, flag: str, kind: type, bounds: Bounds, **kwargs) -> argparse.Action:
    """A numeric flag whose range is checked right after parsing (:func:`check_numbers`): a bad value is a
    one-line error naming it and the range, before any work."""
    action = parser.add_argument(flag, type=kind, **kwargs)
    action.bounds = bounds
    return action


def check_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every flag added with :func:`add_number` (or a settings flag with bounds) holds a finite value in its range."""
    for action in parser._actions:
        bounds = getattr(action, "bounds", None)
        value = getattr(args, action.dest, None)
        if bounds is not None and value is not None:
            check_number(action.option_strings[0], value, bounds)


def add_path(parser, flag: str, role: str, also=None, **kwargs) -> argparse.Action:
    """A path flag (or positional) with its role (``core/paths.py``: input, output, state, output_dir), checked
    right after parsing (:func:`check_paths`). ``also(path)``: files written beside an output (a figure's PDF), or
    read beside an input (MTT's labels beside its images), checked with the same role."""
    action = parser.add_argument(flag, type=Path, **kwargs)
    action.io_role, action.io_also = role, also
    return action


def check_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every path flag added with :func:`add_path`: outputs are not inputs nor each other, and can be written."""
    found = []
    for action in parser._actions:
        role = getattr(action, "io_role", None)
        value = getattr(args, action.dest, None)
        if role is None or value is None:
            continue
        flag = action.option_strings[0] if action.option_strings else action.dest
        for path in value if isinstance(value, list) else [value]:
            found.append(PathArg(flag, path, role))
            if action.io_also is not None:
                found.extend(PathArg(f"{flag} (beside it)", extra, role) for extra in action.io_also(path))
    check_io(found)


def pdf_beside(path: Path) -> list[Path]:
    """A figure's PDF, written beside its PNG."""
    return [path.with_suffix(".pdf")]


def add_common_arguments(parser: argparse.ArgumentParser, seed: bool = True, device: bool = True) -> None:
    if seed:
        add_number(parser, "--seed", int, SEED, default=0, help="run seed; same seed + same device = same output")
    if device:
        parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    add_number(parser, "--threads", int, AT_LEAST_ONE, default=None, help="torch CPU threads (default: torch's choice)")
    add_path(parser, "--log", OUTPUT, default=None, help="also write log lines to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_speed_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the networks with channels-last activations (same results within float "
        "tolerance; pays a 5-40 s compile per process, worth it for long stages)",
    )


def add_batch_classes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-classes",
        choices=AUTO_ON_OFF,
        default="auto",
        help="gradient matching: every class's gradients in one batched call (torch.func.vmap) or class by "
        "class; same loss within float tolerance (default auto: batched on CUDA, class by class on the CPU)",
    )


def add_ensemble_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ensemble",
        choices=AUTO_ON_OFF,
        default="auto",
        help="train the evaluation networks as one vmap-ed ensemble (each its own seed, batch order and "
        "augmentation; same accuracies within float tolerance; BatchNorm networks one by one) or one by one "
        "(default auto: an ensemble on CUDA, one by one on the CPU)",
    )


def speed_of(args: argparse.Namespace, device) -> Speed:
    return make_speed(getattr(args, "compile", False), device, getattr(args, "batch_classes", "auto"), getattr(args, "ensemble", "auto"))


def settings_fields(settings_classes: Iterable[type], skip: Iterable[str] = ()) -> dict[str, dataclasses.Field]:
    """Flag stem (``lr_img``) -> field, over every field of any of ``settings_classes``."""
    seen: dict[str, dataclasses.Field] = {}
    for cls in settings_classes:
        for f in user_fields(cls, skip=tuple(skip)):
            seen.setdefault(flag_name(f), f)
    return seen


def _default_text(value) -> str:
    return (
        "symbolic, resolved per run"
        if value is None
        else repr(value)
        if isinstance(value, str)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


def defaults_of(stem: str, settings_classes: Iterable[type], owners: Iterable[str] | None, skip: Iterable[str] = ()) -> str:
    """'(default: 1000)' where every class agrees, else '(default: dc 1000, dm 20000)' with the owners' names."""
    classes = list(settings_classes)
    names = list(owners) if owners is not None else [c.__name__ for c in classes]
    found = [(name, f.metadata.get("shown") or _default_text(f.default))
             for name, cls in zip(names, classes) for f in user_fields(cls, skip=tuple(skip)) if flag_name(f) == stem]  # fmt: skip
    values = {text for _, text in found}
    if len(values) == 1:
        return f"(default: {values.pop()})"
    return "(default: " + ", ".join(f"{name} {text}" for name, text in found) + ")"


def add_settings_arguments(
    parser: argparse.ArgumentParser,
    settings_classes: Iterable[type],
    skip: Iterable[str] = (),
    title: str = "method settings (default: the method's reference value)",
    owners: Iterable[str] | None = None,
) -> None:
    """One flag per settings field of any of ``settings_classes`` (default None = the declared default), its help
    ending with the declared default (each owner's, where ``owners`` name the classes and they differ)."""
    classes = list(settings_classes)
    group = parser.add_argument_group(title)
    for stem, f in settings_fields(classes, skip).items():
        kind = FIELD_TYPES.get(f.type, str)
        text = " ".join(part for part in (f.metadata.get("help") or "", defaults_of(stem, classes, owners, skip)) if part)
        action = group.add_argument(f"--{stem.replace('_', '-')}", dest=stem, type=kind, default=None, help=text)
        if f.metadata.get("bounds") is not None:
            action.bounds = f.metadata["bounds"]


def given_settings(args: argparse.Namespace, settings_classes: Iterable[type], skip: Iterable[str] = ()) -> dict:
    """The settings flags the user gave (None = not given)."""
    return {stem: getattr(args, stem, None) for stem in settings_fields(settings_classes, skip)}
