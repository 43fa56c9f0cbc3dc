"""The analysis layer: the paper's laws, the one verdict rule, the ablation and width fits."""

import math

import numpy as np
import pytest

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.analysis.ablation import READINGS, ablation_rows, escape_table
from sparse_attention_lab.analysis.verdicts import RESOLVED_AT, Ratio, direction, ratio_of_means
from sparse_attention_lab.analysis.width import width_fits
from sparse_attention_lab.experiments.ablation import ABLATIONS, OURS, variant


def test_every_law_names_its_source_and_evaluates():
    for name, law in paper.LAWS.items():
        assert law.source, name
        x = {k: 2.0 for k in law.exponents}
        assert law.steps(**x) == pytest.approx(law.C * 2 ** sum(law.exponents.values()))
    assert paper.law("Fig. 3").steps(T=64, d=16, B=1) == pytest.approx(0.76 * 16**1.29 * 64**0.80)
    with pytest.raises(KeyError, match="Fig. 3"):
        paper.law("Fig. 99")
    with pytest.raises(ValueError, match="T"):
        paper.law("Fig. 3").steps(d=4, B=1)


def test_a_reported_number_outside_a_law_names_its_source():
    fig1c = paper.value("Fig. 1c R2")
    assert fig1c.value == 0.999 and "Fig. 1 (c)" in fig1c.source and "no exponents" in fig1c.note
    with pytest.raises(KeyError, match="Fig. 1c R2"):
        paper.value("Fig. 1c")


def test_the_ambiguous_laws_say_so():
    assert "reconstruction" in paper.law("layers and heads").note
    assert "sign" in paper.law("Fig. 2 right").note


@pytest.mark.parametrize(("estimate", "stderr", "expected"), [
    (1.0, 0.1, "above"), (-1.0, 0.1, "below"),
    (0.19, 0.1, "unresolved"),  # the mean points up, the noise does not resolve it
    (-0.19, 0.1, "unresolved"),
    (1.0, math.nan, "unresolved"), (math.inf, 0.1, "unresolved"), (1.0, 0.0, "above"),
])
def test_direction_is_resolved_only_beyond_two_standard_errors(estimate, stderr, expected):
    assert RESOLVED_AT == 2.0
    assert direction(estimate, stderr) == expected


def test_direction_refuses_a_negative_standard_error():
    with pytest.raises(ValueError, match="stderr"):
        direction(1.0, -0.1)


def test_a_ratio_whose_noise_covers_one_is_unresolved():
    # means point to x1.2, but the seeds scatter by a factor 2
    rng = np.random.default_rng(1)
    slow = [list(120 * np.exp(rng.normal(0, 0.7, 3))) for _ in range(2)]
    base = [list(100 * np.exp(rng.normal(0, 0.7, 3))) for _ in range(2)]
    ratio = ratio_of_means(slow, base, n_boot=500)
    assert ratio.direction() == "unresolved"
    tight = ratio_of_means([[200, 210, 190]], [[100, 101, 99]], n_boot=500)
    assert tight.value == pytest.approx(2.0, rel=0.01) and tight.direction() == "above"
    low, high = tight.interval
    assert low < 2.0 < high


def test_ratio_of_means_refuses_bad_cells():
    with pytest.raises(ValueError, match="cell"):
        ratio_of_means([[1.0]], [])
    with pytest.raises(ValueError, match="finite"):
        ratio_of_means([[math.inf]], [[1.0]])
    with pytest.raises(ValueError, match="positive"):
        ratio_of_means([[0.0]], [[1.0]])
    assert "x2.00" in str(Ratio(2.0, 0.1)) and str(Ratio(2.0, 0.1, censored=True)).startswith(">=")


def _record(config, seed, losses, every=10):
    steps = [every * i for i in range(len(losses))]
    return {"config": config, "seed": seed, "steps": steps, "test_loss": losses, "train_loss": losses,
            "escape_step": None, "escaped": False, "diverged": False, "provenance": {}}


def _curve(escape_at, start=0.5, n=40):
    """A loss at ``start`` that falls to start/10 at step ``escape_at`` (evaluated every 10 steps)."""
    return [start if 10 * i < escape_at else start / 10 for i in range(n)]


