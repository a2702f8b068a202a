"""The front door to lrlab's one vocabulary of argument checks, for the lab, the range
test and the search: each check returns the normalised value or raises
:class:`~lrlab.errors.UsageError` in the schedules' one message form::

    Argument `steps` must be a positive integer. Received: steps=0

The rules themselves (:class:`Number`, :class:`Int`, :class:`OneOf`, ...) and the
message are those of :mod:`lrlab.schedules._validate`, which the schedules, a layer
above, declare next to their fields; :func:`check` applies any of them with a
``UsageError``.  Here, beyond that vocabulary, only the lab's own policy: integers may
be Python or NumPy integers (not ``bool``), numbers must be finite, and a 0-d NumPy
array counts as the number it holds (``np.array(0.1)``, a reduction's result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lrlab.errors import UsageError
from lrlab.schedules._validate import FLAG, Int, Number, OneOf, Refused, Rule, number, shown

__all__ = [
    "FLAG",
    "SEARCH_SEED_RULE",
    "SEED_RULE",
    "Int",
    "Number",
    "OneOf",
    "Rule",
    "check",
    "int_at_least",
    "number",
    "number_in",
    "positive_int",
    "positive_number",
    "search_seed",
    "seed",
    "shown",
]

#: What a seed must be: what ``torch.manual_seed`` takes (it reads a negative one modulo
#: 2**64), so that one seed fixes the model's weights and the batch order alike.
SEED_RULE = "an integer from -2**63 to 2**64 - 1"
#: What a search's seed must be: it seeds Optuna's samplers and scikit-learn's folds, which
#: take NumPy's 32 bits.
SEARCH_SEED_RULE = "an integer from 0 to 2**32 - 1"

_POSITIVE_INT = Int("a positive integer", 1)
_POSITIVE = Number("a positive finite number", lambda v: v > 0)
_NON_NEGATIVE = Number("a non-negative finite number", lambda v: v >= 0)
_SEED = Int(SEED_RULE, -(2**63), 2**64 - 1)
_SEARCH_SEED = Int(SEARCH_SEED_RULE, 0, 2**32 - 1)


def _scalar(value: Any) -> Any:
    """The NumPy scalar a 0-d numeric array holds; any other value as it is."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return value[()]
    return value


def check(rule: Rule, name: str, value: Any) -> Any:
    """``rule(value)`` (a 0-d array read as its number), or a
    :class:`~lrlab.errors.UsageError` in the one message form, showing ``value``.

    >>> check(OneOf("auto", "off"), "mode", "auto")
    'auto'
    """
    try:
        return rule(_scalar(value))
    except Refused as refused:
        raise refused.error(name, value, error=UsageError) from None


def int_at_least(name: str, value: Any, minimum: int, what: str) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum``; ``what`` words the rule.

    >>> int_at_least("cv", 3, 2, "an integer of at least 2")
    3
    """
    return check(Int(what, minimum), name, value)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is a positive integer.

    >>> positive_int("steps", 5)
    5
    """
    return check(_POSITIVE_INT, name, value)


def number_in(name: str, value: Any, ok: Callable[[float], bool], what: str) -> float:
    """``value`` as a ``float`` if it is a finite number that ``ok`` accepts; ``what`` words
    the rule.

    >>> number_in("beta", 0.9, lambda v: 0 <= v < 1, "a number in [0, 1)")
    0.9
    """
    return check(Number(what, ok), name, value)


def positive_number(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a ``float`` if it is a finite number ``> 0`` (``>= 0`` with ``allow_zero``).

    >>> positive_number("lr", 0.1)
    0.1
    """
    return check(_NON_NEGATIVE if allow_zero else _POSITIVE, name, value)


def seed(name: str, value: Any) -> int:
    """``value`` as an ``int`` if torch can seed with it (:data:`SEED_RULE`).

    >>> seed("seed", 7)
    7
    """
    return check(_SEED, name, value)


def search_seed(name: str, value: Any) -> int:
    """``value`` as an ``int`` if a search can seed with it (:data:`SEARCH_SEED_RULE`).

    >>> search_seed("seed", 2**32 - 1)
    4294967295
    """
    return check(_SEARCH_SEED, name, value)
