"""Training tasks: deterministic data splits, a model factory, a loss and a metric.

``lrlab.tasks.get(name, **params)`` builds a built-in task (see
:func:`lrlab.tasks.names`); :class:`Task` is the interface a user task fills in.
"""

from __future__ import annotations

from lrlab.tasks.base import Task, accuracy, binary_accuracy, r2, rmse
from lrlab.tasks.builtin import TASK_INFO, QuadraticTask, cache_dir, get, names, resolve

__all__ = [
    "TASK_INFO",
    "QuadraticTask",
    "Task",
    "accuracy",
    "binary_accuracy",
    "cache_dir",
    "get",
    "names",
    "r2",
    "resolve",
    "rmse",
]
