"""Do the Transformer's exponents move towards the paper's as ``T`` and ``d`` grow? (Fig. 3)

:func:`local_exponents` fits the power law ``C d^a T^b`` (App. D.2) on every 2 x 2 sub-grid of
adjacent ``T`` and ``d`` values of a grid of plateau rows, so that the exponents can be drawn
against the scale at which they were measured, beside the joint fit over the whole grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sparse_attention_lab.experiments.regression import fit_steps


def local_exponents(rows: Sequence[dict], n_boot: int = 200) -> list[dict]:
    """One dict per complete 2 x 2 sub-grid (adjacent ``T`` pair x adjacent ``d`` pair, every
    cell with at least one run that crossed): its centre (geometric means ``T``, ``d``), the
    exponents ``a`` (of ``d``) and ``b`` (of ``T``), and their standard errors (the larger of
    the fit's and a bootstrap over seeds, :class:`~sparse_attention_lab.experiments.regression.StepFit`)."""
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
