"""Paper-layout tables as data: which (method, mask, IPC) cells each table shows, and how.

A layout lists *entries* (a method, plain or masked at ratio 1, e.g. "DSA + mask") and *IPCs*
(``None`` = the whole training set). Every (entry, IPC) pair is one cell; ``entries_as`` says
whether entries are the table's rows (IPC column groups) or its column groups (IPC rows).
:data:`EACH_METHOD` in a layout's entries stands for every registered condensation method, plain
and masked, in registration order, so a new method gets its rows without editing a layout.
``condense/reporting/tables.py`` renders them. Kept free of torch and pandas so the Snakefile can
import the layout names cheaply.

Add a table by adding a :class:`TableLayout` here; the workflow builds every registered layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.registry import Registry

WHOLE = None  # the "IPC" of the whole-dataset row/column


@dataclass(frozen=True)
class Entry:
    """One method, plain (``mask_ratio`` 0) or masked at ``mask_ratio``. ``published``: the key in
    ``condense/reporting/published.py`` to compare with (default: the method itself, or
    "<method>+mask" at ratio 1). ``whole``: the whole-dataset baseline, which only has a cell at IPC
    ``WHOLE`` (and every other entry only at numbered IPCs)."""

    label: str
    method: str
    mask_ratio: float = 0.0
    published: str | None = None
    whole: bool = False
    mask_label: str | None = None  # set when a table expands a masked entry per variant (its source and options)
    paper_mask: bool = True  # the variant is the paper's (FCN, mean fill, soft): compared with the published "+ mask"

    def applies(self, ipc: int | None) -> bool:
        return (ipc is WHOLE) == self.whole


@dataclass(frozen=True)
class EachMethod:
    """Placeholder: every condensation method (name, label) the caller passes, plain then masked."""

    masked: bool = True


EACH_METHOD = EachMethod()


@dataclass(frozen=True)
class TableLayout:
    title: str
    model: str
    entries: tuple[Entry | EachMethod, ...]
    ipcs: tuple[int | None, ...]
    entries_as: str = "rows"  # "rows": one row per entry, a column group per IPC; "columns": the transpose
    note: str = ""

    def expanded(self, methods: Sequence[tuple[str, str]] = ()) -> tuple[Entry, ...]:
        """The entries with :data:`EACH_METHOD` replaced by ``methods`` ((name, label) pairs)."""
        out: list[Entry] = []
        for entry in self.entries:
            if isinstance(entry, EachMethod):
                for name, label in methods:
                    out.append(Entry(label, name))
                    if entry.masked:
                        out.append(masked(label, name))
            else:
                out.append(entry)
        return tuple(out)


def has_cells(layout: TableLayout, dataset: str, evaluated_models: Sequence[str]) -> bool:
    """Whether ``layout`` has anything to show for ``dataset``: its network is among those evaluated
    there (ours), or a published number exists for it (the published column). A derived dataset with
    only ConvNet evaluations gets no AlexNet tables, which would be all dashes."""
    from .published import PUBLISHED  # torch-free, like this module

    return layout.model in evaluated_models or any(d == dataset and m == layout.model for d, m, _, _ in PUBLISHED)


def ipc_label(ipc: int | None) -> str:
    return "whole dataset" if ipc is WHOLE else f"IPC {ipc}"


def masked(label: str, method: str) -> Entry:
    """The mask rows of the paper: every real image drawn for matching is masked (ratio 1.0)."""
    return Entry(f"{label} + mask", method, 1.0)


WHOLE_DATASET = Entry("whole dataset", "full", whole=True)

LAYOUTS: Registry[TableLayout] = Registry("table layout")
LAYOUTS.add(
    "table1",
    TableLayout(
        title="Table 1 (Kim & Bae 2022): DC vs DC + mask, AlexNet",
        model="alexnet",
        entries=(Entry("DD", "dd"), Entry("DC", "dc", published="dc/table1"), masked("DC", "dc")),
        ipcs=(1, 10),
        entries_as="columns",
        note="DD is not implemented here: its column only shows the published value.",
    ),
)
LAYOUTS.add(
    "table2",
    TableLayout(
        title="Table 2 (Kim & Bae 2022): DC, DSA and DSA + mask, AlexNet",
        model="alexnet",
        entries=(Entry("DC", "dc"), Entry("DSA", "dsa"), masked("DSA", "dsa"), WHOLE_DATASET),
        ipcs=(1, 10, 50, WHOLE),
    ),
)
LAYOUTS.add(
    "convnet",
    TableLayout(
        title="ConvNet: coresets, {methods} with and without masks",
        model="convnet",
        entries=(Entry("random", "random"), Entry("herding", "herding"), EACH_METHOD, WHOLE_DATASET),
        ipcs=(1, 10, 50, WHOLE),
    ),
)
