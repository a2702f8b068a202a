"""What every trial of a study shares: the surplus marker and one training run."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["Surplus", "create_study", "train_once"]


class Surplus(Exception):
    """Raised inside a trial that another worker's trial made unnecessary."""


def train_once(
    task: Any,
    optimizer: str,
    schedule: Any,
    steps: int,
    seed: int,
    split: tuple[Any, Any] | None,
    on_eval: Callable[[int, float], None] | None = None,
) -> tuple[float, int]:
    """Train once (on fold ``split`` if given); ``(final val loss or inf, steps run)``."""
    from lrlab.train import run

    task = task if split is None else task.with_splits(*split)
    hist = run(
        task,
        optimizer,
        schedule=schedule,
        steps=steps,
        seed=seed,
        on_eval=on_eval,
        step_size_every=10**9,
    )
    loss = float(hist.final_val_loss)
    if hist.diverged or not math.isfinite(loss):
        loss = math.inf
    return loss, int(hist.steps)


def create_study(name: str, storage: Any, sampler: Any, pruner: Any) -> Any:
    """Create or load the minimizing study ``name``; two workers may create it at once."""
    import time

    import optuna

    def create() -> Any:
        return optuna.create_study(
            storage=storage,
            study_name=name,
            sampler=sampler,
            pruner=pruner,
            direction="minimize",
            load_if_exists=True,
        )

    for _ in range(4):
        try:
            return create()
        except optuna.exceptions.DuplicatedStudyError:  # the other one won: load it
            time.sleep(0.2)
    return create()
