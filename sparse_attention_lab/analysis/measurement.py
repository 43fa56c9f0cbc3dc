"""App. D.1's measurement rule: which threshold and which curve time a plateau (one home).

App. D.1 times a plateau as the first step at which the loss falls below a fraction of its
initial value: :data:`ESCAPE_FRACTION` (0.2), or :data:`REPEATED_ESCAPE_FRACTION` (0.4) under
cross-sample repetition; for associative recall, the first step at which test accuracy reaches
:data:`EMERGENCE_ACCURACY` (5%). It names the loss for the toy model only ("with the same B value
as during training"); for the Transformer the book reads it the same way, a reading of ours
(:func:`escape_measure` with ``loss="paper"``), and shows both losses beside it
(:data:`LOSSES`).

This module holds constants and one rule only and imports nothing, so that every layer may read
it (``tests/test_layers.py`` places it with the measures).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

ESCAPE_FRACTION = 0.2
"""App. D.1: a plateau ends when the loss falls below 0.2 x its initial value."""

REPEATED_ESCAPE_FRACTION = 0.4
"""App. D.1: the same under cross-sample repetition, 0.4 x the initial test loss."""

EMERGENCE_ACCURACY = 0.05
"""App. D.1: associative recall emerges when test accuracy reaches 5%."""

OUR_ACCURACY = 0.5
"""Ours, not the paper's: the test accuracy at which the CPU chapters call associative recall
learned (chapter 5's schedule runs and recall forecasts; the runs' early stop,
``escape_accuracy`` of ``profiles.SIZES``, is the same 50%). The paper's criterion is
:data:`EMERGENCE_ACCURACY`."""

OUR_FRACTIONS = (0.2, 0.4, 0.6, 0.9)
"""Ours, not the paper's: the loss thresholds chapter 3 refits Fig. 3 at, to show how far the
exponents depend on the threshold."""

LOSSES = ("paper", "train", "test")
"""Which loss times a plateau: App. D.1's (``"paper"``), the training distribution's, or the test
loss without repetition."""

class Measure(NamedTuple):
    """A plateau's measure: the loss falls below ``fraction`` x its initial value on ``curve``
    (``"train"``: held-out data drawn like the training data; ``"test"``: without repetition)."""

    fraction: float
    curve: str

    def label(self) -> str:
        """``"test loss at 0.2 x its initial value"``: the measure in words, for captions."""
        loss = "training-distribution loss" if self.curve == "train" else "test loss"
        return f"{loss} at {self.fraction:g} x its initial value"


def escape_measure(B: float = 1, p: float = 0.0, loss: str = "paper") -> Measure:
    """The threshold and the curve that time a plateau trained with ``B`` and ``p`` (App. D.1),
    for the toy model and the Transformer on linear regression (recall: :data:`EMERGENCE_ACCURACY`).

    The threshold is 0.4 under cross-sample repetition (``p > 0``), else 0.2. ``loss="paper"``
    scores ``p > 0`` on the test loss without repetition and ``B > 1`` on data with the same
    ``B`` as in training (``"train"``): App. D.1's rule for the toy model, which for the
    Transformer is our reading. ``loss="train"`` or ``"test"`` names the curve.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if B < 1 or not 0 <= p <= 1:
        raise ValueError(f"B must be >= 1 and p in [0, 1], got B = {B!r}, p = {p!r}.")
    fraction = REPEATED_ESCAPE_FRACTION if p > 0 else ESCAPE_FRACTION
    if loss != "paper":
        return Measure(fraction, loss)
    return Measure(fraction, "train" if B > 1 and p == 0 else "test")


def grid_fraction(ps: Iterable[float]) -> float:
    """The one threshold of a grid of runs with repetition levels ``ps``: 0.4 when any run repeats
    across samples (its ``p = 0`` reference is measured the same way, so that speed-ups compare
    like with like), else 0.2 (App. D.1)."""
    return escape_measure(p=max(ps, default=0.0)).fraction
