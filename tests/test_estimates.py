"""Issue 28: every time a chapter prints before a computation is measured here, never a fixed string."""

import pytest

from sparse_attention_lab.hardware import duration, timed_map
from sparse_attention_lab.runs.estimate import training_estimate


def test_timed_map_keeps_the_order_and_scales_the_first_items_time_by_cost(capsys):
    calls = []
    assert timed_map(lambda x: calls.append(x) or 2 * x, [3, 1, 2], cost=lambda x: x) == [6, 2, 4]
    assert calls == [3, 1, 2]
    printed = capsys.readouterr().out
    assert "for the first of 3" in printed and "in all" in printed
    assert timed_map(str, []) == []
    with pytest.raises(ValueError, match="cost"):
        timed_map(str, [1, 2], cost=lambda x: x - 1)


def test_training_estimate_scales_a_trial_to_the_cached_steps_and_the_cap(monkeypatch):
    monkeypatch.delenv("SAL_MAX_STEPS", raising=False)
    trials = []
    text = training_estimate(trials.append, 4000, cached=[{"steps": [0, 400]}, {"steps": 600}], probe_steps=50)
    assert trials == [50]
    assert text.startswith("about ") and "500 steps, as the cached runs" in text and "step cap of 4,000" in text
    monkeypatch.setenv("SAL_MAX_STEPS", "30")
    assert "step cap of 30 " in training_estimate(trials.append, 4000) and trials[-1] == 30
    with pytest.raises(ValueError, match="max_steps"):
        training_estimate(trials.append, 0)


def test_durations_read_as_waits():
    assert [duration(s) for s in (0.4, 12, 600, 9000)] == ["0.4 s", "12 s", "10 min", "2.5 h"]


def test_a_ratio_of_runs_that_never_crossed_is_no_number():
    """Issue 28: under a step cap the summary read "SGD inf +- nan"."""
    from sparse_attention_lab.analysis.verdicts import Ratio

    assert Ratio(1.13, 0.05).plus_minus() == "×1.13 ± 0.06"
    assert Ratio(float("inf"), float("nan")).plus_minus() == "no finite ratio (a run never crossed)"


def test_a_run_that_never_escaped_reads_not_reached():
    """Issue 28: under a step cap chapter 3's runs table failed on a run with no escape step."""
    from sparse_attention_lab.views.regression import steps_text

    assert [steps_text(x) for x in (None, float("inf"), 425.0)] == ["not reached", "not reached", "425"]
