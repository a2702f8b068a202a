"""The one JSON convention of everything lrlab writes.

Strict JSON (no ``NaN`` / ``Infinity`` tokens) that loses nothing: a non-finite
float is written as the string ``"nan"``, ``"inf"`` or ``"-inf"``, which
``float()`` reads back; ``None`` stays ``null`` and means "no value" (a trial
that never ran, a seed that never reached the target), never a number.
NumPy arrays and scalars become lists and plain numbers, tuples become lists,
dict keys become strings.  :func:`encode` / :func:`dumps` write it,
:func:`number` and :func:`decode` read it back.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["NON_FINITE", "decode", "dumps", "encode", "number"]

#: How each non-finite float is written.
NON_FINITE = ("nan", "inf", "-inf")


def encode(value: Any) -> Any:
    """``value`` with every non-finite float as ``"nan"`` / ``"inf"`` / ``"-inf"``,
    arrays and tuples as lists, NumPy scalars as Python numbers, keys as strings."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return encode(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # Python spells them "nan", "inf", "-inf"
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """:func:`encode` then strict :func:`json.dumps` (``allow_nan=False``)."""
    return json.dumps(encode(value), allow_nan=False, **kwargs)


def number(value: Any) -> float | None:
    """One number as :func:`encode` wrote it, read back: ``None`` stays ``None``."""
    return None if value is None else float(value)


def decode(value: Any) -> Any:
    """Inverse of :func:`encode` for numbers: the strings ``"nan"``, ``"inf"``, ``"-inf"``
    become floats again, anywhere in ``value`` (use it on data whose strings are not
    labels that could read ``"inf"``)."""
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, str) and value in NON_FINITE:
        return float(value)
    return value