def test_each_config_maps_to_its_reading():
    for name, overrides in ABLATIONS.items():
        assert variant({"T": 32, "d": 8, **overrides}) == name


def test_ablation_rows_find_a_factor_two_and_the_capped_runs():
    records = []
    for T in (32, 64):
        for d in (8, 16):
            base = {"T": T, "d": d, "max_steps": 400}
            for seed in range(3):
                steps = d * T / 8 + 5 * seed
                records.append(_record(base, seed, _curve(steps)))
                records.append(_record({**base, "position": "fixed"}, seed, _curve(2 * steps)))
                # a readout that starts far above the plateau, and never escapes at d = 16
                never = d == 16
                records.append(_record({**base, **ABLATIONS["readout initial scale 1"]}, seed,
                                       [5.0] + _curve(10_000 if never else steps)[1:]))
    rows = {(r.reading, r.reference): r for r in ablation_rows(records)}
    assert set(READINGS) == {ref for _, ref in rows}
    fixed = rows["fixed position", "initial test loss"]
    assert fixed.factor.value == pytest.approx(2.0, rel=0.05) and fixed.verdict == "slower"
    assert fixed.cells == 4 and fixed.runs == 12 and fixed.censored == 0
    assert fixed.change_verdict("d") == "unresolved" or abs(fixed.exponent_change["d"][0]) < 0.1
    large = rows["readout initial scale 1", "plateau loss 1/2"]
    assert large.censored == 6 and large.factor.censored and str(large.factor).startswith(">=")
    ours = rows[OURS, "initial test loss"]
    assert ours.factor.value == pytest.approx(1.0)
    table = escape_table(records, None)
    assert sorted(table[OURS]) == [(32, 8), (32, 16), (64, 8), (64, 16)]


def test_ablation_rows_need_our_own_runs():
    with pytest.raises(ValueError, match="our own"):
        ablation_rows([_record({"T": 32, "d": 8, "position": "fixed"}, 0, _curve(50))])


def _width_records(width, exponent_d, seeds=3):
    records = []
    for T in (32, 64):
        for d in (8, 16, 32):
            for seed in range(seeds):
                steps = 2 * d**exponent_d * T**0.5 * (1 + 0.01 * seed)
                records.append(_record({"T": T, "d": d, "d_model": width, "max_steps": 10**6}, seed,
                                       _curve(steps, n=int(steps / 10) + 5)))
    return records


def test_width_fits_recover_each_width_exponent_on_the_shared_cells():
    extra = _width_records(256, 1.0)
    extra.append(_record({"T": 128, "d": 8, "d_model": 256}, 0, _curve(300)))  # not shared: left out
    fits = width_fits({32: _width_records(32, 1.5), 256: extra})
    assert [f.width for f in fits] == [32, 256]
    assert fits[0].fit.fit.exponents["d"] == pytest.approx(1.5, abs=0.05)
    assert fits[1].fit.fit.exponents["d"] == pytest.approx(1.0, abs=0.05)
    assert fits[1].runs == 18 and "width 256" in fits[1].model
    assert fits[0].distance("d", 1.29)[1] == "above" and fits[1].distance("d", 1.29)[1] == "below"


def test_width_fits_refuse_mislabelled_or_single_widths():
    with pytest.raises(ValueError, match="width 64"):
        width_fits({64: _width_records(32, 1.5), 256: _width_records(256, 1.0)})
    with pytest.raises(ValueError, match="two widths"):
        width_fits({32: _width_records(32, 1.5)})
    with pytest.raises(ValueError, match="axes"):
        width_fits({32: [], 256: []}, axes="d only")


def test_convergence_says_towards_away_or_unresolved():
    from sparse_attention_lab.analysis.width import convergence
    fits = width_fits({32: _width_records(32, 1.5), 256: _width_records(256, 1.0)})
    change, stderr, verdict = convergence(fits, "d", 1.29)
    # 1.5 -> 1.0 passes 1.29 and ends farther from it: 0.29 against 0.21
    assert change == pytest.approx(0.08, abs=0.05) and verdict == "away from the paper's"
    assert convergence(fits, "d", 0.5)[2] == "towards the paper's"
    assert convergence(fits, "T", 0.8)[2] == "unresolved"  # both widths have T^0.5


