"""Section 7: one space searched by grid, random and Bayesian sampling, cross-validated."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from lrlab.errors import LrlabWarning
from lrlab.report._page import Figure_, Section, Table, fmt
from lrlab.report.sections._shared import Context, SearchBest, join

if TYPE_CHECKING:
    from lrlab.tune import TuneResult

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
    spread: float  # of the best trial's fold losses (std)
    best_lr: float
    schedule: str


def _sampler_row(label: str, res: TuneResult) -> _SamplerRow:
    from lrlab.plots.search import spread

    best, head = res.best, (label, len(res.trials), sum(r.state == "PRUNED" for r in res.trials))
    if best is None or best.value is None or best.lr is None:
        return _SamplerRow(*head, res.total_steps, math.inf, math.nan, math.nan, "—")
    return _SamplerRow(*head, res.total_steps, best.value, spread(best), best.lr,
                       _schedule_name(str(best.schedule)))  # fmt: skip


def _run_searches(ctx: Context, space: Any, steps: int) -> dict[str, TuneResult]:
    """The same space searched by each sampler (sampler -> result), in a temporary study."""
    import tempfile

    from lrlab.tune import tune

    b = ctx.budget
    results = {}
    with (
        tempfile.TemporaryDirectory(prefix="lrlab-report-search-") as tmp,
        warnings.catch_warnings(),  # an edge of the range is said on the page, not on stderr
    ):
        warnings.simplefilter("ignore", LrlabWarning)
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


def _verdict(rows: list[_SamplerRow], best: _SamplerRow, cv: int) -> str:
    """Which samplers are tied with the best: within its spread over its folds."""
    from lrlab.plots._tied import tied

    if not math.isfinite(best.spread):
        return "One fold gives no spread to call a tie by"
    level = tied({r.label: (r.best_value, best.spread) for r in rows})
    return f"Its {cv} folds spread its loss by ± {fmt(best.spread, 2)} (std), so " + (
        "all three samplers are tied: they end within that spread of it"
        if len(level) == len(rows) else f"within it: {join(level)}"
    )  # fmt: skip


def _table(rows: list[_SamplerRow], trials: int, cv: int) -> Table:
    return Table(
        "search",
        f"{trials} trials per sampler, {cv}-fold cross-validation",
        ["sampler", "trials", "pruned", "steps spent", "best cv loss", "± (folds)", "best lr",
         "schedule"],
        [list(r) for r in rows],
        digits={"± (folds)": 2},
    )  # fmt: skip


def _edges(results: Mapping[str, TuneResult]) -> str:
    """The samplers whose best rate sits on an edge of the range, and the range to try next."""
    notes = [
        f" {SAMPLER_NAMES[k]}: {note}"
        for k, res in results.items()
        if (note := res.edge_note()) is not None
    ]
    return "".join(notes)


def search(ctx: Context) -> tuple[Section, SearchBest | None]:
    """The same space searched three ways, with k-fold cross-validation."""
    from lrlab.plots.search import plot_samplers
    from lrlab.tune import TPE_STARTUP_TRIALS, Space

    b = ctx.budget
    families = ("constant", "cosine")
    space = Space(lr=(1e-3, 1.0), optimizers=("momentum",), schedules=families,
                  grid_points=max(1, b.trials // len(families)))  # fmt: skip
    steps = int(b.search_steps or ctx.steps)
    results = _run_searches(ctx, space, steps)
    fig = plot_samplers({SAMPLER_NAMES[k]: res for k, res in results.items()}, b.cv)
    rows = [_sampler_row(SAMPLER_NAMES[k], res) for k, res in results.items()]
    # Each study without its storage: a temporary file, gone with the run.
    studies = {
        k: {f: v for f, v in res.to_dict().items() if f != "storage"} for k, res in results.items()
    }
    cheapest = min(rows, key=lambda r: (r.best_value, r.steps))
    verdict = _verdict(rows, cheapest, b.cv)
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
            + f". {verdict}."
            + _edges(results),
        ],
        figures=[
            Figure_(
                "search",
                fig,
                "First: each sampler's best cross-validated loss so far against the training "
                "steps spent; the grey band is the best trial's spread over its folds, and the "
                "samplers that end inside it are tied. Then each trial's loss against its "
                "LR (dots: completed trials; crosses: pruned trials, the mean of the folds "
                "they ran); trials far above the best are off the frame.",
            )
        ],
        tables=[_table(rows, b.trials, b.cv)],
        data={"space": space.describe(), "steps_per_fold": steps, "studies": studies},
    ), _search_best(results, steps, b.cv)
