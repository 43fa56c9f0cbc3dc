"""Fig. 3's exponents against model width, on the cells every width trained.

Each width's escape steps (the loss at 0.2 x its initial value, App. D.1) are fitted to
``C d^a T^b`` over the shared ``T`` x ``d`` cells, and to ``C d^a B^c`` over the shared
``d`` x ``B`` cells at one ``T``, on either loss (:data:`~sparse_attention_lab.analysis.steps.MEASURES`:
for ``B = 1`` the two are one distribution). One run per (cell, seed) is kept per width,
whichever sweep trained it (sweeps that differ only in their step cap train the same runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sparse_attention_lab.analysis.steps import StepFit, fit_steps, step_rows
from sparse_attention_lab.analysis.verdicts import direction

AXES = {"T and d": ("d", "T"), "B and d": ("d", "B")}
"""The two fits: Fig. 3 left (``B = 1``) and Fig. 3 middle (one ``T``)."""


@dataclass(frozen=True)
class WidthFit:
    """One width's fit over the shared cells, and how the model and optimizer were set."""

    width: int
    axes: str
    fit: StepFit
    runs: int
    model: str
    measure: str

    def distance(self, feature: str, paper: float) -> tuple[float, str]:
        """``((ours - paper) / SE, direction)``: how many standard errors from the paper's exponent."""
        estimate, stderr = self.fit.fit.exponents[feature], self.fit.stderr(feature)
        return (estimate - paper) / stderr, direction(estimate, stderr, paper)


def _rows_by_cell(records: Iterable[dict], measure: str = "test") -> dict[tuple, dict]:
    rows = {}
    for row in step_rows(records, measure, 0.2):
        rows.setdefault((row["T"], row["d"], row["B"], row["seed"]), row)
    return rows


def _model(row: dict) -> str:
    return (f"width {row['d_model']}, {row['n_heads']} heads, d_qk {row['d_qk']}, "
            f"{row['optimizer'].capitalize()} {row['lr']:g}")


def width_fits(
    records_by_width: Mapping[int, Iterable[dict]], axes: str = "T and d", measure: str = "test"
) -> list[WidthFit]:
    """One :class:`WidthFit` per width, each over the cells that every width trained, timed by
    ``measure`` (``"test"`` or ``"train"``)."""
    if axes not in AXES:
        raise ValueError(f"axes must be one of {sorted(AXES)}, got {axes!r}.")
    if len(records_by_width) < 2:
        raise ValueError("give the records of two widths or more.")
    by_width = {width: _rows_by_cell(records, measure) for width, records in records_by_width.items()}
    for width, rows in by_width.items():
        widths = {row["d_model"] for row in rows.values()}
        if widths != {width}:
            raise ValueError(f"the records given for width {width} have widths {sorted(widths)}.")
    shared = set.intersection(*({key[:3] for key in rows} for rows in by_width.values()))
    if not shared:
        raise ValueError("the widths share no (T, d, B) cell.")
    fits = []
    for width, rows in sorted(by_width.items()):
        mine = [row for key, row in rows.items() if key[:3] in shared]
        fits.append(WidthFit(width, axes, fit_steps(mine, AXES[axes]), len(mine), _model(mine[0]), measure))
    return fits


def convergence(fits: list[WidthFit], feature: str, paper: float) -> tuple[float, float, str]:
    """``(change, stderr, verdict)``: how the distance of ``feature``'s exponent from the paper's
    changes from the narrowest width to the widest, ``|wide - paper| - |narrow - paper|``;
    ``"towards the paper's"`` or ``"away from the paper's"`` when resolved
    (:func:`~.verdicts.direction`), else ``"unresolved"``."""
    narrow, wide = min(fits, key=lambda f: f.width), max(fits, key=lambda f: f.width)
    change = abs(wide.fit.fit.exponents[feature] - paper) - abs(narrow.fit.fit.exponents[feature] - paper)
    stderr = float(math.hypot(narrow.fit.stderr(feature), wide.fit.stderr(feature)))
    verdict = {"below": "towards the paper's", "above": "away from the paper's"}
    return change, stderr, verdict.get(direction(change, stderr), "unresolved")
