"""Comparisons: many (optimizer, schedule) configurations over several seeds.

``lrlab.compare.compare(task, runs, seeds=3)`` returns a :class:`Comparison`
with a table (final validation loss and metric, mean ± spread over seeds,
steps to a target loss, divergences) and figures.
"""

from __future__ import annotations

from lrlab.compare.comparison import Comparison, RunSpec, compare, parse_run

__all__ = ["Comparison", "RunSpec", "compare", "parse_run"]
