"""The pruner choice, and where each pruner may first look at a trial."""

from __future__ import annotations

from typing import Any

from lrlab.tune._projected import ProjectedPruner

__all__ = ["PRUNERS", "make_pruner"]

PRUNERS = ("none", "median", "projected", "hyperband", "successive_halving", "wilcoxon")


def make_pruner(name: str, cv: int | None, steps: int, eval_every: int, repeats: int) -> Any:
    """The Optuna pruner ``name`` (one of :data:`PRUNERS`).

    With ``cv`` a trial reports once per run (its resource is the run's index);
    without, at every evaluation, on one step axis across its runs (its resource
    is the step, ``eval_every`` apart).
    """
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "projected":
        return ProjectedPruner(n_startup_trials=3)
    if name == "median":
        # Without CV the steps are training steps: compare a trial with the others
        # only from half the run on.  Early in a run the larger LRs lead and the
        # curves of near-optimal LRs still cross (a smaller LR catches up, or a
        # larger one over-fits later), so an earlier median prunes the best LR.
        warmup = 0 if cv else steps // 2
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup)
    max_resource = cv * repeats if cv else steps * repeats
    min_resource = 1 if cv else min(eval_every, steps)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=max_resource, reduction_factor=3
        )
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource)
    return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=1)
