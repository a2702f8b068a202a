"""The report's sections, each a function of typed inputs.

Every section takes the :class:`Context` (task, seed, budget) and, when it builds
on an earlier section, that section's typed output as an argument: the range
test's :class:`RangeTest`, the schedules' and optimizers'
:class:`~lrlab.compare.Comparison`, the search's :class:`SearchBest`.  Nothing is
shared through a dict, so a missing upstream result is a call that cannot be
made rather than a silent default.  Every section runs real training through
the public lrlab API and returns a :class:`~lrlab.report._page.Section`: prose
built from the measured numbers, figures, tables, and the raw numbers for
``results.json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from lrlab.report._budget import Budget
from lrlab.report._page import Figure_, Section, Table, fmt
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
    from lrlab.compare import CompareRow, Comparison
    from lrlab.finder import FinderResult
    from lrlab.landscape import LandscapeResult
    from lrlab.tasks import Task
    from lrlab.tune import TuneResult

__all__ = ["Context", "RangeTest", "SearchBest", "schedule_family"]


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


# -- 1. the three decay strategies ---------------------------------------------


def decay_strategies(ctx: Context) -> Section:
    from lrlab.plots.schedules import plot_schedules, source_schedules

    scheds = source_schedules()
    epochs = [0, 10, 20, 30, 40, 49]
    rows = [[label.split(":")[0], *(s(e) for e in epochs)] for label, s in scheds.items()]
    fig = plot_schedules(
        scheds, 50, title="Three decay strategies (initial LR 0.1)", xlabel="epoch"
    )
    s_step, s_exp, s_inv = scheds.values()
    return Section(
        key="decay",
        title="1. Three ways to decay the learning rate",
        paragraphs=[
            "A schedule lowers the learning rate as training goes on: large steps early to "
            "make progress, small steps late to settle into a minimum instead of bouncing "
            "around it. Here are the three classic decays, each starting from 0.1, over 50 "
            "epochs.",
            f"Step decay halves the rate every 10 epochs and ends at {s_step(49):.4g}; "
            f"exponential decay with k = 0.1 falls fastest and ends at {s_exp(49):.3g}; 1/t "
            f"decay falls quickly at first but keeps a long tail and ends at {s_inv(49):.3g}, "
            f"{s_inv(49) / s_exp(49):.1f}× the exponential's final rate.",
        ],
        formulas=[
            "step:        lr(t) = 0.1 · 0.5^⌊t/10⌋        step(0.1, 0.5, 10)",
            "exponential: lr(t) = 0.1 · e^(−0.1·t)        exponential(0.1, 0.1)",
            "1/t:         lr(t) = 0.1 / (1 + 0.1·t)       inverse_time(0.1, 0.1)",
        ],
        figures=[Figure_("decay-strategies", fig, "LR per epoch for the three decays.")],
        tables=[
            Table(
                "decay-strategies",
                "Learning rate at selected epochs",
                ["schedule", *(f"epoch {e}" for e in epochs)],
                rows,
            )
        ],
        data={
            "schedules": {label: str(s) for label, s in scheds.items()},
            "values": {label: s(np.arange(50)).tolist() for label, s in scheds.items()},
        },
    )


# -- 2. the decay factor ----------------------------------------------------------


def decay_factor(ctx: Context) -> Section:
    from lrlab.plots.schedules import plot_decay_factor

    ks = (0.05, 0.1, 0.2)
    fig = plot_decay_factor(ks, steps=50)
    rows = [[k, math.log(2) / k, exponential(0.1, k)(10), exponential(0.1, k)(49)] for k in ks]
    return Section(
        key="factor",
        title="2. The effect of the decay factor",
        paragraphs=[
            "The decay factor k sets how fast the exponential schedule 0.1 · e^(−k t) shrinks: "
            "the rate halves every ln 2 / k epochs. "
            f"With k = {ks[0]} the rate after 10 epochs is still {rows[0][2]:.3g}; with "
            f"k = {ks[2]} it is already {rows[2][2]:.3g}. Too large a factor freezes training "
            "before it has arrived; too small a factor never lets it settle.",
        ],
        figures=[Figure_("decay-factor", fig, "Exponential decay for three values of k.")],
        tables=[
            Table(
                "decay-factor",
                "Exponential decay 0.1 · e^(−k t)",
                ["k", "half-life (epochs)", "lr at epoch 10", "lr at epoch 49"],
                rows,
            )
        ],
        data={"k": list(ks), "rows": rows},
    )


# -- 3. fixed LR on a loss surface ----------------------------------------------------


def _paths(result: LandscapeResult, subtitles: list[str], title: str, **kw: Any) -> Figure:
    """The three paths of ``result`` side by side, each panel titled by its regime."""
    from lrlab.plots.landscape import plot_trajectories

    fig = plot_trajectories(result)
    for ax, regime, sub in zip(fig.axes, ("too small", "near the best", "too large"), subtitles):
        ax.set_title(f"{regime}\n{sub}", fontsize=10)
    fig.suptitle(title, **kw)
    fig.tight_layout()
    return fig


def _rosenbrock(steps: int) -> tuple[Figure, list[dict[str, Any]], str]:
    """SGD's paths on Rosenbrock's valley at three rates: the figure, each path's
    summary, and the paragraph that reads them."""
    from lrlab.landscape import trajectories

    ros = trajectories("rosenbrock", "sgd", [2e-4, 2e-3, 4e-3], steps=steps)
    rows = ros.summary()
    small, good, large = rows
    fig = _paths(
        ros,
        [f"lr={r['lr']:g}, ends {r['distance']:.2g} from ★" for r in rows],
        f"SGD on Rosenbrock's valley, {ros.steps} steps from (−1.2, 1); ★ is the minimum (1, 1)",
        fontsize=11,
    )
    end = (
        "diverges"
        if large["diverged"]
        else f"stalls {large['distance']:.2g} away, short of the smaller rate"
    )
    text = (
        "Rosenbrock's function has a narrow curved valley whose floor falls only gently "
        "to the minimum at (1, 1): across the valley the curvature is hundreds of times "
        "larger than along it, so a single rate must be small for the walls and is then "
        f"tiny for the floor. In {ros.steps} steps of SGD, the small rate "
        f"(lr = {small['lr']:g}) has only slid down into the valley, still "
        f"{small['distance']:.2g} from the minimum; the rate near the best "
        f"(lr = {good['lr']:g}) drops into the valley and follows its floor round, "
        f"ending {good['distance']:.2g} away; the large rate "
        f"(lr = {large['lr']:g}) overshoots across the steep walls, zig-zags and {end}. "
        "Past about lr = 0.006 the first steps already leave the frame and diverge."
    )
    return fig, rows, text


def landscape(ctx: Context) -> Section:
    from lrlab.landscape import get_function, trajectories

    surface = get_function("quadratic", mu=1.0, L=10.0)
    edge, best = surface.stable_lr, surface.optimal_lr
    assert edge is not None and best is not None
    lrs = [round(0.1 * edge, 6), round(best, 6), round(1.05 * edge, 6)]
    steps = ctx.budget.landscape_steps
    res = trajectories(surface, "sgd", lrs, steps=steps)
    fig = _paths(
        res,
        [res.label(i) for i in range(len(lrs))],
        f"Gradient descent on a quadratic bowl, μ = 1, L = 10: 2/L = {edge:g}, "
        f"2/(L+μ) = {best:.4g}",
    )
    summary = res.summary()
    small, good, large = summary
    rows = [
        [lr, lr / edge, surface.rate(lr), r["loss"], r["distance"], r["diverged"]]
        for lr, r in zip(lrs, summary)
    ]
    # Rosenbrock's valley is curved and flat along its floor: gradient descent needs
    # thousands of steps to follow it, so the paths get 60 times the bowl's.
    fig2, ros_rows, ros_text = _rosenbrock(steps * 60)
    return Section(
        key="landscape",
        title="3. A fixed learning rate on a loss surface",
        paragraphs=[
            "On a quadratic bowl with curvatures μ = 1 and L = 10, gradient descent with a "
            "fixed rate lr multiplies the error along each axis by |1 − lr·λ| per step. It "
            f"converges exactly when lr < 2/L = {edge:g}, and fastest at lr = 2/(L+μ) = "
            f"{best:.4g}, where both axes shrink by ρ = (L−μ)/(L+μ) = {surface.rate(best):.3f}.",
            f"Too small (lr = {lrs[0]:g}) crawls: after {steps} steps it is still "
            f"{small['distance']:.3g} from the minimum. Near the optimum (lr = {lrs[1]:g}) it "
            f"arrives ({good['distance']:.2g} away). Just past 2/L (lr = {lrs[2]:g}) the steep "
            f"axis overshoots more each step and the iterate "
            f"{'diverges' if large['diverged'] else 'oscillates ever wider'}: "
            f"{large['distance']:.3g} away after {large['steps']} steps.",
            ros_text,
        ],
        figures=[
            Figure_("landscape-quadratic", fig, "Paths of gradient descent for three LRs."),
            Figure_("landscape-rosenbrock", fig2, "SGD paths on the Rosenbrock function."),
        ],
        tables=[
            Table(
                "landscape",
                "Gradient descent on the quadratic, measured against theory",
                ["lr", "lr / (2/L)", "ρ (theory)", "final loss", "distance to min", "diverged"],
                rows,
            )
        ],
        data={
            "mu": surface.params["mu"],
            "L": surface.params["L"],
            "stable_lr": edge,
            "optimal_lr": best,
            "quadratic": summary,
            "rosenbrock": ros_rows,
        },
    )


# -- 6. the range test (run before 4, whose peak LR it chooses) -----------------------


class _Trained(NamedTuple):
    """One rule's suggestion trained on every seed (mean: ``inf`` if a seed diverged)."""

    rule: str
    lr: float
    val_losses: list[float]
    mean: float
    diverged: int


