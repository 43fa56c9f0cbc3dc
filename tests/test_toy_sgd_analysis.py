"""analysis.toy_sgd: Fig. 9's SGD/theory ratios and whether the gap moves between sizes."""

import math

import pytest

from sparse_attention_lab.analysis.toy_sgd import control_ratios, gap_change, theory_ratio
from sparse_attention_lab.analysis.verdicts import Ratio
from sparse_attention_lab.experiments.toy_sgd import CONTROLS, PAPER_SETTING, control_of


def test_ratio_over_a_constant_theory_carries_the_seeds_spread():
    ratio = theory_ratio([110, 112, 108, 111, 109], 100.0)
    assert ratio.value == pytest.approx(1.10, abs=1e-3)
    assert ratio.direction() == "above"
    assert theory_ratio([90, 115, 100, 105, 95], 100.0).direction() == "unresolved"
    with pytest.raises(ValueError, match="two seeds"):
        theory_ratio([100], 100.0)


def test_control_ratios_group_the_sweep_by_control():
    base = {"T": 8, "d": 8, **PAPER_SETTING, "max_steps": 10, "eval_every": 5}
    records = [{"config": {**base, **CONTROLS[name]}, "seed": s, "escape_step": value * (1 + 0.01 * s)}
               for name, value in (("as in Fig. 9", 120.0), ("W = 0 start", 100.0)) for s in range(4)]
    ratios = control_ratios(records, 100.0)
    assert set(ratios) == {"as in Fig. 9", "W = 0 start"}
    assert ratios["as in Fig. 9"].value > ratios["W = 0 start"].value
    assert control_of({**base, "init": "zero"}) == "W = 0 start"
    with pytest.raises(ValueError, match="none of the Fig. 9 controls"):
        control_of({**base, "lr": 0.5})


def test_gap_change_is_resolved_only_beyond_two_errors():
    assert gap_change(Ratio(1.12, 0.03), Ratio(1.02, 0.02)).direction == "below"
    unresolved = gap_change(Ratio(1.12, 0.04), Ratio(1.07, 0.03))
    assert unresolved.direction == "unresolved"
    assert unresolved.change == pytest.approx(math.log(1.07 / 1.12))


def test_the_fig9_sweep_run_writes_one_record_per_seed():
    from sparse_attention_lab.experiments.toy_sgd import run

    config = {"T": 8, "d": 4, **PAPER_SETTING, "max_steps": 40, "eval_every": 10}
    records = run(config, [0, 1], device="cpu")
    assert [r["seed"] for r in records] == [0, 1]
    assert records[0]["steps"] == [0, 10, 20, 30, 40]
    assert len(records[0]["probes"]["alpha"]) == 5 and records[0]["test_loss"] == records[0]["train_loss"]
    assert records[0]["test_loss"] != records[1]["test_loss"]  # each seed its own teacher and start
    with pytest.raises(ValueError, match="no probe"):
        run(config, [0], probe=object())
    with pytest.raises(ValueError, match="needs the fields"):
        run({k: v for k, v in config.items() if k != "eval_every"}, [0])


def test_a_seed_that_never_escaped_gives_a_censored_ratio_with_no_direction():
    ratio = theory_ratio([110.0, math.inf], 100.0)
    assert ratio.censored and ratio.direction() == "unresolved"
    assert ratio.plus_minus() == "no finite ratio (a run never crossed)"
    assert gap_change(Ratio(1.1, 0.02), ratio).direction == "unresolved"
