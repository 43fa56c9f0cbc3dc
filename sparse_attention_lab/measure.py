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
    if not math.isfinite(level):
        raise ValueError(f"level must be a finite number, got {level!r}.")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}.")
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
    times: ArrayLike, losses: ArrayLike, fraction: float = 0.2, initial: float | None = None
) -> float:
    """First time the loss falls to ``fraction`` x its initial value (App. D.1; 0.2 in the paper).

    ``initial`` defaults to ``losses[0]``; pass it when the curve does not start at the
    initialisation (or to measure against the theoretical 1/2). ``times`` may be training
    steps or gradient-flow time. Returns ``math.inf`` if the loss never gets there.
    """
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction < 1.0):
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}.")
    start = float(np.asarray(losses, dtype=float).reshape(-1)[0]) if initial is None else float(initial)
    if not (math.isfinite(start) and start > 0):
        raise ValueError(f"initial must be a positive finite loss, got {start!r}.")
    return first_crossing(times, losses, fraction * start)



def escape_step(
    record: dict, fraction: float | None = None, accuracy: float | None = None, curve: str = "test"
) -> float:
    """Interpolated step at which a record's curve escapes the plateau; ``math.inf`` if never.

    ``fraction``: first step with loss <= ``fraction`` x the initial loss.
    ``accuracy``: first step with accuracy >= ``accuracy``. Give exactly one.
    ``curve``: ``"test"`` (no repetition, the paper's measure) or ``"train"`` (the training
    distribution, with its repetition).
    """
    if curve not in ("test", "train"):
        raise ValueError(f"curve must be 'test' or 'train', got {curve!r}.")
    if (fraction is None) == (accuracy is None):
        raise ValueError("give exactly one of fraction and accuracy.")
    if fraction is not None and not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}.")
    steps = record["steps"]
    if not steps:
        return math.inf
    if fraction is None:
        return first_crossing(steps, record[f"{curve}_acc"], accuracy, direction="above")
    losses = record[f"{curve}_loss"]
    if not math.isfinite(losses[0]):  # diverged from the start: there is no plateau to leave
        return math.inf
    return first_crossing(steps, losses, fraction * losses[0])



ATTENTION_LEVEL = 0.5


def attention_step(record: dict, level: float = ATTENTION_LEVEL) -> float:
    """Interpolated step at which some head's readout attention on the relevant token first
    reaches ``level``, on test sequences without repetition; ``math.inf`` if never.

    The emergence of sparse attention itself, which the paper's loss threshold (App. D.1)
    measures only indirectly: after it the model still has to learn the ``d x d`` map.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}.")
    attention = record.get("probes", {}).get("readout_attention")
    if not attention:
        raise ValueError("record has no readout_attention probe (train with probe_attention=True).")
    strongest = [max(max(heads) for heads in layers) for layers in attention]
    return first_crossing(record["steps"], strongest, level, direction="above")

