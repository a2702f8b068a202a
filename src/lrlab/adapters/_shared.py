"""What the framework adapters share: reading a schedule or a plateau rule given in any form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.errors import ScheduleError, UsageError
from lrlab.schedules import Schedule, from_config, parse, reduce_on_plateau

__all__ = ["as_plateau", "as_schedule"]


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


def as_plateau(rule: Any, where: str) -> reduce_on_plateau:
    r"""Coerce ``rule`` (a :class:`~lrlab.schedules.reduce_on_plateau`, its text
    form or its config dict) to the rule; errors are :class:`UsageError`\ s.

    >>> as_plateau("reduce_on_plateau(0.1, patience=2)", "f()").patience
    2
    """
    if not isinstance(rule, (reduce_on_plateau, str, Mapping)):
        raise UsageError(
            f"Argument `rule` of {where} must be a reduce_on_plateau rule, its text or its "
            f"config. Received: rule={rule!r}"
        )
    try:
        if isinstance(rule, Mapping):
            return reduce_on_plateau.from_config(dict(rule))
        return reduce_on_plateau.parse(rule)
    except ScheduleError as e:
        raise UsageError(str(e)) from None
