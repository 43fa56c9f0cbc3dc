"""The one rule for directions and ratios: resolved only beyond two standard errors.

A difference, a ratio or a sign is claimed only when the estimate lies more than
:data:`RESOLVED_AT` standard errors from the null; otherwise the verdict is "unresolved". Ratios
are judged on the log scale, where a bootstrap's spread is symmetric.

A number of a deterministic computation (the reduced flow, whose fits have no noise) is judged by a
stated tolerance instead (:func:`close`), and :func:`figure_verdict` turns the verdicts of one
paper figure's scorecard rows into one.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.tasks import checks

RESOLVED_AT = 2.0
"""Standard errors needed to call a direction."""


EXPONENT_TOLERANCE = 0.03
"""Absolute tolerance within which an exponent of a deterministic fit is "close" to the paper's: the
paper quotes exponents to two decimals, and its two fits of the same reduced flow give the exponent
of ``sqrt(d) T`` as 0.99 (Fig. 2 left) and 1.02 (Fig. 2 right)."""

MEETS = ("agrees", "close", "holds")
"""Row verdicts that meet the paper: within two standard errors, within a stated tolerance, a claim that holds."""
FOLLOWS = ("same sign",)
"""Row verdicts that follow the paper's direction but not its size."""
CONTRADICTS = ("opposite sign", "differs", "does not hold")
"""Row verdicts against the paper."""
NOT_MEASURED = "not yet measured at this scale"
ROW_VERDICTS = (*MEETS, *FOLLOWS, "unresolved", *CONTRADICTS, NOT_MEASURED)
"""Every verdict a scorecard row can carry."""
FIGURE_VERDICTS = ("reproduced", "reproduced qualitatively", "differs", NOT_MEASURED)
"""Every verdict :func:`figure_verdict` gives a paper figure."""


def direction(estimate: float, stderr: float, null: float = 0.0) -> str:
    """``"above"``, ``"below"`` or ``"unresolved"``: ``estimate +- stderr`` against ``null``.

    Unresolved unless ``|estimate - null| > RESOLVED_AT * stderr`` with a finite, non-negative
    ``stderr``.
    """
    stderr = checks.real("stderr", stderr, at_least=0) if math.isfinite(stderr) else stderr
    if not (math.isfinite(estimate) and math.isfinite(stderr)):
        return "unresolved"
    if abs(estimate - null) <= RESOLVED_AT * stderr:
        return "unresolved"
    return "above" if estimate > null else "below"


def close(estimate: float, reference: float, abs_tol: float = 0.0, rel_tol: float = 0.0) -> bool:
    """Whether ``|estimate - reference| <= max(abs_tol, rel_tol |reference|)`` (a finite ``estimate``):
    the rule for numbers without noise, which a standard error cannot judge."""
    abs_tol = checks.real("abs_tol", abs_tol, at_least=0)
    rel_tol = checks.real("rel_tol", rel_tol, at_least=0)
    return math.isfinite(estimate) and abs(estimate - reference) <= max(abs_tol, rel_tol * abs(reference))


def figure_verdict(verdicts: Sequence[str]) -> str:
    """One verdict (:data:`FIGURE_VERDICTS`) for a paper figure from its scorecard rows' verdicts
    (:data:`ROW_VERDICTS`):

    - ``NOT_MEASURED`` when no row was measured at this scale (or there is none);
    - ``"differs"`` when the rows against the paper (:data:`CONTRADICTS`) are at least as many as
      those that meet it or follow its direction;
    - ``"reproduced"`` when more than half of the rows meet the paper (:data:`MEETS`), the others
      follow its direction, and none is against it, unresolved or not measured;
    - ``"reproduced qualitatively"`` otherwise.
    """
    verdicts = list(verdicts)
    unknown = sorted(set(verdicts) - set(ROW_VERDICTS))
    if unknown:
        raise ValueError(f"verdicts must be among {ROW_VERDICTS}, got {unknown}.")
    meets, follows, against = (sum(v in kind for v in verdicts) for kind in (MEETS, FOLLOWS, CONTRADICTS))
    if all(v == NOT_MEASURED for v in verdicts):
        return NOT_MEASURED
    if against >= meets + follows:
        return "differs"
    if meets + follows == len(verdicts) and meets > len(verdicts) / 2:
        return "reproduced"
    return "reproduced qualitatively"


