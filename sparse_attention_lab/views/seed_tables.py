"""Tables of a verdict against the number of seeds (:mod:`sparse_attention_lab.analysis.seeds`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sparse_attention_lab.analysis.seeds import SeedCount, settled
from sparse_attention_lab.views.tables import Table

WORDS = {"above": "faster", "below": "slower", "unresolved": "unresolved"}
"""A speed-up's direction in words."""


def seeds_table(histories: Mapping[str, Sequence[SeedCount]], what: str) -> Table:
    """One row per setting: its speed-up ``×r ± se`` on ``what`` (the measure, in words) and its
    direction on the first 3, 5, ... seeds, and whether the direction is settled (the same on the
    last two counts). A blank cell is a count of seeds the setting has not reached."""
    counts = sorted({step.seeds for history in histories.values() for step in history})
    rows = []
    for claim, history in histories.items():
        by = {step.seeds: step for step in history}
        cells = [("-" if by[n].ratio is None else f"{by[n].ratio.plus_minus()}, {WORDS[by[n].direction]}")
                 if n in by else "" for n in counts]
        rows.append([claim, *cells, "yes" if settled(history) else "not yet"])
    caption = (f"Speed-up on {what} against no repetition, on the seeds 0 to n - 1, each paired across settings, "
               "± one bootstrap standard error; faster or slower only beyond two. Settled: the same direction at "
               "the last two counts.")
    return Table(["setting", *(f"{n} seeds" for n in counts), "settled"], rows, caption=caption)


def resolved_summary(histories: Mapping[str, Sequence[SeedCount]]) -> str:
    """The settings whose speed-up is resolved at their largest count of seeds, in words:
    ``"T = 256, d = 32, p = 0.3: faster, ×1.28 ± 0.07 (10 seeds, settled)"``; ``"none"`` if none."""
    parts = []
    for claim, history in histories.items():
        last = history[-1] if history else None
        if last is not None and last.direction != "unresolved":
            parts.append(f"{claim}: {WORDS[last.direction]}, {last.ratio.plus_minus()} ({last.seeds} seeds, "
                         f"{'settled' if settled(history) else 'not settled'})")
    return "; ".join(parts) or "none"
