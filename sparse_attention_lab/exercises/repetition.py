"""Exercises of chapter 2: how repetition changes the escape rate (App. A.3.2, A.4).

- :func:`check_linear_rate` (derive): the eigenvalue ``lambda`` of the linearized flow with
  in-context repetition ``B``, for shared and for free relevant scores.
- :func:`check_repetition_rate` (derive): ``lambda`` with cross-sample repetition ``p``.
- :func:`check_repetition_race` (predict, then run): ``B = 2`` against ``p = 0.5``, which
  escapes first and by how much.

References: :func:`~sparse_attention_lab.theory.reduced.linear_rate` and
:func:`~sparse_attention_lab.theory.reduced.plateau_length`.
"""

from __future__ import annotations

from collections.abc import Callable

from sparse_attention_lab.exercises import verdict
from sparse_attention_lab.exercises.verdict import (
    ReaderFunction,
    checker,
    number,
    require_close,
)
from sparse_attention_lab.theory import reduced

FREE_TOLERANCE = 0.02  # the free-score rate of the library drops a factor sqrt(T / (T - B)), under 2% here
RACE_FACTOR = 2.0  # a predicted speed-up within a factor 2 of the simulated one counts as right


@checker
def check_linear_rate(rate: Callable[[int, int, int, str], float]) -> str:
    """``rate(T, d, B, scores)``: positive eigenvalue of the linearized flow at the origin, large ``T``.

    ``scores="shared"`` is the paper's reduction (the ``B`` relevant scores move as one),
    ``"free"`` the toy model as defined (one score per position). Reference: :func:`reduced.linear_rate`.
    """
    rate = ReaderFunction(rate, "rate")
    one = "without repetition, chapter 1's lambda = 1/(sqrt(d) T)."
    shared = ("linearize at the origin: with B copies the relevant tokens carry B/T of the attention, which "
              "multiplies both off-diagonal entries of the Hessian.")
    free = ("with free scores each relevant score feels only its own copy: the Delta_a row of the Hessian is B "
            "times smaller than with one shared score, and lambda is the geometric mean of the two off-diagonal "
            "entries.")
    cases = [(256, 16, 1, "shared", one), (1024, 64, 4, "shared", shared), (4096, 9, 8, "shared", shared),
             (1024, 16, 1, "free", one), (1024, 64, 4, "free", free), (4096, 25, 8, "free", free)]
    for T, d, B, scores, hint in cases:
        inputs = {"T": T, "d": d, "B": B, "scores": scores}
        got = rate(inputs, hint)
        require_close("lambda", got, reduced.linear_rate(T, d, B, scores=scores), inputs, hint, rtol=FREE_TOLERANCE)
    return ("lambda = B/(sqrt(d) T) with one shared score, sqrt(B)/(sqrt(d) T) with free scores. The plateau "
            "scales like 1/lambda: the paper's reduction predicts B^-1, the toy model as defined only B^-1/2.")


@checker
def check_repetition_rate(rate: Callable[[int, int, float], float]) -> str:
    """``rate(T, d, p)``: positive eigenvalue of the linearized 3-variable flow (App. A.4.2), ``B = 1``.

    Reference: :func:`reduced.linear_rate` with ``p``.
    """
    rate = ReaderFunction(rate, "rate")
    none = "at p = 0 you should recover chapter 1's lambda = 1/(sqrt(d) T)."
    full = "at p = 1 only the special token's direction is learned: a one-dimensional problem, lambda = 1/T."
    middle = ("the Hessian at the origin couples Delta_a to w1 with strength p/T and to w with strength "
              "(1 - p)/(sqrt(d) T); its non-zero eigenvalues are plus and minus the norm of that pair.")
    cases = [(256, 64, 0.0, none), (256, 64, 1.0, full), (512, 64, 0.5, middle), (128, 1024, 0.1, middle),
             (4096, 4, 0.9, middle)]
    for T, d, p, hint in cases:
        inputs = {"T": T, "d": d, "p": p}
        got = rate(inputs, hint)
        require_close("lambda", got, reduced.linear_rate(T, d, p=p), inputs, hint)
    return ("lambda = sqrt(p^2 d + (1 - p)^2) / (sqrt(d) T): p interpolates between the d-dimensional problem "
            "(p = 0) and a one-dimensional one (p = 1), so the gain from repetition grows like sqrt(d).")


@checker
def check_repetition_race(faster: str, speedup: float, T: int = 512, d: int = 256) -> str:
    """``faster`` (``"B"`` or ``"p"``): which escapes first, ``B = 2`` or ``p = 0.5``; ``speedup``:
    the slower plateau divided by the faster one. Reference: :func:`reduced.plateau_length`.
    """
    if faster is Ellipsis or faster is None:
        raise verdict.NotAttempted("`faster` is still `...`: write \"B\" or \"p\" in the cell above, run it, then this one.")
    if not isinstance(faster, str) or faster not in ("B", "p"):
        raise verdict.Rejected(f"`faster` should be \"B\" or \"p\", got {faster!r}.")
    guess = number(speedup, "speedup")
    if guess < 1:
        raise verdict.Rejected(f"`speedup` is the slower plateau over the faster one, so at least 1; got {guess:.3g}.")
    plateau_B, plateau_p = reduced.plateau_length(T, d, B=2), reduced.plateau_length(T, d, p=0.5)
    winner = "p" if plateau_p < plateau_B else "B"
    measured = max(plateau_B, plateau_p) / min(plateau_B, plateau_p)
    result = (f"at T = {T}, d = {d} the reduced dynamics give plateaus of {plateau_B:.0f} (B = 2) and "
              f"{plateau_p:.0f} (p = 0.5)")
    if faster != winner:
        raise verdict.Rejected(f"{result}: {winner} = {2 if winner == 'B' else 0.5} escapes first. Hint: compare the two "
                       "linear rates lambda = B/(sqrt(d) T) and sqrt(p^2 d + (1 - p)^2)/(sqrt(d) T).")
    if not 1 / RACE_FACTOR <= guess / measured <= RACE_FACTOR:
        raise verdict.Rejected(f"{result}, a speed-up of {measured:.2f}; your {guess:.3g} is off by more than a factor "
                       f"{RACE_FACTOR:g}. Hint: the plateau scales like 1/lambda; take the ratio of the two rates.")
    return (f"{result}: p escapes first, {measured:.2f} times sooner (you predicted {guess:.3g}). The ratio of the "
            f"linear rates says {reduced.linear_rate(T, d, p=0.5) / reduced.linear_rate(T, d, B=2):.2f}: the "
            "test loss also waits for the d - 1 directions that are not repeated, which escape later than the "
            "repeated one.")
