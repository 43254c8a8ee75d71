"""Shared by the figures: matplotlib without a screen, and titles wrapped to the figure's width."""

from __future__ import annotations

import textwrap


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def suptitle(fig, text: str, fontsize: int = 10) -> None:
    """The figure title, each line wrapped to the figure's width."""
    width = max(40, int(fig.get_figwidth() * 120 / fontsize))  # characters per inch fall as the font grows
    fig.suptitle("\n".join(textwrap.fill(line, width) for line in text.split("\n")), fontsize=fontsize)
