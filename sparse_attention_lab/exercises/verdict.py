"""What every exercise checker shares: one verdict line, and the reader's answer handled safely.

A checker runs the reader's function (or number) against the library's own reference and ends
in exactly one printed line, returned as a :class:`Verdict` as well:

- ``Correct: <what the answer means>``;
- ``Not attempted yet: <what to fill in>``, for a cell still left as ``...`` or
  ``raise NotImplementedError``;
- ``Not yet: <on which input, expected vs got>. Hint: <...>``, for a wrong answer, including
  one that raised (the exception is named, never shown as a traceback).

A checker is a function decorated with :func:`checker` that returns the meaning of a correct
answer and raises :class:`Rejected` or :class:`NotAttempted` otherwise; :class:`ReaderFunction`,
:func:`number` and :func:`require_close` raise them for it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CORRECT, WRONG, NOT_ATTEMPTED = "correct", "wrong", "not attempted"


@dataclass(frozen=True)
class Verdict:
    """A checker's result: ``status`` is ``"correct"``, ``"wrong"`` or ``"not attempted"``."""

    exercise: str
    status: str
    line: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __str__(self) -> str:
        return self.line

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the checker has already printed :attr:`line`."""


class Rejected(Exception):
    """A wrong answer; the message says where, expected vs got, and gives a hint."""


class NotAttempted(Exception):
    """The reader's cell is still the template (``...`` or ``raise NotImplementedError``)."""


def checker(check: Callable[..., str]) -> Callable[..., Verdict]:
    """Turn ``check(*answers) -> meaning`` into a checker that prints and returns a :class:`Verdict`."""

    @functools.wraps(check)
    def run(*answers: Any, **options: Any) -> Verdict:
        try:
            line, status = f"Correct: {check(*answers, **options)}", CORRECT
        except NotAttempted as error:
            line, status = f"Not attempted yet: {error}", NOT_ATTEMPTED
        except Rejected as error:
            line, status = f"Not yet: {error}", WRONG
        verdict = Verdict(check.__name__, status, " ".join(line.split()))
        print(verdict.line)
        return verdict

    return run


def describe(inputs: Mapping[str, Any]) -> str:
    """``T = 8, B = 1``: the inputs of a case, as the message shows them."""
    return ", ".join(f"{name} = {short(value)}" for name, value in inputs.items())


class ReaderFunction:
    """The reader's function, called safely: ``answer(inputs, hint)`` is ``function(*inputs.values())``.

    Raises :class:`NotAttempted` when the function is still a template (``...`` itself, a body
    left as ``...`` that returns ``None``, or ``raise NotImplementedError``) on its first call,
    :class:`Rejected` naming the exception it raised, or the input on which it returned ``None``
    after having answered other inputs.
    """

    def __init__(self, function: Any, name: str) -> None:
        own = getattr(function, "__name__", "")  # the reader's own name for it, unless a lambda
        self.function, self.name, self.answered = function, own if own.isidentifier() else name, False

    def __call__(self, inputs: Mapping[str, Any], hint: str = "") -> Any:
        name, hint_text = self.name, f" Hint: {hint}" if hint else ""
        if self.function is Ellipsis or self.function is None:
            raise NotAttempted(f"`{name}` is still `...`: define it in the cell above, run it, then this one.")
        if not callable(self.function):
            raise Rejected(f"`{name}` should be a function, got a {type(self.function).__name__}.")
        try:
            value = self.function(*inputs.values())
        except NotImplementedError:
            if not self.answered:
                raise NotAttempted(f"`{name}` still raises NotImplementedError: write its body in the cell above, "
                                   "run it, then this one.") from None
            raise Rejected(f"`{name}({describe(inputs)})` raised NotImplementedError.{hint_text}") from None
        except Exception as error:  # the reader's bug, reported in one line
            raise Rejected(f"`{name}({describe(inputs)})` raised {type(error).__name__}: {error}.{hint_text}") from None
        if value is None or value is Ellipsis:
            if not self.answered:
                raise NotAttempted(f"`{name}` returns {value!r}: fill in its body (and `return` the result) in the "
                                   "cell above, run it, then this one.")
            raise Rejected(f"`{name}({describe(inputs)})` returned {value!r}.{hint_text}")
        self.answered = True
        return value


def number(value: Any, name: str) -> float:
    """The reader's number as a float; :class:`NotAttempted` for ``...``/``None``."""
    if value is Ellipsis or value is None:
        raise NotAttempted(f"`{name}` is still `...`: write your number in the cell above, run it, then this one.")
    if isinstance(value, (bool, str)):
        raise Rejected(f"`{name}` should be a number, got {value!r}.")
    try:
        result = float(np.asarray(_numpy(value), dtype=float).reshape(()))
    except OverflowError:  # an int beyond float's range
        result = math.inf
    except (TypeError, ValueError):
        raise Rejected(f"`{name}` should be a number, got {short(value)} ({type(value).__name__}).") from None
    if not math.isfinite(result):
        raise Rejected(f"`{name}` should be a finite number, got {result}.")
    return result


def array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The reader's array (numpy, torch or nested lists) as floats of the expected ``shape``."""
    try:
        result = np.asarray(_numpy(value), dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise Rejected(f"`{name}` should be an array of numbers, got {type(value).__name__}.") from None
    if result.shape != tuple(shape):
        raise Rejected(f"`{name}` should have shape {tuple(shape)}, got {result.shape}.")
    return result


def require_close(
    name: str,
    got: Any,
    expected: Any,
    inputs: Mapping[str, Any] | str,
    hint: str,
    rtol: float = 1e-6,
    atol: float = 1e-12,
) -> None:
    """Raise :class:`Rejected` unless ``got`` matches ``expected`` (elementwise, ``rtol``/``atol``).

    ``inputs`` names the case in the message: a mapping of input values, or a phrase.
    """
    expected = np.asarray(expected, dtype=float)
    got = array(got, name, expected.shape) if expected.ndim else np.asarray(number(got, name))
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol) | ~np.isfinite(got)
    if wrong.any():
        i = np.unravel_index(int(np.argmax(wrong)), wrong.shape) if wrong.ndim else ()
        where = f" (entry {list(i)})" if i else ""
        case = inputs if isinstance(inputs, str) else describe(inputs)
        shown_expected, shown_got = distinct(float(expected[i]), float(got[i]))
        raise Rejected(f"on {case}: expected {name} = {shown_expected}{where}, got {shown_got}. Hint: {hint}")


def distinct(expected: float, got: float) -> tuple[str, str]:
    """Two numbers with enough significant digits (4 to 12) to tell them apart."""
    for digits in range(4, 13):
        a, b = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def _numpy(value: Any) -> Any:
    """Torch tensors to numpy (on the CPU, detached); anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def short(value: Any) -> str:
    """A number to 4 significant digits; arrays and other values in a few characters."""
    value = _numpy(value)
    if isinstance(value, str):
        return value if len(value) <= 40 else value[:37] + "..."
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def compare_on_cases(
    reader: ReaderFunction, reference: Callable[..., Any], cases: Sequence[tuple[Mapping[str, Any], str]],
    rtol: float = 1e-6,
) -> None:
    """Call ``reader`` on each case's inputs and :func:`require_close` it to ``reference(**inputs)``;
    each case carries the hint shown when the reader's answer is wrong there."""
    for inputs, hint in cases:
        require_close(reader.name, reader(inputs, hint), reference(**inputs), inputs, hint, rtol=rtol)
