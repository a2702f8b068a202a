"""The projected pruner: a trial is stopped only if even the best improvement seen could
not bring it below the median."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ProjectedPruner"]


class ProjectedPruner:
    """Prune a trial that could not end below the median even improving like the best did.

    At a reported step ``t`` the trial's value ``v(t)`` is carried to the end
    with the largest improvement any completed trial made from ``t`` to its
    end, ``min_c final_c / v_c(t)``; the trial is pruned when even that
    projection is above the median of the completed trials' final values.  A
    median taken at the same step instead prunes the rates whose curves are
    still falling and cross later (smaller rates, rates under a decaying
    schedule); the projection gives them the credit the finished curves show.
    """

    def __init__(self, n_startup_trials: int) -> None:
        self.n_startup_trials = n_startup_trials

    def prune(self, study: Any, trial: Any) -> bool:
        import optuna

        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        if not math.isfinite(value):
            return True
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(done) < self.n_startup_trials:
            return False
        finals = [t.value for t in done]  # a completed trial has a value (inf if it diverged)
        # The improvements of every completed trial bound the projection: restricting them to
        # the trial's own schedule family was measured and not kept (benchmarks/bench_pruning.py):
        # all families' curves hold each family's own, and fewer curves prune more.
        pairs = [
            (t.intermediate_values[step], t.value)
            for t in done
            if step in t.intermediate_values
            and t.value is not None
            and math.isfinite(t.value)
            and math.isfinite(t.intermediate_values[step])
        ]
        if not pairs:
            return False
        if all(a > 0 and b > 0 for a, b in pairs) and value > 0:
            projected = value * min(b / a for a, b in pairs)
        else:
            projected = value + min(b - a for a, b in pairs)
        return bool(projected > float(np.median(finals)))
