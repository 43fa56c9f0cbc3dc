"""Where a curve crosses a level: the one rule behind every plateau, escape and emergence step.

Every measure of the book is :func:`first_crossing` on some curve: the plateau length of a loss
(App. D.1: the first time it falls to a fraction of its initial value), the emergence step of an
accuracy, the step at which attention reaches a level. One sentinel for "never": ``math.inf``
(test with ``math.isfinite``). Run records, being strict JSON, store ``null`` there instead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION
from sparse_attention_lab.tasks import checks

DIRECTIONS = ("below", "above")


def first_crossing(times: ArrayLike, values: ArrayLike, level: float, direction: str = "below") -> float:
    """First time a sampled curve reaches ``level``, linearly interpolated between samples.

    ``direction="below"`` (default) looks for ``values <= level`` (a loss falling),
    ``"above"`` for ``values >= level`` (an accuracy rising). If the first sample already
    satisfies it, returns ``times[0]``. Non-finite values (a diverged run) never satisfy it.

    Returns ``math.inf`` when the curve never reaches the level (a run that did not escape
    within its budget): a float sentinel, never ``None`` or ``nan``.
    """
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times must be a non-empty 1-D sequence, got shape {t.shape}.")
    if v.shape != t.shape:
        raise ValueError(f"values must have the shape of times {t.shape}, got {v.shape}.")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("times must be finite and strictly increasing.")
    level = checks.real("level", level)
    checks.choice("direction", direction, DIRECTIONS)
    reached = (v <= level) if direction == "below" else (v >= level)
    reached &= np.isfinite(v)
    hits = np.flatnonzero(reached)
    if hits.size == 0:
        return math.inf
    i = int(hits[0])
    if i == 0 or not math.isfinite(v[i - 1]):
        return float(t[i])
    # v[i-1] is on the other side of the level and v[i] reached it: interpolate linearly.
    weight = (v[i - 1] - level) / (v[i - 1] - v[i])
    return float(t[i - 1] + weight * (t[i] - t[i - 1]))


def plateau_time(
    times: ArrayLike, losses: ArrayLike, fraction: float = ESCAPE_FRACTION, initial: float | None = None
) -> float:
    """First time the loss falls to ``fraction`` x its initial value (App. D.1; 0.2 in the paper).

    ``initial`` defaults to ``losses[0]``; pass it when the curve does not start at the
    initialisation (or to measure against the theoretical 1/2). ``times`` may be training
    steps or gradient-flow time. Returns ``math.inf`` if the loss never gets there.
    """
    fraction = checks.real("fraction", fraction, above=0, below=1)
    if initial is None:
        flat = np.asarray(losses, dtype=float).reshape(-1)
        if flat.size == 0:
            raise ValueError("losses must be a non-empty sequence, got an empty one.")
        initial = flat[0]
    start = checks.real("initial", initial, above=0, why="the initial loss, losses[0] by default")
    return first_crossing(times, losses, fraction * start)



def _check_record(record: object) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("steps"), list):
        raise TypeError(f"record must be a run record (a dict with a 'steps' list), got {type(record).__name__}.")


def escape_step(
    record: dict, fraction: float | None = None, accuracy: float | None = None, curve: str = "test",
    reference: float | None = None,
) -> float:
    """Interpolated step at which a record's curve escapes the plateau; ``math.inf`` if never.

    ``fraction``: first step with loss <= ``fraction`` x the initial loss, or x ``reference``
    when given (a fixed loss, such as the plateau's 1/2 in linear regression: a readout that
    starts large starts far above the plateau).
    ``accuracy``: first step with accuracy >= ``accuracy``. Give exactly one.
    ``curve``: ``"test"`` (held-out data without repetition) or ``"train"`` (held-out data from
    the training distribution, with its repetition); App. D.1 leaves the choice open for
    Transformers, so the chapters show both.
    """
    _check_record(record)
    checks.choice("curve", curve, ("test", "train"))
    if (fraction is None) == (accuracy is None):
        raise ValueError("give exactly one of fraction and accuracy.")
    if fraction is not None:
        fraction = checks.real("fraction", fraction, above=0, below=1)
        if reference is not None:
            reference = checks.real("reference", reference, above=0)
    elif reference is not None:
        raise ValueError("reference goes with fraction (a loss threshold), not with accuracy.")
    else:
        accuracy = checks.real("accuracy", accuracy, at_least=0, at_most=1)
    steps = record["steps"]
    if not steps:
        return math.inf
    if fraction is None:
        return first_crossing(steps, record[f"{curve}_acc"], accuracy, direction="above")
    losses = [math.nan if v is None else v for v in record[f"{curve}_loss"]]  # null: non-finite
    if not math.isfinite(losses[0]):  # diverged from the start: there is no plateau to leave
        return math.inf
    return first_crossing(steps, losses, fraction * (losses[0] if reference is None else reference))



ATTENTION_LEVEL = 0.5


def attention_step(record: dict, level: float = ATTENTION_LEVEL) -> float:
    """Interpolated step at which some head's readout attention on the relevant token first
    reaches ``level``, on test sequences without repetition; ``math.inf`` if never.

    The emergence of sparse attention itself, which the paper's loss threshold (App. D.1)
    measures only indirectly: after it the model still has to learn the ``d x d`` map.
    """
    strongest = strongest_attention(record)
    level = checks.real("level", level, above=0, below=1)
    return first_crossing(record["steps"], strongest, level, direction="above")


def strongest_attention(record: dict) -> np.ndarray:
    """Per evaluation, the readout attention on the relevant token of the strongest head (the
    largest over layers and heads), on test sequences without repetition (the one home of the
    strongest head)."""
    _check_record(record)
    attention = record.get("probes", {}).get("readout_attention")
    if not attention:
        raise ValueError("record has no readout_attention probe (train with probe_attention=True).")
    values = np.asarray(attention, dtype=float)  # (evaluations, layers, heads)
    return values.reshape(len(values), -1).max(-1)

