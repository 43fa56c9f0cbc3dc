"""One figure style for the book's column (issue 23): sizes, layout and fonts of every figure.

The built book shows a figure at most :data:`COLUMN_PX` wide (its content column at a 1280 px
window). A figure :data:`COLUMN_WIDTH_IN` wide at :data:`BOOK_DPI` fits it at natural size, so a
10-pt label renders at ``10 / 72 * BOOK_DPI`` (about 14) px, in the book and in Jupyter alike.
Multi-panel figures go in rows of at most two panels (:func:`panels`), never one row of three or four.

Figure functions take the style with :func:`book_figure`; a chapter cell draws a single panel
with :func:`column_axes`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

BOOK_DPI = 100
"""Pixels per inch of every figure's PNG (matplotlib writes it into the PNG's ``pHYs`` chunk)."""
COLUMN_PX = 688
"""Width of the built book's content column at a 1280 px window (measured in Chromium)."""
COLUMN_WIDTH_IN = 6.7
"""Figure width: :data:`COLUMN_PX` at :data:`BOOK_DPI`, less a margin for the tight bounding box."""
ROW_HEIGHT_IN = 2.8
"""Height of one row of panels."""
SMALL_FONT = 8
"""The smallest text of a figure (legends, numbers on heat maps), in points: 11 px at natural size."""

RC = {
    "figure.dpi": BOOK_DPI,
    "savefig.dpi": BOOK_DPI,
    "figure.figsize": (COLUMN_WIDTH_IN, 4.0),
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": SMALL_FONT,
    "legend.title_fontsize": SMALL_FONT,
    "figure.titlesize": 10.5,
    "figure.labelsize": 9.5,
}
"""matplotlib settings of the book's figures, for the page as rendered at natural size."""

P = ParamSpec("P")
R = TypeVar("R")


def book_figure(draw: Callable[P, R]) -> Callable[P, R]:
    """Decorate a figure function so that it draws under :data:`RC` (fonts, resolution).

    Only the settings of :data:`RC` are set and restored (not ``plt.rc_context``, which restores
    every setting: in a Jupyter kernel it would turn interactive mode off again after the first
    figure resolves the inline backend, and no later figure would be shown)."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> R:
        saved = {key: plt.rcParams[key] for key in RC}
        plt.rcParams.update(RC)
        try:
            return draw(*args, **kwargs)
        finally:
            plt.rcParams.update(saved)

    return drawn


def panels(n: int, *, columns: int = 2, row_height: float = ROW_HEIGHT_IN, sharex: bool = False,
           sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A column-wide figure of ``n`` panels in rows of ``columns`` (constrained layout); when the
    last row is not full, its panels share the row's width. Axes are returned (and kept in
    ``fig.axes``) in reading order; ``sharex``/``sharey`` share with the first panel."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}.")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}.")
    if not (math.isfinite(row_height) and row_height > 0):
        raise ValueError(f"row_height must be a positive number, got {row_height!r}.")
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig = plt.figure(figsize=(COLUMN_WIDTH_IN, row_height * rows), dpi=BOOK_DPI, layout="constrained")
    grid = fig.add_gridspec(rows, columns * (n - (rows - 1) * columns))
    span = grid.ncols // columns
    axes: list[Axes] = []
    for i in range(n):
        row, col = divmod(i, columns)
        width = span if row < rows - 1 else grid.ncols // (n - (rows - 1) * columns)
        first = axes[0] if axes else None
        axes.append(fig.add_subplot(grid[row, col * width:(col + 1) * width],
                                    sharex=first if sharex else None, sharey=first if sharey else None))
    return fig, axes


def column_axes(height: float = 4.0) -> tuple[Figure, Axes]:
    """One column-wide panel ``height`` inches tall, at the book's resolution (constrained layout)."""
    fig, (ax,) = panels(1, row_height=height)
    return fig, ax
