"""Search the learning rate (and optimizer and schedule) with Optuna.

:func:`tune` runs a study with the ``grid`` (the source's grid search),
``random`` or ``tpe`` sampler over a :class:`Space`, prunes bad trials on the
intermediate validation loss (projected, median, Hyperband, successive
halving, Wilcoxon), optionally cross-validates (``cv=k``), can race its best
trials on more seeds (``finalists=k``), stores the study in SQLite by default
(or any Optuna storage) so it resumes by name and can be shared by many
workers, and counts the training steps every trial spends.

The package itself is callable: ``lrlab.tune(task, ...)`` is :func:`tune`.
"""

from lrlab._seams import callable_module
from lrlab.tune._run import PRUNERS, SAMPLERS, TPE_STARTUP_TRIALS, tune
from lrlab.tune.result import TrialRow, TuneResult
from lrlab.tune.space import FAMILIES, Choice, Family, Float, Int, Space
from lrlab.tune.storage import open_storage, redact

__all__ = [
    "FAMILIES",
    "PRUNERS",
    "SAMPLERS",
    "TPE_STARTUP_TRIALS",
    "Choice",
    "Family",
    "Float",
    "Int",
    "Space",
    "TrialRow",
    "TuneResult",
    "open_storage",
    "redact",
    "tune",
]


callable_module(__name__, tune)
