"""Reduced gradient-flow dynamics of the toy model (PAPER.md sections 4 and 5, App. A.3, A.4).

From ``a = 0``, ``W = 0`` and unit-norm columns of ``W*``, gradient flow on the exact loss of
the toy model stays on a low-dimensional manifold:

- no cross-sample repetition: two variables, the alignment ``w = <W*, W>_F / ||W*||_F`` and
  the score gap ``Delta_a = a_relevant - a_irrelevant`` (:func:`reduced_loss`, :func:`reduced_gradient`);
- repetition probability ``p > 0``: three variables, ``w1`` for the repeated direction ``e_1``,
  ``w`` for the others, and ``Delta_a`` (:func:`repetition_loss`, :func:`repetition_gradient`).

Both are integrated by one engine in the rescaled time ``tau = lambda t`` (``lambda`` the
rate of the linearization, :func:`linear_rate`), in which every setting escapes after a
``tau`` of order ten. Entry points:

- :func:`plateau_length` (one setting) and :func:`plateau_lengths` (a whole grid at once);
- :func:`reduced_dynamics`: a trajectory (loss, test loss, ``w``, ``w1``, ``Delta_a``, ``alpha``);
- :func:`linearized`, :func:`escape_time`: the early phase in closed form (App. A.3.2);
- :func:`w_inf`, :func:`hessian_eigenvalues`: the late phase (App. A.3.3, Fig. 8);
- :func:`toy_gradient_flow`: gradient flow on the full ``(a, W)`` expected loss, for checks and
  for the free-score model (``scores="free"``, see below).

**Shared or free scores.** The paper's reduction moves the ``B`` relevant scores as one
parameter (``scores="shared"``). In the toy model as defined each score has its own gradient;
by symmetry the flow of the full model is the reduced flow with ``Delta_a`` slowed by the
factor ``T / (B (T - B))`` (``scores="free"``). For ``B = 1`` the two differ by ``T / (T - 1)``
only; for ``B > 1`` the free model's plateau scales as ``B^-1/2`` instead of ``B^-1``
(PAPER.md, "Caution on B > 1").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from sparse_attention_lab.analysis.measurement import ESCAPE_FRACTION
from sparse_attention_lab.tasks import checks
from sparse_attention_lab.tasks.regression import check_settings, check_sizes, teacher_matrix
from sparse_attention_lab.theory.toy import alignment, expected_loss

SCORES = ("shared", "free")
TAU_MAX = 1e7  # longest rescaled time integrated before a plateau is declared endless
RTOL, ATOL = 1e-9, 1e-12

# A repetition schedule (PAPER.md section 10): (time, history so far) -> task overrides, e.g. {"p": 0.3}.
History = Mapping[str, Sequence[float]]
Schedule = Callable[[float, History], dict[str, float]]


# --- The reduced loss, written once (App. A.3, A.4) ----------------------------------------
#
# Every reduction of the book is one loss in three variables, the alignment w1 along the
# repeated teacher direction, w along the others, and the score gap Delta_a:
#
#   L = 1/2 [ n (w1^2 + w^2) + s1 (A w1 - c1)^2 + s (A w - r)^2 ],
#   A = B alpha,  n = (1 - A)^2 / (d (T - B)),  alpha = 1 / ((T - B) e^{-Delta_a} + B).
#
# Without cross-sample repetition (section 4): c1 = s1 = 0, r = sqrt(d), s = 1/d (w1 stays 0).
# With repetition p (section 5): c1 = 1, r = sqrt(d - 1), s1 = p + (1 - p)/d, s = (1 - p)/d.
# The test loss (no cross-sample repetition) takes s1 = s = 1/d with the same c1 and r.
# dL/dDelta_a = A (1 - A) dL/dA; free scores slow Delta_a by kappa = T / (B (T - B)).


@dataclass(frozen=True)
class Coefficients:
    """The constants of the reduced loss for one setting, or arrays of them for many."""

    T: Any
    d: Any
    B: Any
    c1: Any
    r: Any
    s1: Any
    s: Any

    def test(self) -> Coefficients:
        """The same setting measured on data without cross-sample repetition."""
        return replace(self, s1=self.c1 / self.d, s=1 / self.d)

    def index(self, index: Any) -> Coefficients:
        """The settings ``index`` of array coefficients."""
        return Coefficients(*(np.asarray(getattr(self, k))[index] for k in _FIELDS))

    def floats(self) -> Coefficients:
        """Plain floats for ONE setting (5-10x faster than numpy scalars inside LSODA)."""
        return Coefficients(*(float(np.asarray(getattr(self, k)).reshape(-1)[0]) for k in _FIELDS))

    def column(self, ndim: int) -> Coefficients:
        """Arrays of ``n`` settings reshaped to ``(n, 1, ...)`` to broadcast over ``ndim - 1`` more axes."""
        shape = (-1,) + (1,) * (ndim - 1)
        return Coefficients(*(np.asarray(getattr(self, k)).reshape(shape) for k in _FIELDS))


_FIELDS = ("T", "d", "B", "c1", "r", "s1", "s")


def coefficients(T: ArrayLike, d: ArrayLike, B: ArrayLike = 1, p: ArrayLike = 0.0) -> Coefficients:
    """The reduced loss's constants for the training distribution of ``(T, d, B, p)``."""
    check_settings(T, d, B, p)
    T, d, B, p = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(T, d, B, p))
    repeated = p > 0
    return Coefficients(
        T=T, d=d, B=B,
        c1=np.where(repeated, 1.0, 0.0),
        r=np.sqrt(np.where(repeated, d - 1, d)),
        s1=np.where(repeated, p + (1 - p) / d, 0.0),
        s=np.where(repeated, (1 - p) / d, 1 / d),
    )


