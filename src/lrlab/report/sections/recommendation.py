"""Section 8: what to use on this task, each claim with the number behind it."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lrlab.report._page import Section, Table, fmt
from lrlab.report.sections._copy import RULE, Choice, choose, code
from lrlab.report.sections._shared import Context, RangeTest, SearchBest, join, ties

if TYPE_CHECKING:
    from lrlab.compare import Comparison


def _rate_advice(
    ctx: Context, finder: RangeTest, search: SearchBest | None
) -> tuple[list[str], list[list[Any]]]:
    """The rate to use: the search's when there is one, the range test's otherwise."""
    res, lr, s = finder.result, finder.lr, finder.result.suggestion
    if s is None:
        return [], []
    cheap = (
        f"the range test's lr ≈ {lr:.3g} ({s.span(' … ')}) cost {res.steps} training "
        f"steps, {res.steps / ctx.steps:.0%} of one run"
    )
    if search is None:
        return (
            [f"Learning rate: for SGD + momentum start from lr ≈ {lr:.3g}; {cheap}."],
            [["learning rate", f"{lr:.3g}", f"range test, {res.steps} steps"]],
        )
    length = (
        "the length of the run it is for"
        if search.steps_per_fold == ctx.steps
        else f"{search.steps_per_fold} steps per fold"
    )
    inside = "inside" if s.low <= search.lr <= s.high else "outside"
    line = (
        f"Learning rate: the search's choice for SGD + momentum is lr {search.lr:.3g}, "
        f"picked by training at "
        f"{length} with {search.cv}-fold cross-validation, which asks the question "
        f"directly, and it cost {search.steps} steps. By comparison, {cheap}: that "
        "is the value to start from when a search costs too much. Here the two differ "
        f"by {max(search.lr, lr) / min(search.lr, lr):.2g}×, and the search's choice lies "
        f"{inside} the range test's range."
    )
    item = [
        "learning rate",
        f"{search.lr:.3g} (search)",
        f"{search.cv}-fold search, {search.steps} steps; the range test's "
        f"{lr:.3g} took {res.steps} steps",
    ]
    return [line], [item]


def _schedule_advice(schedules: Comparison) -> tuple[str, list[Any]]:
    """The schedule to use, or the ones tied within the winner's seed spread."""
    sched = schedules.best
    tie = ties(schedules.table)
    names = ", ".join(t.label for t in tie)
    pm = (
        f" ± {fmt(sched.final_val_loss_std)} over {sched.seeds} seeds"
        if sched.seeds > 1
        else " (one seed)"
    )
    if len(tie) > 1:
        line = (
            f"Schedule: {join([t.label for t in tie])} are tied. "
            f"{sched.label[0].upper()}{sched.label[1:]} reached the lowest "
            "validation loss, "
            f"{fmt(sched.final_val_loss_mean)}{pm}, and the others are within that "
            "spread of it: at this budget the choice among them matters less than the "
            "learning rate."
        )
    else:
        line = (
            f"Schedule: {sched.label} won clearly, "
            f"{fmt(sched.final_val_loss_mean)}{pm}; every other schedule ended outside "
            "that spread."
        )
    item = [
        "schedule",
        f"tied: {names}" if len(tie) > 1 else sched.label,
        f"val loss {fmt(sched.final_val_loss_mean)}",
    ]
    return line, item


def _optimizer_advice(optimizers: Comparison) -> tuple[str, list[Any]]:
    """The optimizer that did best, and those within its seed spread."""
    opt = optimizers.best
    others = [t.label for t in ties(optimizers.table) if t.label != opt.label]
    line = (
        f"Optimizer: {opt.label} did best at its rate (validation loss "
        f"{fmt(opt.final_val_loss_mean)})"
        + (f"; within its seed spread: {', '.join(others)}." if others else ".")
    )
    return line, ["optimizer", opt.label, f"val loss {fmt(opt.final_val_loss_mean)}"]


def recommendation(
    ctx: Context,
    finder: RangeTest,
    schedules: Comparison,
    optimizers: Comparison,
    search: SearchBest | None,
) -> Section:
    """What to use on this task, each claim with the number behind it."""
    lines, items = _rate_advice(ctx, finder, search)
    for line, item in (_schedule_advice(schedules), _optimizer_advice(optimizers)):
        lines.append(line)
        items.append(item)
    if search is not None:
        lines.append(
            f"Search: the best configuration, found by {search.sampler}, was "
            f"{search.config} with cross-validated loss {fmt(search.value)}."
        )
        items.append(["search best", search.config, f"cv loss {fmt(search.value)}"])
    lines.append(
        "These hold for this task, this model and these budgets; re-run with `--task` or "
        "another `--seed` to see how far they carry."
    )
    pick = choose(schedules, optimizers)
    if pick is not None:
        lines.append(f"One configuration to copy. The rule: {RULE} {_picked(pick)}")
        items.append(["to copy", pick.describe(), _measured(pick)])
    return Section(
        key="recommendation",
        title="8. Recommendation",
        paragraphs=lines,
        tables=[Table("recommendation", "In short", ["what", "choice", "evidence"], items)],
        code=code(pick) if pick is not None else [],
        data={"items": items, "choice": None if pick is None else asdict(pick)},
    )


def _measured(pick: Choice) -> str:
    spread = f" ± {fmt(pick.std, 2)} over {pick.seeds} seeds" if pick.seeds > 1 else " (one seed)"
    return f"val loss {fmt(pick.mean)}{spread}"


def _picked(pick: Choice) -> str:
    """The configuration the rule picked, in words, with its uncertainty."""
    why = (
        "the lowest outright" if pick.tied == 1
        else f"the simplest of {pick.tied} configurations tied within the best's seed spread"
    )  # fmt: skip
    return (
        f"Here that is {pick.describe()} ({why}): {_measured(pick)}, as the lrlab schedule "
        f"`{pick.schedule}`. The lines below use it."
    )
