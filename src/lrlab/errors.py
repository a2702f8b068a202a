"""The errors lrlab raises on bad input.

Every error message names the argument, the value received and what is
allowed, in the form::

    Argument `every` of step() must be a positive integer. Received: every=0
"""

from __future__ import annotations

import inspect
import os
import warnings

__all__ = ["LrlabError", "LrlabWarning", "ScheduleError", "UsageError", "warn"]


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


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str) -> None:
    """Warn ``message`` as an :class:`LrlabWarning` attributed to the first caller outside
    lrlab, however deep in lrlab it is raised (the torch, Keras and Optax finders reach
    the same check at different depths)."""
    level, frame = 2, inspect.currentframe()
    frame = frame.f_back if frame is not None else None
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, LrlabWarning, stacklevel=level - 1 if frame is None else level)
