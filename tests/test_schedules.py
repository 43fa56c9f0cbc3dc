"""Diversity schedules (PAPER.md section 10) and the reduced flow with a time-varying p."""

import math

import numpy as np
import pytest

from sparse_attention_lab.experiments.schedules import (
    AdaptiveSchedule,
    ConstantSchedule,
    SwitchSchedule,
    recall_schedule_configs,
    run_scheduled,
    schedule_from_config,
    schedule_to_config,
)
from sparse_attention_lab.measure import plateau_time
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.theory.reduced import (
    repetition_gradient,
    repetition_loss,
    scheduled_reduced_flow,
)


def run_on_curve(schedule, steps, values, key="test_loss"):
    """Feed ``schedule`` a growing history, one evaluation at a time; return its choices."""
    history = {"steps": [], key: []}
    choices = []
    for s, v in zip(steps, values, strict=True):
        history["steps"].append(s)
        history[key].append(v)
        choices.append(schedule(s, history)[schedule.field])
    return choices


def plateau_then_drop(steps, escape):
    """A loss flat at 1 then falling to 0.01 after ``escape``."""
    steps = np.asarray(steps, dtype=float)
    return np.where(steps < escape, 1.0 - 1e-4 * steps / escape, 0.01)


def test_constant_and_switch():
    assert ConstantSchedule(0.3)(10, {}) == {"p": 0.3}
    switch = SwitchSchedule(before=2, after=1, switch_step=100, field="B")
    assert switch(99, {}) == {"B": 2}
    assert switch(100, {}) == {"B": 1}


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: ConstantSchedule(1.5), "value"),
        (lambda: ConstantSchedule(0.5, field="q"), "field"),
        (lambda: SwitchSchedule(0.5, 0.0, -1), "switch_step"),
        (lambda: SwitchSchedule(2, 0, 10, field="B"), "after"),
        (lambda: AdaptiveSchedule(high=2.0), "high"),
        (lambda: AdaptiveSchedule(high=0.5, escaped_below=0.9, stuck_above=0.8), "escaped_below"),
        (lambda: AdaptiveSchedule(high=0.5, flat_drop=0), "flat_drop"),
        (lambda: AdaptiveSchedule(high=0.5, min_evals=1), "min_evals"),
        (lambda: schedule_from_config({"kind": "cosine"}), "kind"),
        # Issue 17 item 6: bools are not numbers nor is "yes" a flag; NaN is no threshold.
        (lambda: ConstantSchedule(True), "value"),
        (lambda: AdaptiveSchedule(high=0.5, maximize="yes"), "maximize"),
        (lambda: AdaptiveSchedule(high=0.5, stuck_above=math.nan), "stuck_above"),
    ],
)
def test_invalid_arguments_name_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_adaptive_boosts_on_plateau_then_drops_for_good():
    steps = list(range(0, 2000, 50))
    loss = plateau_then_drop(steps, escape=1000)
    loss[-5:] = 0.9  # the loss rising again must not bring repetition back
    schedule = AdaptiveSchedule(high=0.5)
    choices = run_on_curve(schedule, steps, loss)
    assert choices[0] == 0.0
    boost_at = choices.index(0.5)
    assert steps[boost_at] == 100  # the third evaluation, the first with min_evals points
    assert all(c == 0.5 for c in choices[boost_at : steps.index(1000)])
    assert all(c == 0.0 for c in choices[steps.index(1000) :])
    assert [phase for _, phase in schedule.events] == ["boost", "done"]


def test_adaptive_leaves_a_moving_loss_alone():
    steps = np.arange(1, 200)
    loss = steps**-0.1  # falls by 7% of its value per doubling of time, more than flat_drop
    choices = run_on_curve(AdaptiveSchedule(high=0.5, stuck_above=0.5, escaped_below=0.1), steps, loss)
    assert set(choices) == {0.0}


def test_adaptive_on_accuracy_and_in_field_B():
    steps = list(range(0, 1000, 50))
    accuracy = 1.0 - plateau_then_drop(steps, escape=500) * 0.9  # 0.1 on the plateau, ~1 after
    schedule = AdaptiveSchedule(high=3, low=1, field="B", signal="test_acc", maximize=True)
    choices = run_on_curve(schedule, steps, accuracy, key="test_acc")
    assert choices[2] == 3
    assert choices[steps.index(500)] == 1


def test_adaptive_is_idempotent_and_resets_on_a_new_run():
    steps = list(range(0, 400, 50))
    schedule = AdaptiveSchedule(high=0.5)
    history = {"steps": steps, "test_loss": [1.0] * len(steps)}
    assert schedule(400, history) == {"p": 0.5}
    assert schedule(401, history) == {"p": 0.5}
    assert len(schedule.events) == 1
    assert schedule(0, {"steps": [0], "test_loss": [1.0]}) == {"p": 0.0}
    assert schedule.phase == "watch"


def test_adaptive_names_a_missing_signal():
    with pytest.raises(ValueError, match="test_acc"):
        AdaptiveSchedule(high=0.5, signal="test_acc")(0, {"steps": [0], "test_loss": [1.0]})


