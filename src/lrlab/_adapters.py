"""What the framework adapters share: reading a schedule given in any form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.errors import UsageError
from lrlab.schedules import Schedule, from_config, parse

__all__ = ["as_schedule"]


def as_schedule(schedule: Any, where: str) -> Schedule:
    """Coerce ``schedule`` (a :class:`~lrlab.Schedule`, its text form or its
    config dict) to a :class:`~lrlab.Schedule`.

    ``where`` names the function for the error message.

    >>> as_schedule("constant(0.1)", "f()")
    constant(lr=0.1)
    >>> as_schedule(3, "f()")
    Traceback (most recent call last):
    ...
    lrlab.errors.UsageError: Argument `schedule` of f() must be a Schedule, its text form \
(e.g. 'cosine(0.1, 1000)') or its config dict. Received: schedule=3
    """
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        return parse(schedule)
    if isinstance(schedule, Mapping):
        return from_config(schedule)
    raise UsageError(
        f"Argument `schedule` of {where} must be a Schedule, its text form "
        f"(e.g. 'cosine(0.1, 1000)') or its config dict. Received: schedule={schedule!r}"
    )