def _attention_parts(delta_a, c: Coefficients, exp=np.exp):
    """``(alpha, A, 1 - A)``, the last computed as ``(T - B) e^{-Delta} alpha`` (accurate as A -> 1)."""
    e = (c.T - c.B) * exp(-delta_a)
    alpha = 1 / (e + c.B)
    return alpha, c.B * alpha, e * alpha


def _loss(w1, w, A, one_minus_A, c: Coefficients):
    noise = one_minus_A * one_minus_A * (w1 * w1 + w * w) / (c.d * (c.T - c.B))
    return 0.5 * (noise + c.s1 * (A * w1 - c.c1) ** 2 + c.s * (A * w - c.r) ** 2)


def _gradient(w1, w, A, one_minus_A, c: Coefficients):
    """``(dL/dw1, dL/dw, dL/dDelta_a)`` of :func:`_loss` (arithmetic only: floats or arrays)."""
    scale = c.d * (c.T - c.B)
    noise = one_minus_A * one_minus_A / scale
    g1 = noise * w1 + c.s1 * A * (A * w1 - c.c1)
    g = noise * w + c.s * A * (A * w - c.r)
    g_A = -one_minus_A * (w1 * w1 + w * w) / scale + c.s1 * w1 * (A * w1 - c.c1) + c.s * w * (A * w - c.r)
    return g1, g, A * one_minus_A * g_A


def attention(delta_a: ArrayLike, T: int, B: int = 1) -> np.ndarray:
    """``alpha = 1 / ((T - B) exp(-Delta_a) + B)``: attention on ONE relevant token."""
    check_settings(T, 1, B)
    return 1.0 / ((T - B) * np.exp(-np.asarray(delta_a, dtype=float)) + B)


def reduced_loss(w: ArrayLike, delta_a: ArrayLike, T: int, d: int, B: int = 1) -> np.ndarray:
    """Two-variable loss of App. A.3 (PAPER.md section 4); equals 1/2 at the origin."""
    c = coefficients(T, d, B)
    w, delta_a = np.asarray(w, dtype=float), np.asarray(delta_a, dtype=float)
    return _loss(0.0, w, *_attention_parts(delta_a, c)[1:], c)


