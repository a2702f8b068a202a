"""Comparisons: many (optimizer, schedule) configurations over several seeds.

``lrlab.compare.compare(task, runs, seeds=3)`` returns a :class:`Comparison`
with a table (final validation loss and metric, mean ± spread over seeds,
steps to a target loss, divergences) and figures.  Use it as
``from lrlab.compare import compare``.
"""

from __future__ import annotations

from lrlab.compare.comparison import CompareRow, Comparison, RunSpec, compare, parse_run

__all__ = ["CompareRow", "Comparison", "RunSpec", "compare", "parse_run"]
