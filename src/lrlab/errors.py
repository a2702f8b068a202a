"""The errors lrlab raises on bad input.

Every error message names the argument, the value received and what is
allowed, in the form::

    Argument `every` of step() must be a positive integer. Received: every=0
"""

from __future__ import annotations

__all__ = ["LrlabError", "LrlabWarning", "ScheduleError", "UsageError"]


class LrlabError(ValueError):
    """Base class of lrlab's input errors (a ``ValueError``)."""


class ScheduleError(LrlabError):
    """A schedule, its text form or its config is invalid."""


class UsageError(LrlabError):
    """A bad argument to a lab, finder, tuner, report or CLI function."""


class LrlabWarning(UserWarning):
    """Something lrlab did differently from what was asked, said once (a ``UserWarning``,
    so ``warnings.filterwarnings("ignore", category=LrlabWarning)`` silences only lrlab's):
    a horizon too short to confirm the advice, a search's best rate on the edge of its range."""
