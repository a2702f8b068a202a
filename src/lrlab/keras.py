"""What a Keras user imports: lrlab's schedules as a Keras ``LearningRateSchedule`` and
the plateau rule as a callback (:mod:`lrlab.adapters.keras`).

    >>> import lrlab.keras
    >>> round(float(lrlab.keras.schedule("cosine(0.1, 100)")(50)), 6)
    0.05
"""

from __future__ import annotations

from lrlab.adapters.keras import KerasSchedule, PlateauCallback, schedule

__all__ = ["KerasSchedule", "PlateauCallback", "schedule"]
