"""What a Keras user imports: lrlab's schedules as a Keras ``LearningRateSchedule`` and
the plateau rule as a callback (:mod:`lrlab.adapters.keras`), and the range test on a
compiled Keras model, :func:`find_lr`, with its callback for a sweep inside ``fit``,
:class:`LRFinder` (:mod:`lrlab.finder.keras`, loaded on first use).

    >>> import lrlab.keras
    >>> round(float(lrlab.keras.schedule("cosine(0.1, 100)")(50)), 6)
    0.05
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrlab.adapters.keras import KerasSchedule, PlateauCallback, schedule

if TYPE_CHECKING:
    from lrlab.finder.keras import LRFinder, find_lr

__all__ = ["KerasSchedule", "LRFinder", "PlateauCallback", "find_lr", "schedule"]

_LAZY = ("find_lr", "LRFinder")


def __getattr__(name: str) -> Any:
    # The range test loads on first use, so that a schedule alone imports no more than it needs.
    if name in _LAZY:
        from lrlab.finder import keras as finder

        return getattr(finder, name)
    raise AttributeError(f"module 'lrlab.keras' has no attribute {name!r}")