def test_config_round_trip():
    for schedule in (ConstantSchedule(0.2), SwitchSchedule(1.0, 0.0, 30.0), AdaptiveSchedule(0.9, signal="train_loss")):
        config = schedule_to_config(schedule)
        assert schedule_from_config(config) == schedule
        assert schedule_from_config(config).label == schedule.label


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_reduced_gradient_matches_finite_differences(p):
    state = np.array([0.7, 2.1, 1.3])
    grad = repetition_gradient(*state, T=32, d=8, p=p)
    eps = 1e-6
    for i in range(3):
        step = np.zeros(3)
        step[i] = eps
        numeric = (repetition_loss(*(state + step), 32, 8, p) - repetition_loss(*(state - step), 32, 8, p)) / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=1e-6, abs=1e-10)


def test_reduced_loss_reduces_to_the_two_variable_loss_without_repetition():
    T, d, w_total, delta_a = 64, 16, 2.5, 1.7
    alpha = 1 / ((T - 1) * math.exp(-delta_a) + 1)
    two_variable = 0.5 * ((1 - alpha) ** 2 * w_total**2 / (d * (T - 1)) + (alpha * w_total - math.sqrt(d)) ** 2 / d)
    w1, w = w_total / math.sqrt(d), w_total * math.sqrt((d - 1) / d)
    assert repetition_loss(w1, w, delta_a, T, d, 0.0) == pytest.approx(two_variable, rel=1e-12)
    assert repetition_loss(0.0, 0.0, 0.0, T, d, 0.7) == pytest.approx(0.5)


def escape(flow, level=0.1):
    return flow.times[np.argmax(flow.test_loss <= level)]


def test_flow_follows_a_switch_schedule():
    flow = scheduled_reduced_flow(64, 16, SwitchSchedule(1.0, 0.0, 100.0), t_max=1000, n_evals=50)
    assert np.all(flow.p[flow.times < 100] == 1.0)
    assert np.all(flow.p[flow.times >= 100] == 0.0)
    assert flow.test_loss[0] == pytest.approx(0.5)


def test_adaptive_on_training_loss_beats_constant_repetition_in_the_reduced_flow():
    T, d, t_max = 64, 16, 3000
    plain = scheduled_reduced_flow(T, d, ConstantSchedule(0.0), t_max, n_evals=150)
    always = scheduled_reduced_flow(T, d, ConstantSchedule(0.99), t_max, n_evals=150)
    adaptive = scheduled_reduced_flow(T, d, AdaptiveSchedule(0.99, signal="train_loss"), t_max, n_evals=150)
    assert escape(adaptive) < 0.5 * escape(plain)
    assert escape(adaptive) < 0.5 * escape(always)
    assert adaptive.test_loss[-1] < 2 * plain.test_loss[-1]
    assert always.test_loss[-1] > 10 * plain.test_loss[-1]


def test_recall_configs_and_a_short_scheduled_run():
    sizes = {
        "n_pairs": 3, "n_tokens": 8, "B": [1, 2], "switch_step": 4,
        "model": {"n_layers": 1, "n_heads": 1, "d_model": 8, "d_qk": 8},
        "train": {"lr": 1e-3, "max_steps": 8, "eval_every": 2, "eval_size": 16, "objective": "ce",
                  "stop_margin": None, "progress": False},
    }
    configs = recall_schedule_configs(sizes)
    assert [c["schedule"]["kind"] for c in configs] == ["constant", "constant", "switch", "adaptive"]
    assert all(c["experiment"] == "recall" and c["max_steps"] == 8 for c in configs)  # flat configs
    evaluations = []
    switch = run_scheduled(configs[2], seeds=[0, 1], callback=lambda step, records: evaluations.append(step),
                           device="cpu")
    assert len(switch) == 2 and evaluations == [0, 2, 4, 6, 8]
    assert switch[0]["config"] == configs[2] and switch[0]["settings"]["task"]["n_pairs"] == 3
    assert switch[0]["task_changes"] == [[0, {"B": 2}], [4, {"B": 1}]]
    with pytest.raises(ValueError, match="experiment"):
        run_scheduled({**configs[0], "experiment": "vision"}, seeds=[0])
    with pytest.raises(ValueError, match="schedule"):
        run_scheduled({k: v for k, v in configs[0].items() if k != "schedule"}, seeds=[0])


def test_a_scheduled_regression_run_keeps_its_attention_probe():
    config = {"experiment": "regression", "T": 8, "d": 2, "n_layers": 1, "n_heads": 1, "d_model": 8, "d_qk": 8,
              "max_steps": 4, "eval_every": 2, "eval_size": 16, "probe_attention": True,
              "schedule": {"kind": "switch", "before": 0.5, "after": 0.0, "switch_step": 2}}
    (record,) = run_scheduled(config, seeds=[0])
    assert record["task_changes"] == [[0, {"p": 0.5}], [2, {"p": 0.0}]]
    assert len(record["probes"]["readout_attention"]) == len(record["steps"]) == 3


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9])
def test_constant_schedule_flow_agrees_with_the_reduced_dynamics_module(p):
    reference = reduced.plateau_length(64, 16, p=p)
    flow = scheduled_reduced_flow(64, 16, ConstantSchedule(p), t_max=3 * reference, n_evals=400)
    assert plateau_time(flow.times, flow.test_loss, fraction=0.2) == pytest.approx(reference, rel=0.01)
