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

:func:`scheduled_reduced_flow` integrates the 3-variable reduced dynamics of App. A.4 with a
repetition probability ``p(t)`` chosen by any of these schedules.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from sparse_attention_lab.models import TransformerConfig
from sparse_attention_lab.tasks import AssociativeRecall, SingleLocationRegression
from sparse_attention_lab.theory.reduced import History
from sparse_attention_lab.training.trainer import TrainConfig, train

FIELDS = ("p", "B")


def _check_value(name: str, value: float, field_name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``value`` is not a valid ``p`` or ``B``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if field_name == "p" and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1] for field 'p', got {value!r}.")
    if field_name == "B" and value < 1:
        raise ValueError(f"{name} must be at least 1 for field 'B', got {value!r}.")


def _check_field(field_name: str) -> None:
    if field_name not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field_name!r}.")


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
        if not (math.isfinite(self.switch_step) and self.switch_step >= 0):
            raise ValueError(f"switch_step must be finite and >= 0, got {self.switch_step!r}.")

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
        if not 0.0 < self.escaped_below < self.stuck_above:
            raise ValueError(
                "escaped_below must satisfy 0 < escaped_below < stuck_above, got "
                f"escaped_below={self.escaped_below!r}, stuck_above={self.stuck_above!r}."
            )
        if not self.flat_drop > 0:
            raise ValueError(f"flat_drop must be positive, got {self.flat_drop!r}.")
        if isinstance(self.min_evals, bool) or not isinstance(self.min_evals, int) or self.min_evals < 2:
            raise ValueError(f"min_evals must be an integer >= 2, got {self.min_evals!r}.")

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


# --- The reduced dynamics with a time-varying p (App. A.4, PAPER.md section 5) -------------


# --- Transformer runs under a schedule, for sweeps ------------------------------------------

TASKS = {"recall": AssociativeRecall, "regression": SingleLocationRegression}


def run_scheduled(config: Mapping[str, Any], seeds: Sequence[int]) -> list[dict]:
    """Train Transformers under a repetition schedule; one record per seed (a sweep's ``run``).

    ``config`` is JSON-able: ``{"task": {"kind": "recall", "n_pairs": 8, "n_tokens": 32},
    "model": {...}, "train": {...}, "schedule": {"kind": "adaptive", ...}}`` where ``model``
    holds :class:`~sparse_attention_lab.models.TransformerConfig` fields but ``d_in``/``d_out``
    (set from the task) and ``train`` those of :class:`~sparse_attention_lab.training.trainer.TrainConfig`.
    Every seed gets its own copy of the schedule. Records carry ``config["schedule"]``.
    """
    missing = {"task", "model", "train", "schedule"} - set(config)
    if missing:
        raise ValueError(f"config is missing {sorted(missing)}.")
    task_spec = dict(config["task"])
    kind = task_spec.pop("kind", None)
    if kind not in TASKS:
        raise ValueError(f"config['task']['kind'] must be one of {sorted(TASKS)}, got {kind!r}.")
    task = TASKS[kind](**task_spec)
    if kind == "recall":
        width = {"d_in": task.n_tokens, "d_out": task.n_tokens, "input_kind": "onehot"}
    else:
        width = {"d_in": task.input_dim, "d_out": task.d}
    model = TransformerConfig(**width, **config["model"])
    records = train(task, model, TrainConfig(**config["train"]), seeds, schedule_from_config(config["schedule"]))
    for record in records:
        record["config"] = {**record["config"], "schedule": dict(config["schedule"])}
    return records


def recall_schedule_configs(sizes: Mapping[str, Any]) -> list[dict]:
    """Configs for :func:`run_scheduled` comparing schedules of ``B`` on associative recall.

    ``sizes`` is ``profile.sizes("beyond_ar")``: constant ``B`` for each of ``sizes["B"]``, a
    switch from the largest ``B`` to 1 at ``sizes["switch_step"]``, and the adaptive controller
    between 1 and the largest ``B``, watching the test accuracy (no repetition).
    """
    task = {"kind": "recall", "n_pairs": sizes["n_pairs"], "n_tokens": sizes["n_tokens"]}
    high = max(sizes["B"])
    schedules = [ConstantSchedule(b, field="B") for b in sizes["B"]]
    schedules.append(SwitchSchedule(high, 1, sizes["switch_step"], field="B"))
    schedules.append(AdaptiveSchedule(high, low=1, field="B", signal="test_acc", maximize=True))
    return [
        {"task": task, "model": dict(sizes["model"]), "train": dict(sizes["train"]),
         "schedule": schedule_to_config(s)}
        for s in schedules
    ]
