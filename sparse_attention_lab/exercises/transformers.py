"""Exercises of chapter 3: Transformers on single-location regression.

- :func:`check_shortcut_output` (derive): the constant output a model learns first under
  cross-sample repetition, ``p W* x~``, against the mean training target of the library's task.
- :func:`check_shortcut_rise` (derive): how much that constant raises the test loss, against
  the test loss of the constant measured on test sequences of the library's task.
- :func:`check_first_crossing` (implement): the plateau's end on a sampled curve, with linear
  interpolation, against :func:`~sparse_attention_lab.measure.first_crossing`.
- :func:`check_power_law_fit` (implement): the log-log least squares of Eq. 23, against
  :func:`~sparse_attention_lab.fitting.fit_power_law`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch

from sparse_attention_lab.analysis import paper
from sparse_attention_lab.exercises.verdict import (
    ReaderFunction,
    Rejected,
    array,
    checker,
    require_close,
    short,
)
from sparse_attention_lab.fitting import fit_power_law
from sparse_attention_lab.measure import first_crossing
from sparse_attention_lab.tasks import SingleLocationRegression
from sparse_attention_lab.theory import reduced

SAMPLES = 20_000  # Monte-Carlo sequences per setting: standard errors near 0.003 per output coordinate
SIGMAS = 6.0  # an answer within 6 standard errors of the Monte-Carlo reference counts as right
SETTINGS = [(8, 0.5, 0), (4, 1.0, 1), (16, 0.25, 2), (8, 0.0, 3)]  # (d, p, task seed)


def _task(d: int, p: float, seed: int) -> SingleLocationRegression:
    """The Transformer version of the task; ``T`` does not matter for a constant output."""
    return SingleLocationRegression(T=2, d=d, p=p, seed=seed)


@functools.cache
def _mean_target(d: int, p: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean training target and its standard error per coordinate, from ``SAMPLES`` sequences."""
    _, y = _task(d, p, seed).sample(SAMPLES, torch.Generator().manual_seed(seed + 100))  # (SAMPLES, d)
    y = y.double().numpy()
    return y.mean(0), y.std(0) / math.sqrt(SAMPLES)


