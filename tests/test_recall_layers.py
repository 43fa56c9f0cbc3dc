"""4-layer associative recall: the probed runs, emergence at several thresholds, the sweeps."""

import math

import numpy as np
import pytest

from sparse_attention_lab.analysis import recall as recall_analysis
from sparse_attention_lab.experiments import recall, recall_layers
from sparse_attention_lab.profiles import PROFILES

TINY = {"n_pairs": 3, "n_tokens": 8, "n_layers": 4, "n_heads": 2, "d_model": 16, "d_qk": 8, "mlp_factor": 2,
        "lr": 3e-3, "max_steps": 40, "eval_every": 20, "eval_size": 32, "escape_accuracy": 0.5}


def test_run_logs_copy_and_selection_per_layer_and_head():
    records = recall_layers.run(TINY, seeds=[0, 1])
    for record in records:
        for name in ("copy", "selection"):
            assert np.asarray(record["probes"][name]).shape == (len(record["steps"]), 4, 2)
        at = recall_layers.attention_at(record, 25)
        assert at["copy"].shape == (4, 2)
        np.testing.assert_allclose(at["copy"], record["probes"]["copy"][2])


def test_emergence_by_threshold_is_ordered():
    record = {"config": {"n_pairs": 4, "n_tokens": 16}, "seed": 0, "steps": [0, 10, 20, 30],
              "test_acc": [0.0, 0.06, 0.25, 0.4]}
    (row,) = recall_analysis.threshold_steps([record])
    assert row["acc_0.05"] < row["acc_0.1"] < row["acc_0.2"] < row["acc_0.3"]
    assert row["acc_0.5"] == math.inf


@pytest.mark.parametrize("name", list(recall_layers.SWEEPS))
def test_sweeps_are_four_layers_and_reach_the_issue_sizes(name):
    configs = recall_layers.SWEEPS[name](PROFILES["laptop"])
    assert all(c["n_layers"] == 4 and c["d_model"] >= 64 for c in configs)
    if name in ("ar_deep", "ar_w256"):
        assert max(c["n_pairs"] for c in configs) >= 16 and max(c["n_tokens"] for c in configs) >= 128
        assert configs[0]["n_pairs"] == min(c["n_pairs"] for c in configs)
    elif name == "ar_w256_lr":
        assert {c["lr"] for c in configs} == {1e-5, 3e-5, 1e-4}  # Fig. 4's rates
        grid = recall_layers.ar_w256(PROFILES["laptop"])
        assert [c for c in configs if c["lr"] == 1e-4] == [c for c in grid if c in configs]  # the grid's own runs
    else:
        assert {(c["B"] > 1, c["p"] > 0) for c in configs} == {(False, False), (True, False), (False, True)}


def test_width_256_sweeps_are_the_papers_model():
    """Table 1's associative-recall model and rate; the grid is ordered by the paper's law."""
    grid = recall_layers.ar_w256(PROFILES["laptop"])
    for c in grid + recall_layers.ar_w256_lr(PROFILES["laptop"]):
        c = recall.full_config({"config": c})
        assert (c["n_layers"], c["n_heads"], c["d_model"], c["d_qk"], c["layer_norm"]) == (4, 4, 256, 64, True)
    assert {c["lr"] for c in grid} == {1e-4}
    law = [c["n_tokens"] ** 0.79 * c["n_pairs"] ** 2.25 for c in grid]
    assert law == sorted(law) and len(grid) == 9


def test_threshold_fits_recover_a_law():
    records = []
    for n_pairs in (4, 8):
        for n_tokens in (32, 64):
            emergence = 2 * n_pairs**2 * n_tokens**0.5  # accuracy rises linearly from emergence / 2
            steps = list(np.linspace(0, 3 * emergence, 200))
            acc = [min(1.0, max(0.0, 0.05 * (s - emergence / 2) / (emergence / 2))) for s in steps]
            records.append({"config": {"n_pairs": n_pairs, "n_tokens": n_tokens}, "seed": 0, "steps": steps,
                            "test_acc": acc})
    fits = recall_analysis.threshold_fits(records, thresholds=(0.05,))
    assert fits[0.05].exponents["n_pairs"] == pytest.approx(2, abs=0.05)
    assert fits[0.05].exponents["n_tokens"] == pytest.approx(0.5, abs=0.05)
    assert recall_analysis.threshold_fits(records[:3], thresholds=(0.05,)) == {}


def _rate_run(lr, seed, emerged_at, last=4000):
    steps = list(range(0, last + 1, 100))
    acc = [0.0 if s < emerged_at else 0.6 for s in steps]
    return {"config": {"n_pairs": 4, "n_tokens": 64, "lr": lr}, "seed": seed, "steps": steps, "test_acc": acc}