def _train_suggestions(ctx: Context, res: FinderResult) -> list[_Trained]:
    """Train each rule's suggestion for a run's length on every seed."""
    from lrlab.train import run

    out = []
    for name, sug in res.suggestions.items():
        lr = float(sug.lr)
        losses = [
            run(ctx.task, "momentum", lr=lr, steps=ctx.steps, seed=s, quiet=True).final_val_loss
            for s in ctx.seeds
        ]
        mean = float(np.mean(losses)) if all(np.isfinite(losses)) else math.inf
        out.append(_Trained(name, lr, losses, mean, sum(not np.isfinite(v) for v in losses)))
        ctx.advance(0.3 + 0.7 * len(out) / len(res.suggestions))
    return out


def _sweep(ctx: Context) -> FinderResult:
    """The range test of SGD + momentum on the task, with lrlab's advice."""
    from lrlab.finder import advice_budget, find_lr_task

    sweep, _ = advice_budget(ctx.steps)
    # At least 100 steps, two per 1.2x of rate over 10⁻⁶…10: a curve a reader can
    # follow, and one the rules' smoothing does not swallow.  The race keeps the steps
    # it has at the default budget, so the longer sweep is paid on top of it.
    extra = max(100 - sweep, 0)
    budget = 0.25 + extra / ctx.task.steps
    return find_lr_task(
        ctx.task, "momentum", seed=ctx.seed, num_steps=sweep + extra, budget=budget, quiet=ctx.quiet
    )


