"""Exercises of the introduction: how little of the gradient reaches the one token that matters.

- :func:`check_irrelevant_attention` (derive): the squared attention of the irrelevant tokens
  at uniform scores, against the toy model's own attention at initialisation.
- :func:`check_break_even_batch` (derive): the smallest batch size at which the irrelevant
  tokens' gradient noise is no larger than the relevant token's signal, against the closed forms of
  :mod:`~sparse_attention_lab.theory.gradient_signal`.
- :func:`check_plateau_ratio` (predict, then run): how much longer the plateau is when ``d``
  grows four-fold, against the reduced dynamics of chapter 1.
"""

from __future__ import annotations

from collections.abc import Callable

from sparse_attention_lab.exercises.verdict import (
    ReaderFunction,
    Rejected,
    checker,
    compare_on_cases,
    number,
)
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.theory.gradient_signal import (
    irrelevant_gradient_rms,
    relevant_gradient_norm,
)
from sparse_attention_lab.theory.toy import ToyAttention, relevant_mask

RATIO_TOLERANCE = 0.15  # a prediction within 15% of the simulated plateau ratio counts as right


@checker
def check_irrelevant_attention(squared_attention: Callable[[int, int], float]) -> str:
    """``squared_attention(T, B)``: sum of ``alpha_t^2`` over the ``T - B`` irrelevant positions at ``a = 0``.

    Reference: the attention of a freshly built :class:`~sparse_attention_lab.theory.toy.ToyAttention`
    (uniform, ``a = 0``), squared and summed over the positions outside the last ``B``.
    """
    uniform = "each of the T tokens gets weight 1/T at uniform scores; square those of the irrelevant ones and add."
    copies = "with B relevant copies only T - B tokens are irrelevant."
    compare_on_cases(ReaderFunction(squared_attention, "squared_attention"), _irrelevant_squared_attention, [
        ({"T": 2, "B": 1}, uniform), ({"T": 8, "B": 1}, uniform),
        ({"T": 256, "B": 1}, "square each weight before adding: the sum of the weights themselves is (T - 1)/T."),
        ({"T": 64, "B": 4}, copies), ({"T": 10, "B": 9}, copies),
    ])
    return ("(T - B)/T^2. The attended token is then the relevant one with weight B/T plus the others with "
            "total squared weight (T - B)/T^2: a signal-to-noise ratio B^2/(T - B), about 1/T for one relevant token. "
            "The model starts from an almost pure-noise input.")


def _irrelevant_squared_attention(T: int, B: int) -> float:
    """Sum of squared attention outside the last ``B`` positions of a freshly built toy model (uniform)."""
    alpha = ToyAttention(T, 1).attention().detach().double()  # (T,), uniform at initialisation
    return float(alpha[~relevant_mask(T, list(range(T - B, T)))].square().sum())


def _smallest_quiet_batch(T: int, d: int) -> int:
    """Smallest batch size whose noise (``irrelevant_gradient_rms``) is at most the signal
    (``relevant_gradient_norm``), by bisection over integers (the noise falls with the batch size)."""
    signal = relevant_gradient_norm(T, d)

    def quiet(n: int) -> bool:
        return irrelevant_gradient_rms(T, d, n) <= signal * (1 + 1e-12)  # equality up to rounding

    low, high = 0, 1  # quiet(high) holds, quiet(low) does not (low = 0 stands for "no batch")
    while not quiet(high):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if quiet(middle) else (middle, high)
    return high


@checker
def check_break_even_batch(batch: Callable[[int, int], float]) -> str:
    """``batch(T, d)``: the smallest mini-batch size at which the irrelevant tokens' noise is no
    larger than the relevant token's signal ``1/(T sqrt d)``, at initialisation.

    Reference: a search over batch sizes with the library's closed forms
    (:func:`relevant_gradient_norm`, :func:`irrelevant_gradient_rms`).
    """
    squaring = "the noise falls like 1/sqrt(n): squaring both sides of signal = noise gives n."
    compare_on_cases(ReaderFunction(batch, "batch"), _smallest_quiet_batch, [
        ({"T": 2, "d": 1}, "the noise of a batch of n sequences is sqrt((T - 1)/n)/T; set it equal to the signal "
                           "1/(T sqrt d)."),
        ({"T": 16, "d": 8}, squaring), ({"T": 256, "d": 64}, squaring),
        ({"T": 1024, "d": 1}, "only T - 1 tokens are irrelevant."),
    ], rtol=1e-9)
    return (f"n = (T - 1) d, {(256 - 1) * 64:,} sequences at T = 256, d = 64. With the paper's batch of 32, each "
            "step's gradient is mostly the irrelevant tokens' noise; the signal only adds up over many steps, "
            "at a rate set by its small size 1/(T sqrt d).")


@checker
def check_plateau_ratio(prediction: float, T: int = 256, d_small: int = 64, d_large: int = 256) -> str:
    """``prediction``: plateau at ``d_large`` divided by plateau at ``d_small`` (same ``T``).

    Reference: :func:`~sparse_attention_lab.theory.reduced.plateau_length`, the paper's reduced
    dynamics (chapter 1), a fraction of a second for the two settings.
    """
    guess = number(prediction, "prediction")
    small, large = reduced.plateau_length(T, d_small), reduced.plateau_length(T, d_large)
    measured = large / small
    inputs = f"T = {T}: plateau {small:.0f} at d = {d_small}, {large:.0f} at d = {d_large}"
    if guess <= 0:
        raise Rejected(f"a ratio of plateau lengths is positive, got {guess:.4g}.")
    if abs(guess / measured - 1) > RATIO_TOLERANCE:
        direction = "too large" if guess > measured else "too small"
        raise Rejected(
            f"the reduced dynamics give {inputs}, a ratio of {measured:.2f}; your {guess:.3g} is {direction}. "
            "Hint: the time scale of the escape is 1/lambda, with lambda = 1/(sqrt(d) T) the rate at which the "
            "signal grows; how does it change when d is multiplied by 4?"
        )
    return (f"the reduced dynamics give {inputs}, a ratio of {measured:.2f} (you predicted {guess:.3g}). "
            "The plateau grows like sqrt(d): the signal reaching the weights is 1/sqrt(d) weaker, up to a slowly "
            "varying logarithm.")