def test_rate_ratios_pair_seeds_and_bound_what_never_emerged():
    records = [_rate_run(1e-4, s, 1000 + 100 * s) for s in range(3)]
    records += [_rate_run(3e-5, s, 3000 + 100 * s) for s in range(3)]
    records += [_rate_run(1e-5, s, 10**9) for s in range(3)]  # never within 4000 steps
    ratios = recall_analysis.rate_ratios(records, 0.5, reference=1e-4)
    slow = ratios[(4, 64, 3e-5)]
    assert not slow.censored and recall_analysis.rate_reading(slow) == "slower"
    assert 2.5 < slow.value < 3.0
    bound = ratios[(4, 64, 1e-5)]
    assert bound.censored and bound.value == pytest.approx(4000 / 1100, rel=0.05)
    assert recall_analysis.rate_reading(bound) == "slower"


def test_rate_reading_needs_two_standard_errors_and_a_bound_never_reads_faster():
    # the means point one way, the seeds do not resolve it
    records = [_rate_run(1e-4, s, e) for s, e in enumerate((1000, 2000, 1500))]
    records += [_rate_run(3e-5, s, e) for s, e in enumerate((900, 2300, 1200))]
    assert recall_analysis.rate_reading(recall_analysis.rate_ratios(records, 0.5, 1e-4)[(4, 64, 3e-5)]) == "unresolved"
    from sparse_attention_lab.analysis.verdicts import Ratio
    assert recall_analysis.rate_reading(Ratio(0.5, 0.01, censored=True)) == "unresolved"
    assert recall_analysis.rate_reading(Ratio(0.5, 0.01)) == "faster"
    assert recall_analysis.rate_reading(None) == "unresolved"


def _costed_run(n_pairs, n_tokens, seed, steps, per_step):
    return {"config": {"n_pairs": n_pairs, "n_tokens": n_tokens, "lr": 1e-4, "max_steps": 10**6}, "seed": seed,
            "steps": [0, steps], "test_acc": [0.0, 1.0],
            "provenance": {"job_wall_time_s": 2 * steps * per_step, "job_seeds": [0, 1]}}


def test_cost_left_scales_the_papers_law_to_the_finished_runs():
    from sparse_attention_lab.analysis.paper import law

    steps = law("Fig. 4 right").steps
    # finished runs train exactly twice the law; a step costs 0.01 s per token of the sequence
    records = [_costed_run(n, 32, seed, 2 * steps(n_tokens=32, n_pairs=n), 0.01 * (2 * n + 1))
               for n in (4, 8) for seed in (0, 1)]
    plan = [{"n_pairs": n, "n_tokens": 32, "lr": 1e-4, "max_steps": 10**6} for n in (4, 8, 16)]
    cost = recall_analysis.cost_left(records, plan, seeds=2)
    assert cost.law_factor == pytest.approx(2)
    assert cost.runs == 2 and set(cost.by_cell) == {(16, 32)}
    expected = 2 * 2 * steps(n_tokens=32, n_pairs=16) * 0.01 * 33 / 3600
    assert cost.hours == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="two values of n_pairs"):
        recall_analysis.cost_left(records[:2], plan, seeds=2)


def test_threshold_fits_leave_out_runs_that_start_above_the_threshold():
    records = []
    for n_pairs in (4, 8):
        for n_tokens in (32, 64):
            emergence = 2 * n_pairs**2 * n_tokens**0.5
            steps = list(np.linspace(0, 3 * emergence, 200))
            records.append({"config": {"n_pairs": n_pairs, "n_tokens": n_tokens}, "seed": 0, "steps": steps,
                            "test_acc": [0.5 * (s >= emergence) for s in steps]})
    records.append({"config": {"n_pairs": 4, "n_tokens": 32}, "seed": 1, "steps": [0, 10], "test_acc": [0.2, 0.6]})
    fit = recall_analysis.threshold_fits(records, thresholds=(0.1,))[0.1]
    assert fit.exponents["n_pairs"] == pytest.approx(2, abs=0.05)


def test_cost_left_takes_any_law():
    records = [_costed_run(n, 32, seed, 100 * n, 0.01) for n in (4, 8) for seed in (0, 1)]
    plan = [{"n_pairs": 16, "n_tokens": 32, "lr": 1e-4, "max_steps": 1000}]
    cost = recall_analysis.cost_left(records, plan, seeds=2, law=lambda n_tokens, n_pairs: 50 * n_pairs)
    assert cost.law_factor == pytest.approx(2)
    assert cost.steps == pytest.approx(2 * 1000)  # 2 x 50 x 16 = 1600 steps, held at the cap of 1000
