"""What the sections share: the context, the results handed on, and a few words and tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from lrlab.plots._tied import tied
from lrlab.report._budget import Budget
from lrlab.report._page import Table

if TYPE_CHECKING:
    from lrlab.compare import CompareRow, Comparison
    from lrlab.finder import FinderResult
    from lrlab.tasks import Task

__all__ = ["Context", "RangeTest", "SearchBest", "comparison_table", "join", "ratio", "ties"]


@dataclass
class Context:
    """What every section reads: the task, the seed and the budget."""

    task_name: str
    seed: int
    budget: Budget
    quiet: bool = True
    #: Called with the fraction (0..1) of the running section done: moves the progress bar.
    advance: Callable[[float], None] = field(default=lambda fraction: None)

    @cached_property
    def task(self) -> Task:
        from lrlab.tasks import get

        return get(self.task_name)

    @property
    def steps(self) -> int:
        """Updates per training run: the budget's, or the task's own."""
        return int(self.budget.steps or self.task.steps)

    @property
    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.budget.seeds)]


@dataclass(frozen=True)
class RangeTest:
    """What the range test hands on: its result, and the rate the schedules and the
    recommendation start from (its suggestion, or 0.01 when the sweep gave none)."""

    result: FinderResult
    lr: float


@dataclass(frozen=True)
class SearchBest:
    """The best configuration any sampler of the search found."""

    sampler: str
    lr: float
    value: float
    config: str
    steps: int
    steps_per_fold: int
    cv: int


def ties(table: list[CompareRow]) -> list[CompareRow]:
    """Rows whose mean final loss is within the winner's seed spread (std) of it."""
    names = tied({r.label: (r.final_val_loss_mean, r.final_val_loss_std) for r in table})
    return [r for r in table if r.label in names]


def join(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def ratio(a: float, b: float) -> str:
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return "no finite ratio"
    return f"{a / b:.2f}× lower" if a > b else f"{b / a:.2f}× higher"


def comparison_table(cmp: Comparison, name: str = "schedules") -> Table:
    """Final validation loss, its spread, the metric and the steps to target per run."""
    metric = cmp.metric_name
    # One seed has no spread: a dash, not "± 0".  Steps are counted in whole updates.
    rows = [
        [r.label, r.final_val_loss_mean, r.final_val_loss_std if r.seeds - r.diverged > 1 else None,
         r.final_val_metric_mean,
         None if r.steps_to_target_mean is None else round(r.steps_to_target_mean), r.diverged]
        for r in cmp.table
    ]  # fmt: skip
    return Table(
        name,
        f"{cmp.task}: final validation loss and {metric}, mean over seeds ('steps to target':"
        " mean over the seeds that got there, rounded to a whole step)",
        ["run", "val loss", "± (std)", f"val {metric}", "steps to target", "diverged"],
        rows,
        digits={"± (std)": 2},
    )
