"""Fig. 9: SGD on the toy model against the reduced theory, as ratios with their uncertainty.

The plateau of each SGD seed (App. D.1's 0.2 of the initial loss) over the reduced flow's plateau
at the same ``T`` and ``d``; the theory is one number, so the spread is the seeds'. A gap is
claimed only when :mod:`.verdicts` resolves it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sparse_attention_lab.analysis.verdicts import Ratio, direction, ratio_of_means
from sparse_attention_lab.experiments.toy_sgd import CONTROLS, control_of

TRACKS_WITHIN = 0.15
"""Ours: SGD "tracks" the reduced theory when its plateau is within 15% of the theory's. App. A.3.4
says only that the reduced dynamics depict SGD "quite accurately"; this is our reading of it."""


def theory_ratio(plateaus: Sequence[float], theory_plateau: float) -> Ratio:
    """Mean SGD plateau over ``theory_plateau``, with the standard error of its log over seeds; an
    infinite, censored ratio when a seed never escaped (a trial cut short by a step cap)."""
    if len(plateaus) < 2:
        raise ValueError(f"need at least two seeds' plateaus, got {len(plateaus)}.")
    if not all(math.isfinite(p) for p in plateaus):
        return Ratio(math.inf, math.inf, censored=True)
    return ratio_of_means([list(plateaus)], [[theory_plateau]])


def control_ratios(records: Sequence[dict], theory_plateau: float) -> dict[str, Ratio]:
    """Per control of :data:`~sparse_attention_lab.experiments.toy_sgd.CONTROLS` present in the
    records of the sweep ``fig9_T256``: :func:`theory_ratio` of its seeds' plateaus. A control
    with a seed that never escaped is left out."""
    plateaus: dict[str, list[float]] = {}
    for record in records:
        plateaus.setdefault(control_of(record["config"]), []).append(record["escape_step"])
    return {name: theory_ratio(plateaus[name], theory_plateau) for name in CONTROLS
            if name in plateaus and len(plateaus[name]) > 1 and None not in plateaus[name]}


@dataclass(frozen=True)
class GapChange:
    """How the log of a ratio moves from one size to another: ``log(later) - log(earlier)``."""

    change: float
    stderr: float

    @property
    def direction(self) -> str:
        """``"below"``: the ratio fell (a gap above 1 narrows); ``"above"``: it grew; else unresolved."""
        return direction(self.change, self.stderr)


def gap_change(earlier: Ratio, later: Ratio) -> GapChange:
    """The change of ``log`` ratio between two independent measurements, errors added in quadrature."""
    return GapChange(math.log(later.value) - math.log(earlier.value), math.hypot(earlier.log_stderr, later.log_stderr))
