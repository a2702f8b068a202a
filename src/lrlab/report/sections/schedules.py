"""Section 4: seven schedules and reduce-on-plateau on real training, over seeds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from lrlab.report._page import Figure_, Section, fmt
from lrlab.report.sections._shared import Context, RangeTest, comparison_table, join, ratio, ties
from lrlab.schedules import (
    Schedule,
    constant,
    cosine,
    exponential,
    inverse_time,
    one_cycle,
    reduce_on_plateau,
    step,
    wsd,
)

if TYPE_CHECKING:
    from lrlab.compare import Comparison


def schedule_family(lr: float, steps: int) -> dict[str, Schedule]:
    """The report's seven schedules, all peaking at ``lr`` and spanning ``steps``."""
    return {
        "fixed": constant(lr),
        "step": step(lr, 0.5, max(1, steps // 4)),
        "exponential": exponential(lr, math.log(100.0) / steps),
        "1/t": inverse_time(lr, 9.0 / steps),
        "cosine": cosine(lr, steps),
        "one-cycle": one_cycle(lr, steps),
        "warmup-stable-decay": wsd(lr, steps, max(1, steps // 20)),
    }


def _schedule_verdict(cmp: Comparison, n_seeds: int) -> str:
    """Which schedules won, and by how much against the fixed rate, in words."""
    best = cmp.best
    fixed = next(r for r in cmp.table if r.label == "fixed")
    tie = ties(cmp.table)
    spread = (
        f"within {best.label}'s seed spread (± {fmt(best.final_val_loss_std)})"
        if n_seeds > 1
        else "equal to it"
    )
    if len(tie) > 1:
        names = join([t.label for t in tie])
        verdict = (
            f"{names[0].upper()}{names[1:]} are tied: {best.label} ended lowest, at "
            f"{fmt(best.final_val_loss_mean)}, and the others' mean final losses are "
            f"{spread}."
        )
        if all(t.label != "fixed" for t in tie):
            verdict += (
                f" The fixed rate ended at {fmt(fixed.final_val_loss_mean)} "
                f"({ratio(fixed.final_val_loss_mean, best.final_val_loss_mean)})."
            )
        return verdict
    if best.label != "fixed":
        return (
            f"The fixed rate finished at {fmt(fixed.final_val_loss_mean)}; the best decay, "
            f"{best.label}, at {fmt(best.final_val_loss_mean)} "
            f"({ratio(fixed.final_val_loss_mean, best.final_val_loss_mean)}), outside "
            "every other schedule's reach."
        )
    return (
        "Here the fixed rate won, and no decay came within its seed spread: at this "
        "budget no decay helped."
    )


def _schedule_figures(cmp: Comparison, n_seeds: int) -> list[Figure_]:
    """Validation loss, training loss and rate: one panel per schedule."""
    from lrlab.plots.training import plot_small_multiples

    others = f"(grey: the others), {n_seeds} seed(s)"
    shown = [  # (what, figure name, title, caption)
        (
            "val_loss",
            "schedules-val-loss",
            f"validation loss of each schedule {others}",
            "Validation loss, one panel per schedule (mean over seeds, band min–max), "
            "the other schedules in grey behind it.",
        ),
        (
            "train_loss",
            "schedules-loss",
            f"training loss of each schedule, smoothed {others}",
            "Training loss, one panel per schedule (a moving mean over a fiftieth of the "
            "run; band min–max over seeds), the other schedules in grey behind it.",
        ),
        (
            "lr",
            "schedules-lr",
            "the learning rate each schedule ran with",
            "The learning rate each schedule ran with, one panel each (reduce-on-plateau: "
            "one line per seed that lowered its rate at other steps).",
        ),
    ]
    figures = []
    for what, name, title, caption in shown:
        fig = plot_small_multiples(cmp.histories, what=what)
        fig.suptitle(f"{cmp.task}: {title}")
        fig.tight_layout()
        figures.append(Figure_(name, fig, caption))
    return figures


def _plateau_note(cmp: Comparison) -> tuple[list[int], str]:
    """The step at which reduce-on-plateau first lowered its rate on each seed, in words."""
    hs = cmp.histories["reduce-on-plateau"]
    firsts = [int(np.argmax(h.lr < h.lr[0])) for h in hs if len(h.lr) and h.lr.min() < h.lr[0]]
    if firsts:
        return firsts, (
            f"Reduce-on-plateau lowered its rate in {len(firsts)} of {len(hs)} seeds, first "
            f"at step {min(firsts)}."
        )
    return firsts, (
        "Reduce-on-plateau never lowered its rate here: the validation loss kept "
        "improving, so it ran as the fixed rate did."
    )


def schedules_on_training(ctx: Context, finder: RangeTest) -> tuple[Section, Comparison]:
    """The report's schedules, peaking at the range test's rate, trained on every seed."""
    from lrlab.compare import compare

    lr = finder.lr
    runs: list[dict[str, Any]] = [
        {"optimizer": "momentum", "schedule": s, "label": name}
        for name, s in schedule_family(lr, ctx.steps).items()
    ]
    # Driven by the validation loss rather than the step: halve the rate after two
    # evaluations in a row without improvement.
    plateau = reduce_on_plateau(lr, factor=0.5, patience=1)
    runs.append({"optimizer": "momentum", "schedule": plateau, "label": "reduce-on-plateau"})
    # 40 validation checks per run: finer curves, and enough checks for the plateau rule to act.
    every = max(1, ctx.steps // 40)
    cmp = compare(
        ctx.task, runs, seeds=ctx.seeds, steps=ctx.steps, eval_every=every, quiet=ctx.quiet,
        progress=lambda done, total: ctx.advance(done / total),
    )  # fmt: skip
    figures = _schedule_figures(cmp, len(ctx.seeds))
    firsts, plateau_note = _plateau_note(cmp)
    return Section(
        key="schedules",
        title="4. Schedules on real training",
        paragraphs=[
            f"Seven schedules train the same model on {ctx.task.name} with SGD + momentum for "
            f"{ctx.steps} steps, over {len(ctx.seeds)} seeds, all peaking at the range test's "
            f"suggestion lr = {lr:.3g}. Curves show the mean over seeds with a min–max band. "
            "An eighth run, reduce-on-plateau, follows no formula of the step: it starts at the "
            "same rate and halves it whenever the validation loss, checked every "
            f"{every} steps, has not improved for two checks in a row, so each "
            "seed can lower its rate at other steps (its thin lines in the rate figure).",
            f"{_schedule_verdict(cmp, len(ctx.seeds))} {plateau_note} Spread over seeds is the "
            "± column; 'steps to target' counts the updates until the validation loss first "
            "came within 10% of the winner's final loss.",
        ],
        figures=figures,
        tables=[comparison_table(cmp)],
        data={
            "lr": lr,
            "comparison": cmp.to_dict(histories=False),
            "plateau_first_reductions": firsts,
        },
    ), cmp
