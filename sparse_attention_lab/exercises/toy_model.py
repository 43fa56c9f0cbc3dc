"""Exercises of chapter 1: the toy model's reduced dynamics (App. A.3).

- :func:`check_attention` (implement): ``alpha(Delta_a)``, the attention on one relevant token.
- :func:`check_reduced_loss` (implement): the two-variable loss ``L(w, Delta_a)`` and its gradient.
- :func:`check_w_inf_landmarks` (derive): ``w_inf`` at uniform attention, where it peaks, and its peak,
  with ``B`` copies of the relevant token.
- :func:`check_linearized_w` (predict, then run): ``w`` at ``t = 1/lambda`` from the linearization.

References: :mod:`sparse_attention_lab.theory.reduced`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

from sparse_attention_lab.exercises.verdict import (
    NotAttempted,
    ReaderFunction,
    Rejected,
    checker,
    number,
    require_close,
)
from sparse_attention_lab.theory import reduced

LINEAR_TOLERANCE = 0.05  # a prediction of w within 5% of the integrated flow counts as right


@checker
def check_attention(attention: Callable[[float, int, int], float]) -> str:
    """``attention(delta_a, T, B)``: softmax weight of ONE relevant token when the ``B`` relevant
    scores exceed the ``T - B`` others by ``delta_a``. Reference: :func:`reduced.attention`."""
    attention = ReaderFunction(attention, "attention")
    uniform = "at Delta_a = 0 all T scores are equal, so the attention is uniform: 1/T on every token."
    softmax = ("softmax: alpha = e^{a_rel} / sum_t e^{a_t}; divide numerator and denominator by e^{a_rel}, so "
               "every irrelevant token contributes e^{-Delta_a}.")
    copies = ("with B relevant copies, B terms of the softmax denominator carry e^{a_rel}; alpha is the weight "
              "of ONE copy, at most 1/B.")
    cases = [
        (0.0, 8, 1, uniform), (2.0, 8, 1, softmax), (-3.0, 8, 1, softmax), (30.0, 64, 1, softmax),
        (0.0, 12, 3, uniform), (1.5, 12, 3, copies), (30.0, 12, 3, copies), (-2.0, 300, 7, copies),
    ]
    for delta_a, T, B, hint in cases:
        inputs = {"delta_a": delta_a, "T": T, "B": B}
        got = attention(inputs, hint)
        require_close("alpha", got, reduced.attention(delta_a, T, B), inputs, hint)
    return ("alpha = 1/((T - B) e^{-Delta_a} + B). It starts at 1/T and only a score gap of about ln T lifts it "
            "to a sizeable fraction: attention becomes sparse once Delta_a grows beyond ln T.")


@checker
def check_reduced_loss(
    loss: Callable[[float, float, int, int, int], float],
    gradient: Callable[[float, float, int, int, int], tuple[float, float]],
) -> str:
    """``loss(w, delta_a, T, d, B)`` and ``gradient(...) -> (dL/dw, dL/dDelta_a)`` of App. A.3.

    Reference: :func:`reduced.reduced_loss` and :func:`reduced.reduced_gradient`.
    """
    loss, gradient = ReaderFunction(loss, "loss"), ReaderFunction(gradient, "gradient")
    rng = np.random.default_rng(0)
    points = [(0.0, 0.0, 64, 16, 1, "at the origin (W = 0, uniform attention) the loss is 1/2 for every T and d."),
              (3.0, 0.0, 64, 16, 1, "at uniform attention the noise term is (1 - alpha)^2 w^2 / (d (T - 1))."),
              (5.0, 4.0, 64, 16, 1, "check the signal term (alpha w - sqrt(d))^2 / d, with the alpha of 1.1."),
              (2.0, 1.0, 32, 8, 4, "with B copies, the relevant tokens carry B alpha and T - B are irrelevant.")]
    points += [(float(rng.uniform(-1, 10)), float(rng.uniform(-2, 9)), int(T), int(d), int(B),
                "compare term by term with the formula of the chapter.")
               for T, d, B in [(16, 4, 1), (256, 64, 1), (128, 32, 2), (1000, 9, 3)]]
    for w, delta_a, T, d, B, hint in points:
        inputs = {"w": w, "delta_a": delta_a, "T": T, "d": d, "B": B}
        require_close("L", loss(inputs, hint), reduced.reduced_loss(w, delta_a, T, d, B), inputs, hint)
    try:
        grad_hints = {
            0: "at the origin dL/dw = -B alpha sqrt(d)/d, and dL/dDelta_a = 0: the attention gets no gradient "
               "while w = 0.",
            1: "differentiate through alpha: d alpha / d Delta_a = alpha (1 - B alpha).",
        }
        for k, (w, delta_a, T, d, B, hint) in enumerate(points):
            inputs = {"w": w, "delta_a": delta_a, "T": T, "d": d, "B": B}
            got = gradient(inputs, hint)
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise Rejected(f"`gradient` should return a pair (dL/dw, dL/dDelta_a), got {type(got).__name__}.")
            grad_w, grad_a = reduced.reduced_gradient(w, delta_a, T, d, B)
            require_close("dL/dw", got[0], grad_w, inputs, grad_hints.get(k, hint))
            require_close("dL/dDelta_a", got[1], grad_a, inputs, grad_hints.get(k, grad_hints[1]))
    except NotAttempted as error:
        raise NotAttempted(f"your loss is right. Now the gradient: {error}") from None
    return ("both match App. A.3. Each has a noise term from the T - B irrelevant tokens and a signal term from "
            "the relevant ones; at w = 0 the attention receives no gradient, so the weights must move first.")


@checker
def check_w_inf_landmarks(landmarks: Callable[[int, int, int], tuple[float, float, float]]) -> str:
    """``landmarks(T, d, B) -> (w_inf at alpha = 1/T, alpha of the peak, w_inf at the peak)`` with ``B``
    copies of the relevant token (``alpha`` is the attention on one copy).

    Reference: :func:`reduced.w_inf`, at ``1/T`` and maximised numerically over ``alpha`` in ``[1/T, 1/B]``.
    """
    landmarks = ReaderFunction(landmarks, "landmarks")
    one = {
        "uniform": "at alpha = 1/T the attended token is the average of all T tokens: the two terms of the "
                   "denominator of w_inf add up to 1/(d T).",
        "peak": "write A = alpha and set the derivative of A / ((1 - A)^2/(T - 1) + A^2) to zero.",
        "height": "substitute your alpha_peak back into w_inf.",
    }
    copies = {
        "uniform": "with B copies the relevant tokens carry B/T of the attention: put A = B alpha = B/T into "
                   "w_inf = (A/sqrt(d)) / ((1 - A)^2/(d (T - B)) + A^2/d).",
        "peak": "with B copies, write A = B alpha: the peak condition becomes A^2 (T - B + 1) = 1, and alpha = A/B.",
        "height": "substitute A = 1/sqrt(T - B + 1) back; T - B = (sqrt(T - B + 1) - 1)(sqrt(T - B + 1) + 1) "
                  "simplifies the result.",
    }
    cases = [(4, 1, 1, one), (64, 64, 1, one), (4096, 16, 1, one), (12, 4, 3, copies), (1000, 7, 8, copies),
             (64, 9, 2, copies)]
    for T, d, B, hints in cases:
        inputs = {"T": T, "d": d, "B": B}
        got = landmarks(inputs, "return three numbers.")
        if not (isinstance(got, (tuple, list)) and len(got) == 3):
            raise Rejected(f"`landmarks` should return three numbers (w_uniform, alpha_peak, w_peak), "
                           f"got {type(got).__name__}.")

        def minus_w_inf(log_alpha: float, T: int = T, d: int = d, B: int = B) -> float:
            return -float(reduced.w_inf(math.exp(log_alpha), T, d, B))

        peak = minimize_scalar(minus_w_inf, bounds=(-math.log(T), -math.log(B)), method="bounded",
                               options={"xatol": 1e-12})
        require_close("w_inf(1/T)", got[0], reduced.w_inf(1 / T, T, d, B), inputs, hints["uniform"])
        require_close("alpha_peak", got[1], math.exp(peak.x), inputs, hints["peak"], rtol=1e-5)
        require_close("w_inf(alpha_peak)", got[2], -peak.fun, inputs, hints["height"])
    return ("w_inf(1/T) = sqrt(d) T B / (T - B + B^2), sqrt(d) for one relevant token; the peak sits at "
            "B alpha = 1/sqrt(T - B + 1), with height sqrt(d) (sqrt(T - B + 1) + 1)/2. While attention sharpens, "
            "the weights are pulled far above their final value sqrt(d) before settling (Fig. 8).")


@checker
def check_linearized_w(prediction: float, T: int = 512, d: int = 64) -> str:
    """``prediction``: the alignment ``w`` at gradient-flow time ``t = 1/lambda`` (``lambda = 1/(sqrt(d) T)``).

    Reference: :func:`reduced.reduced_dynamics`, integrated to ``t = 1/lambda``.
    """
    guess = number(prediction, "prediction")
    rate = reduced.linear_rate(T, d)
    flow = reduced.reduced_dynamics(T, d, t_max=1 / rate, n_points=2)
    measured = float(flow.w[-1])
    if abs(guess / measured - 1) > LINEAR_TOLERANCE:
        raise Rejected(
            f"integrating the reduced flow at T = {T}, d = {d} to t = 1/lambda = {1 / rate:.0f} gives "
            f"w = {measured:.3f}; "            f"you predicted {guess:.4g}. Hint: solve the linear system w' = lambda (1 + Delta_a), "
            "Delta_a' = lambda w from w = Delta_a = 0, then set lambda t = 1."
        )
    return (f"the reduced flow gives w = {measured:.3f} at t = 1/lambda = {1 / rate:.0f} (T = {T}, d = {d}); "
            f"the linearization, sinh(1) = {math.sinh(1):.3f}. Deep into the plateau the dynamics are still linear; "
            f"here the loss is {float(flow.loss[-1]):.4f}, still at its initial 1/2.")