def range_test(ctx: Context) -> tuple[Section, RangeTest]:
    task = ctx.task
    res = _sweep(ctx)
    ctx.advance(0.3)
    fig = res.plot()
    assert isinstance(fig, Figure)
    trained = _train_suggestions(ctx, res)
    ours = res.suggestion
    lr = float(ours.lr) if ours is not None else 0.01
    best_row = min(trained, key=lambda t: t.mean)
    beta = float(res.settings.get("beta", 0.98))
    if ours is None:
        span = "no range (the sweep was too short)"
    else:
        span = f"its range {ours.low:.3g} … {ours.high:.3g}"
    why = f" How it got there: {res.advice.reason}." if res.advice is not None else ""
    return Section(
        key="finder",
        title="6. The LR range test",
        paragraphs=[
            f"The range test trains {task.name} with SGD + momentum while the rate grows "
            f"exponentially from 10⁻⁶ to 10, recording the loss; it stopped ({res.stop_reason}) "
            f"at lr = {res.stop_lr:.3g} after {len(res.lrs)} steps. The peers' rules (fastai, "
            "Lightning, torch-lr-finder) read a suggestion off an exponential moving average "
            f"of the loss (β = {beta:g}, the dashed curve), which trails the raw loss by some "
            f"1/(1 − β) = {1 / (1 - beta):.0f} steps and so bottoms out at a larger rate than "
            "the loss does; lrlab's rule reads a centered mean without that lag (the thick "
            "curve). "
            "Each suggestion is labelled on its line and was then trained for "
            f"{ctx.steps} steps on {len(ctx.seeds)} seed(s) (the table).",
            f"lrlab's suggestion is lr = {lr:.3g}, with {span}; it spent {res.steps} "
            f"training steps in all ({res.steps / ctx.steps:.0%} of one training run).{why} The "
            f"lowest validation loss came from the {best_row.rule!r} rule "
            f"(lr = {best_row.lr:.3g}, loss {fmt(best_row.mean)}).",
        ],
        figures=[
            Figure_(
                "range-test",
                fig,
                "Training loss against the rate during the sweep: grey dots each batch, the "
                "thick curve the centered mean lrlab reads, the dashed one the lagging EMA the "
                "peers read; the shaded band is lrlab's range.",
            )
        ],
        tables=[
            Table(
                "range-test",
                f"Each suggestion trained for {ctx.steps} steps (mean over seeds)",
                ["rule", "lr", "final val loss", "diverged seeds"],
                [[t.rule, t.lr, t.mean, t.diverged] for t in trained],
            )
        ],
        data={
            "result": res.to_dict(),
            "trained": [{"rule": t.rule, "lr": t.lr, "val_losses": t.val_losses} for t in trained],
        },
    ), RangeTest(result=res, lr=lr)


