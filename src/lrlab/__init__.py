"""lrlab: the learning rate, end to end.

Schedules (:mod:`lrlab.schedules`) are closed-form, immutable and framework
agnostic; :mod:`lrlab.torch`, :mod:`lrlab.keras` and :mod:`lrlab.optax` plug
them into each framework.  The training lab (:mod:`lrlab.tasks`,
:mod:`lrlab.train`, :mod:`lrlab.landscape`, :mod:`lrlab.compare`), the LR
range test (:func:`lrlab.find_lr`) and the Optuna search (:mod:`lrlab.tune`)
need the ``torch`` extra and are imported on first use.
"""

from __future__ import annotations

from typing import Any

from lrlab.errors import LrlabError, ScheduleError, UsageError
from lrlab.schedules import Schedule, from_config, parse

__version__ = "0.1.0"

__all__ = [
    "LrlabError",
    "Schedule",
    "ScheduleError",
    "UsageError",
    "__version__",
    "find_lr",
    "from_config",
    "parse",
]


def __getattr__(name: str) -> Any:
    # The torch-based parts load lazily so that `import lrlab` needs only NumPy.
    if name == "find_lr":
        from lrlab.finder import find_lr

        return find_lr
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")
