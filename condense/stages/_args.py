"""Flags every stage shares, and the flags of a method's settings dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Iterable

from ..core.accel import Speed, make_speed
from ..core.settings import flag_name, user_fields


def add_common_arguments(parser: argparse.ArgumentParser, seed: bool = True, device: bool = True) -> None:
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="run seed; same seed + same device = same output")
    if device:
        parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--log", type=Path, default=None, help="also write log lines to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_speed_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compile", action="store_true",
        help="torch.compile the networks with channels-last activations (same results within float "
             "tolerance; pays a 5-40 s compile per process, worth it for long stages)",
    )


def speed_of(args: argparse.Namespace, device) -> Speed:
    return make_speed(getattr(args, "compile", False), device)


_TYPES = {int: int, float: float, str: str, "int": int, "float": float, "str": str}


def settings_fields(settings_classes: Iterable[type], skip: Iterable[str] = ()) -> dict[str, dataclasses.Field]:
    """Flag stem (``lr_img``) -> field, over every field of any of ``settings_classes``."""
    seen: dict[str, dataclasses.Field] = {}
    for cls in settings_classes:
        for f in user_fields(cls, skip=tuple(skip)):
            seen.setdefault(flag_name(f), f)
    return seen


def add_settings_arguments(parser: argparse.ArgumentParser, settings_classes: Iterable[type], skip: Iterable[str] = (),
                           title: str = "method settings (default: the method's reference value)") -> None:
    """One flag per settings field of any of ``settings_classes`` (default None = the declared default)."""
    group = parser.add_argument_group(title)
    for stem, f in settings_fields(settings_classes, skip).items():
        kind = _TYPES.get(f.type, str)
        group.add_argument(f"--{stem.replace('_', '-')}", dest=stem, type=kind, default=None, help=f.metadata.get("help") or None)


def given_settings(args: argparse.Namespace, settings_classes: Iterable[type], skip: Iterable[str] = ()) -> dict:
    """The settings flags the user gave (None = not given)."""
    return {stem: getattr(args, stem, None) for stem in settings_fields(settings_classes, skip)}
