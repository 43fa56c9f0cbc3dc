"""Plateau measurement and power-law fits (sparse_attention_lab.fitting)."""

import math

import numpy as np
import pytest

from sparse_attention_lab.fitting import PowerLawFit, fit_power_law
from sparse_attention_lab.measure import first_crossing, plateau_time


def test_first_crossing_interpolates_linearly():
    # 0.5 at t=10, 0.1 at t=20: the level 0.3 is reached half-way.
    assert first_crossing([0, 10, 20, 30], [0.5, 0.5, 0.1, 0.0], 0.3) == pytest.approx(15.0)


def test_first_crossing_first_sample_and_exact_hit():
    assert first_crossing([1, 2, 3], [0.1, 0.5, 0.0], 0.2) == 1.0
    assert first_crossing([1, 2, 3], [0.5, 0.2, 0.0], 0.2) == 2.0


def test_first_crossing_never_reached_is_inf():
    assert first_crossing([0, 1, 2], [0.5, 0.4, 0.3], 0.1) == math.inf
    # A diverged run (nan) does not count as a crossing.
    assert first_crossing([0, 1, 2], [0.5, float("nan"), float("nan")], 0.1) == math.inf


def test_first_crossing_above_for_accuracies():
    assert first_crossing([0, 100, 200], [0.0, 0.02, 0.08], 0.05, direction="above") == pytest.approx(150.0)


def test_first_crossing_rejects_bad_input():
    with pytest.raises(ValueError, match="times"):
        first_crossing([0, 2, 1], [1, 1, 1], 0.5)
    with pytest.raises(ValueError, match="values"):
        first_crossing([0, 1, 2], [1, 1], 0.5)
    with pytest.raises(ValueError, match="direction"):
        first_crossing([0, 1], [1, 0], 0.5, direction="up")


def test_plateau_time_on_an_exponential_matches_the_closed_form():
    t = np.linspace(0, 10, 2001)
    loss = 0.5 * np.exp(-t)
    assert plateau_time(t, loss, 0.2) == pytest.approx(math.log(5), rel=1e-5)
    # Against a given initial value instead of the first sample.
    assert plateau_time(t, loss, 0.5, initial=1.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="fraction"):
        plateau_time(t, loss, 1.5)


