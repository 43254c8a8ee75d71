"""Range and finiteness checks for numbers from the command line, the config and settings dataclasses.

One rule, one message style: ``--lr-img -1.0 is out of range (must be > 0); ...``. Stages,
settings resolution and the workflow's config check all call :func:`check_number`, so a bad value
is caught where it enters, before any work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import CondenseError


@dataclass(frozen=True)
class Bounds:
    """Allowed range of a number: ``low <= x`` (or ``low < x`` when ``open_low``), ``x <= high``; always finite."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.open_low else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high}" if isinstance(self.high, int) else f"<= {self.high:g}")
        return " and ".join(parts) or "finite"

    def admits(self, value: float) -> bool:
        if isinstance(value, int):  # compared exactly: a float would round 2**63 - 1 up to 2**63
            pass
        elif not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or value <= self.high

    def schema(self) -> dict:
        """The same bounds as JSON-schema keywords."""
        out: dict = {}
        if self.low is not None:
            out["exclusiveMinimum" if self.open_low else "minimum"] = self.low
        if self.high is not None:
            out["maximum"] = self.high
        return out


SEED_MAX = 2**63 - 1  # seeds are mixed into 64-bit words (core/runtime.derive_seed); larger ones would wrap onto small ones
POSITIVE = Bounds(low=0, open_low=True)
NON_NEGATIVE = Bounds(low=0)
AT_LEAST_ONE = Bounds(low=1)
UNIT = Bounds(low=0, high=1)
SEED = Bounds(low=0, high=SEED_MAX)


def check_number(name: str, value, bounds: Bounds, hint: str = "") -> None:
    """Raise a one-line CondenseError unless ``value`` is a finite number within ``bounds``."""
    if isinstance(value, bool):
        raise CondenseError(f"{name} {value!r} is not a number; give a value {bounds.describe()}{hint}")
    try:
        number = value if isinstance(value, int) else float(value)
    except (TypeError, ValueError):
        raise CondenseError(f"{name} {value!r} is not a number; give a value {bounds.describe()}{hint}") from None
    if not bounds.admits(number):
        raise CondenseError(f"{name} {value!r} is out of range (must be {bounds.describe()}){hint}")
