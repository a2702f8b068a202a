"""Argument checks for the lab, the range test and the search: one message form.

Each check returns the normalised value or raises :class:`~lrlab.errors.UsageError`
worded like the schedules' checks::

    Argument `steps` must be a positive integer. Received: steps=0

Integers may be Python or NumPy integers (not ``bool``); numbers must be finite.  A 0-d
NumPy array counts as the number it holds (``np.array(0.1)``, a reduction's result).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from lrlab.errors import UsageError
from lrlab.schedules._validate import shown

__all__ = [
    "SEARCH_SEED_RULE",
    "SEED_RULE",
    "int_at_least",
    "number_in",
    "positive_int",
    "positive_number",
    "search_seed",
    "seed",
]

#: What a seed must be: what ``torch.manual_seed`` takes (it reads a negative one modulo
#: 2**64), so that one seed fixes the model's weights and the batch order alike.
SEED_RULE = "an integer from -2**63 to 2**64 - 1"
#: What a search's seed must be: it seeds Optuna's samplers and scikit-learn's folds, which
#: take NumPy's 32 bits.
SEARCH_SEED_RULE = "an integer from 0 to 2**32 - 1"


def _scalar(value: Any) -> Any:
    """The NumPy scalar a 0-d numeric array holds; any other value as it is."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return value[()]
    return value


def int_at_least(name: str, value: Any, minimum: int, what: str) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum``; ``what`` words the rule.

    >>> int_at_least("cv", 3, 2, "an integer of at least 2")
    3
    """
    v = _scalar(value)
    if isinstance(v, bool) or not isinstance(v, Integral) or v < minimum:
        raise UsageError(f"Argument `{name}` must be {what}. Received: {name}={shown(value)}")
    return int(v)


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
    v, number = math.nan, _scalar(value)
    if isinstance(number, Real) and not isinstance(number, bool):
        try:
            v = float(number)
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


def _integer_in(name: str, value: Any, low: int, high: int, what: str) -> int:
    v = int_at_least(name, value, low, what)
    if v > high:
        raise UsageError(f"Argument `{name}` must be {what}. Received: {name}={shown(value)}")
    return v


def seed(name: str, value: Any) -> int:
    """``value`` as an ``int`` if torch can seed with it (:data:`SEED_RULE`).

    >>> seed("seed", 7)
    7
    """
    return _integer_in(name, value, -(2**63), 2**64 - 1, SEED_RULE)


def search_seed(name: str, value: Any) -> int:
    """``value`` as an ``int`` if a search can seed with it (:data:`SEARCH_SEED_RULE`).

    >>> search_seed("seed", 2**32 - 1)
    4294967295
    """
    return _integer_in(name, value, 0, 2**32 - 1, SEARCH_SEED_RULE)