@dataclass(frozen=True)
class Ratio:
    """A ratio ``value`` with the standard error of its logarithm (``log_stderr``)."""

    value: float
    log_stderr: float
    censored: bool = False  # some runs never crossed: the value is a bound

    @property
    def interval(self) -> tuple[float, float]:
        """``value`` times and divided by ``exp(RESOLVED_AT * log_stderr)``."""
        spread = math.exp(RESOLVED_AT * self.log_stderr)
        return self.value / spread, self.value * spread

    def direction(self) -> str:
        """:func:`direction` of ``log(value)`` against 0: ``"above"`` means a ratio above 1."""
        return direction(math.log(self.value), self.log_stderr) if self.value > 0 else "unresolved"

    def __str__(self) -> str:
        sign = ">= " if self.censored else ""
        return f"{sign}x{self.value:.2f} (x/÷ {math.exp(self.log_stderr):.2f})"

    def plus_minus(self) -> str:
        """``"×1.13 ± 0.06"``: the ratio and its standard error (``value x log_stderr``, to first order);
        without a finite ratio and error (a run that never crossed, e.g. under a step cap), says so."""
        if not (math.isfinite(self.value) and math.isfinite(self.value * self.log_stderr)):
            return "no finite ratio (a run never crossed)"
        return f"×{self.value:.2f} ± {self.value * self.log_stderr:.2f}"


def _log_mean(values: np.ndarray) -> float:
    return float(np.log(np.mean(values)))


def ratio_of_means(
    numerators: Sequence[Sequence[float]], denominators: Sequence[Sequence[float]],
    n_boot: int = 2000, seed: int = 0, paired: bool = False,
) -> Ratio:
    """The geometric mean over cells of ``mean(numerators[i]) / mean(denominators[i])``, with a
    bootstrap of its log over the seeds of each cell: each group resampled on its own, or, with
    ``paired``, the same seeds drawn for both (value ``k`` of both groups is seed ``k``, sharing
    its initialisation and test set). The spread is scaled by ``sqrt(n / (n - 1))`` for the
    smallest number of seeds ``n > 1`` in a group (a bootstrap's known bias); a group of one value
    is a constant, and with one value in every group the error is infinite.

    Each cell holds one list of values per group (one value per seed). Infinite values (runs that
    never crossed) must already be replaced by their cap; pass ``censored`` through :class:`Ratio`.
    """
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("give one list of seeds per cell for both groups, the same cells.")
    if paired and any(len(a) != len(b) for a, b in zip(numerators, denominators, strict=True)):
        raise ValueError("paired seeds need as many values in both groups of every cell.")
    cells = [(np.asarray(a, float), np.asarray(b, float)) for a, b in zip(numerators, denominators, strict=True)]
    for a, b in cells:
        if a.size == 0 or b.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise ValueError("every cell needs finite values in both groups.")
        if np.any(a <= 0) or np.any(b <= 0):
            raise ValueError("a ratio of steps needs positive values.")
    point = np.mean([_log_mean(a) - _log_mean(b) for a, b in cells])
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for k in range(n_boot):
        logs = []
        for a, b in cells:
            pick = rng.integers(0, a.size, a.size)
            logs.append(_log_mean(a[pick]) - _log_mean(b[pick if paired else rng.integers(0, b.size, b.size)]))
        draws[k] = np.mean(logs)
    # a bootstrap over n values spreads like (n - 1)/n of the sampling variance: undo it for the
    # smallest cell (with 2-5 seeds the bias is 10-30% of the error)
    # (a group of one value, such as a law's prediction, is a constant and adds no spread)
    sizes = [group.size for a, b in cells for group in (a, b) if group.size > 1]
    n = min(sizes, default=1)
    correction = math.sqrt(n / (n - 1)) if n > 1 else math.inf
    return Ratio(float(math.exp(point)), float(draws.std(ddof=1)) * correction)


def paired_ratio(numerator: Mapping[Hashable, float], denominator: Mapping[Hashable, float]) -> Ratio | None:
    """:func:`ratio_of_means` of one cell, the values keyed by seed and paired on the seeds both
    hold; ``None`` when fewer than two seeds pair or a value is not positive and finite (a run
    that never crossed)."""
    seeds = sorted(set(numerator) & set(denominator))
    top, bottom = [numerator[s] for s in seeds], [denominator[s] for s in seeds]
    if len(seeds) < 2 or not all(0 < v < math.inf for v in top + bottom):
        return None
    return ratio_of_means([top], [bottom], paired=True)