def _grid_data(noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    T, B, d = (g.ravel() for g in np.meshgrid([256, 512, 1024, 4096], [1, 2, 4, 8], [16, 64, 256]))
    y = 1.5 * T**1.0 * B**-1.0 * d**0.5 * np.exp(noise * rng.standard_normal(T.size))
    return y, T, B, d


def test_fit_power_law_recovers_known_exponents():
    y, T, B, d = _grid_data(noise=0.05)
    fit = fit_power_law(y, T=T, B=B, d=d)
    assert isinstance(fit, PowerLawFit)
    assert fit.exponents["T"] == pytest.approx(1.0, abs=0.05)
    assert fit.exponents["B"] == pytest.approx(-1.0, abs=0.05)
    assert fit.exponents["d"] == pytest.approx(0.5, abs=0.05)
    assert fit.prefactor == pytest.approx(1.5, rel=0.3)
    assert 0.99 < fit.r2 < 1.0
    assert fit.n == 48
    assert fit.grid["B"] == (1.0, 2.0, 4.0, 8.0)
    assert all(0 < s < 0.05 for s in fit.stderr.values())
    assert fit.predict(T=[512], B=[2], d=[64]) == pytest.approx(1.5 * 512 / 2 * 8, rel=0.1)


def test_fit_power_law_exact_data_prints_like_the_paper():
    y, T, B, d = _grid_data()
    assert str(fit_power_law(y, T=T, B=B, d=d)) == "1.5 T^1.00 B^-1.00 d^0.50 (R^2 = 1.000, n = 48)"


def test_fit_power_law_fixed_exponent():
    y, T, B, d = _grid_data(noise=0.05)
    fit = fit_power_law(y, T=T, B=B, d=d, fixed={"B": -1.0})
    assert fit.exponents["B"] == -1.0 and fit.stderr["B"] == 0.0
    assert fit.exponents["d"] == pytest.approx(0.5, abs=0.05)
    assert "fixed: B" in str(fit)


def test_fit_power_law_tied_exponents_as_in_fig2_right():
    # y = 2 (sqrt(d) T / s)^1.02 with s a third feature: 2 e_d = e_T = -e_s = one free exponent.
    rng = np.random.default_rng(1)
    d, T, s = (g.ravel() for g in np.meshgrid([16.0, 64, 256], [512.0, 4096], [0.1, 0.5, 1.0]))
    y = 2.0 * (np.sqrt(d) * T / s) ** 1.02 * np.exp(0.02 * rng.standard_normal(d.size))
    fit = fit_power_law(y, d=d, T=T, s=s, tied={"d": 0.5, "T": 1.0, "s": -1.0})
    assert fit.exponents["T"] == pytest.approx(1.02, abs=0.02)
    assert fit.exponents["d"] == pytest.approx(fit.exponents["T"] / 2)
    assert fit.exponents["s"] == pytest.approx(-fit.exponents["T"])
    assert "tied" in str(fit)
    # The tie is a real constraint: untied data (e_s = 0) is badly fitted by it.
    untied = 2.0 * np.sqrt(d) * T
    assert fit_power_law(untied, d=d, T=T, s=s, tied={"d": 0.5, "T": 1.0, "s": -1.0}).r2 < 0.95


def test_fit_power_law_rejects_bad_input():
    y, T, B, d = _grid_data()
    with pytest.raises(ValueError, match="y must be positive"):
        fit_power_law(np.append(y[:-1], math.inf), T=T, B=B, d=d)
    with pytest.raises(ValueError, match="features"):
        fit_power_law(y)
    with pytest.raises(ValueError, match="'L'"):
        fit_power_law(y, T=T, fixed={"L": 1.0})
    with pytest.raises(ValueError, match="d must have the length"):
        fit_power_law(y, T=T, d=d[:3])


def test_bootstrap_stderr_resamples_whole_seeds():
    from sparse_attention_lab.fitting import bootstrap_stderr

    rng = np.random.default_rng(1)
    T = np.repeat([16, 32, 64, 128], 6)
    d = np.tile(np.repeat([4, 8, 16], 2), 4)
    seeds = np.tile([0, 1, 2], 8)
    y = 2 * T**0.8 * d**1.3 * np.exp(0.1 * rng.standard_normal(T.size))
    se = bootstrap_stderr(y, seeds, n_boot=50, T=T, d=d)
    assert set(se) == {"T", "d"} and all(0 < v < 0.2 for v in se.values())
    noiseless = bootstrap_stderr(2 * T**0.8 * d**1.3, seeds, n_boot=50, T=T, d=d)
    assert all(v < 1e-9 for v in noiseless.values())
    with pytest.raises(ValueError, match="groups"):
        bootstrap_stderr(y, seeds[:-1], T=T, d=d)


def test_fit_power_law_refuses_a_split_the_points_cannot_determine():
    """Issue 17 item 5: T == d on every point, a constant feature, NaN in fixed/tied."""
    x = np.array([2.0, 4.0, 8.0, 16.0])
    y = 3.0 * x**1.5
    with pytest.raises(ValueError, match=r"^T, d: these points cannot determine these exponents \(design matrix of "
                                         r"rank 2 < 3"):
        fit_power_law(y, T=x, d=x)
    with pytest.raises(ValueError, match=r"^d: these points cannot determine this exponent"):
        fit_power_law(y, T=x, d=np.full(4, 8.0))
    with pytest.raises(ValueError, match=r"^tied\(T, d\): these points"):
        fit_power_law(y, T=np.full(4, 8.0), d=np.full(4, 2.0), tied={"T": 1, "d": 0.5})
    with pytest.raises(ValueError, match=r"^fixed\['T'\] must be a finite real number, got nan"):
        fit_power_law(y, T=x, d=x[::-1], fixed={"T": math.nan})
    with pytest.raises(ValueError, match=r"^tied\['T'\] must be a finite real number, got nan"):
        fit_power_law(y, T=x, d=x[::-1], tied={"T": math.nan, "d": 1.0})
    with pytest.raises(ValueError, match=r"^tied\['d'\] must be a non-zero weight"):
        fit_power_law(y, T=x, d=x[::-1], tied={"T": 1.0, "d": 0})
    # Once the data can tell the exponents apart (one fixed, or a constant feature inside a
    # tie group whose column still varies, as chapter 2's T = 4096 fits), the fit goes through.
    assert fit_power_law(y, T=x, d=x, fixed={"d": 0.5}).exponents["T"] == pytest.approx(1.0)
    tied = fit_power_law(2.0 * x**0.5, d=x, T=np.full(4, 64.0), tied={"d": 0.5, "T": 1.0})
    assert tied.exponents["d"] == pytest.approx(0.5) and tied.exponents["T"] == pytest.approx(1.0)


def test_measures_reject_empty_curves_and_bool_levels():
    """Issue 17 item 6: plateau_time([], []) was an IndexError, level=True was read as 1."""
    with pytest.raises(ValueError, match=r"^losses must be a non-empty sequence"):
        plateau_time([], [])
    with pytest.raises(ValueError, match=r"^level must be a finite real number, got True"):
        first_crossing([0, 1], [1.0, 0.0], level=True)
    with pytest.raises(ValueError, match=r"^initial must be a finite real number > 0"):
        plateau_time([0, 1], [math.nan, 0.0])
