"""The open-choice ablation at the paper's width: how far each reading moves the escape.

For each reading of :data:`~sparse_attention_lab.experiments.ablation.ABLATIONS` and each
threshold reference (:data:`READINGS`), on the ``T`` x ``d`` cells of sweep ``fig3_ablation``:

- ``factor``: the geometric mean over cells of (mean escape step, this reading) / (ours), with a
  bootstrap over seeds (:func:`~.verdicts.ratio_of_means`), and its direction by the one rule;
- ``law_over_ours``: the paper's law ``0.76 d^1.29 T^0.80`` over the mean escape step, the same way;
- the local exponents of ``d`` and ``T`` fitted over the cells, their change from ours fitted
  on the same cells, and its direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.steps import StepFit, fit_steps
from sparse_attention_lab.analysis.verdicts import Ratio, direction, ratio_of_means
from sparse_attention_lab.experiments.ablation import ABLATIONS, OURS, PLATEAU_LOSS, variant
from sparse_attention_lab.experiments.regression import full_config
from sparse_attention_lab.measure import escape_step

FRACTION = 0.2
"""App. D.1's escape threshold without repetition, as a fraction of the reference loss."""

READINGS: dict[str, float | None] = {"initial test loss": None, "plateau loss 1/2": PLATEAU_LOSS}
"""The threshold's reference: the run's own initial test loss (ours) or the plateau's level."""


@dataclass(frozen=True)
class AblationRow:
    """One reading under one threshold reference (see the module docstring)."""

    reading: str
    reference: str
    cells: int
    runs: int
    censored: int
    factor: Ratio
    law_over_ours: Ratio
    fit: StepFit | None
    exponent_change: dict[str, tuple[float, float]]

    @property
    def verdict(self) -> str:
        """"slower", "faster" or "unresolved": the factor's direction by the one rule."""
        return {"above": "slower", "below": "faster"}.get(self.factor.direction(), "unresolved")

    def change_verdict(self, feature: str) -> str:
        """"steeper", "flatter" or "unresolved": the change of ``feature``'s exponent from ours."""
        change, stderr = self.exponent_change.get(feature, (math.nan, math.nan))
        return {"above": "steeper", "below": "flatter"}.get(direction(change, stderr), "unresolved")


def escape_table(records: Iterable[dict], reference: float | None) -> dict[str, dict[tuple[int, int], list]]:
    """``{reading: {(T, d): [(step, capped), ...]}}``: each run's escape on the test loss at
    :data:`FRACTION` x ``reference`` (``None``: its initial loss); a run that never crossed
    counts at its step cap, flagged ``capped``."""
    table: dict[str, dict[tuple[int, int], list]] = {}
    for record in records:
        config = full_config(record)
        step = escape_step(record, fraction=FRACTION, curve="test", reference=reference)
        capped = not math.isfinite(step)
        cell = table.setdefault(variant(record["config"]), {}).setdefault((config["T"], config["d"]), [])
        cell.append((float(config["max_steps"]) if capped else step, capped, record["seed"]))
    return table


def _fit(cells: dict[tuple[int, int], list]) -> StepFit | None:
    rows = [{"T": T, "d": d, "seed": seed, "plateau": math.inf if capped else step}
            for (T, d), runs in cells.items() for step, capped, seed in runs]
    finite = [r for r in rows if math.isfinite(r["plateau"])]
    if len({r["T"] for r in finite}) < 2 or len({r["d"] for r in finite}) < 2:
        return None
    return fit_steps(rows, ("d", "T"))


def ablation_rows(records: Iterable[dict], law: str = "Fig. 3") -> list[AblationRow]:
    """One :class:`AblationRow` per (reading present, threshold reference), readings in the order
    of :data:`ABLATIONS`, on the cells each reading shares with ours."""
    records = list(records)
    target = paper.law(law)
    rows = []
    for reference_name, reference in READINGS.items():
        table = escape_table(records, reference)
        if OURS not in table:
            raise ValueError("records: no run of our own reading, nothing to compare with.")
        for reading in (name for name in ABLATIONS if name in table):
            cells = {cell: runs for cell, runs in table[reading].items() if cell in table[OURS]}
            if not cells:
                continue
            keys = sorted(cells)
            steps = [[s for s, _, _ in cells[c]] for c in keys]
            ours = [[s for s, _, _ in table[OURS][c]] for c in keys]
            laws = [[target.steps(T=T, d=d, B=1)] for T, d in keys]
            censored = sum(capped for c in keys for _, capped, _ in cells[c])
            factor = ratio_of_means(steps, ours)
            level = ratio_of_means(laws, steps)
            fit = _fit(cells)
            ours_fit = _fit({cell: table[OURS][cell] for cell in keys})  # ours on the same cells
            change = {}
            if fit is not None and ours_fit is not None and reading != OURS:
                for feature in ("d", "T"):
                    delta = fit.fit.exponents[feature] - ours_fit.fit.exponents[feature]
                    change[feature] = (delta, float(np.hypot(fit.stderr(feature), ours_fit.stderr(feature))))
            rows.append(AblationRow(
                reading, reference_name, len(keys), sum(len(cells[c]) for c in keys), censored,
                Ratio(factor.value, factor.log_stderr, censored > 0),
                Ratio(level.value, level.log_stderr, censored > 0), fit, change,
            ))
    return rows


def closest_to_paper(rows: Iterable[AblationRow], reference: str) -> AblationRow:
    """The reading under ``reference`` whose escape steps come closest to the paper's law (the
    paper's law over ours nearest 1 on a log scale)."""
    mine = [row for row in rows if row.reference == reference]
    if not mine:
        raise ValueError(f"no row under the reference {reference!r}; the references are {list(READINGS)}.")
    return min(mine, key=lambda row: abs(math.log(row.law_over_ours.value)))
