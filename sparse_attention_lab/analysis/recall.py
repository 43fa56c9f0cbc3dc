"""Associative recall under repetition (Figs. 5 and 16): paired speed-ups and the late rise.

- :func:`repetition_speedups`: per ``(B, p)``, the emergence step of ``B = 1, p = 0`` over the
  setting's, paired by seed, with its bootstrap error (:func:`~.verdicts.ratio_of_means`).
- :func:`late_rise`: the paper's grokking-like pattern under strong repetition, "test accuracy
  eventually starts to increase late in training" (Sec. 3.2), read on a mean curve by one rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis.verdicts import Ratio, paired_ratio
from sparse_attention_lab.experiments.recall_summary import setting_of
from sparse_attention_lab.measure import escape_step, first_crossing

REFERENCE = (1.0, 0.0)
"""``(B, p)`` without repetition, the setting every speed-up is measured against."""


def repetition_speedups(records: Iterable[dict], accuracy: float, curve: str = "test") -> dict[tuple, Ratio | None]:
    """Per ``(B, p)`` other than :data:`REFERENCE`: the speed-up to ``accuracy`` on ``curve``,
    paired by seed; ``None`` where a seed never got there or fewer than two seeds pair."""
    steps: dict[tuple, dict[int, float]] = {}
    for record in records:
        steps.setdefault(setting_of(record), {})[record["seed"]] = escape_step(record, accuracy=accuracy, curve=curve)
    if REFERENCE not in steps:
        raise ValueError("records must contain the reference setting B = 1, p = 0.")
    out = {}
    for setting, mine in sorted(steps.items()):
        if setting == REFERENCE:
            continue
        out[setting] = paired_ratio(steps[REFERENCE], mine)
    return out


LEARNED = 0.9
"""Training-distribution accuracy at which a run has learned its own data."""
LOW = 0.2
"""How far below the training-distribution accuracy the test accuracy must then sit."""
RISE = 0.1
"""Test-accuracy gain that counts as a rise."""


@dataclass(frozen=True)
class LateRise:
    """The late-rise reading of one mean curve (see :func:`late_rise`)."""

    learned_at: float  # step at which the training-distribution accuracy reached LEARNED
    test_then: float  # test accuracy then
    early_gain: float  # test-accuracy gain over the first half of the rest of the run
    late_gain: float  # over the second half

    @property
    def low_period(self) -> bool:
        """Whether the test accuracy sat well below the training accuracy once the latter was learned."""
        return math.isfinite(self.learned_at) and self.test_then <= LEARNED - LOW

    @property
    def verdict(self) -> str:
        """"late rise", "no late rise", or "no low period" (the pattern's premise not reached)."""
        if not self.low_period:
            return "no low period"
        return "late rise" if self.late_gain >= RISE and self.late_gain > self.early_gain else "no late rise"


def late_rise(steps: Sequence[float], train_acc: Sequence[float], test_acc: Sequence[float]) -> LateRise:
    """Read the paper's late rise on one (mean) run: once the training-distribution accuracy has
    reached :data:`LEARNED`, is the test accuracy at least :data:`LOW` below, and does it gain at
    least :data:`RISE` over the second half of the remaining run, more than over the first?"""
    steps, train, test = (np.asarray(v, float) for v in (steps, train_acc, test_acc))
    if not (steps.size == train.size == test.size) or steps.size < 3:
        raise ValueError("steps, train_acc and test_acc must be curves of one length, at least 3 points.")
    reached = np.flatnonzero(train >= LEARNED)
    if reached.size == 0:
        return LateRise(math.inf, math.nan, math.nan, math.nan)
    start = int(reached[0])
    middle = (start + steps.size - 1) // 2
    return LateRise(float(steps[start]), float(test[start]), float(test[middle] - test[start]),
                    float(test[-1] - test[middle]))


def query_kind_ratios(records: Iterable[dict], accuracy: float) -> dict[float, Ratio | None]:
    """Per ``p > 0``: the step at which the other queries reach ``accuracy`` over the step at which
    the repeated queries do, paired by seed (above 1: the repeated queries come first); ``None``
    where a seed never got there. Records trained by
    :func:`~sparse_attention_lab.experiments.recall_summary.run_with_query_kinds`."""
    steps: dict[float, dict[str, dict[int, float]]] = {}
    for record in records:
        p = setting_of(record)[1]
        if p > 0:
            for kind in ("repeated", "other"):
                step = first_crossing(record["steps"], record["probes"][kind], accuracy, direction="above")
                steps.setdefault(p, {}).setdefault(kind, {})[record["seed"]] = step
    return {p: paired_ratio(kinds["other"], kinds["repeated"]) for p, kinds in sorted(steps.items())}