def reduced_gradient(w: ArrayLike, delta_a: ArrayLike, T: int, d: int, B: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(dL/dw, dL/dDelta_a)`` of :func:`reduced_loss`."""
    c = coefficients(T, d, B)
    w, delta_a = np.asarray(w, dtype=float), np.asarray(delta_a, dtype=float)
    _, grad_w, grad_a = _gradient(0.0, w, *_attention_parts(delta_a, c)[1:], c)
    return grad_w, grad_a


def repetition_loss(
    w1: ArrayLike, w: ArrayLike, delta_a: ArrayLike, T: int, d: int, p: float
) -> np.ndarray:
    """Three-variable loss of App. A.4 (PAPER.md section 5, ``B = 1``); ``p = 0`` gives the test loss."""
    c = coefficients(T, d, 1, p) if p > 0 else coefficients(T, d, 1, 1.0).test()
    w1, w, delta_a = (np.asarray(v, dtype=float) for v in (w1, w, delta_a))
    return _loss(w1, w, *_attention_parts(delta_a, c)[1:], c)


def repetition_gradient(
    w1: ArrayLike, w: ArrayLike, delta_a: ArrayLike, T: int, d: int, p: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dL/dw1, dL/dw, dL/dDelta_a)`` of :func:`repetition_loss`."""
    c = coefficients(T, d, 1, p) if p > 0 else coefficients(T, d, 1, 1.0).test()
    w1, w, delta_a = (np.asarray(v, dtype=float) for v in (w1, w, delta_a))
    return _gradient(w1, w, *_attention_parts(delta_a, c)[1:], c)


# --- Early phase: linearization at the origin (App. A.3.2) -----------------------------------


def repetition_speedup(d: ArrayLike, p: ArrayLike) -> np.ndarray | float:
    """``f(p, d) = sqrt(p^2 d + (1 - p)^2)``: the factor by which cross-sample repetition speeds
    the linearized escape (App. A.4.2), and the variable of the paper's Eq. 22 fits."""
    check_settings(2, d, 1, p)
    d, p = np.asarray(d, dtype=float), np.asarray(p, dtype=float)
    speedup = np.sqrt(p**2 * d + (1 - p) ** 2)
    return float(speedup) if speedup.ndim == 0 else speedup


def _rates(T, d, B, p, scores: str) -> np.ndarray:
    """:func:`linear_rate` for arrays of settings."""
    rate = B * repetition_speedup(d, p) / (np.sqrt(d) * T)
    return rate / np.sqrt(B) if scores == "free" else rate


def linear_rate(T: int, d: int, B: int = 1, p: float = 0.0, scores: str = "shared") -> float:
    """Positive Hessian eigenvalue at the origin: ``B sqrt(p^2 d + (1 - p)^2) / (sqrt(d) T)``.

    ``B / (sqrt(d) T)`` without cross-sample repetition (section 4), times
    :func:`repetition_speedup` with it (section 5); free scores divide it by ``sqrt(B)``.
    """
    checks.choice("scores", scores, SCORES)
    T, d, B, p = check_sizes(T, d, B, p)
    return float(_rates(T, d, B, p, scores))


def linearized(t: ArrayLike, T: int, d: int, B: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form early dynamics ``(w, Delta_a, loss)``: ``sinh(lambda t)``, ``cosh(lambda t) - 1``,
    ``1/2 (1 - lambda sinh(2 lambda t))`` with ``lambda = B / (sqrt(d) T)`` (App. A.3.2)."""
    T, d, B, _ = check_sizes(T, d, B)
    lam = linear_rate(T, d, B)
    t = np.asarray(t, dtype=float)
    return np.sinh(lam * t), np.cosh(lam * t) - 1, 0.5 * (1 - lam * np.sinh(2 * lam * t))


def escape_time(T: int, d: int, B: int = 1, p: float = 0.0, eps: float = 0.8, scores: str = "shared") -> float:
    """Linearized escape time ``arcsinh(eps / lambda) / (2 lambda)``, ``lambda`` = :func:`linear_rate`.

    Time for the linearized loss to lose a fraction ``eps`` of its initial value (a plateau
    threshold ``1 - eps``). For ``p = 0`` this is the appendix form of Eq. 6,
    ``~ (sqrt(d) T / 2B) ln(2 eps sqrt(d) T / B)``; the main text's ``(sqrt(d) T / 2) ln(eps sqrt(d) T)``
    is its ``B = 1`` case without the factor 2 in the logarithm (PAPER.md section 9.1).
    It predicts the scaling, and overestimates the true plateau (Fig. 7).
    """
    T, d, B, p = check_sizes(T, d, B, p)
    eps = checks.real("eps", eps, above=0, below=1)
    lam = linear_rate(T, d, B, p, scores)
    return math.asinh(eps / lam) / (2 * lam)


# --- Late phase (App. A.3.3) -----------------------------------------------------------------


def w_inf(alpha: ArrayLike, T: int, d: int, B: int = 1) -> np.ndarray:
    """Equilibrium of ``w`` at fixed attention ``alpha`` (root of ``dL/dw``; Fig. 8 left)."""
    check_settings(T, d, B)
    A = B * np.asarray(alpha, dtype=float)
    return A / math.sqrt(d) / ((1 - A) ** 2 / (d * (T - B)) + A**2 / d)


def hessian_eigenvalues(
    w: ArrayLike, delta_a: ArrayLike, T: int, d: int, B: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest eigenvalue of the Hessian of :func:`reduced_loss` in ``(w, Delta_a)``.

    Central differences of the analytic gradient (relative step 1e-6); Fig. 8 right.
    """
    w, delta_a = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(delta_a, dtype=float))
    hw, ha = 1e-6 * (1 + np.abs(w)), 1e-6 * (1 + np.abs(delta_a))
    gw_p, ga_p = reduced_gradient(w + hw, delta_a, T, d, B)
    gw_m, ga_m = reduced_gradient(w - hw, delta_a, T, d, B)
    gw_q, ga_q = reduced_gradient(w, delta_a + ha, T, d, B)
    gw_r, ga_r = reduced_gradient(w, delta_a - ha, T, d, B)
    h_ww, h_aa = (gw_p - gw_m) / (2 * hw), (ga_q - ga_r) / (2 * ha)
    h_wa = 0.5 * ((ga_p - ga_m) / (2 * hw) + (gw_q - gw_r) / (2 * ha))
    mean, gap = (h_ww + h_aa) / 2, np.sqrt(((h_ww - h_aa) / 2) ** 2 + h_wa**2)
    return mean - gap, mean + gap


# --- The integration engine ------------------------------------------------------------------


class _Flow:
    """Vectorized reduced flow for ``n`` settings in rescaled time ``tau = lambda t``.

    ``train`` and ``test`` are the :class:`Coefficients` of the training and test losses;
    free scores multiply ``Delta_a'`` by ``kappa = T / (B (T - B))``.
    """

    def __init__(self, T, d, B, p, scores: str) -> None:
        T, d, B, p = (np.asarray(v, dtype=float).reshape(-1) for v in np.broadcast_arrays(T, d, B, p))
        self.train = coefficients(T, d, B, p)
        self.test = self.train.test()
        self.kappa = T / (B * (T - B)) if scores == "free" else np.ones_like(T)
        self.rate = _rates(T, d, B, p, scores)
        self.n = T.size

    def subset(self, index: np.ndarray) -> _Flow:
        other = object.__new__(_Flow)
        other.train, other.test = self.train.index(index), self.test.index(index)
        other.kappa, other.rate, other.n = self.kappa[index], self.rate[index], int(np.size(index))
        return other

    def derivative(self, y: np.ndarray) -> np.ndarray:
        """``d(w1, w, Delta_a)/d tau`` for states ``y`` of shape ``(3, n)``."""
        w1, w, delta_a = y
        g1, g, g_delta = _gradient(w1, w, *_attention_parts(delta_a, self.train)[1:], self.train)
        return -np.stack([g1, g, self.kappa * g_delta]) / self.rate

    def scalar_functions(self):
        """Plain-float ``(derivative(tau, y), test_loss(y))`` for ONE setting: :meth:`derivative`
        and :meth:`losses` on float coefficients, without numpy overhead (faster in LSODA)."""
        train, test = self.train.floats(), self.test.floats()
        kappa, rate = float(self.kappa[0]), float(self.rate[0])

        def derivative(tau: float, y: np.ndarray) -> list[float]:
            w1, w, delta_a = y
            g1, g, g_delta = _gradient(w1, w, *_attention_parts(delta_a, train, math.exp)[1:], train)
            return [-g1 / rate, -g / rate, -kappa * g_delta / rate]

        def test_loss(y: np.ndarray) -> float:
            return _loss(y[0], y[1], *_attention_parts(y[2], test, math.exp)[1:], test)

        return derivative, test_loss

    def losses(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training loss, test loss (no cross-sample repetition) and ``alpha`` for ``y`` of shape ``(3, n, ...)``."""
        w1, w, delta_a = y
        train, test = self.train.column(np.ndim(w)), self.test.column(np.ndim(w))
        alpha, A, one_minus_A = _attention_parts(delta_a, train)
        return _loss(w1, w, A, one_minus_A, train), _loss(w1, w, A, one_minus_A, test), alpha


# Dormand-Prince 5(4) tableau (stages, 5th-order weights, error weights).
_DP_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_DP_E = np.array([71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


def _crossing_explicit(flow: _Flow, level: np.ndarray, max_steps: int = 200_000) -> np.ndarray:
    """Rescaled first-crossing times of the test loss, all settings stepped together.

    Dormand-Prince 5(4) with one adaptive step per setting (non-stiff flows: ``p = 0``). The
    crossing inside the step is located by bisection on the cubic Hermite interpolant.
    """
    y = np.zeros((3, flow.n))
    f = flow.derivative(y)
    tau, h = np.zeros(flow.n), np.full(flow.n, 1e-2)
    out = np.full(flow.n, np.inf)
    active = np.arange(flow.n)
    for _ in range(max_steps):
        if active.size == 0:
            return out
        sub = flow.subset(active)
        k = [f]
        for stage in range(1, 7):
            ys = y + h * sum(a * kk for a, kk in zip(_DP_A[stage], k, strict=False) if a)
            k.append(sub.derivative(ys))
        y_new = y + h * sum(b * kk for b, kk in zip(_DP_A[6], k, strict=False) if b)
        err_vec = h * sum(e * kk for e, kk in zip(_DP_E, k, strict=True) if e)
        scale = ATOL + RTOL * 1e2 * np.maximum(np.abs(y), np.abs(y_new))
        err = np.sqrt(np.mean((err_vec / scale) ** 2, axis=0))
        accept = err <= 1
        f_new = k[6]
        _, test, _ = sub.losses(y_new)
        crossed = accept & (test <= level[active])
        if crossed.any():
            theta = _bisect_hermite(sub.subset(np.flatnonzero(crossed)), level[active][crossed],
                                    y[:, crossed], f[:, crossed], y_new[:, crossed], f_new[:, crossed], h[crossed])
            out[active[crossed]] = tau[crossed] + theta * h[crossed]
        tau = np.where(accept, tau + h, tau)
        y = np.where(accept, y_new, y)
        f = np.where(accept, f_new, f)
        factor = np.clip(0.9 * np.maximum(err, 1e-10) ** -0.2, 0.2, 5.0)
        h = h * np.where(accept, factor, np.minimum(factor, 1.0))
        keep = ~crossed & (tau < TAU_MAX)
        active, y, f, tau, h = active[keep], y[:, keep], f[:, keep], tau[keep], h[keep]
    raise RuntimeError("the reduced flow did not reach its plateau threshold within max_steps.")


def _bisect_hermite(flow, level, y0, f0, y1, f1, h, iterations: int = 50) -> np.ndarray:
    lo, hi = np.zeros_like(h), np.ones_like(h)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        t2, t3 = mid**2, mid**3
        y = (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + mid) * h * f0 + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * h * f1
        below = flow.losses(y)[1] <= level
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return hi


def _solve(flow: _Flow, level: float | None, tau_end: float, tau_eval: np.ndarray | None = None):
    """One setting with LSODA (stiff when ``p`` is close to 1); returns scipy's solution."""
    derivative, test_loss = flow.scalar_functions()
    events = None
    if level is not None:
        def crossing(tau, y):
            return test_loss(y) - level

        crossing.terminal = tau_eval is None
        crossing.direction = -1
        events = crossing
    return solve_ivp(derivative, (0.0, tau_end), np.zeros(3),
                     method="LSODA", rtol=RTOL, atol=ATOL, t_eval=tau_eval, events=events)


# --- Public entry points ---------------------------------------------------------------------


def plateau_lengths(
    T: ArrayLike, d: ArrayLike, B: ArrayLike = 1, p: ArrayLike = 0.0, threshold: float = ESCAPE_FRACTION, scores: str = "shared"
) -> np.ndarray:
    """:func:`plateau_length` for every setting of broadcast arrays ``T, d, B, p`` (Fig. 1c, 2).

    Settings without cross-sample repetition are integrated together (one vectorized
    explicit integration, adaptive step per setting); those with ``p > 0``, stiff, one by one
    with LSODA. Returns an array of the broadcast shape (``math.inf`` where never reached).
    """
    checks.choice("scores", scores, SCORES)
    checks.real("threshold", threshold, above=0, below=1)
    shape = np.broadcast_shapes(*(np.shape(v) for v in (T, d, B, p)))
    checks.elements("T, d, B, p", 64 * math.prod(shape), "a grid of settings (the integrator holds ~64 floats each)")
    arrays = np.broadcast_arrays(*(np.asarray(v) for v in (T, d, B, p)))
    T, d, B, p = (a.reshape(-1) for a in arrays)
    for values in zip(T, d, B, p, strict=True):
        check_sizes(*values)
    flow = _Flow(T, d, B, p, scores)
    level = threshold * flow.losses(np.zeros((3, flow.n)))[1]
    tau = np.full(flow.n, np.inf)
    explicit = np.flatnonzero(p == 0)
    if explicit.size:
        tau[explicit] = _crossing_explicit(flow.subset(explicit), level[explicit])
    for i in np.flatnonzero(p > 0):
        # With p = 1 the non-repeated directions get no signal (w stays 0), so the test loss
        # cannot fall below (d - 1) / (2d): no crossing when that floor is above the level.
        if p[i] == 1 and (d[i] - 1) / (2 * d[i]) > level[i]:
            continue
        solution = _solve(flow.subset(np.array([i])), level[i], TAU_MAX)
        if solution.t_events[0].size:
            tau[i] = solution.t_events[0][0]
    return (tau / flow.rate).reshape(shape)


def plateau_length(T: int, d: int, B: int = 1, p: float = 0.0, threshold: float = ESCAPE_FRACTION) -> float:
    """Gradient-flow time at which the reduced loss first falls to ``threshold`` x its initial value.

    The paper's reduced equations (shared scores): the two-variable flow of section 4 with
    in-context repetition ``B`` (loss measured with the same ``B``), the three-variable flow
    of section 5 with cross-sample repetition ``p`` (loss measured on the test distribution,
    ``p = 0``). ``B > 1`` together with ``p > 0`` uses the same three-variable form with
    ``A = B alpha`` and the test loss at the same ``B``, ``p = 0``. Returns ``math.inf`` when the
    loss never gets there (``p = 1`` with ``d > 1`` at the default threshold).
    """
    return float(plateau_lengths(T, d, B, p, threshold)[()])


@dataclass(frozen=True)
class Trajectory:
    """A gradient-flow trajectory, sampled at ``times`` (gradient-flow time).

    ``loss`` is the training loss (with the run's ``B`` and ``p``), ``test_loss`` the loss on
    data without cross-sample repetition; ``w`` the alignment along the (non-repeated)
    teacher directions, ``w1`` along the repeated one (zeros when ``p = 0``), ``alpha`` the
    attention on one relevant token. ``plateau`` is the first time ``test_loss`` reaches
    ``threshold`` x its initial value (``math.inf`` if not within ``times``).
    """

    times: np.ndarray
    loss: np.ndarray
    test_loss: np.ndarray
    w: np.ndarray
    w1: np.ndarray
    delta_a: np.ndarray
    alpha: np.ndarray
    plateau: float


def reduced_dynamics(
    T: int,
    d: int,
    B: int = 1,
    p: float = 0.0,
    t_max: float | None = None,
    n_points: int = 400,
    scores: str = "shared",
    threshold: float = ESCAPE_FRACTION,
) -> Trajectory:
    """Integrate the reduced flow from the origin and sample it at ``n_points`` times in ``[0, t_max]``.

    ``t_max`` defaults to 1.5 x the linearized escape time (:func:`escape_time` at the run's
    rate), which covers the drop of the loss. Fast enough for a live widget (tens of ms).
    """
    T, d, B, p = check_sizes(T, d, B, p)
    checks.choice("scores", scores, SCORES)
    checks.real("threshold", threshold, above=0, below=1)
    n_points = checks.integer("n_points", n_points, minimum=2)
    checks.elements("n_points", 16 * n_points, "the trajectory's ~16 arrays of n_points floats")
    if t_max is not None:
        t_max = checks.real("t_max", t_max, above=0)
    flow = _Flow(T, d, B, p, scores)
    rate = float(flow.rate[0])
    if t_max is None:
        t_max = 1.5 * escape_time(T, d, B, p, scores=scores)
    level = threshold * float(flow.losses(np.zeros((3, 1)))[1][0])
    tau_eval = np.linspace(0.0, t_max * rate, n_points)
    solution = _solve(flow, level, tau_eval[-1], tau_eval)
    y = solution.y[:, None, :]
    loss, test_loss, alpha = (v[0] for v in flow.losses(y))
    crossings = solution.t_events[0]
    return Trajectory(
        times=solution.t / rate,
        loss=loss,
        test_loss=test_loss,
        w=solution.y[1],
        w1=solution.y[0],
        delta_a=solution.y[2],
        alpha=alpha,
        plateau=float(crossings[0] / rate) if crossings.size else math.inf,
    )


def toy_gradient_flow(
    T: int,
    d: int,
    times: ArrayLike,
    B: int = 1,
    p: float = 0.0,
    threshold: float = ESCAPE_FRACTION,
    seed: int = 0,
) -> Trajectory:
    """Gradient flow on the exact expected loss of the full toy model (``a`` in ``R^T``, free scores).

    Starts from ``a = 0``, ``W = 0`` with a teacher of unit-norm columns (seed ``seed``),
    relevant tokens at the last ``B`` positions, and integrates ``(a, W)' = -grad L`` with
    LSODA through :func:`toy.expected_loss` (float64 autograd). The returned ``w`` is the
    alignment along the teacher's columns 2..d when ``p > 0`` (``w1`` along column 1), along
    the whole teacher otherwise; ``delta_a`` is a relevant score minus the mean irrelevant one.
    Slow (``T + d^2`` variables): for checks and small figures.
    """
    T, d, B, p = check_sizes(T, d, B, p)
    checks.real("threshold", threshold, above=0, below=1)
    seed = checks.seed("seed", seed)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size < 2 or times[0] != 0 or not np.all(np.isfinite(times)) or not np.all(np.diff(times) > 0):
        raise ValueError(f"times must be a finite, increasing 1-D array starting at 0, got {times!r}.")
    checks.elements("times", (T + d * d) * times.size, "the trajectory of T + d x d values at each of the times")
    W_star = teacher_matrix(d, "unit_columns", torch.Generator().manual_seed(seed)).double()
    relevant = list(range(T - B, T))

    def losses(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, W = params[:T], params[T:].reshape(d, d)
        return expected_loss(a, W, W_star, relevant, p), expected_loss(a, W, W_star, relevant, 0.0)

    def derivative(t: float, y: np.ndarray) -> np.ndarray:
        params = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(losses(params)[0], params)
        return -grad.numpy()

    level = threshold * float(losses(torch.zeros(T + d * d, dtype=torch.float64))[1])

    def crossing(t: float, y: np.ndarray) -> float:
        return float(losses(torch.from_numpy(y))[1]) - level

    crossing.direction = -1
    solution = solve_ivp(derivative, (0.0, times[-1]), np.zeros(T + d * d), method="LSODA",
                         rtol=1e-8, atol=1e-11, t_eval=times, events=crossing)
    params = torch.from_numpy(solution.y.T.copy())
    a, W = params[:, :T], params[:, T:].reshape(-1, d, d)
    train, test = zip(*(losses(row) for row in params), strict=True)
    if p > 0:
        w1 = (W[:, :, 0] * W_star[:, 0]).sum(-1)
        w = alignment(W[:, :, 1:], W_star[:, 1:])
    else:
        w1, w = torch.zeros(len(params), dtype=torch.float64), alignment(W, W_star)
    crossings = solution.t_events[0]
    return Trajectory(
        times=solution.t,
        loss=torch.stack(train).numpy(),
        test_loss=torch.stack(test).numpy(),
        w=w.numpy(),
        w1=w1.numpy(),
        delta_a=(a[:, -1] - a[:, : T - B].mean(-1)).numpy(),
        alpha=torch.softmax(a, dim=-1)[:, -1].numpy(),
        plateau=float(crossings[0]) if crossings.size else math.inf,
    )


# --- Argument checks -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledFlow:
    """A trajectory of the 3-variable reduced flow under a repetition schedule.

    Arrays are sampled at the evaluation times ``times`` (``times[0] = 0``); ``p[k]`` is the
    repetition in force on ``(times[k], times[k + 1]]``, chosen at ``times[k]``.
    """

    T: int
    d: int
    times: np.ndarray
    test_loss: np.ndarray
    train_loss: np.ndarray
    w1: np.ndarray
    w: np.ndarray
    delta_a: np.ndarray
    alpha: np.ndarray
    p: np.ndarray


def evaluation_times(t_max: float, n_evals: int, t_first: float | None = None) -> np.ndarray:
    """``0`` then ``n_evals`` geometrically spaced times from ``t_first`` (default ``t_max/1e4``) to ``t_max``."""
    t_max = checks.real("t_max", t_max, above=0)
    n_evals = checks.integer("n_evals", n_evals, minimum=2)
    checks.elements("n_evals", 16 * n_evals, "the flow's ~16 arrays of n_evals floats")
    t_first = t_max * 1e-4 if t_first is None else checks.real("t_first", t_first, above=0, below=t_max)
    return np.concatenate([[0.0], np.geomspace(t_first, t_max, n_evals)])


def scheduled_reduced_flow(
    T: int,
    d: int,
    schedule: Schedule,
    t_max: float,
    n_evals: int = 300,
    t_first: float | None = None,
    rtol: float = 1e-8,
) -> ScheduledFlow:
    """Gradient flow of the 3-variable reduction (App. A.4) with ``p(t)`` set by ``schedule``.

    Starts at ``w1 = w = Delta_a = 0``. At each evaluation time the schedule sees the history
    so far (``"steps"``: times, ``"test_loss"``: loss at ``p = 0``, ``"train_loss"``: loss
    under the ``p`` in force) and returns ``{"p": ...}``, held until the next evaluation, as a
    trainer would do between evaluations. Integrated with scipy's RK45 between evaluations.
    """
    T, d, _, _ = check_sizes(T, d)
    if d < 2:
        raise ValueError(f"d must be at least 2 for the 3-variable flow, got {d}.")
    times = evaluation_times(t_max, n_evals, t_first)
    state = np.zeros(3)
    history: dict[str, list[float]] = {"steps": [], "test_loss": [], "train_loss": []}
    rows, ps = [], []
    p_now = 0.0
    for k, t in enumerate(times):
        if k > 0:
            sol = solve_ivp(
                lambda _t, y, p=p_now: -np.array(repetition_gradient(*y, T, d, p)),
                (times[k - 1], t),
                state,
                rtol=rtol,
                atol=1e-12,
            )
            state = sol.y[:, -1]
        w1, w, delta_a = state
        history["steps"].append(float(t))
        history["test_loss"].append(float(repetition_loss(w1, w, delta_a, T, d, 0.0)))
        history["train_loss"].append(float(repetition_loss(w1, w, delta_a, T, d, p_now)))
        rows.append(state.copy())
        overrides = schedule(float(t), history)
        if set(overrides) - {"p"}:
            raise ValueError(f"the reduced flow only schedules 'p', got overrides {overrides!r}.")
        p_now = checks.probability("p", overrides.get("p", p_now), why="the schedule's override")
        ps.append(p_now)
    states = np.array(rows)
    return ScheduledFlow(
        T=T,
        d=d,
        times=times,
        test_loss=np.array(history["test_loss"]),
        train_loss=np.array(history["train_loss"]),
        w1=states[:, 0],
        w=states[:, 1],
        delta_a=states[:, 2],
        alpha=attention(states[:, 2], T),
        p=np.array(ps),
    )

