"""The sampler choice: the grid over a space, independent random draws, or TPE."""

from __future__ import annotations

from typing import Any

from lrlab.tune.space import Space

__all__ = ["SAMPLERS", "TPE_STARTUP_TRIALS", "make_sampler"]

SAMPLERS = ("grid", "random", "tpe")
#: TPE's first trials are independent random draws (Optuna's start-up): with
#: the same seed, exactly the draws of ``sampler="random"``.
TPE_STARTUP_TRIALS = 5


def make_sampler(name: str, space: Space, seed: int | None) -> Any:
    """The Optuna sampler ``name`` (one of :data:`SAMPLERS`) over ``space``."""
    import optuna

    if name == "grid":
        return optuna.samplers.GridSampler(space.grid_values(), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS)
