"""Search the learning rate (and optimizer and schedule) with Optuna, on the user's own
training or a built-in task.

:func:`tune` runs a study of ``objective(trial) -> loss`` (the user's training; a
:class:`Trial` hands it the search's choice) or of a built-in task, with the ``grid``
(the source's grid search), ``random`` or ``tpe`` sampler over a :class:`Space`,
prunes bad trials on the reported validation loss (projected, median, Hyperband,
successive halving, Wilcoxon), optionally cross-validates (``cv=k``), can race its
best trials on more seeds (``finalists=k``), stores the study in SQLite by default (or
any Optuna storage) so it resumes by name and can be shared by many workers, and
counts the training steps every trial spends.  Use it as
``from lrlab.tune import tune``.  :func:`advise` runs lrlab's range test and confirmed
advice through the same contract; :func:`load` reads a stored study back.

The package, by step: ``_settings`` (the arguments, checked), ``_samplers`` and
``_pruners`` (``_projected``), ``_folds``, ``trial`` (the contract) and ``_runs`` (one
configuration's runs), ``_tasks`` (the built-in tasks as objectives), ``_worker`` (the
loop, the reaper), ``_finalists`` (the race), ``_search`` (:func:`tune`), ``_advise``
(:func:`advise`), ``result``.
"""

from lrlab.tune._advise import advise
from lrlab.tune._pruners import PRUNERS
from lrlab.tune._samplers import SAMPLERS, TPE_STARTUP_TRIALS
from lrlab.tune._search import load, tune
from lrlab.tune.result import TrialRow, TuneResult
from lrlab.tune.space import FAMILIES, Choice, Family, Float, Int, Space
from lrlab.tune.storage import StorageUnavailable, open_storage, redact
from lrlab.tune.trial import Trial

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
    "StorageUnavailable",
    "Trial",
    "TrialRow",
    "TuneResult",
    "advise",
    "load",
    "open_storage",
    "redact",
    "tune",
]
