"""Power-law forecasts of the plateau with prediction bands."""

import math

import numpy as np
import pytest

from sparse_attention_lab.forecast import fit_predictor, forecast_table


def grid_data(rng, noise, seeds=2):
    T, d = np.meshgrid([16.0, 32.0, 64.0, 128.0], [4.0, 8.0, 16.0])
    T, d = np.repeat(T.ravel(), seeds), np.repeat(d.ravel(), seeds)
    y = 1.5 * T**0.8 * d**1.3 * np.exp(noise * rng.standard_normal(T.size))
    return y, T, d


def test_recovers_the_law_it_was_given():
    y, T, d = grid_data(np.random.default_rng(0), noise=0.0)
    model = fit_predictor(y, T=T, d=d)
    assert model.fit.prefactor == pytest.approx(1.5, rel=1e-9)
    assert model.fit.exponents == pytest.approx({"T": 0.8, "d": 1.3}, rel=1e-9)
    assert model.residual_std == pytest.approx(0.0, abs=1e-9)
    assert str(model) == "1.5 T^0.80 d^1.30 (R^2 = 1.000, n = 24)"
    f = model.forecast(T=1024, d=64)
    assert f.predicted == pytest.approx(1.5 * 1024**0.8 * 64**1.3, rel=1e-9)


def test_band_has_its_nominal_coverage_under_the_model():
    rng = np.random.default_rng(1)
    noise, hits, trials = 0.2, 0, 400
    truth = 1.5 * 256**0.8 * 32**1.3
    for _ in range(trials):
        y, T, d = grid_data(rng, noise)
        f = fit_predictor(y, T=T, d=d).forecast(level=0.9, T=256, d=32)
        hits += f.low <= truth * math.exp(noise * rng.standard_normal()) <= f.high
    assert 0.86 <= hits / trials <= 0.94


def test_band_widens_with_extrapolation_and_narrows_with_seeds():
    y, T, d = grid_data(np.random.default_rng(2), noise=0.1)
    model = fit_predictor(y, T=T, d=d)
    inside, far = model.forecast(T=32, d=8), model.forecast(T=4096, d=512)
    def log_width(f):
        return math.log(f.high / f.low)

    assert log_width(far) > 2 * log_width(inside)
    assert log_width(model.forecast(n_seeds=5, T=32, d=8)) < log_width(inside)


def test_measurement_ratio_coverage_and_table():
    y, T, d = grid_data(np.random.default_rng(3), noise=0.1)
    f = fit_predictor(y, T=T, d=d).forecast(T=256, d=32)
    assert f.covered is None and math.isnan(f.ratio)
    inside = f.with_measurement(f.predicted * 1.01)
    outside = f.with_measurement(f.high * 2)
    assert inside.covered and inside.ratio == pytest.approx(1.01)
    assert outside.covered is False
    row = forecast_table([outside])[0]
    assert row["T"] == 256 and row["in band"] is False and "90% band" in row


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: fit_predictor([1.0, -2.0, 3.0, 4.0], T=[1, 2, 3, 4]), "y"),
        (lambda: fit_predictor([1.0, math.inf, 3.0, 4.0], T=[1, 2, 3, 4]), "y"),
        (lambda: fit_predictor([1.0, 2.0, 3.0, 4.0], T=[1, 2, 3, 4], d=[2, 2, 2, 2]), "d: these points cannot"),
        (lambda: fit_predictor([1.0, 2.0], T=[1, 2]), "y"),
        (lambda: fit_predictor([1.0, 2.0, 3.0]), "features"),
        (lambda: fit_predictor([1.0, 2.0, 3.0, 4.0], T=[1, 2, 3, 4]).forecast(d=3), "setting"),
        (lambda: fit_predictor([1.0, 2.0, 3.0, 4.0], T=[1, 2, 3, 4]).forecast(level=1.5, T=3), "level"),
    ],
)
def test_invalid_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
