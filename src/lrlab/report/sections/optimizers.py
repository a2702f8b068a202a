"""Section 5: every optimizer at its own range-test rate, the LR-free ones at defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from lrlab.report._page import Figure_, Section, Table, fmt
from lrlab.report.sections._shared import Context, RangeTest, comparison_table, join

if TYPE_CHECKING:
    from lrlab.compare import Comparison

#: The optimizers compared, with their customary default rates (torch's, or the method
#: paper's; None: lrlab's default).  Those marked ``True`` need a rate and get their own.
OPTIMIZER_RUNS: tuple[tuple[str, str, float | None, bool], ...] = (
    ("SGD", "sgd", None, True),
    ("momentum", "momentum", None, True),
    ("Adagrad", "adagrad", 0.01, True),
    ("Adadelta", "adadelta", 1.0, True),
    ("RMSprop", "rmsprop", 1e-3, True),
    ("Adam", "adam", 1e-3, True),
    ("AdamW", "adamw", 1e-3, True),
    ("Prodigy (LR-free)", "prodigy", 1.0, False),
    ("D-Adapt Adam (LR-free)", "dadapt_adam", 1.0, False),
    ("Schedule-Free AdamW", "schedulefree_adamw", None, False),
)


class _Rates(NamedTuple):
    """The optimizers section's runs at range-test rates and at customary defaults, the
    rates (optimizer -> lr) of both, and the steps and number of range tests it ran."""

    runs: list[dict[str, Any]]
    defaults: list[dict[str, Any]]
    found: dict[str, float]
    base: dict[str, float]
    advice_steps: int
    tested_here: int


def _optimizer_rates(ctx: Context, finder: RangeTest) -> _Rates:
    """A range test per optimizer that takes a rate (momentum reuses section 6's)."""
    from lrlab.finder import advice_budget, find_lr_task
    from lrlab.train import DEFAULT_LR

    sweep, _ = advice_budget(ctx.steps)
    found = {"momentum": finder.lr}
    base: dict[str, float] = {}
    advice_steps = tested_here = 0
    runs, defaults = [], []
    n_tests = sum(t and n not in found for _, n, _, t in OPTIMIZER_RUNS)
    for label, name, default, tuned in OPTIMIZER_RUNS:
        if not tuned:
            runs.append({"optimizer": name, "label": label, "lr": default})
            continue
        base[name] = float(DEFAULT_LR[name] if default is None else default)
        if name not in found:
            res = find_lr_task(
                ctx.task, name, seed=ctx.seed, num_steps=sweep, quiet=ctx.quiet,
            )  # fmt: skip
            advice_steps += res.steps
            tested_here += 1
            ctx.advance(0.2 * tested_here / max(n_tests, 1))
            found[name] = float(res.suggestion.lr) if res.suggestion is not None else base[name]
        runs.append(
            {"optimizer": name, "lr": found[name], "label": f"{label} (lr {found[name]:.3g})"}
        )
        defaults.append({"optimizer": name, "lr": base[name], "label": label})
    return _Rates(runs, defaults, found, base, advice_steps, tested_here)


def _optimizer_table(
    cmp: Comparison, plain: Mapping[str, float], base: Mapping[str, float]
) -> Table:
    """The comparison's table, plus each optimizer's default rate and its loss there."""
    table = comparison_table(cmp, "optimizers")
    table.columns += ["default lr", "val loss at default lr"]
    for row, r in zip(table.rows, cmp.table):
        name = r.optimizer
        row += [base[name], plain[name]] if name in plain else ["—", "—"]
    return table


def optimizers(ctx: Context, finder: RangeTest) -> tuple[Section, Comparison]:
    """Each optimizer that needs a rate at its own range-test rate; the rest at defaults."""
    from lrlab.compare import compare

    rates = _optimizer_rates(ctx, finder)
    cmp = compare(
        ctx.task, rates.runs, seeds=ctx.seeds, steps=ctx.steps, quiet=ctx.quiet,
        progress=lambda done, total: ctx.advance(0.2 + 0.5 * done / total),
    )  # fmt: skip
    at_default = compare(
        ctx.task, rates.defaults, seeds=ctx.seeds, steps=ctx.steps, quiet=ctx.quiet,
        progress=lambda done, total: ctx.advance(0.7 + 0.3 * done / total),
    )  # fmt: skip
    blowups = _blowups(cmp)
    best = cmp.best
    lr_free = [r for r in cmp.table if "LR-free" in r.label]
    free_txt = "; ".join(f"{r.label}: {fmt(r.final_val_loss_mean)}" for r in lr_free)
    # What the range test bought each optimizer over its customary default rate.
    plain = {d.optimizer: d.final_val_loss_mean for d in at_default.table}
    better = sum(
        r.final_val_loss_mean < plain[r.optimizer] for r in cmp.table if r.optimizer in plain
    )
    advice_steps, tested_here = rates.advice_steps, rates.tested_here
    return Section(
        key="optimizers",
        title="5. Optimizers that adapt the step themselves",
        paragraphs=[
            "Adaptive optimizers divide each coordinate's step by a running measure of its "
            "gradient's size (Adagrad: all past squares; RMSprop and Adam: a moving average; "
            "Adadelta also rescales by past updates), so the step actually taken differs from "
            "the nominal rate. The effective step size ‖Δθ‖/‖g‖ below shows it: flat at the "
            "rate for SGD, moving for the adaptive ones. The learning-rate-free methods "
            "estimate the scale of the step themselves.",
            "To compare them fairly, every optimizer that takes a rate runs at its own "
            f"range-test suggestion (lrlab's rule; {advice_steps} training steps for the "
            f"{tested_here} range tests besides section 6's), the learning-rate-free ones and "
            f"Schedule-Free at their defaults. Best: {best.label} at "
            f"{fmt(best.final_val_loss_mean)}. Learning-rate-free at defaults — {free_txt}. "
            "The last columns train each of the others at its customary default rate instead: "
            f"its own range-test rate did better for {better} of {len(plain)}.",
            *([blowups.text] if blowups.text else []),
        ],
        figures=_optimizer_figures(cmp, blowups.labels),
        tables=[_optimizer_table(cmp, plain, rates.base)],
        data={
            "comparison": cmp.to_dict(histories=False),
            "at_default_lr": at_default.to_dict(histories=False),
            "range_test_lr": rates.found,
            "advice_steps": advice_steps,
            "blowups": blowups.rows,
        },
    ), cmp


def _optimizer_figures(cmp: Comparison, apart: list[str]) -> list[Figure_]:
    """Validation loss and effective step size per optimizer; the runaways (``apart``)
    get a panel of their own in both."""
    from lrlab.plots.training import plot_curves, plot_step_size

    loss = plot_curves(cmp.histories, what="val_loss", apart=apart)
    size = plot_step_size(cmp.histories)
    cmp.title(loss, "val_loss")
    cmp.title(size, "step_size")

    def caption(text: str, fig: Figure) -> str:
        if len(fig.axes) > 1 and apart:
            return f"{text}; {join(apart)} in a panel of their own, on their own scale."
        return text + "."

    return [
        Figure_("optimizers-val-loss", loss, caption("Validation loss per optimizer", loss)),
        Figure_(
            "optimizers-step-size",
            size,
            caption("Effective step size ‖Δθ‖/‖g‖ per optimizer (log scale)", size),
        ),
    ]


class _Blowups(NamedTuple):
    """The optimizers whose step ran away: their labels, numbers and a paragraph."""

    labels: list[str]
    rows: list[dict[str, Any]]
    text: str


def _blowups(cmp: Comparison) -> _Blowups:
    """Optimizers whose effective step ran away (more than 1000x the median level of all):
    how far, and what it did to their validation loss and metric, in words."""
    from lrlab.plots.training import outliers, step_sizes

    with np.errstate(all="ignore"):
        means = {label: np.nanmean(r, axis=0) for label, r in step_sizes(cmp.histories).items()}
    far = outliers(means)
    if not far or len(far) == len(means):
        return _Blowups([], [], "")
    rows = {r.label: r for r in cmp.table}
    typical = float(np.median([np.nanmedian(v) for k, v in means.items() if k not in far]))
    facts, data, peaks = [], [], []
    for label in far:
        peak = float(np.nanmax(means[label]))
        peaks.append(peak)
        r = rows[label]
        data.append({"label": label, "peak_step_size": peak, "typical_others": typical})
        facts.append(
            f"{label} peaked at {peak:.2g} (validation loss {fmt(r.final_val_loss_mean)}, "
            f"{cmp.metric_name} {fmt(r.final_val_metric_mean)})"
        )
    rest = [r.final_val_metric_mean for k, r in rows.items() if k not in far]
    best_metric = max(rest) if cmp.greater_is_better else min(rest)
    kept = all(
        np.isfinite(rows[k].final_val_metric_mean)
        and abs(rows[k].final_val_metric_mean - best_metric) <= 0.1 * abs(best_metric)
        for k in far
    )
    why = (
        "Such steps throw the weights far out: most predictions can still come out right, "
        f"which keeps the {cmp.metric_name} within 10% of the best, but the wrong ones are "
        "wrong by a huge margin (with huge confidence), and the loss charges that heavily."
        if kept
        else "Such steps throw the weights far out, and the loss shows it."
    )
    text = (
        f"{join(far)} blew up: their estimate of the step's scale kept growing until "
        f"‖Δθ‖/‖g‖ ran {math.log10(max(peaks) / typical):.0f} orders "
        f"of magnitude above the others' (about {typical:.2g}) — " + "; ".join(facts) + ". "
        f"{why} Their step sizes have a panel of their own in the figure, so the others "
        "stay readable."
    )
    return _Blowups(far, data, text)
