"""The live repetition explorer of chapter 2: reduced dynamics under T, d, B, p and a threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION, REPEATED_ESCAPE_FRACTION
from sparse_attention_lab.theory.reduced import escape_time, reduced_dynamics
from sparse_attention_lab.views.live_explorer import LiveExplorer
from sparse_attention_lab.views.static_explorer import Frame, Panel

REPETITION_PANELS = (
    Panel("loss", ("training loss", "test loss (p = 0)"), "loss"),
    Panel("weights", ("repeated direction", "other directions"), "alignment per column (optimum 1)"),
    Panel("attention", ("alpha",), "attention alpha", log_y=True),
)
"""The panels of chapter 2's explorers: the curves of :func:`repetition_frame`."""

REPETITION_GRID = {
    "T": [64, 128, 256, 512, 1024, 2048, 4096],
    "d": [4, 8, 16, 32, 64, 128, 256, 512],
    "B": [1, 2, 4, 8],
    "p": [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
    "threshold": [0.05, 0.1, ESCAPE_FRACTION, REPEATED_ESCAPE_FRACTION],  # App. D.1's two, and two lower ones
}
"""Values offered by the live explorer's sliders (the paper's Fig. 2 and 10 settings inside)."""

EXPLORER_HORIZONS = (1.2, 20.0)
"""Curves of :func:`repetition_frame` end at these multiples of the predicted escape time, the
first at which the measured plateau ends (the linearization overestimates it, except at large ``p``)."""


def repetition_frame(setting: Mapping[str, float], n_points: int = 200) -> Frame:
    """One frame of chapter 2's explorer: the reduced flow at ``setting`` (Fig. 2, Fig. 10).

    ``setting`` holds ``T``, ``d``, ``B``, ``p`` and ``threshold``. Curves over gradient-flow
    time up to 1.2 x the predicted escape (longer, see :data:`EXPLORER_HORIZONS`, when the
    plateau lasts beyond it): training and test loss, the per-column alignment
    of ``W`` with the teacher along the repeated direction (``w1``) and the others
    (``w / sqrt(d - 1)``; both ``w / sqrt(d)`` when ``p = 0``), and ``alpha``. Markers: the
    linearized escape time (:func:`~sparse_attention_lab.theory.reduced.escape_time` at ``eps = 1 - threshold``) and the measured plateau.
    """
    T, d, B = int(setting["T"]), int(setting["d"]), int(setting["B"])
    p, threshold = float(setting["p"]), float(setting["threshold"])
    predicted = escape_time(T, d, B, p, eps=1 - threshold)
    for horizon in EXPLORER_HORIZONS:
        flow = reduced_dynamics(T, d, B, p, t_max=horizon * predicted, n_points=n_points, threshold=threshold)
        if math.isfinite(flow.plateau):
            break
    if p > 0:
        repeated, others = flow.w1, flow.w / math.sqrt(d - 1)
    else:
        repeated = others = flow.w / math.sqrt(d)
    return Frame(
        x=flow.times,
        curves={
            "training loss": flow.loss,
            "test loss (p = 0)": flow.test_loss,
            "repeated direction": repeated,
            "other directions": others,
            "alpha": flow.alpha,
        },
        markers={"predicted (linearization)": predicted, "measured plateau": flow.plateau},
    )


def repetition_explorer(initial: Mapping[str, float] | None = None) -> LiveExplorer:
    """Chapter 2's live explorer: sliders ``T, d, B, p`` and the plateau threshold over the reduced flow."""
    start = {"T": 512, "d": 64, "B": 1, "p": 0.0, "threshold": ESCAPE_FRACTION} | dict(initial or {})
    return LiveExplorer(
        REPETITION_GRID, repetition_frame, REPETITION_PANELS, x_label="gradient-flow time", log_x=False,
        initial=start,
    )

