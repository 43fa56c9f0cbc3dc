"""Repetition on demand (chapter 5): schedules of repetition compared, in the reduced flow and
on Transformer runs.

The paper's Discussion proposes to lower data diversity while a learner is stuck and to raise it
after the transition. :func:`compare_schedules` runs schedules of ``p`` through the reduced
dynamics of App. A.4 (:func:`~sparse_attention_lab.theory.reduced.scheduled_reduced_flow`) and
measures each the way the paper measures a plateau (App. D.1: the test loss, without repetition,
at 0.2 of its initial value); :func:`schedule_run_rows` summarises Transformer runs trained under
schedules (:func:`~sparse_attention_lab.experiments.schedules.run_scheduled`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION
from sparse_attention_lab.experiments.schedules import (
    AdaptiveSchedule,
    ConstantSchedule,
    SwitchSchedule,
    schedule_from_config,
)
from sparse_attention_lab.measure import escape_step, plateau_time
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.theory.reduced import Schedule, ScheduledFlow, scheduled_reduced_flow


def plateau_without_repetition(T: int, d: int, n_evals: int) -> float:
    """The plateau of ``p = 0``, measured on the evaluation grid the schedules are measured on
    (``n_evals`` geometric times up to twice the linearized escape time)."""
    flow = scheduled_reduced_flow(T, d, ConstantSchedule(0.0), 2 * reduced.escape_time(T, d), n_evals)
    return plateau_time(flow.times, flow.test_loss, fraction=ESCAPE_FRACTION)


def repetition_stops(schedule: Schedule) -> float | None:
    """When repetition is switched off for good: ``None`` for a schedule without repetition,
    ``math.inf`` if never, else the switch time or the controller's ``"done"`` event."""
    if isinstance(schedule, SwitchSchedule):
        return float(schedule.switch_step)
    if isinstance(schedule, AdaptiveSchedule):
        done = [t for t, phase in schedule.events if phase == "done"]
        return float(done[0]) if done else math.inf
    if isinstance(schedule, ConstantSchedule):
        return None if schedule.value == 0 else math.inf
    raise ValueError(f"schedule must be a constant, switch or adaptive schedule, got {schedule!r}.")


@dataclass(frozen=True)
class ScheduleOutcome:
    """One schedule in the reduced flow: its escape time (test loss at 0.2 of its initial value,
    ``math.inf`` if never within the horizon), the speed-up over no repetition, the test loss at
    ``2 x`` the plateau without repetition and at the horizon, and when repetition stopped."""

    escape: float
    speedup: float
    test_loss_at_2x: float
    final_test_loss: float
    stops: float | None
    flow: ScheduledFlow


def compare_schedules(
    T: int, d: int, schedules: Mapping[str, Schedule], horizon: float, n_evals: int, plateau_0: float
) -> dict[str, ScheduleOutcome]:
    """Run every schedule through the reduced flow up to ``horizon`` (gradient-flow time).

    ``plateau_0`` is the plateau without repetition (:func:`plateau_without_repetition`), the unit
    of the ``2 x`` column. Speed-ups are relative to the schedule named ``"no repetition"``, which
    ``schedules`` must contain (its escape measured on the same evaluation grid).
    """
    if "no repetition" not in schedules:
        raise ValueError("schedules must contain a 'no repetition' schedule, the reference of the speed-ups.")
    flows = {name: scheduled_reduced_flow(T, d, s, horizon, n_evals) for name, s in schedules.items()}
    escapes = {name: plateau_time(f.times, f.test_loss, fraction=ESCAPE_FRACTION) for name, f in flows.items()}
    return {
        name: ScheduleOutcome(
            escape=escapes[name],
            speedup=escapes["no repetition"] / escapes[name],
            test_loss_at_2x=float(np.interp(2 * plateau_0, flow.times, flow.test_loss)),
            final_test_loss=float(flow.test_loss[-1]),
            stops=repetition_stops(schedules[name]),
            flow=flow,
        )
        for name, flow in flows.items()
    }


def robustness_row(T: int, d: int, p_values: Iterable[float], horizon_factor: float, n_evals: int) -> dict:
    """At one ``(T, d)``: the plain plateau, the best constant ``p`` (picked after the fact) and its
    escape, the escapes of the training-loss controller (``p = 1``) and of the test-loss
    controller (``p = 0.9``), and the training-loss controller's final test loss over that of
    ``p = 0`` (1: as low)."""
    base = plateau_without_repetition(T, d, 2 * n_evals)
    schedules = {"no repetition": ConstantSchedule(0.0),
                 **{f"constant p = {p:g}": ConstantSchedule(p) for p in p_values},
                 "adaptive, training loss, p = 1": AdaptiveSchedule(1.0, signal="train_loss"),
                 "adaptive, test loss, p = 0.9": AdaptiveSchedule(0.9, signal="test_loss")}
    outcomes = compare_schedules(T, d, schedules, horizon_factor * base, n_evals, base)
    constant = {p: outcomes[f"constant p = {p:g}"].escape for p in p_values}
    best = min(constant, key=constant.get)
    on_train = outcomes["adaptive, training loss, p = 1"]
    return {"T": T, "d": d, "plateau_0": base, "best_p": best, "best_escape": constant[best],
            "adaptive_train": on_train.escape, "adaptive_test": outcomes["adaptive, test loss, p = 0.9"].escape,
            "final_ratio": on_train.final_test_loss / outcomes["no repetition"].final_test_loss}


def schedule_run_rows(records: Iterable[dict], accuracy: float) -> dict[str, dict]:
    """Transformer runs trained under schedules, grouped by schedule label: per-seed emergence
    steps (first step at ``accuracy`` test accuracy, ``math.inf`` if never), final test accuracy
    (mean and std over seeds), final accuracy on the training distribution (mean), and the steps
    at which ``B`` was set back to 1."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(schedule_from_config(record["config"]["schedule"]).label, []).append(record)
    rows = {}
    for label, runs in groups.items():
        test = np.array([r["test_acc"][-1] for r in runs])
        rows[label] = {
            "emergence": [escape_step(r, accuracy=accuracy) for r in runs],
            "test_acc": float(test.mean()), "test_acc_std": float(test.std()),
            "train_acc": float(np.mean([r["train_acc"][-1] for r in runs])),
            "back_to_1": [change[0] for r in runs for change in r.get("task_changes", []) if change[1].get("B") == 1],
            "records": runs,
        }
    return rows