def test_paired_seeds_remove_the_spread_they_share():
    # each seed's own speed: the pairs move together, the groups scatter by a factor 2
    base = [100.0, 200.0, 400.0, 150.0, 300.0]
    faster = [b / 1.2 * (1 + 0.01 * k) for k, b in enumerate(base)]
    unpaired = ratio_of_means([base], [faster], n_boot=1000)
    paired = ratio_of_means([base], [faster], n_boot=1000, paired=True)
    assert paired.value == unpaired.value == pytest.approx(1.2, rel=0.03)
    assert paired.direction() == "above" and unpaired.direction() == "unresolved"
    with pytest.raises(ValueError, match="paired"):
        ratio_of_means([[1.0, 2.0]], [[1.0]], paired=True)
    assert math.isinf(ratio_of_means([[2.0]], [[1.0]]).log_stderr)  # one seed: no error to speak of


def test_late_rise_needs_a_low_period_then_a_later_gain():
    from sparse_attention_lab.analysis.recall import late_rise
    steps = list(range(0, 1100, 100))
    train = [0.1, 0.95] + [1.0] * 9
    grokking = [0.1, 0.1, 0.12, 0.12, 0.13, 0.13, 0.2, 0.4, 0.6, 0.8, 0.9]  # flat, then up late
    climbing = [0.1, 0.3, 0.5, 0.6, 0.65, 0.7, 0.72, 0.74, 0.75, 0.76, 0.77]  # up early, slower later
    general = [0.1, 0.9] + [0.95] * 9  # test follows train: no low period
    assert late_rise(steps, train, grokking).verdict == "late rise"
    assert late_rise(steps, train, climbing).verdict == "no late rise"
    assert late_rise(steps, train, general).verdict == "no low period"
    assert late_rise(steps, [0.1] * 11, grokking).verdict == "no low period"  # never learned its own data
    with pytest.raises(ValueError, match="one length"):
        late_rise(steps, train[:3], grokking)


def test_a_constant_numerator_leaves_the_error_to_the_seeds():
    ratio = ratio_of_means([[100.0]], [[40.0, 50.0, 60.0]], n_boot=500)
    assert ratio.value == pytest.approx(2.0) and 0 < ratio.log_stderr < 0.3


def test_exponent_changes_compare_ours_on_the_readings_own_cells():
    # ours is steep in d only where the reading has no runs: on shared cells nothing changes
    records = []
    for T in (32, 64):
        for d in (8, 16, 32):
            for seed in range(3):
                steps = (d ** (2.0 if d == 32 else 1.0)) * T / 8 * (1 + 0.01 * seed)
                records.append(_record({"T": T, "d": d, "max_steps": 10**6}, seed, _curve(steps, n=int(steps / 10) + 5)))
                if d < 32:
                    records.append(_record({"T": T, "d": d, "max_steps": 10**6, "position": "fixed"}, seed,
                                           _curve(2 * steps, n=int(steps / 5) + 5)))
    row = next(r for r in ablation_rows(records) if r.reading == "fixed position")
    change, _ = row.exponent_change["d"]
    assert abs(change) < 0.15  # against ours on every cell, d^2 at d = 32 would give about -0.4


def test_paired_ratio_pairs_on_shared_seeds_and_refuses_runs_that_never_crossed():
    from sparse_attention_lab.analysis.verdicts import paired_ratio
    ratio = paired_ratio({0: 200.0, 1: 220.0, 2: 180.0, 7: 5.0}, {0: 100.0, 1: 110.0, 2: 90.0})
    assert ratio.value == pytest.approx(2.0) and ratio.direction() == "above"
    assert ratio.plus_minus().startswith("×2.00 ± ")
    assert paired_ratio({0: 1.0}, {0: 1.0}) is None  # one seed pairs
    assert paired_ratio({0: math.inf, 1: 2.0}, {0: 1.0, 1: 1.0}) is None
