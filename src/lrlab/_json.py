"""The one JSON convention of everything lrlab writes: strict JSON that loses nothing.

A non-finite float is the string ``"nan"``, ``"inf"`` or ``"-inf"`` (``float()``
reads it back); ``null`` means "no value", never a number.  Arrays and tuples
become lists, NumPy scalars plain numbers, keys strings.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["NON_FINITE", "decode", "dumps", "encode", "number"]

#: How each non-finite float is written.
NON_FINITE = ("nan", "inf", "-inf")


def encode(value: Any) -> Any:
    """``value`` in the convention: non-finite floats as strings, arrays as lists."""
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
    """Inverse of :func:`encode` for numbers: the three strings become floats anywhere in
    ``value`` (so not for data whose labels could read ``"inf"``)."""
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, str) and value in NON_FINITE:
        return float(value)
    return value
