"""The one rule by which the page calls measured results tied: within the best's spread."""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["tied"]


def tied(measured: Mapping[str, tuple[float, float]]) -> list[str]:
    """The labels of ``measured`` (label -> (mean, spread), lower is better) whose mean is
    within the spread of the lowest finite mean, in the given order; the best's spread
    counts as 0 when it is NaN (one seed).

    >>> tied({"a": (1.02, 0.1), "b": (1.0, 0.05), "c": (1.2, 0.01)})
    ['a', 'b']
    """
    finite = {k: v for k, v in measured.items() if math.isfinite(v[0])}
    if not finite:
        return []
    mean, spread = min(finite.values(), key=lambda v: v[0])
    top = mean + (spread if math.isfinite(spread) and spread > 0 else 0.0)
    return [k for k, (m, _) in finite.items() if m <= top]
