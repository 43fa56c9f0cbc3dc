"""How a verdict moves as seeds are added: one ratio recomputed on the first ``n`` seeds, for growing
``n``. A verdict is *settled* when the direction of :mod:`.verdicts` no longer changes over the last
counts; this is how the book says whether more seeds would still change a claim."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from sparse_attention_lab.analysis.measurement import grid_fraction
from sparse_attention_lab.analysis.recall import REFERENCE, repetition_speedups, setting_of
from sparse_attention_lab.analysis.regression import speedup
from sparse_attention_lab.analysis.steps import step_rows
from sparse_attention_lab.analysis.verdicts import Ratio
from sparse_attention_lab.experiments.regression import full_config


@dataclass(frozen=True)
class SeedCount:
    """A ratio measured on the seeds ``0 .. seeds - 1``."""

    seeds: int
    ratio: Ratio | None  # None: fewer than two seeds pair, or a run never crossed

    @property
    def direction(self) -> str:
        """``"above"``, ``"below"`` or ``"unresolved"`` (:meth:`Ratio.direction`); unresolved without a ratio."""
        return "unresolved" if self.ratio is None else self.ratio.direction()


def ratio_by_seeds(records: Sequence[dict], ratio_of: Callable[[list[dict]], Ratio | None],
                   counts: Sequence[int], group: Callable[[dict], Hashable] | None = None) -> list[SeedCount]:
    """``ratio_of`` on the records of seeds ``0 .. n - 1`` for each ``n`` of ``counts`` that the
    records reach: with ``group`` (a record's setting), every group must hold those seeds. A count
    beyond the seeds present is left out, so a sweep still running is never read at more seeds than
    it has."""
    if not counts or any(not isinstance(n, int) or n < 2 for n in counts):
        raise ValueError(f"counts must be integers of at least 2, got {list(counts)!r}.")
    seeds_of: dict[Hashable, set[int]] = {}
    for record in records:
        seeds_of.setdefault(None if group is None else group(record), set()).add(record["seed"])
    present = set.intersection(*seeds_of.values()) if seeds_of else set()
    return [SeedCount(n, ratio_of([r for r in records if r["seed"] < n]))
            for n in sorted(set(counts)) if set(range(n)) <= present]


def settled(history: Sequence[SeedCount], last: int = 2) -> bool:
    """Whether the direction is the same at the ``last`` largest seed counts of ``history``
    (``False`` with fewer counts than that)."""
    if last < 2:
        raise ValueError(f"last must be at least 2, got {last}.")
    tail = list(history)[-last:]
    return len(tail) == last and len({step.direction for step in tail}) == 1


def repetition_by_seeds(records: Sequence[dict], measure: str = "test",
                        counts: Sequence[int] = (3, 5, 7, 10)) -> dict[str, list[SeedCount]]:
    """Fig. 3 right: per ``(T, d, p > 0)`` of ``records`` the speed-up against ``p = 0`` on
    ``measure`` (:func:`~sparse_attention_lab.analysis.regression.speedup`, seeds paired, at the
    grid's App. D.1 threshold), recomputed on the first ``n`` seeds for each ``n`` of ``counts``."""
    fraction = grid_fraction(full_config(r)["p"] for r in records)
    settings = sorted({(c["T"], c["d"], c["p"]) for c in map(full_config, records) if c["p"] > 0})
    def cell(T: int, d: int, p: float) -> list[dict]:
        return [r for r in records if (lambda c: (c["T"], c["d"]) == (T, d) and c["p"] in (0.0, p))(full_config(r))]

    return {f"T = {T}, d = {d}, p = {p:g}": ratio_by_seeds(
                cell(T, d, p), lambda runs, T=T, d=d, p=p: speedup(step_rows(runs, measure, fraction), T=T, d=d, p=p),
                counts, group=lambda r: full_config(r)["p"])
            for T, d, p in settings}


def recall_repetition_by_seeds(records: Sequence[dict], accuracy: float, curve: str = "test",
                               counts: Sequence[int] = (3, 5, 7, 10)) -> dict[str, list[SeedCount]]:
    """Figs. 5 and 16: per repeated setting ``(B, p)`` the speed-up to ``accuracy`` on ``curve``
    against ``B = 1, p = 0`` (:func:`~sparse_attention_lab.analysis.recall.repetition_speedups`,
    seeds paired), recomputed on the first ``n`` seeds for each ``n`` of ``counts``."""
    settings = sorted(repetition_speedups(records, accuracy, curve))
    return {f"B = {B:g}, p = {p:g}": ratio_by_seeds(
                [r for r in records if setting_of(r) in (REFERENCE, (B, p))],
                lambda runs, s=(B, p): repetition_speedups(runs, accuracy, curve).get(s), counts, group=setting_of)
            for B, p in settings}
