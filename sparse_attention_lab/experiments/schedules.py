"""Data-diversity schedules: repetition that changes while a model learns (PAPER.md section 10).

The paper's Discussion proposes to *lower* data diversity (raise repetition) while a learner
sits on a plateau, and to raise it again once the transition has happened. A schedule is a
callable with the contract shared by every trainer of the library::

    schedule(step, history) -> {"p": 0.3}          # or {"B": 2}

``step`` is the current training step (gradient-flow time for the reduced dynamics) and
``history`` maps ``"steps"`` and the logged curves (``"test_loss"``, ``"train_loss"``,
``"test_acc"``, ...) to the values evaluated so far. The returned dict holds task-field
overrides, applied by the trainer with :func:`dataclasses.replace`.

Three schedules:

- :class:`ConstantSchedule`: the paper's setting, repetition fixed for the whole run.
- :class:`SwitchSchedule`: repetition until a fixed step, then another value.
- :class:`AdaptiveSchedule`: the paper's proposal as a controller. While the watched signal
  is still near its initial value and has stopped moving, it raises repetition; once the
  transition is detected it lowers repetition for good.

:func:`~sparse_attention_lab.theory.reduced.scheduled_reduced_flow` integrates the reduced
dynamics of App. A.4 under any of them; :func:`run_scheduled` trains Transformers under one,
and :data:`SWEEPS` holds chapter 5's Transformer runs as named sweeps.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from sparse_attention_lab.experiments import recall, regression
from sparse_attention_lab.profiles import Profile
from sparse_attention_lab.tasks import checks
from sparse_attention_lab.theory.reduced import History
from sparse_attention_lab.training.probes import relevant_attention_probe
from sparse_attention_lab.training.record import RunFunction, RunRecord
from sparse_attention_lab.training.trainer import Callback, Probe, train

FIELDS = ("p", "B")


def _check_value(name: str, value: float, field_name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``value`` is not a valid ``p`` or ``B``."""
    if field_name == "p":
        checks.probability(name, value, why="field 'p'")
    else:
        checks.real(name, value, at_least=1, why="field 'B'")


def _check_field(field_name: str) -> None:
    checks.choice("field", field_name, FIELDS)


@dataclass
class ConstantSchedule:
    """Repetition ``value`` of task field ``field`` for the whole run (the paper's setting)."""

    value: float
    field: str = "p"

    def __post_init__(self) -> None:
        _check_field(self.field)
        _check_value("value", self.value, self.field)

    def __call__(self, step: float, history: History) -> dict[str, float]:
        return {self.field: self.value}

    @property
    def label(self) -> str:
        return f"constant {self.field} = {self.value:g}"


@dataclass
class SwitchSchedule:
    """``before`` until ``switch_step`` (excluded), ``after`` from then on."""

    before: float
    after: float
    switch_step: float
    field: str = "p"

    def __post_init__(self) -> None:
        _check_field(self.field)
        _check_value("before", self.before, self.field)
        _check_value("after", self.after, self.field)
        checks.real("switch_step", self.switch_step, at_least=0)

    def __call__(self, step: float, history: History) -> dict[str, float]:
        return {self.field: self.before if step < self.switch_step else self.after}

    @property
    def label(self) -> str:
        return f"{self.field} = {self.before:g} until {self.switch_step:g}, then {self.after:g}"


