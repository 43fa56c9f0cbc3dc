"""Exercises of chapter 5: repetition on demand, and forecasting the plateau.

- :func:`check_test_floor` (derive): where the test loss of ``p = 1`` settles, against a long
  integration of the reduced flow.
- :func:`check_release_schedule` (implement): a schedule that repeats until the training loss
  has halved, checked on made-up histories against
  :func:`~sparse_attention_lab.measure.first_crossing`, then run in
  :func:`~sparse_attention_lab.theory.reduced.scheduled_reduced_flow`.
- :func:`check_forecast` (predict, then run): a plateau 64 times longer than a cheap one,
  against :func:`~sparse_attention_lab.theory.reduced.plateau_length`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION
from sparse_attention_lab.exercises.verdict import (
    ReaderFunction,
    Rejected,
    checker,
    describe,
    number,
    require_close,
)
from sparse_attention_lab.measure import first_crossing
from sparse_attention_lab.theory import reduced

FORECAST_TOLERANCE = 0.15  # a forecast within 15% of the measured plateau counts as right
HIGH, RELEASE = 0.9, 0.5  # the release schedule: p = HIGH until the training loss reaches RELEASE x its start


@checker
def check_test_floor(floor: Callable[[int], float]) -> str:
    """``floor(d)``: the test loss (no repetition) at which the flow trained with ``p = 1`` settles.

    Reference: :func:`reduced.reduced_dynamics` with ``p = 1`` integrated to ``t = 40,000``
    (``T = 64``), where it has settled to 1e-4.
    """
    floor = ReaderFunction(floor, "floor")
    hint = ("with p = 1 every training sequence's relevant token is x~: the other d - 1 directions of W* receive "
            "no gradient, so w stays 0; the repeated direction is learned perfectly. Write the test loss of that "
            "W on data without repetition.")
    for d in (2, 16, 256):
        inputs = {"d": d}
        got = floor(inputs, hint)
        settled = float(reduced.reduced_dynamics(64, d, p=1.0, t_max=40_000.0, n_points=2).test_loss[-1])
        require_close("test loss floor", got, settled, inputs, hint, rtol=1e-3)
    return ("(d - 1)/(2d): with p = 1 only one of the d directions is ever learned, so the test loss stops at "
            f"(d - 1)/d of its start, above the plateau threshold {ESCAPE_FRACTION:g} for every d >= 2. Full repetition never "
            "escapes on test data; it has to be switched off.")


def _decision(history: Mapping[str, list[float]]) -> float:
    """The release rule: ``HIGH`` until the training loss has reached ``RELEASE`` x its first value, then 0."""
    losses = history["train_loss"]
    released = math.isfinite(first_crossing(history["steps"], losses, RELEASE * losses[0]))
    return 0.0 if released else HIGH


HISTORIES = [
    ("the first evaluation (t = 0)", [0.0], [0.5],
     f"on the plateau (training loss still at its start), repeat: return {{'p': {HIGH}}}."),
    ("a flat plateau", [0.0, 10.0, 20.0, 40.0], [0.5, 0.5, 0.49, 0.48],
     f"on the plateau (training loss still at its start), repeat: return {{'p': {HIGH}}}."),
    ("a loss that has fallen by 40%", [0.0, 10.0, 20.0, 40.0], [0.5, 0.45, 0.4, 0.3],
     f"release only once the training loss has reached {RELEASE} x its first value."),
    ("a loss that has halved", [0.0, 10.0, 20.0, 40.0], [0.5, 0.45, 0.3, 0.2],
     f"release once the training loss has reached {RELEASE} x its first value: return {{'p': 0.0}}."),
    ("a loss exactly at half its start", [0.0, 10.0], [0.5, 0.25], "'reached' includes equality."),
    ("a loss that halved, then rose after the release", [0.0, 10.0, 20.0, 40.0], [0.5, 0.2, 0.3, 0.35],
     "once released, stay released: ask whether the training loss has EVER reached half its start."),
    ("a loss that started at 0.8 and fell to 0.35", [0.0, 10.0, 20.0], [0.8, 0.6, 0.35],
     "half of the FIRST value of the training loss, whatever it is, not half of 1/2."),
]


@checker
def check_release_schedule(schedule: Callable[[float, dict], dict], T: int = 256, d: int = 64) -> str:
    """``schedule(step, history) -> {"p": value}``: ``p = 0.9`` until the training loss has reached half
    its first value, ``p = 0`` from then on (the schedule contract of
    :mod:`sparse_attention_lab.experiments.schedules`).

    Checked on made-up histories, then run in the reduced dynamics at ``T``, ``d``.
    """
    schedule = ReaderFunction(schedule, "schedule")
    for label, steps, losses, hint in HISTORIES:
        history = {"steps": list(steps), "train_loss": list(losses), "test_loss": list(losses)}
        inputs = {"step": steps[-1], "history": history}
        out = schedule(inputs, hint)
        if not (isinstance(out, Mapping) and set(out) == {"p"}):
            raise Rejected(f"`schedule` should return a dict with the one key 'p', like {{'p': 0.9}}; got {out!r}.")
        require_close("p", out["p"], _decision(history), f"{label} (training loss {losses})", hint)

    def guarded(step: float, history: dict) -> dict:
        return schedule({"step": step, "history": history}, "see the cases above.")

    plain = reduced.plateau_length(T, d)
    flow = reduced.scheduled_reduced_flow(T, d, guarded, t_max=2 * plain, n_evals=100)
    escape = first_crossing(flow.times, flow.test_loss, ESCAPE_FRACTION * flow.test_loss[0])
    release = float(flow.times[int(np.argmax(flow.p == 0.0))]) if (flow.p == 0.0).any() else math.inf
    where = describe({"T": T, "d": d})
    if not math.isfinite(escape):
        raise Rejected(f"in the reduced dynamics at {where} the test loss did not reach {ESCAPE_FRACTION:g} x its start by "
                       f"t = {2 * plain:.0f}. Hint: check that p goes back to 0.")
    return (f"in the reduced dynamics at {where} your schedule releases p at t = {release:.0f} and the test loss "
            f"escapes at t = {escape:.0f}, {plain / escape:.1f} times sooner than without repetition "
            f"({plain:.0f}), and it ends at test loss {flow.test_loss[-1]:.1e}: repetition while stuck, diversity "
            "after the jump, the paper's proposal in its simplest form.")


@checker
def check_forecast(forecast: float, cheap: tuple[int, int] = (64, 16), target: tuple[int, int] = (4096, 256)) -> str:
    """``forecast``: the plateau at ``target = (T, d)``, from the one measured at ``cheap``.

    Reference: :func:`reduced.plateau_length` at ``target`` (the paper's reduced dynamics).
    """
    guess = number(forecast, "forecast")
    measured_cheap, measured = reduced.plateau_length(*cheap), reduced.plateau_length(*target)
    ratio = measured / measured_cheap
    escape_ratio = reduced.escape_time(*target) / reduced.escape_time(*cheap)
    result = (f"the plateau at T = {target[0]}, d = {target[1]} is {measured:,.0f}, {ratio:.0f} times the one at "
              f"T = {cheap[0]}, d = {cheap[1]} ({measured_cheap:.0f})")
    if abs(guess / measured - 1) > FORECAST_TOLERANCE:
        hint = ("the plateau is close to a power law sqrt(d) T (chapter 1, Fig. 1c)."
                if abs(guess / (measured_cheap * escape_ratio) - 1) > 0.05 else
                f"the linearized escape time grows {escape_ratio:.0f}-fold, but its logarithm is not in the true "
                "plateau (Fig. 7: escape / plateau grows with T); the fitted power law of Fig. 1c is the better guide.")
        raise Rejected(f"{result}; your forecast {guess:,.0f} is off by {guess / measured - 1:+.0%}. Hint: {hint}")
    return (f"{result}; your forecast {guess:,.0f} is within {abs(guess / measured - 1):.0%}. The linearized escape "
            f"time would have said x{escape_ratio:.0f}: extrapolate with the measured law, not with the "
            "linearization's logarithm.")
