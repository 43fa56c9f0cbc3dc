"""Numbers computed in a chapter, pasted into its text (the "Key results" box at the top).

MyST-NB's ``glue`` stores a value in the executed notebook, and ``{glue:text}`name``` in the
Markdown of the same page shows it, wherever the cell that computes it sits. Colab has no
``myst_nb``: there :func:`key_result` does nothing, and the page runs as it does in the book.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def key_result(name: str, text: str) -> None:
    """Glue ``text`` under ``name`` for ``{glue:text}`name``` (no output in the notebook); nothing
    where ``myst_nb`` is not installed."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"name must be a glue key of letters, digits and '_', got {name!r}.")
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}.")
    try:
        from myst_nb import glue
    except ImportError:  # Colab: no book to paste into
        return
    glue(name, text, display=False)