@checker
def check_shortcut_output(shortcut: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> str:
    """``shortcut(W_star, special_token, p)``: the constant output ``c`` that minimises the training
    loss ``1/2 E ||c - y*||^2`` when no token is attended to (a vector of length ``d``).

    Reference: the mean target of the library's training data, ``SingleLocationRegression(p=p)``.
    """
    shortcut = ReaderFunction(shortcut, "shortcut")
    hints = {0.5: "the best constant under a squared loss is the mean of the target; with probability p the "
                  "relevant token is the special token x~, otherwise a zero-mean Gaussian token.",
             1.0: "at p = 1 every relevant token is x~, so every target is the same vector.",
             0.25: "the best constant under a squared loss is the mean of the target.",
             0.0: "without repetition the targets have mean zero."}
    for d, p, seed in SETTINGS:
        task = _task(d, p, seed)
        inputs = {"W_star": task.W_star.clone(), "special_token": task.special_token.clone(), "p": p}
        shown = {"d": d, "p": p}
        got = array(shortcut(inputs, hints[p]), "shortcut", (d,))
        mean, error = _mean_target(d, p, seed)
        tolerance = SIGMAS * error + 1e-6 * (1 + np.abs(mean))  # float32 samples
        if np.any(np.abs(got - mean) > tolerance):
            i = int(np.argmax(np.abs(got - mean) / tolerance))
            raise Rejected(f"on {', '.join(f'{k} = {v}' for k, v in shown.items())}: the mean training target is "
                           f"{mean[i]:.4f} +- {error[i]:.4f} in coordinate {i} ({SAMPLES:,} sequences), your constant "
                           f"gives {got[i]:.4f}. Hint: {hints[p]}")
    return ("c = p W* x~, the mean target. A Transformer can output it from inputs that are the same in every "
            "sequence (its biases, the relevant-token flag), without attending to anything: the first thing "
            "Adam learns under cross-sample repetition.")


@checker
def check_shortcut_rise(rise: Callable[[torch.Tensor, torch.Tensor, float], float]) -> str:
    """``rise(W_star, special_token, p)``: test loss of the constant ``p W* x~`` minus that of the
    zero output, on test data without repetition.

    Reference: both losses measured on ``SAMPLES`` test sequences of the library's task, with
    the constant estimated from its training data.
    """
    rise = ReaderFunction(rise, "rise")
    hint = ("expand 1/2 E ||c - y*||^2 on test data, where y* has mean zero: the cross term vanishes; then "
            "substitute c = p W* x~.")
    for d, p, seed in SETTINGS:
        task = _task(d, p, seed)
        inputs = {"W_star": task.W_star.clone(), "special_token": task.special_token.clone(), "p": p}
        got = rise(inputs, hint)
        constant, _ = _mean_target(d, p, seed)
        _, y = task.test_task().sample(SAMPLES, torch.Generator().manual_seed(seed + 200))
        y = y.double().numpy()  # (SAMPLES, d)
        per_sequence = 0.5 * (((constant - y) ** 2).sum(1) - (y**2).sum(1))
        expected, error = per_sequence.mean(), per_sequence.std() / math.sqrt(SAMPLES)
        require_close("rise", got, expected, {"d": d, "p": p}, hint,
                      rtol=0.02, atol=SIGMAS * error + 1e-4)
    return ("the test loss rises by p^2 ||W* x~||^2 / 2, on average over teachers p^2/2 for a unit x~: at "
            "p = 0.5 a quarter of the initial test loss 1/2, an offset the model has to unlearn after its "
            "attention has become sparse (chapter 3, Fig. 12).")


@checker
def check_first_crossing(crossing: Callable[[np.ndarray, np.ndarray, float], float]) -> str:
    """``crossing(times, values, level)``: first time a sampled loss curve falls to ``level``,
    linearly interpolated between samples; ``math.inf`` if it never does.

    Reference: :func:`sparse_attention_lab.measure.first_crossing`.
    """
    crossing = ReaderFunction(crossing, "crossing")
    interpolate = ("the curve crosses the level between two samples: interpolate linearly between the last "
                   "sample above the level and the first at or below it.")
    rng = np.random.default_rng(0)
    steps = np.arange(0, 2001, 50.0)
    noisy = 0.5 / (1 + np.exp((steps - 900) / 60)) + 0.01 + 0.01 * rng.standard_normal(steps.size)
    reduced_run = reduced.reduced_dynamics(128, 16, n_points=60)
    cases = [
        ([0, 10, 20, 30], [0.5, 0.5, 0.3, 0.05], 0.1, interpolate),
        ([0, 10, 20, 30], [0.5, 0.4, 0.1, 0.05], 0.1, "a sample exactly at the level counts as reached."),
        ([0, 10, 20], [0.05, 0.5, 0.5], 0.1, "a curve that starts at or below the level crossed it at the first time."),
        ([0, 10, 20, 30], [0.5, 0.45, 0.4, 0.35], 0.1,
         "a run that never reaches the level must return math.inf (not None, not the last time)."),
        ([0, 1, 3, 7, 15, 31], [0.5, 0.5, 0.49, 0.3, 0.2, 0.01], 0.1,
         "times need not be equally spaced: interpolate in time, between the two samples around the crossing."),
        ([0, 10, 20, 30, 40], [0.5, 0.05, 0.5, 0.5, 0.01], 0.1, "the FIRST crossing, not the last one."),
        (list(steps), list(noisy), 0.1, interpolate),
        (list(reduced_run.times), list(reduced_run.loss), 0.1, interpolate),
    ]
    for times, values, level, hint in cases:
        times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
        inputs = {"times": times.copy(), "values": values.copy(), "level": level}
        got = crossing(inputs, hint)
        expected = first_crossing(times, values, level)
        shown = f"a curve of {times.size} samples from t = {times[0]:g} to {times[-1]:g}, level = {level:g}"
        if math.isinf(expected):
            try:
                never = float(np.asarray(got, dtype=float)) == math.inf
            except (TypeError, ValueError):
                never = False
            if not never:
                raise Rejected(f"on a curve that stays above the level ({values.min():.3g} > {level}): expected "
                               f"math.inf, got {short(got)}. Hint: {hint}")
            continue
        require_close("crossing", got, expected, shown, hint, rtol=1e-6)
    return ("this is the rule behind every plateau length, escape step and emergence step of the book "
            "(measure.first_crossing). Interpolation matters when evaluations are sparse: without it a plateau "
            "is rounded up to the next evaluation step.")


@checker
def check_power_law_fit(fit: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, float, float, float]]) -> str:
    """``fit(plateaus, d, T_over_B) -> (C, alpha, beta, r2)``: least squares of Eq. 23 on logs,
    ``log T_plateau = log C + alpha log d + beta log(T/B)``, and the R^2 of that linear fit.

    Reference: :func:`sparse_attention_lab.fitting.fit_power_law`.
    """
    fit = ReaderFunction(fit, "fit")
    hint = ("regress log(plateaus) on the columns [1, log d, log(T/B)] by least squares (np.linalg.lstsq); C is "
            "exp(intercept), and R^2 = 1 - SS_res/SS_tot is computed on the logs.")
    rng = np.random.default_rng(0)
    d_grid, t_grid = np.meshgrid([4.0, 8.0, 16.0], [16.0, 32.0, 64.0, 128.0], indexing="ij")
    d_flat, t_flat = d_grid.ravel(), t_grid.ravel()
    law = paper.law("Fig. 3")
    Tg, dg = np.meshgrid([64, 256, 1024], [16, 64, 256], indexing="ij")
    cases = [
        ("an exact law 2.5 d^1.3 (T/B)^0.8", 2.5 * d_flat**1.3 * t_flat**0.8, d_flat, t_flat),
        (f"a noisy law {law.C} d^{law.exponents['d']:.2f} (T/B)^{law.exponents['T']:.2f}",  # the paper's Fig. 3
         law.C * d_flat ** law.exponents["d"] * t_flat ** law.exponents["T"] * np.exp(0.1 * rng.standard_normal(d_flat.size)),
         d_flat, t_flat),
        ("the reduced dynamics' plateaus (chapter 1)", reduced.plateau_lengths(Tg, dg).ravel(),
         dg.ravel().astype(float), Tg.ravel().astype(float)),
    ]
    for label, y, d, t_over_b in cases:
        inputs = {"plateaus": y.copy(), "d": d.copy(), "T_over_B": t_over_b.copy()}
        got = fit(inputs, hint)
        if not (isinstance(got, (tuple, list)) and len(got) == 4):
            raise Rejected(f"`fit` should return four numbers (C, alpha, beta, r2), got {type(got).__name__}.")
        reference = fit_power_law(y, d=d, T=t_over_b)
        shown = label
        require_close("C", got[0], reference.prefactor, shown, hint, rtol=1e-6)
        require_close("alpha (exponent of d)", got[1], reference.exponents["d"], shown, hint, rtol=1e-6, atol=1e-9)
        require_close("beta (exponent of T/B)", got[2], reference.exponents["T"], shown, hint, rtol=1e-6, atol=1e-9)
        require_close("R^2", got[3], reference.r2, shown, hint, rtol=1e-6)
    return ("this is Eq. 23 as fitting.fit_power_law computes it (which adds standard errors and ties). On the "
            "reduced dynamics it gives " + str(fit_power_law(cases[2][1], d=cases[2][2], T=cases[2][3])) + ".")
