"""Tables for the chapters: rendered as Markdown in the book, printed as the same text.

A :class:`Table` is the last expression of a cell (or passed to ``display``): Jupyter shows its
Markdown, and its plain-text form (what ``nbval`` compares) is that same Markdown source, so a
table of numbers stays checkable by the notebook tests.
"""

from __future__ import annotations

from collections.abc import Sequence


class Table:
    """A Markdown table with a header, rows of cells (any objects, shown with ``str``) and an
    optional caption printed under it."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> None:
        header = [str(h) for h in header]
        if not header:
            raise ValueError("header must name at least one column.")
        rows = [[str(cell) for cell in row] for row in rows]
        wrong = [i for i, row in enumerate(rows) if len(row) != len(header)]
        if wrong:
            raise ValueError(f"rows {wrong} do not have {len(header)} cells, one per header column.")
        self.header, self.rows, self.caption = header, rows, caption

    def to_markdown(self) -> str:
        """The table as Markdown source (pipes inside cells escaped)."""
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        lines = [line(self.header), "|" + "---|" * len(self.header)] + [line(row) for row in self.rows]
        return "\n".join(lines) + (f"\n\n{self.caption}" if self.caption else "")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()