@dataclass
class AdaptiveSchedule:
    """The Discussion's proposal as a controller: boost repetition on a plateau, drop it after.

    The controller watches one logged curve, ``signal`` (a loss, or an accuracy with
    ``maximize=True``), through its *remaining fraction* ``r``: ``value / initial`` for a
    loss, ``(1 - value) / (1 - initial)`` for an accuracy, so ``r = 1`` at the start and
    ``r -> 0`` once learned. It moves through three phases, deciding only at evaluations:

    1. ``"watch"`` (repetition ``low``): the run is *stuck* when ``r > stuck_above`` and
       ``r`` fell by less than ``flat_drop`` since the last evaluation at or before
       ``step / 2`` (a flat slope per doubling of time, so the test works at any scale);
       then the phase becomes ``"boost"``.
    2. ``"boost"`` (repetition ``high``): kept until the transition is detected.
    3. ``"done"`` (repetition ``low`` for good): entered as soon as ``r <= escaped_below``.

    The object keeps its phase between calls; a history shorter than the one already seen
    starts a new run (the state resets). ``events`` lists ``(step, phase)`` changes.
    """

    high: float
    low: float = 0.0
    field: str = "p"
    signal: str = "test_loss"
    maximize: bool = False
    stuck_above: float = 0.8
    flat_drop: float = 0.02
    escaped_below: float = 0.5
    min_evals: int = 3
    phase: str = dataclass_field(default="watch", init=False)
    events: list[tuple[float, str]] = dataclass_field(default_factory=list, init=False)
    _n_seen: int = dataclass_field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        _check_field(self.field)
        _check_value("high", self.high, self.field)
        _check_value("low", self.low, self.field)
        checks.boolean("maximize", self.maximize)
        stuck_above = checks.real("stuck_above", self.stuck_above, above=0)
        checks.real("escaped_below", self.escaped_below, above=0, below=stuck_above, why="below stuck_above")
        checks.real("flat_drop", self.flat_drop, above=0)
        checks.integer("min_evals", self.min_evals, minimum=2)

    def reset(self) -> None:
        """Forget the run seen so far (back to ``"watch"``)."""
        self.phase, self.events, self._n_seen = "watch", [], 0

    def remaining(self, history: History) -> np.ndarray:
        """The remaining fraction ``r`` of the watched signal at every evaluation."""
        if self.signal not in history:
            raise ValueError(
                f"signal {self.signal!r} is not in the history (keys: {sorted(history)})."
            )
        values = np.asarray(history[self.signal], dtype=float)
        if self.maximize:
            return (1.0 - values) / (1.0 - values[0])
        return values / values[0]

    def __call__(self, step: float, history: History) -> dict[str, float]:
        n = len(history.get("steps", ()))
        if n < self._n_seen:
            self.reset()
        if n > self._n_seen:
            self._n_seen = n
            self._update(history)
        return {self.field: self.high if self.phase == "boost" else self.low}

    def _update(self, history: History) -> None:
        if self.phase == "done":
            return
        steps = [float(s) for s in history["steps"]]
        r = self.remaining(history)
        now = steps[-1]
        if r[-1] <= self.escaped_below:
            self.phase = "done"
            self.events.append((now, "done"))
            return
        if self.phase == "watch" and len(steps) >= self.min_evals and r[-1] > self.stuck_above:
            earlier = bisect.bisect_right(steps, now / 2) - 1
            if 0 <= earlier < len(steps) - 1 and r[earlier] - r[-1] < self.flat_drop:
                self.phase = "boost"
                self.events.append((now, "boost"))

    @property
    def label(self) -> str:
        return f"adaptive {self.field} in {{{self.low:g}, {self.high:g}}} ({self.signal})"


SCHEDULES = {"constant": ConstantSchedule, "switch": SwitchSchedule, "adaptive": AdaptiveSchedule}


def schedule_from_config(config: Mapping[str, object]) -> ConstantSchedule | SwitchSchedule | AdaptiveSchedule:
    """Build a schedule from a JSON-able dict such as ``{"kind": "adaptive", "high": 0.5}``."""
    spec = dict(config)
    kind = spec.pop("kind", None)
    if kind not in SCHEDULES:
        raise ValueError(f"kind must be one of {sorted(SCHEDULES)}, got {kind!r}.")
    return SCHEDULES[kind](**spec)


def schedule_to_config(schedule: ConstantSchedule | SwitchSchedule | AdaptiveSchedule) -> dict:
    """The JSON-able dict that :func:`schedule_from_config` turns back into ``schedule``."""
    for kind, cls in SCHEDULES.items():
        if type(schedule) is cls:
            spec = {k: v for k, v in asdict(schedule).items() if k not in ("phase", "events", "_n_seen")}
            return {"kind": kind, **spec}
    raise ValueError(f"schedule must be one of {sorted(SCHEDULES)} schedules, got {schedule!r}.")


# --- Chapter 5's Transformer runs, as named sweeps -----------------------------------------

EXPERIMENTS = {"recall": recall, "regression": regression}
"""The experiments whose flat configs :func:`run_scheduled` trains under a schedule."""


