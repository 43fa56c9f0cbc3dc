"""The book's figure style (views/style.py): figure functions set only their own settings."""

import matplotlib
import matplotlib.pyplot as plt

from sparse_attention_lab.views.style import RC, book_figure


def test_book_figure_sets_and_restores_only_its_settings():
    """Issue 23: ``plt.rc_context`` restored every setting, so in a kernel the interactive mode that
    the first figure switched on (resolving the inline backend) was switched off again, and no
    later figure was shown. A setting the figure function changes outside RC must survive."""
    was = matplotlib.is_interactive()
    matplotlib.interactive(False)
    font = plt.rcParams["font.size"]

    @book_figure
    def draw() -> float:
        matplotlib.interactive(True)  # what resolving the inline backend does
        return plt.rcParams["font.size"]

    try:
        assert draw() == RC["font.size"]
        assert matplotlib.is_interactive()
        assert plt.rcParams["font.size"] == font
    finally:
        matplotlib.interactive(was)
