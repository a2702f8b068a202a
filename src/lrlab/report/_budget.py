"""How much work each report section does: the default and ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget", "budget"]


@dataclass(frozen=True)
class Budget:
    """Training budgets of one report.

    ``steps``: updates per training run (None: the task's own budget);
    ``seeds``: seeds per configuration; ``trials``: trials per search sampler;
    ``cv``: folds per trial; ``search_steps``: updates per fold in the search;
    ``landscape_steps``: updates per path on the loss surface.
    """

    steps: int | None
    seeds: int
    trials: int
    cv: int
    search_steps: int | None
    landscape_steps: int = 50


def budget(quick: bool) -> Budget:
    """The default report's budget, or the small one of ``--quick``."""
    if quick:
        # 8 trials: TPE's first 5 are its random start-up, so it models 3.
        return Budget(steps=80, seeds=2, trials=8, cv=2, search_steps=40)
    return Budget(steps=None, seeds=3, trials=20, cv=3, search_steps=None)
