"""Argument checks: the one set of rules every public function and constructor applies.

- An integer is an ``int`` or a numpy integer, never a ``bool`` (nor ``2.0``).
- A real number is an ``int``, ``float`` or numpy number, finite (no ``nan``, no ``inf``),
  never a ``bool``.
- A boolean flag is ``True`` or ``False`` (``"no"`` or ``1`` are refused, not read as truth).
- A choice is one of a stated tuple; a seed is a non-negative integer below ``2**63``.
- A size stays at or below :data:`MAX_ELEMENTS` elements for what one object or one call
  allocates, checked before anything is allocated.

Each check raises a one-line ``ValueError`` that starts with the argument's name, and returns
the value as a plain Python ``int``, ``float`` or ``bool``, so configs stay JSON-able.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

# 536,870,912 elements: 2 GiB of float32 (4 GiB of float64 or int64). The largest tensor the
# book draws, chapter 0's laptop sample of 8192 x 2048 x 32 tokens, is exactly this size.
MAX_ELEMENTS = 2**29
MAX_SEED = 2**63 - 1  # the largest seed torch.Generator.manual_seed takes

_LIMIT = f"{MAX_ELEMENTS:,} elements (2 GiB of float32; sparse_attention_lab.tasks.checks.MAX_ELEMENTS)"


def _suffix(why: str) -> str:
    return f" ({why})" if why else ""


def is_integer(value: object) -> bool:
    """``True`` for an ``int`` or a numpy integer, ``False`` for anything else (bools included)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def integer(name: str, value: object, *, minimum: int | None = None, maximum: int | None = None, why: str = "") -> int:
    """``value`` as an ``int``, checked to lie in ``[minimum, maximum]`` (either bound optional)."""
    if minimum == 1 and maximum is None:
        wanted = "a positive integer"
    elif minimum is not None and maximum is not None:
        wanted = f"an integer in [{minimum}, {maximum}]"
    elif minimum is not None:
        wanted = f"an integer >= {minimum}"
    elif maximum is not None:
        wanted = f"an integer <= {maximum}"
    else:
        wanted = "an integer"
    ok = is_integer(value)
    if ok:
        value = int(value)
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        raise ValueError(f"{name} must be {wanted}{_suffix(why)}, got {value!r}.")
    return value


def positive_int(name: str, value: object) -> int:
    """``value`` as an ``int >= 1``."""
    return integer(name, value, minimum=1)


def _interval(above, at_least, below, at_most) -> str:
    low = above if above is not None else at_least
    high = below if below is not None else at_most
    if low is not None and high is not None:
        return f" in {'(' if above is not None else '['}{low:g}, {high:g}{')' if below is not None else ']'}"
    if low is not None:
        return f" {'>' if above is not None else '>='} {low:g}"
    if high is not None:
        return f" {'<' if below is not None else '<='} {high:g}"
    return ""


def real(
    name: str,
    value: object,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    why: str = "",
) -> float:
    """``value`` as a finite ``float``, checked against the bounds given (``above``: ``>``, ``at_least``: ``>=``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        try:
            number = float(value)
        except OverflowError:  # an int beyond float's range
            number = math.inf
        ok = math.isfinite(number)
        ok = ok and (above is None or number > above) and (at_least is None or number >= at_least)
        ok = ok and (below is None or number < below) and (at_most is None or number <= at_most)
    if not ok:
        bounds = _interval(above, at_least, below, at_most)
        raise ValueError(f"{name} must be a finite real number{bounds}{_suffix(why)}, got {value!r}.")
    return number


def probability(name: str, value: object, why: str = "") -> float:
    """``value`` as a ``float`` in ``[0, 1]``."""
    try:
        return real(name, value, at_least=0.0, at_most=1.0)
    except ValueError:
        raise ValueError(f"{name} must be a probability in [0, 1]{_suffix(why)}, got {value!r}.") from None


def boolean(name: str, value: object) -> bool:
    """``value`` as a ``bool``: only ``True``, ``False`` (or numpy's) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def choice(name: str, value: object, options: tuple) -> object:
    """The option equal to ``value`` (and of its type), else ``ValueError`` listing ``options``."""
    for option in options:
        if isinstance(value, type(option)) and value == option:
            return option
    raise ValueError(f"{name} must be one of {options}, got {value!r}.")


def seed(name: str, value: object) -> int:
    """``value`` as an ``int`` seed in ``[0, 2**63 - 1]``."""
    return integer(name, value, minimum=0, maximum=MAX_SEED)


def seed_list(name: str, values: Iterable[object], distinct: bool = True) -> list[int]:
    """A non-empty list of seeds (each a non-negative integer below ``2**63``), distinct unless
    ``distinct`` is false (a packed ensemble trains one seed under several configs)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a list of non-negative integers, got {values!r}.")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty.")
    for position, value in enumerate(values):
        if not (is_integer(value) and 0 <= value <= MAX_SEED):
            raise ValueError(
                f"{name} must be non-negative integers below 2**63, got {value!r} at position {position}."
            )
    seeds = [int(v) for v in values]
    if distinct and len(set(seeds)) != len(seeds):
        raise ValueError(f"{name} must not repeat, got {seeds}.")
    return seeds


def elements(name: str, count: int, what: str) -> None:
    """Refuse, before allocating, ``what`` of ``count`` elements when that is above :data:`MAX_ELEMENTS`."""
    if int(count) > MAX_ELEMENTS:
        raise ValueError(f"{name} is too large: {what} of {count:,} elements, above the limit of {_LIMIT}.")


def known_keys(name: str, mapping: Mapping[str, object], **groups: Iterable[str]) -> None:
    """Refuse keys of ``mapping`` outside every group (e.g. ``task=..., model=...``), listing each group."""
    known = {key for keys in groups.values() for key in keys}
    unknown = set(mapping) - known
    if unknown:
        listing = ", ".join(f"{group} {tuple(keys)}" for group, keys in groups.items())
        raise ValueError(f"{name} has unknown keys {sorted(unknown)}; known: {listing}.")
