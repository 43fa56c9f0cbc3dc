"""Inside the Transformer: the lead of the weights over the attention, the heads that turn
sparse, and the shortcut under cross-sample repetition (Fig. 1b, Section 2.3, Figs. 12-13).

The records are those of :func:`sparse_attention_lab.experiments.mechanism.run` (with the
``alignment`` and ``readout_attention`` probes) and of the regression sweeps.

- :func:`weight_side`: the toy model's ``w`` read in a Transformer, ``m / alpha``;
- :func:`lead`, :func:`transformer_lead`, :func:`toy_lead`, :func:`lead_rows`: the time between
  the weight side and the attention covering :data:`LEAD_FRACTION` of their rise, in steps and
  relative to the plateau, beside the toy model's reduced dynamics;
- :func:`final_attention`, :func:`sparse_heads`: the readout attention at the end of training;
- :func:`shortcut_offset`, :func:`loss_rise`: the test-loss cost of the attention-free shortcut
  that cross-sample repetition offers (Fig. 12).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION
from sparse_attention_lab.experiments.regression import build, full_config
from sparse_attention_lab.measure import (
    ATTENTION_LEVEL,
    escape_step,
    first_crossing,
    strongest_attention,
)
from sparse_attention_lab.theory.reduced import reduced_dynamics

LEAD_FRACTION = 0.1
"""Ours: the fraction of its rise (from its initial to its final value) at which a variable counts
as having moved. Measured from the initial value, not from zero: the attention starts at the
uniform ``1 / (T + 1)``, which at ``T = 16`` is already more than half of 10% of its final value."""


def weight_side(record: dict) -> np.ndarray:
    """Per evaluation, ``w = m / alpha``: the end-to-end alignment per unit of readout attention."""
    return np.asarray(record["probes"]["alignment"], dtype=float) / strongest_attention(record)


def moved_at(times: Sequence[float], values: Sequence[float], fraction: float = LEAD_FRACTION) -> float:
    """First time ``values`` has covered ``fraction`` of its rise from ``values[0]`` to
    ``values[-1]`` (``math.inf`` if never; ``ValueError`` if it does not rise)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}.")
    values = np.asarray(values, dtype=float)
    if not values[-1] > values[0]:
        raise ValueError(f"values must end above where they start, got {values[0]!r} -> {values[-1]!r}.")
    return first_crossing(times, values, values[0] + fraction * (values[-1] - values[0]), direction="above")


def lead(times: Sequence[float], w: Sequence[float], alpha: Sequence[float], fraction: float = LEAD_FRACTION) -> float:
    """Time from ``w`` covering ``fraction`` of its rise to ``alpha`` doing so (positive: the
    weights move first)."""
    return moved_at(times, alpha, fraction) - moved_at(times, w, fraction)


def transformer_lead(record: dict, fraction: float = LEAD_FRACTION) -> dict:
    """The lead of a mechanism run's record: in steps, and relative to its escape step (App. D.1's
    :data:`~sparse_attention_lab.analysis.measurement.ESCAPE_FRACTION` of the initial test loss)."""
    steps = record["steps"]
    value = lead(steps, weight_side(record), strongest_attention(record), fraction)
    escape = escape_step(record, fraction=ESCAPE_FRACTION)
    return {"lead": value, "escape": escape, "relative": value / escape}


def toy_lead(T: int, d: int, B: int = 1, fraction: float = LEAD_FRACTION) -> dict:
    """The lead of the toy model's reduced dynamics from the origin (gradient-flow time), and
    relative to its plateau (App. D.1's threshold of the initial loss)."""
    trajectory = reduced_dynamics(T, d, B, n_points=2000)
    value = lead(trajectory.times, trajectory.w, trajectory.alpha, fraction)
    return {"lead": value, "escape": trajectory.plateau, "relative": value / trajectory.plateau}


def lead_rows(records: Sequence[dict]) -> list[dict]:
    """Per ``(T, d)`` of ``records``: the Transformer's lead (mean and spread over seeds, in steps
    and over the escape step) and the toy model's lead over its plateau."""
    settings = sorted({(full_config(r)["T"], full_config(r)["d"]) for r in records})
    rows = []
    for T, d in settings:
        leads = [transformer_lead(r) for r in records if (full_config(r)["T"], full_config(r)["d"]) == (T, d)]
        relative = np.array([x["relative"] for x in leads])
        steps = np.array([x["lead"] for x in leads])
        rows.append({"T": T, "d": d, "seeds": len(leads), "lead": float(steps.mean()),
                     "lead_sd": float(steps.std(ddof=1)) if len(steps) > 1 else math.nan,
                     "relative": float(relative.mean()),
                     "relative_sd": float(relative.std(ddof=1)) if len(relative) > 1 else math.nan,
                     "toy_relative": toy_lead(T, d)["relative"]})
    return rows


def final_attention(record: dict) -> np.ndarray:
    """Readout attention on the relevant token at the last evaluation, ``(layers, heads)``, on test
    sequences without repetition (:func:`~sparse_attention_lab.training.probes.relevant_attention_probe`)."""
    attention = record.get("probes", {}).get("readout_attention")
    if not attention:
        raise ValueError("record has no readout_attention probe (train with probe_attention=True).")
    return np.asarray(attention[-1], dtype=float)


def sparse_heads(record: dict, level: float = ATTENTION_LEVEL) -> int:
    """How many heads end training with at least ``level`` of the readout's attention on the
    relevant token (:func:`final_attention`)."""
    return int((final_attention(record) >= level).sum())


def shortcut_offset(config: dict) -> float:
    """Test-loss cost of the attention-free shortcut under cross-sample repetition: the mean
    training target is ``p W* x~`` (``x~`` the special token), and outputting it on every
    sequence adds ``p^2 |W* x~|^2 / 2`` to the loss of a test sequence without repetition (0 when
    ``signed_repeat`` makes the repeated targets zero-mean)."""
    task = build(config)[0]
    if task.signed_repeat:
        return 0.0
    return task.p**2 * float((task.W_star @ task.special_token).square().sum()) / 2


def loss_rise(record: dict) -> tuple[float, float]:
    """``(highest / initial test loss, 1 + shortcut_offset / initial test loss)`` of one run (Fig. 12)."""
    initial = record["test_loss"][0]
    return max(record["test_loss"]) / initial, 1 + shortcut_offset(record["config"]) / initial
