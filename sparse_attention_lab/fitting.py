"""Plateau measurement on learning curves and power-law fits on logs (App. D.1, D.2).

Three functions, used by every chapter:

- :func:`first_crossing`: the (linearly interpolated) time at which a sampled curve first
  reaches a level. Returns ``math.inf`` when it never does, so callers can test
  ``math.isfinite`` and never meet ``None`` or ``nan``.
- :func:`plateau_time`: the paper's plateau length, the first time the loss falls to
  ``fraction`` (0.2 in the paper) of its initial value. Works for training steps and for
  gradient-flow time alike.
- :func:`fit_power_law`: least squares of ``log y`` on the logs of named features,
  ``y = C * prod_k x_k^{e_k}``, with optional fixed exponents and tied exponents. Returns a
  :class:`PowerLawFit` that prints like the paper's captions (here, made-up data)::

      >>> fit = fit_power_law(times, T=T, B=B, d=d)
      >>> print(fit)
      1.73 T^1.01 B^-0.96 d^0.52 (R^2 = 0.997, n = 42)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from sparse_attention_lab.tasks import checks


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * prod_k x_k^{exponents[k]}``, fitted by least squares on logs.

    ``r2`` is the coefficient of determination of the log-linear fit (App. D.2), ``n`` the
    number of points, ``grid`` the distinct values of each feature (report it next to the
    fit: PAPER.md section 9.7), ``stderr`` the standard error of each exponent (0 for a
    fixed one), ``fixed`` the features whose exponent was given, and ``tied`` the groups of
    features sharing one free exponent, as ``{feature: weight}`` dicts.
    """

    prefactor: float
    exponents: dict[str, float]
    r2: float
    n: int
    grid: dict[str, tuple[float, ...]]
    stderr: dict[str, float] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    tied: tuple[dict[str, float], ...] = ()
    design_inverse: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``(X^T X)^-1`` of the design matrix (intercept, free features, tie groups): forecasts use it."""

    def predict(self, **features: ArrayLike) -> np.ndarray:
        """The fitted law evaluated at ``features`` (every fitted feature must be given)."""
        missing = set(self.exponents) - set(features)
        if missing:
            raise ValueError(f"features missing for the prediction: {sorted(missing)}.")
        log_y = math.log(self.prefactor) + sum(
            e * np.log(np.asarray(features[k], dtype=float)) for k, e in self.exponents.items()
        )
        return np.exp(log_y)

    def __str__(self) -> str:
        terms = " ".join(f"{k}^{e:.2f}" for k, e in self.exponents.items())
        notes = []
        if self.fixed:
            notes.append("fixed: " + ", ".join(self.fixed))
        for group in self.tied:
            notes.append("tied: " + " = ".join(f"{k}/{w:g}" for k, w in group.items()))
        notes.append(f"R^2 = {self.r2:.3f}, n = {self.n}")
        return f"{self.prefactor:.3g} {terms} ({'; '.join(notes)})"


def _as_groups(tied: Mapping[str, float] | Sequence[Mapping[str, float]] | None) -> list[dict[str, float]]:
    if tied is None:
        return []
    groups = [tied] if isinstance(tied, Mapping) else list(tied)
    if not all(isinstance(group, Mapping) and group for group in groups):
        raise ValueError(f"tied must be a non-empty {{feature: weight}} dict or a list of them, got {tied!r}.")
    checked = [{k: checks.real(f"tied[{k!r}]", w) for k, w in group.items()} for group in groups]
    for group in checked:
        for k, w in group.items():
            if w == 0:
                raise ValueError(f"tied[{k!r}] must be a non-zero weight (fix the exponent at 0 instead), got 0.")
    return checked


def _check_determined(X: np.ndarray, labels: list[str]) -> None:
    """``ValueError`` naming the features whose exponents the points cannot separate.

    The design matrix ``X`` (intercept first) must have full column rank. When it does not, a
    column belongs to the undetermined set if dropping it leaves the rank unchanged: a
    feature constant over the points (a multiple of the intercept), or one that is a
    combination of others (e.g. ``T == d`` at every point).
    """
    rank = int(np.linalg.matrix_rank(X))
    if rank == X.shape[1]:
        return
    loose = [label for j, label in enumerate(labels)
             if j and np.linalg.matrix_rank(np.delete(X, j, axis=1)) == rank]
    raise ValueError(
        f"{', '.join(loose)}: these points cannot determine {'this exponent' if len(loose) == 1 else 'these exponents'}"
        f" (design matrix of rank {rank} < {X.shape[1]}: a feature constant over the points or a combination of"
        " the others); fix or tie one of them, or fit points where they vary independently."
    )


def fit_power_law(
    y: ArrayLike,
    *,
    fixed: Mapping[str, float] | None = None,
    tied: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
    **features: ArrayLike,
) -> PowerLawFit:
    """Fit ``log y = log C + sum_k e_k log x_k`` by least squares (App. D.2).

    ``features`` are named arrays of the same length as ``y`` (e.g. ``T=..., d=...``); their
    order is the order of the printed law. All values must be positive and finite (drop the
    runs that never escaped first).

    ``fixed={"B": -1.0}`` pins an exponent instead of fitting it. ``tied={"d": 0.5, "T": 1,
    "f": 1}`` makes the features of the group share ONE free exponent ``g`` with
    ``e_k = w_k g`` (Fig. 2 right: ``2a = b = g``); pass a list of such dicts for several
    groups. The names ``fixed`` and ``tied`` cannot be feature names.
    """
    log_y = _positive_log("y", y)
    if not features:
        raise ValueError("features: give at least one named feature, e.g. T=..., d=....")
    logs = {}
    for name, values in features.items():
        logs[name] = _positive_log(name, values)
        if logs[name].shape != log_y.shape:
            raise ValueError(f"{name} must have the length of y ({log_y.size}), got {logs[name].size}.")
    if fixed is not None and not isinstance(fixed, Mapping):
        raise ValueError(f"fixed must be a {{feature: exponent}} dict, got {fixed!r}.")
    fixed = {k: checks.real(f"fixed[{k!r}]", e) for k, e in (fixed or {}).items()}
    groups = _as_groups(tied)
    in_groups = [k for group in groups for k in group]
    for name in list(fixed) + in_groups:
        if name not in features:
            raise ValueError(f"fixed/tied name {name!r} is not one of the features {sorted(features)}.")
    if len(set(in_groups)) != len(in_groups) or set(in_groups) & set(fixed):
        raise ValueError("tied: a feature may belong to one tie group at most and cannot also be fixed.")

    # Design matrix: an intercept, one column per free feature, one per tie group.
    free = [k for k in features if k not in fixed and k not in in_groups]
    columns = [np.ones_like(log_y)] + [logs[k] for k in free]
    columns += [sum(w * logs[k] for k, w in group.items()) for group in groups]
    X = np.stack(columns, axis=1)
    target = log_y - sum((e * logs[k] for k, e in fixed.items()), np.zeros_like(log_y))
    if X.shape[0] < X.shape[1]:
        raise ValueError(f"y: {X.shape[0]} points cannot fit {X.shape[1]} parameters.")
    _check_determined(X, ["intercept", *free, *("tied(" + ", ".join(group) + ")" for group in groups)])
    coef, *_ = np.linalg.lstsq(X, target, rcond=None)
    residual = target - X @ coef
    ss_res = float(residual @ residual)
    ss_tot = float(((log_y - log_y.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    dof = X.shape[0] - X.shape[1]
    design_inverse = np.linalg.pinv(X.T @ X)
    cov = design_inverse * (ss_res / dof) if dof > 0 else np.full((X.shape[1],) * 2, np.nan)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))

    exponents: dict[str, float] = {}
    stderr: dict[str, float] = {}
    for name in features:
        if name in fixed:
            exponents[name], stderr[name] = fixed[name], 0.0
        elif name in free:
            j = 1 + free.index(name)
            exponents[name], stderr[name] = float(coef[j]), float(se[j])
        else:
            g = next(i for i, group in enumerate(groups) if name in group)
            j, w = 1 + len(free) + g, groups[g][name]
            exponents[name], stderr[name] = float(w * coef[j]), float(abs(w) * se[j])
    grid = {k: tuple(float(v) for v in np.unique(np.asarray(features[k], dtype=float))) for k in features}
    return PowerLawFit(
        prefactor=float(math.exp(coef[0])),
        exponents=exponents,
        r2=r2,
        n=int(log_y.size),
        grid=grid,
        stderr=stderr,
        fixed=tuple(fixed),
        tied=tuple(groups),
        design_inverse=design_inverse,
    )


def _positive_log(name: str, values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty.")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must be positive and finite (drop runs that never escaped), got {array}.")
    return np.log(array)


def bootstrap_stderr(
    y: ArrayLike,
    groups: ArrayLike,
    n_boot: int = 200,
    seed: int = 0,
    fixed: Mapping[str, float] | None = None,
    tied: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
    **features: ArrayLike,
) -> dict[str, float]:
    """Bootstrap standard error of each exponent of :func:`fit_power_law`, resampling whole groups.

    ``groups`` labels each point (e.g. the seed of its run): a resample draws as many groups as
    there are, with replacement, and keeps all points of each, so that runs sharing a seed stay
    together. Resamples whose fit is undetermined (too few distinct settings) are skipped; the
    result is ``nan`` for every exponent when fewer than 10 resamples could be fitted.
    """
    labels = np.asarray(groups).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if labels.shape != y.shape:
        raise ValueError(f"groups must have the length of y ({y.size}), got {labels.size}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 10:
        raise ValueError(f"n_boot must be an integer of at least 10, got {n_boot!r}.")
    columns = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in features.items()}
    # A point no fit could use (non-positive or non-finite) would fail only the resamples that
    # draw it, leaving a biased, too small spread: refuse it here, as the full fit does.
    _positive_log("y", y)
    for name, column in columns.items():
        if column.shape != y.shape:
            raise ValueError(f"{name} must have the length of y ({y.size}), got {column.size}.")
        _positive_log(name, column)
    unique = np.unique(labels)
    members = [np.flatnonzero(labels == g) for g in unique]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {k: [] for k in features}
    for _ in range(n_boot):
        index = np.concatenate([members[i] for i in rng.integers(len(unique), size=len(unique))])
        try:
            fit = fit_power_law(y[index], fixed=fixed, tied=tied, **{k: v[index] for k, v in columns.items()})
        except (ValueError, np.linalg.LinAlgError):
            continue
        for k in features:
            samples[k].append(fit.exponents[k])
    return {k: float(np.std(v, ddof=1)) if len(v) >= 10 else math.nan for k, v in samples.items()}
