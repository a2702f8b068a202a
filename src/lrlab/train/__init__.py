"""Training runs: :func:`run` trains a task with a named optimizer and schedule.

>>> from lrlab.train import OPTIMIZERS
>>> OPTIMIZERS[:3]
('sgd', 'momentum', 'nesterov')
"""

from __future__ import annotations

from lrlab.train.history import History
from lrlab.train.loop import resolve_schedule, run
from lrlab.train.optimizers import (
    DEFAULT_LR,
    OPTIMIZERS,
    check_name,
    is_schedule_free,
    make_optimizer,
    option_names,
)

__all__ = [
    "DEFAULT_LR",
    "OPTIMIZERS",
    "History",
    "check_name",
    "is_schedule_free",
    "make_optimizer",
    "option_names",
    "resolve_schedule",
    "run",
]
