"""Comparisons: many (optimizer, schedule) configurations over several seeds.

``lrlab.compare.compare(task, runs, seeds=3)`` returns a :class:`Comparison`
with a table (final validation loss and metric, mean ± spread over seeds,
steps to a target loss, divergences) and figures.

Once this package is imported, Python binds ``lrlab.compare`` to the package
itself rather than to the function, so the package is made callable:
``lrlab.compare(task, runs, ...)`` is :func:`compare` either way.
"""

from __future__ import annotations

from lrlab._seams import callable_module
from lrlab.compare.comparison import CompareRow, Comparison, RunSpec, compare, parse_run

__all__ = ["CompareRow", "Comparison", "RunSpec", "compare", "parse_run"]


callable_module(__name__, compare)
