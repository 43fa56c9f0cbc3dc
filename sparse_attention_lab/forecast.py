"""Forecasting emergence: predict an expensive plateau from cheap ones (the paper's Section 1 question).

The paper's power laws (App. D.2) are least-squares fits on logs,
``log y = log C + sum_i a_i log x_i``. Fitted on cheap settings (small ``T``, ``d``, ``N_pairs``),
the same regression gives a *prediction interval* for a setting not yet run: the band that a
new measurement should fall in if the law keeps holding, from the scatter of the fit's
residuals (which include seed-to-seed scatter when every seed is a row) and the leverage of
the new point (how far outside the fitted grid it lies). Comparing it with the measurement
says whether emergence was predictable, and where the extrapolation breaks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sparse_attention_lab.fitting import PowerLawFit, fit_power_law


def _as_positive(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {array.shape}.")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(
            f"{name} must be positive and finite (drop runs that never escaped before fitting), "
            f"got {array.tolist()}."
        )
    return array


@dataclass(frozen=True)
class Forecast:
    """A predicted plateau at ``setting``: median ``predicted`` and the band ``[low, high]``."""

    setting: dict[str, float]
    predicted: float
    low: float
    high: float
    level: float
    measured: float | None = None

    def with_measurement(self, measured: float) -> Forecast:
        """The same forecast, with the value measured afterwards."""
        return Forecast(self.setting, self.predicted, self.low, self.high, self.level, float(measured))

    @property
    def ratio(self) -> float:
        """``measured / predicted`` (``nan`` before the measurement)."""
        return math.nan if self.measured is None else self.measured / self.predicted

    @property
    def covered(self) -> bool | None:
        """Whether the measurement fell inside the band (``None`` before it is made)."""
        return None if self.measured is None else bool(self.low <= self.measured <= self.high)


@dataclass(frozen=True)
class PowerLawPredictor:
    """A power law fitted on logs (:func:`~sparse_attention_lab.fitting.fit_power_law`) with
    what its prediction intervals need.

    ``fit`` is the law (prefactor, exponents, R^2, grid); ``residual_std`` the standard
    deviation of its log residuals (``n - k`` degrees of freedom, ``k`` fitted coefficients);
    ``covariance_unscaled`` is ``(X^T X)^-1`` for the design ``X = [1, log x_1, ...]``.
    """

    fit: PowerLawFit
    covariance_unscaled: np.ndarray
    residual_std: float

    def __str__(self) -> str:
        return str(self.fit)

    def forecast(self, level: float = 0.9, n_seeds: int = 1, **setting: float) -> Forecast:
        """Median prediction at ``setting`` and the ``level`` prediction band.

        The band is for the geometric mean of ``n_seeds`` new runs: in logs,
        ``t_{n-k} * s * sqrt(x0^T (X^T X)^-1 x0 + 1/n_seeds)``.
        """
        names = list(self.fit.exponents)
        if set(setting) != set(names):
            raise ValueError(f"setting must give exactly {names}, got {sorted(setting)}.")
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}.")
        if n_seeds < 1:
            raise ValueError(f"n_seeds must be at least 1, got {n_seeds!r}.")
        x0 = np.array([1.0] + [math.log(_as_positive(n, [setting[n]])[0]) for n in names])
        centre = math.log(float(self.fit.predict(**setting)))
        dof = self.fit.n - len(x0)
        spread = self.residual_std * math.sqrt(x0 @ self.covariance_unscaled @ x0 + 1.0 / n_seeds)
        half = float(stats.t.ppf(0.5 + level / 2, dof)) * spread
        return Forecast(
            setting={k: float(v) for k, v in setting.items()},
            predicted=math.exp(centre),
            low=math.exp(centre - half),
            high=math.exp(centre + half),
            level=level,
        )


def fit_predictor(y: Sequence[float], **features: Sequence[float]) -> PowerLawPredictor:
    """Fit ``y = C prod_i x_i^a_i`` by least squares on logs (App. D.2), keeping what forecasts need.

    Pass one row per run (several seeds of a setting as several rows) so that the residual
    scatter includes the seed-to-seed scatter. All exponents are free.
    """
    if not features:
        raise ValueError("features must name at least one variable, e.g. T=[...], d=[...].")
    values = _as_positive("y", y)
    parameters = len(features) + 1
    if values.size <= parameters:
        raise ValueError(f"y needs more than {parameters} points to fit and estimate the scatter, got {values.size}.")
    fit = fit_power_law(values, **features)  # refuses features the points cannot tell apart
    residuals = np.log(values) - np.log(fit.predict(**features))
    return PowerLawPredictor(
        fit=fit,
        covariance_unscaled=fit.design_inverse,
        residual_std=float(math.sqrt(np.sum(residuals**2) / (values.size - parameters))),
    )


def forecast_table(forecasts: Sequence[Forecast]) -> list[dict[str, object]]:
    """Rows ``setting, predicted, band, measured, ratio, covered`` for a table in the book."""
    rows = []
    for f in forecasts:
        rows.append(
            {
                **{k: (int(v) if float(v).is_integer() else v) for k, v in f.setting.items()},
                "predicted": f.predicted,
                f"{round(100 * f.level)}% band": f"[{f.low:.3g}, {f.high:.3g}]",
                "measured": f.measured,
                "measured / predicted": f.ratio,
                "in band": f.covered,
            }
        )
    return rows



def with_seed_measurements(forecast: Forecast, steps: Sequence[float], cap: float) -> tuple[Forecast, bool]:
    """``forecast`` measured: the geometric mean over seeds of ``steps``, as the band assumes.

    A seed that never crossed within its run (``math.inf``) counts as ``cap``, the run's step cap;
    the measurement is then only a lower bound, and the second value is ``True``.
    """
    values = np.asarray(steps, dtype=float)
    if values.size == 0 or np.any(values <= 0) or np.any(np.isnan(values)):
        raise ValueError(f"steps must be positive (math.inf for a seed that never crossed), got {list(steps)}.")
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"cap must be a positive step count, got {cap!r}.")
    censored = bool(np.any(np.isinf(values)))
    return forecast.with_measurement(math.exp(np.mean(np.log(np.minimum(values, cap))))), censored