def run_scheduled(
    config: Mapping[str, Any], seeds: Sequence[int], *, probe: Probe | None = None,
    callback: Callback | None = None, device: str | None = None,
) -> list[RunRecord]:
    """Train an experiment's config under a repetition schedule; one record per seed.

    ``config`` is an experiment's flat config (:mod:`~sparse_attention_lab.experiments.recall` or
    :mod:`~sparse_attention_lab.experiments.regression`) with two more keys: ``"experiment"``
    (a key of :data:`EXPERIMENTS`) and ``"schedule"`` (a dict for :func:`schedule_from_config`).
    Every seed gets its own copy of the schedule. ``probe``, ``callback`` and ``device`` as for
    the experiments' ``run``.
    """
    spec = dict(config)
    kind, schedule = spec.pop("experiment", None), spec.pop("schedule", None)
    if kind not in EXPERIMENTS:
        raise ValueError(f"config['experiment'] must be one of {sorted(EXPERIMENTS)}, got {kind!r}.")
    if not isinstance(schedule, Mapping):
        raise ValueError(f"config['schedule'] must be a schedule dict (kind and fields), got {schedule!r}.")
    task, model, training = EXPERIMENTS[kind].build(spec)
    if probe is None and spec.get("probe_attention"):  # a regression config's run field
        probe = relevant_attention_probe(task)
    if device is not None:
        training = replace(training, device=device)
    return train(task, model, training, list(seeds), schedule_from_config(schedule), callback, probe,
                 config=config)


def recall_schedule_configs(sizes: Mapping[str, Any]) -> list[dict]:
    """Configs for :func:`run_scheduled` comparing schedules of ``B`` on associative recall.

    ``sizes`` is ``profile.sizes("beyond_ar")``: constant ``B`` for each of ``sizes["B"]``, a
    switch from the largest ``B`` to 1 at ``sizes["switch_step"]``, and the adaptive controller
    between 1 and the largest ``B``, watching the test accuracy (no repetition).
    """
    base = {"experiment": "recall", "n_pairs": sizes["n_pairs"], "n_tokens": sizes["n_tokens"],
            **sizes["model"], **sizes["train"]}
    high = max(sizes["B"])
    schedules = [ConstantSchedule(b, field="B") for b in sizes["B"]]
    schedules.append(SwitchSchedule(high, 1, sizes["switch_step"], field="B"))
    schedules.append(AdaptiveSchedule(high, low=1, field="B", signal="test_acc", maximize=True))
    return [{**base, "schedule": schedule_to_config(s)} for s in schedules]


def beyond_ar(profile: Profile) -> list[dict]:
    """Chapter 5: schedules of in-context repetition on associative recall (:func:`recall_schedule_configs`)."""
    return recall_schedule_configs(profile.sizes("beyond_ar"))


def forecast_regression(profile: Profile) -> list[dict]:
    """Chapter 5: chapter 3's ``fig3`` model (without its attention probe) at the ``(T, d)`` of
    ``profile.sizes("beyond_forecast")["transformer_predict"]``, outside the grid the law is fitted on."""
    base = profile.sizes("regression_transformer")
    return [{**base, "T": T, "d": d} for T, d in profile.sizes("beyond_forecast")["transformer_predict"]]


def forecast_recall(profile: Profile) -> list[dict]:
    """Chapter 5: chapter 4's ``ar_grid`` model at the ``(n_pairs, n_tokens)`` of
    ``profile.sizes("beyond_forecast")["recall_predict"]``, with the step cap ``recall_max_steps``."""
    s = profile.sizes("beyond_forecast")
    base = {**profile.sizes("recall_transformer"), "max_steps": s["recall_max_steps"]}
    return [{**base, "n_pairs": n_pairs, "n_tokens": n_tokens} for n_pairs, n_tokens in s["recall_predict"]]


def _forecast_seeds(key: str) -> Callable[[Profile], int]:
    return lambda profile: int(profile.sizes("beyond_forecast")[key])


SWEEPS: dict[str, tuple[Callable[[Profile], list[dict]], RunFunction, Callable[[Profile], int] | None]] = {
    "beyond_ar": (beyond_ar, run_scheduled, None),
    "beyond_forecast_regression": (forecast_regression, regression.run, _forecast_seeds("transformer_seeds")),
    "beyond_forecast_recall": (forecast_recall, recall.run, _forecast_seeds("recall_seeds")),
}
"""Chapter 5's named sweeps: name -> (configs of a profile, the run that trains them, seeds per
config of a profile, ``None`` for ``profiles.SIZES[name]["seeds"]``)."""