# -- 4. schedules on real training ----------------------------------------------------


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
    ties = _ties(cmp.table)
    spread = (
        f"within {best.label}'s seed spread (± {fmt(best.final_val_loss_std)})"
        if n_seeds > 1
        else "equal to it"
    )
    if len(ties) > 1:
        names = _join([t.label for t in ties])
        verdict = (
            f"{names[0].upper()}{names[1:]} are tied: {best.label} ended lowest, at "
            f"{fmt(best.final_val_loss_mean)}, and the others' mean final losses are "
            f"{spread}."
        )
        if all(t.label != "fixed" for t in ties):
            verdict += (
                f" The fixed rate ended at {fmt(fixed.final_val_loss_mean)} "
                f"({_ratio(fixed.final_val_loss_mean, best.final_val_loss_mean)})."
            )
        return verdict
    if best.label != "fixed":
        return (
            f"The fixed rate finished at {fmt(fixed.final_val_loss_mean)}; the best decay, "
            f"{best.label}, at {fmt(best.final_val_loss_mean)} "
            f"({_ratio(fixed.final_val_loss_mean, best.final_val_loss_mean)}), outside "
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
        tables=[_comparison_table(cmp)],
        data={
            "lr": lr,
            "comparison": cmp.to_dict(histories=False),
            "plateau_first_reductions": firsts,
        },
    ), cmp


def _join(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _ratio(a: float, b: float) -> str:
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return "no finite ratio"
    return f"{a / b:.2f}× lower" if a > b else f"{b / a:.2f}× higher"


def _comparison_table(cmp: Comparison, name: str = "schedules") -> Table:
    metric = cmp.metric_name
    # One seed has no spread: a dash, not "± 0".  Steps are counted in whole updates.
    rows = [
        [
            r.label,
            r.final_val_loss_mean,
            r.final_val_loss_std if r.seeds - r.diverged > 1 else None,
            r.final_val_metric_mean,
            None if r.steps_to_target_mean is None else round(r.steps_to_target_mean),
            r.diverged,
        ]
        for r in cmp.table
    ]
    return Table(
        name,
        f"{cmp.task}: final validation loss and {metric}, mean over seeds ('steps to target':"
        " mean over the seeds that got there, rounded to a whole step)",
        ["run", "val loss", "± (std)", f"val {metric}", "steps to target", "diverged"],
        rows,
        digits={"± (std)": 2},
    )


# -- 5. optimizers ------------------------------------------------------------------------

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
    table = _comparison_table(cmp, "optimizers")
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
            return f"{text}; {_join(apart)} on the right, on a scale of their own."
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
        f"{_join(far)} blew up: their estimate of the step's scale kept growing until "
        f"‖Δθ‖/‖g‖ ran {math.log10(max(peaks) / typical):.0f} orders "
        f"of magnitude above the others' (about {typical:.2g}) — " + "; ".join(facts) + ". "
        f"{why} Their step sizes have a panel of their own in the figure, so the others "
        "stay readable."
    )
    return _Blowups(far, data, text)


