"""The learning rate tuned per ``p`` on "the shortest average plateau length" (App. D.3, Fig. 3 right).

For each ``p`` and each candidate rate, the mean plateau (test loss at 0.4) over the runs at the
tuning ``d`` values (those every rate ran); once every rate has ``seeds_needed`` runs at each
tuning ``d``, the rate with the shorter mean is chosen, and Eq. 22 is fitted over every ``d`` at the
chosen rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis.measurement import REPEATED_ESCAPE_FRACTION
from sparse_attention_lab.analysis.steps import StepFit, fit_steps, step_rows
from sparse_attention_lab.profiles import PROFILES


@dataclass(frozen=True)
class RateCandidate:
    """One (p, learning rate) of a tuning: its seeds at each ``d``, and its mean plateau at the
    tuning ``d`` values once complete (``nan`` before; ``inf`` if a run never escaped)."""

    p: float
    lr: float
    seeds: dict[int, int]
    mean: float
    complete: bool


@dataclass(frozen=True)
class Tuning:
    """Every candidate, the chosen rate per ``p`` (tuned ones only) and the runs at those rates."""

    candidates: list[RateCandidate]
    chosen: dict[float, float]
    rows: list[dict]

    def fit(self) -> StepFit | None:
        """Eq. 22, ``C d^a f^g``, over every ``d`` at the chosen rates, once two or more ``p`` are tuned."""
        return fit_steps(self.rows, ("d", "f")) if len(self.chosen) >= 2 else None


def tune_rates(records: Sequence[dict], rates: Sequence[float], tuning_ds: Sequence[int], seeds_needed: int) -> Tuning:
    """:class:`Tuning` of ``records`` over ``rates`` (see the module docstring)."""
    rows = step_rows(records, "test", fraction=REPEATED_ESCAPE_FRACTION)
    candidates, chosen, kept = [], {}, []
    for p in sorted({r["p"] for r in rows}):
        at_p = {}
        for lr in rates:
            sub = [r for r in rows if r["p"] == p and r["lr"] == lr]
            seeds = {d: sum(r["d"] == d for r in sub) for d in sorted({r["d"] for r in sub})}
            complete = all(seeds.get(d, 0) >= seeds_needed for d in tuning_ds)
            mean = float(np.mean([r["plateau"] for r in sub if r["d"] in tuning_ds])) if complete else math.nan
            candidates.append(RateCandidate(p, lr, seeds, mean, complete))
            if complete:
                at_p[lr] = (mean, sub)
        if len(at_p) == len(rates):
            best = min(at_p, key=lambda lr: at_p[lr][0])
            chosen[p] = best
            kept += at_p[best][1]
    return Tuning(candidates, chosen, kept)


def sweep_plan(name: str = "fig3_p_tuned", profile: str = "laptop") -> tuple[list[float], list[int]]:
    """The rates of sweep ``name`` under ``profile`` and the ``d`` values every rate runs (the tuning ``d``)."""
    sizes = PROFILES[profile].sizes(name)
    return list(sizes["lr"]), sorted(set.intersection(*(set(ds) for ds in sizes["d"])))


def tune_sweep(records: Sequence[dict], seeds_needed: int = 5, name: str = "fig3_p_tuned",
               profile: str = "laptop") -> Tuning:
    """:func:`tune_rates` over the rates and tuning ``d`` of sweep ``name`` (:func:`sweep_plan`)."""
    rates, tuning_ds = sweep_plan(name, profile)
    return tune_rates(records, rates, tuning_ds, seeds_needed)
