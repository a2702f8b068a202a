"""Comparisons: many (optimizer, schedule) configurations over several seeds.

``lrlab.compare.compare(task, runs, seeds=3)`` returns a :class:`Comparison`
with a table (final validation loss and metric, mean ± spread over seeds,
steps to a target loss, divergences) and figures.

Once this package is imported, Python binds ``lrlab.compare`` to the package
itself rather than to the function, so the package is made callable:
``lrlab.compare(task, runs, ...)`` is :func:`compare` either way.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from lrlab.compare.comparison import CompareRow, Comparison, RunSpec, compare, parse_run

__all__ = ["CompareRow", "Comparison", "RunSpec", "compare", "parse_run"]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`compare`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Comparison:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
