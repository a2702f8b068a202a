"""Argument checks shared by every schedule: one vocabulary, one message form.

Each check returns the normalised value (``lr`` as ``float``, ``every`` as
``int``, sequences as tuples) or raises :class:`~lrlab.errors.ScheduleError`::

    Argument `every` of step() must be a positive integer. Received: every=0
"""

from __future__ import annotations

import ast
import itertools
import math
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

from lrlab.errors import ScheduleError

__all__ = [
    "ast_parse",
    "check_bool",
    "check_choice",
    "check_increasing",
    "check_int",
    "check_real",
    "check_reals",
    "check_schedule",
    "check_text",
    "fail",
    "shown",
]


#: The longest value an error message quotes whole.
MAX_SHOWN = 500


def shown(value: Any) -> str:
    """``repr(value)`` for an error message, whatever the value.

    A hostile value must not turn the error into another one: an int of more
    than 4300 digits has no ``repr`` (``ValueError``), a list nested thousands
    deep exhausts the stack (``RecursionError``), and a huge value would flood
    the one-line message; those are summarised or cut.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError, MemoryError):
        if isinstance(value, int):
            return f"<an integer of {value.bit_length()} bits>"
        return f"<a {type(value).__name__} too large or deep to show>"
    if len(text) > MAX_SHOWN:
        return f"{text[: MAX_SHOWN - 20]}... ({len(text)} characters)"
    return text


def check_text(text: str, what: str) -> None:
    """Refuse text that is not Unicode: a lone surrogate is what Python makes of a byte of
    ``argv`` (or a file) that is not UTF-8, and no parser can read it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ScheduleError(
            f"{what} must be valid Unicode text; character {exc.start + 1} is not "
            f"(an undecodable byte such as {text[exc.start]!r}). Received: {shown(text)}"
        ) from None


def ast_parse(text: str) -> Any:
    """``ast.parse(text, mode="eval")`` without its warnings.

    CPython warns about some user text it still parses (``1if``: "invalid
    decimal literal", ``'\\e'``: "invalid escape sequence"); printed, those
    would add lines to the CLI's one-line errors.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text, mode="eval")


def fail(kind: str, name: str, value: Any, allowed: str) -> ScheduleError:
    return ScheduleError(
        f"Argument `{name}` of {kind}() must be {allowed}. Received: {name}={shown(value)}"
    )


def check_real(
    kind: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
    allowed: str | None = None,
) -> float:
    """A finite real number within ``[low, high]`` (ends open when asked)."""
    if allowed is None:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        allowed = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise fail(kind, name, value, allowed)
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range (10**400): not finite either
        raise fail(kind, name, value, allowed) from None
    if not math.isfinite(v):
        raise fail(kind, name, value, allowed)
    if low is not None and (v < low or (low_open and v == low)):
        raise fail(kind, name, value, allowed)
    if high is not None and (v > high or (high_open and v == high)):
        raise fail(kind, name, value, allowed)
    return v


# Steps are evaluated as floats: a larger integer would not survive the
# conversion exactly (and past ~1e308 not at all).
MAX_INT = 2**53


def check_int(kind: str, name: str, value: Any, *, low: int = 1) -> int:
    """An integer >= ``low`` (a positive integer by default), at most 2**53."""
    allowed = "a positive integer" if low == 1 else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise fail(kind, name, value, allowed)
    v = int(value)
    if v < low:
        raise fail(kind, name, value, allowed)
    if v > MAX_INT:
        raise fail(kind, name, value, f"{allowed} <= 2**53 ({MAX_INT})")
    return v


def check_choice(kind: str, name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise fail(kind, name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def check_reals(
    kind: str, name: str, value: Any, *, low: float | None = None, integer: bool = False
) -> tuple[Any, ...]:
    """A non-empty sequence of finite numbers (integers >= ``low`` when asked)."""
    what = "integers" if integer else "finite numbers"
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise fail(kind, name, value, f"a non-empty list of {what}")
    out: list[Any] = []
    for item in value:
        try:
            if integer:
                out.append(check_int(kind, name, item, low=int(low or 0)))
            else:
                out.append(check_real(kind, name, item, low=low))
        except ScheduleError:
            bound = f" >= {low:g}" if low is not None else ""
            raise fail(kind, name, value, f"a non-empty list of {what}{bound}") from None
    return tuple(out)


def check_schedule(kind: str, name: str, value: Any) -> Any:
    from lrlab.schedules._base import Schedule

    if not isinstance(value, Schedule):
        raise fail(kind, name, value, "a schedule")
    return value


def check_bool(kind: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(kind, name, value, "True or False")
    return value


def check_increasing(kind: str, name: str, value: Any, *, low: int = 0) -> tuple[int, ...]:
    """A non-empty, strictly increasing sequence of integers >= ``low``."""
    items = check_reals(kind, name, value, low=low, integer=True)
    if any(b <= a for a, b in itertools.pairwise(items)):
        raise fail(kind, name, value, f"a strictly increasing list of integers >= {low}")
    return items