# -- 7. grid vs random vs Bayesian search --------------------------------------------------

SAMPLER_NAMES = {"grid": "grid search", "random": "random search", "tpe": "Bayesian (TPE)"}


def _schedule_name(family: str) -> str:
    """The page's name of a search space's schedule family: one name per schedule
    across sections (the search's ``constant`` is the schedules section's ``fixed``)."""
    return {"constant": "fixed"}.get(family, family)


class _SamplerRow(NamedTuple):
    """One sampler's line of the search table."""

    label: str
    trials: int
    pruned: int
    steps: int
    best_value: float
    best_lr: float
    schedule: str


def _sampler_row(label: str, res: TuneResult) -> _SamplerRow:
    best, pruned = res.best, sum(r.state == "PRUNED" for r in res.trials)
    if best is None or best.value is None or best.lr is None:
        return _SamplerRow(label, len(res.trials), pruned, res.total_steps, math.inf, math.nan, "—")
    return _SamplerRow(label, len(res.trials), pruned, res.total_steps, best.value,
                       best.lr, _schedule_name(str(best.schedule)))  # fmt: skip


def _run_searches(ctx: Context, space: Any, steps: int) -> dict[str, TuneResult]:
    """The same space searched by each sampler (sampler -> result), in a temporary study."""
    import tempfile

    from lrlab.tune import tune

    b = ctx.budget
    results = {}
    with tempfile.TemporaryDirectory(prefix="lrlab-report-search-") as tmp:
        for k, sampler in enumerate(SAMPLER_NAMES):
            ctx.advance(k / len(SAMPLER_NAMES))
            results[sampler] = tune(
                ctx.task,
                sampler=sampler,
                trials=b.trials,
                cv=b.cv,
                pruner="median",
                space=space,
                steps=steps,
                seed=ctx.seed,
                run_dir=tmp,
                study=f"report-{sampler}",
                quiet=True,
            )
    return results


def _search_best(results: Mapping[str, TuneResult], steps: int, cv: int) -> SearchBest | None:
    """The best trial any sampler found (the first sampler's on a tie)."""
    found: SearchBest | None = None
    for sampler, res in results.items():
        best = res.best
        if best is None or best.value is None or best.lr is None:
            continue
        if found is not None and best.value >= found.value:
            continue
        found = SearchBest(
            sampler=SAMPLER_NAMES[sampler],
            lr=float(best.lr),
            value=float(best.value),
            config=(
                f"{best.optimizer} with the {_schedule_name(str(best.schedule))} schedule "
                f"at lr {best.lr:.3g}"
            ),
            steps=int(res.total_steps),
            steps_per_fold=steps,
            cv=cv,
        )
    return found


