"""Argument checks for the lab, the range test and the search: one message form.

Each check returns the normalised value or raises :class:`~lrlab.errors.UsageError`
worded like the schedules' checks::

    Argument `steps` must be a positive integer. Received: steps=0

Integers may be Python or NumPy integers (not ``bool``); numbers must be finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

from lrlab.errors import UsageError
from lrlab.schedules._validate import shown

__all__ = ["int_at_least", "number_in", "positive_int", "positive_number"]


def int_at_least(name: str, value: Any, minimum: int, what: str) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum``; ``what`` words the rule.

    >>> int_at_least("cv", 3, 2, "an integer of at least 2")
    3
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise UsageError(f"Argument `{name}` must be {what}. Received: {name}={shown(value)}")
    return int(value)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is a positive integer.

    >>> positive_int("steps", 5)
    5
    """
    return int_at_least(name, value, 1, "a positive integer")


def number_in(name: str, value: Any, ok: Callable[[float], bool], what: str) -> float:
    """``value`` as a ``float`` if it is a finite number that ``ok`` accepts; ``what`` words
    the rule.

    >>> number_in("beta", 0.9, lambda v: 0 <= v < 1, "a number in [0, 1)")
    0.9
    """
    v = math.nan
    if isinstance(value, Real) and not isinstance(value, bool):
        try:
            v = float(value)
        except OverflowError:  # an int beyond the float range (10**400): not finite either
            pass
    if not (math.isfinite(v) and ok(v)):
        raise UsageError(f"Argument `{name}` must be {what}. Received: {name}={shown(value)}")
    return v


def positive_number(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a ``float`` if it is a finite number ``> 0`` (``>= 0`` with ``allow_zero``).

    >>> positive_number("lr", 0.1)
    0.1
    """
    if allow_zero:
        return number_in(name, value, lambda v: v >= 0, "a non-negative finite number")
    return number_in(name, value, lambda v: v > 0, "a positive finite number")
