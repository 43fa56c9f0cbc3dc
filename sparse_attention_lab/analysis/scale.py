"""Do the Transformer's exponents move towards the paper's as ``T``, ``d`` and the width grow? (Fig. 3)

- :func:`local_exponents`, :func:`weighted_trend`: the power law ``C d^a T^b`` (App. D.2) on every
  2 x 2 sub-grid of adjacent ``T`` and ``d`` values, so that the exponents can be drawn against
  the scale at which they were measured, and their trend with the scale;
- :func:`scale_rows`: the laptop Fig. 3 grid and the ``fig3_scale`` sweep as one grid, split at
  the model width (where ``d`` exceeds it, a capacity limit of the residual stream);
- :func:`scale_exponents`, :func:`scale_fits`, :func:`same_cell_fits`: the joint laws at each
  width, and on the cells both widths trained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sparse_attention_lab.analysis.steps import StepFit, fit_steps, plateau_rows


def local_exponents(rows: Sequence[dict], n_boot: int = 200) -> list[dict]:
    """One dict per complete 2 x 2 sub-grid (adjacent ``T`` pair x adjacent ``d`` pair, every
    cell with at least one run that crossed): its centre (geometric means ``T``, ``d``), the
    exponents ``a`` (of ``d``) and ``b`` (of ``T``), and their standard errors (the larger of
    the fit's and a bootstrap over seeds, :class:`~sparse_attention_lab.analysis.steps.StepFit`)."""
    Ts = sorted({row["T"] for row in rows})
    ds = sorted({row["d"] for row in rows})
    out = []
    for T0, T1 in zip(Ts[:-1], Ts[1:], strict=True):
        for d0, d1 in zip(ds[:-1], ds[1:], strict=True):
            cells = [[row for row in rows if row["T"] == T and row["d"] == d and math.isfinite(row["plateau"])]
                     for T in (T0, T1) for d in (d0, d1)]
            if not all(cells):
                continue
            fit = fit_steps([row for cell in cells for row in cell], ("d", "T"), n_boot=n_boot)
            out.append({"T": math.sqrt(T0 * T1), "d": math.sqrt(d0 * d1), "T_pair": (T0, T1), "d_pair": (d0, d1),
                        "a": fit.fit.exponents["d"], "a_se": fit.stderr("d"),
                        "b": fit.fit.exponents["T"], "b_se": fit.stderr("T"),
                        "runs": int(sum(len(cell) for cell in cells))})
    return out


def weighted_trend(points: Sequence[dict], exponent: str, scale: str) -> tuple[float, float]:
    """Slope of ``exponent`` (``"a"`` or ``"b"``) against ``log2`` of ``scale`` (``"d"`` or
    ``"T"``) over the sub-grids, weighted by ``1 / se^2``, and its standard error: is the
    exponent growing with the scale?"""
    if exponent not in ("a", "b") or scale not in ("d", "T"):
        raise ValueError(f"exponent must be 'a' or 'b' and scale 'd' or 'T', got {exponent!r}, {scale!r}.")
    if len(points) < 3:
        raise ValueError(f"points: need at least 3 sub-grids for a slope with an error, got {len(points)}.")
    x = np.log2([p[scale] for p in points])
    y = np.array([p[exponent] for p in points])
    w = 1 / np.array([p[f"{exponent}_se"] for p in points]) ** 2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ X.T @ (w * y)
    residual = y - X @ beta
    scale_factor = max(1.0, float(residual @ (w * residual)) / (len(x) - 2))  # overdispersion
    return float(beta[1]), float(math.sqrt(cov[1, 1] * scale_factor))


@dataclass(frozen=True)
class ScaleRows:
    """Plateau rows of the scale sweeps: ``fitted`` (``d`` at most the width), every row, and per
    ``T`` the runs beyond the width beside the largest fitted ``d`` (``beyond``)."""

    fitted: list[dict]
    rows: list[dict]
    beyond: list[dict]


def scale_rows(laptop_records: Sequence[dict], scale_records: Sequence[dict] | None) -> ScaleRows:
    """The laptop Fig. 3 grid and the ``fig3_scale`` sweep, one run per ``(T, d, seed)`` (the
    newer sweep's where both trained it), as :class:`ScaleRows`; each ``beyond`` entry holds ``T``,
    ``d`` and ``width`` of the runs beyond the width, their ``runs`` and ``mean`` escape step, and the
    ``mean_below`` at the largest fitted ``d_top``."""
    merged = {(r["config"]["T"], r["config"]["d"], r["seed"]): r for r in [*laptop_records, *(scale_records or [])]}
    rows = plateau_rows(list(merged.values()))
    fitted, narrow = [r for r in rows if r["d"] <= r["d_model"]], [r for r in rows if r["d"] > r["d_model"]]
    d_top = max(r["d"] for r in fitted)
    beyond = []
    for T in sorted({r["T"] for r in narrow}):
        steps = [r["plateau"] for r in narrow if r["T"] == T]
        below = [r["plateau"] for r in fitted if r["T"] == T and r["d"] == d_top]
        beyond.append({"T": T, "d": narrow[0]["d"], "width": narrow[0]["d_model"], "runs": len(steps),
                       "mean": float(np.mean(steps)), "d_top": d_top, "mean_below": float(np.mean(below))})
    return ScaleRows(fitted, rows, beyond)


@dataclass(frozen=True)
class ScaleExponents:
    """The joint law over a grid, its local exponents, those of a second width's sweep, and the
    trend of each local exponent per doubling of its variable (slope, standard error)."""

    joint: StepFit
    local: list[dict]
    wide: list[dict]
    trends: dict[str, tuple[float, float]]
    wide_trends: dict[str, tuple[float, float]]  # the same for the second width (empty without 3 sub-grids)


def scale_exponents(rows: Sequence[dict], wide_records: Sequence[dict] | None = None) -> ScaleExponents:
    """:class:`ScaleExponents` of the plateau ``rows`` (width 32) and ``wide_records`` (width 64)."""
    local = local_exponents(rows)
    wide = local_exponents(plateau_rows(wide_records)) if wide_records else []
    trends = {name: weighted_trend(local, exponent, name) for exponent, name in (("a", "d"), ("b", "T"))}
    wide_trends = ({name: weighted_trend(wide, exponent, name) for exponent, name in (("a", "d"), ("b", "T"))}
                   if len(wide) >= 3 else {})
    return ScaleExponents(fit_steps(rows, ("d", "T")), local, wide, trends, wide_trends)


def _has_grid(rows: Sequence[dict]) -> bool:
    return len({r["T"] for r in rows}) > 1 and len({r["d"] for r in rows}) > 1


def same_cell_fits(rows: Sequence[dict], wide_records: Sequence[dict]) -> list[tuple[str, int, StepFit]]:
    """``(width, runs, law)`` at width 32 (``rows``) and 64 (``wide_records``) on the cells the
    width-64 sweep has reached, where each spans two ``T`` and two ``d`` or more."""
    wide = plateau_rows(wide_records)
    cells = {(r["T"], r["d"]) for r in wide}
    pairs = (("32", [r for r in rows if (r["T"], r["d"]) in cells]), ("64", wide))
    return [(width, len(sub), fit_steps(sub, ("d", "T"))) for width, sub in pairs if _has_grid(sub)]


def scale_fits(rows: Sequence[dict], wide_records: Sequence[dict] | None) -> dict[str, StepFit]:
    """The joint power law of the scale sweeps at each width: ``rows`` (width 32, from
    :func:`scale_rows`) and, where present, the width-64 sweep's runs, keyed by a label of the grid."""
    fits = {"width 32": fit_steps(rows, ("d", "T"))}
    wide = plateau_rows(wide_records or [])
    if _has_grid(wide):
        fits["width 64"] = fit_steps(wide, ("d", "T"))
    return fits