def search(ctx: Context) -> tuple[Section, SearchBest | None]:
    """The same space searched three ways, with k-fold cross-validation."""
    from lrlab.plots.search import plot_samplers
    from lrlab.tune import TPE_STARTUP_TRIALS, Space

    b = ctx.budget
    families = ("constant", "cosine")
    space = Space(
        lr=(1e-3, 1.0),
        optimizers=("momentum",),
        schedules=families,
        grid_points=max(1, b.trials // len(families)),
    )
    steps = int(b.search_steps or ctx.steps)
    results = _run_searches(ctx, space, steps)
    fig = plot_samplers({SAMPLER_NAMES[k]: res for k, res in results.items()}, b.cv)
    rows = [_sampler_row(SAMPLER_NAMES[k], res) for k, res in results.items()]
    # Each study without its storage: a temporary file, gone with the run.
    studies = {
        k: {f: v for f, v in res.to_dict().items() if f != "storage"} for k, res in results.items()
    }
    cheapest = min(rows, key=lambda r: (r.best_value, r.steps))
    return Section(
        key="search",
        title="7. Grid, random and Bayesian search with cross-validation",
        paragraphs=[
            f"Each search looks for the peak LR (log-uniform in 10⁻³ … 1) and the schedule "
            f"(fixed or cosine) of SGD + momentum on {ctx.task.name}, with {b.trials} trials of "
            f"{b.cv}-fold cross-validation, {steps} steps per fold; a trial whose fold losses "
            "fall behind the median of earlier trials is pruned between folds, which is where "
            "the searches save compute. Grid search tries a fixed log-spaced grid, random "
            "search samples the same space blindly, and TPE (Optuna's Bayesian sampler) "
            "samples where good trials were. TPE's first "
            f"{TPE_STARTUP_TRIALS} trials are random draws (its start-up), the very draws random "
            f"search makes with this seed; the two differ from trial {TPE_STARTUP_TRIALS + 1} "
            "on, where TPE starts modelling the results so far.",
            f"Lowest cross-validated loss: {cheapest.label}, {fmt(cheapest.best_value)} at lr "
            f"{fmt(cheapest.best_lr)} ({cheapest.schedule}), after {cheapest.steps} training "
            "steps. "
            + "; ".join(
                f"{r.label}: {fmt(r.best_value)} in {r.steps} steps ({r.pruned} pruned)"
                for r in rows
            )
            + ".",
        ],
        figures=[
            Figure_(
                "search",
                fig,
                "Left: how far each sampler's best cross-validated loss so far is above the "
                "best any of them found, against the training steps spent (log scale; the "
                "dotted floor means it found that best). Right: each trial's loss against its "
                "LR (dots: completed trials; crosses: pruned trials, the mean of the folds "
                "they ran); trials far above the best are off the frame.",
            )
        ],
        tables=[
            Table(
                "search",
                f"{b.trials} trials per sampler, {b.cv}-fold cross-validation",
                [
                    "sampler",
                    "trials",
                    "pruned",
                    "steps spent",
                    "best cv loss",
                    "best lr",
                    "schedule",
                ],
                [list(r) for r in rows],
            )
        ],
        data={"space": space.describe(), "steps_per_fold": steps, "studies": studies},
    ), _search_best(results, steps, b.cv)


# -- 8. recommendation ----------------------------------------------------------------------


def _ties(table: list[CompareRow]) -> list[CompareRow]:
    """Rows whose mean final loss is within the winner's seed spread (std) of it."""
    finite = [row for row in table if np.isfinite(row.final_val_loss_mean)]
    if not finite:
        return []
    best = min(finite, key=lambda row: row.final_val_loss_mean)
    spread = best.final_val_loss_std if np.isfinite(best.final_val_loss_std) else 0.0
    return [row for row in finite if row.final_val_loss_mean <= best.final_val_loss_mean + spread]


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
        f"Learning rate: use lr {search.lr:.3g} for SGD + momentum, the search's "
        f"choice. It is the better-founded of the two: it was picked by training at "
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
    ties = _ties(schedules.table)
    names = ", ".join(t.label for t in ties)
    pm = (
        f" ± {fmt(sched.final_val_loss_std)} over {sched.seeds} seeds"
        if sched.seeds > 1
        else " (one seed)"
    )
    if len(ties) > 1:
        line = (
            f"Schedule: {_join([t.label for t in ties])} are tied. "
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
    item = ["schedule", names or sched.label, f"val loss {fmt(sched.final_val_loss_mean)}"]
    return line, item


def _optimizer_advice(optimizers: Comparison) -> tuple[str, list[Any]]:
    """The optimizer that did best, and those within its seed spread."""
    opt = optimizers.best
    others = [t.label for t in _ties(optimizers.table) if t.label != opt.label]
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
    return Section(
        key="recommendation",
        title="8. Recommendation",
        paragraphs=lines,
        tables=[Table("recommendation", "In short", ["what", "choice", "evidence"], items)],
        data={"items": items},
    )
