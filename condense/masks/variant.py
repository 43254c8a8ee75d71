"""The mask variant grammar: one string names a mask source and how its maps mask the images.

``<source>-r<ratio>-<fill>-<shape>-<scheme>``, e.g. ``fcn-r0.5-mean-soft-fixed``:

- ``source``: the saliency source whose maps are used (``fcn``, ...; names use ``_``, never ``-``);
- ``r<ratio>``: the mask ratio r in [0, 1], written as Python writes the float (``r1.0``, ``r0.25``);
- ``fill``: what the masked-out region becomes (``mean``: x_norm ⊙ A, the authors' code);
- ``shape``: ``soft`` (A as is) or ``hard<q>`` (the top q of each image's pixels kept);
- ``scheme``: which images are masked (``fixed``: floor(r·n_c) fixed images per class).

A masked condensation method is ``<method>-mask-<variant>`` (``dsa-mask-fcn-r1.0-mean-soft-fixed``).
:meth:`MaskVariant.build` and :func:`parse_variant` are inverses, and only the canonical spelling
parses, so every variant has exactly one artifact path. Kept free of torch at import (the workflow
builds its targets with it); names are checked against the registries when parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..core.errors import CondenseError
from .fills import FILLS
from .schemes import SCHEMES

SEPARATOR = "-mask-"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?"
_NAME = r"[a-z][a-z0-9_]*"
VARIANT_PATTERN = rf"{_NAME}-r{_NUMBER}-{_NAME}-(?:soft|hard{_NUMBER})-{_NAME}"
_VARIANT_RE = re.compile(
    rf"^(?P<source>{_NAME})-r(?P<ratio>{_NUMBER})-(?P<fill>{_NAME})-(?P<shape>soft|hard(?P<q>{_NUMBER}))-(?P<scheme>{_NAME})$"
)


def format_number(value: float) -> str:
    """The one spelling of a ratio or a quantile in names: Python's float repr (1 → '1.0', 0.25 → '0.25')."""
    return repr(float(value))


@dataclass(frozen=True)
class MaskVariant:
    source: str = "fcn"
    ratio: float = 1.0
    fill: str = "mean"
    shape: str = "soft"  # "soft" or "hard"
    q: float | None = None  # hard maps: the fraction of each image's pixels kept
    scheme: str = "fixed"

    def build(self) -> str:
        shape = "soft" if self.shape == "soft" else f"hard{format_number(self.q)}"
        return f"{self.source}-r{format_number(self.ratio)}-{self.fill}-{shape}-{self.scheme}"

    def describe(self) -> str:
        """For tables and figures: 'fcn, mean fill, soft, fixed'."""
        shape = "soft" if self.shape == "soft" else f"hard (top {format_number(self.q)})"
        return f"{self.source}, {self.fill} fill, {shape}, {self.scheme}"

    def is_paper(self) -> bool:
        """The paper's mask: its FCN's maps, soft, masking the normalised image (mean fill); at ratio 1
        the fixed and batch schemes coincide, so either compares with the paper's "+ mask" numbers."""
        return self.source == "fcn" and self.fill == "mean" and self.shape == "soft"

    def at_ratio(self, ratio: float) -> MaskVariant:
        return replace(self, ratio=float(ratio))

    def validate(self) -> MaskVariant:
        """Check every name against its registry and the numbers against their ranges; returns self."""
        from .saliency import SOURCES  # here, not at import: the attribution libraries load with it

        SOURCES.get(self.source)
        FILLS.get(self.fill)
        SCHEMES.get(self.scheme)
        if not 0.0 <= self.ratio <= 1.0:
            raise CondenseError(f"mask ratio {self.ratio!r} in {self.build()!r} is outside [0, 1]")
        if self.shape not in ("soft", "hard"):
            raise CondenseError(f"mask shape {self.shape!r} is not soft or hard")
        if self.shape == "hard" and not (self.q is not None and 0.0 < self.q <= 1.0):
            raise CondenseError(f"hard masks keep the top q of each image's pixels; q = {self.q!r} must be in (0, 1]")
        return self


def parse_variant(text: str) -> MaskVariant:
    """The variant a canonical string names; anything else is a one-line CondenseError with the expected form."""
    match = _VARIANT_RE.match(text)
    if match is None:
        raise CondenseError(
            f"mask variant {text!r} does not read as <source>-r<ratio>-<fill>-<soft|hard<q>>-<scheme>, e.g. fcn-r0.5-mean-soft-fixed"
        )
    shape = "soft" if match["shape"] == "soft" else "hard"
    variant = MaskVariant(
        match["source"], float(match["ratio"]), match["fill"], shape, float(match["q"]) if match["q"] else None, match["scheme"]
    ).validate()
    if variant.build() != text:
        raise CondenseError(f"mask variant {text!r} is not in its canonical spelling; write {variant.build()!r}")
    return variant


def method_name(method: str, variant: MaskVariant | None) -> str:
    """'dsa' + a variant → 'dsa-mask-fcn-r1.0-mean-soft-fixed'; no variant → the method itself."""
    return method if variant is None else f"{method}{SEPARATOR}{variant.build()}"


def split_method(name: str) -> tuple[str, MaskVariant | None]:
    """Inverse of :func:`method_name`."""
    method, sep, rest = name.partition(SEPARATOR)
    return method, (parse_variant(rest) if sep else None)
