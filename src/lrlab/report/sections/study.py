"""A report of the reader's own study: its search, trials, pruning and the one
configuration to copy, read back from its storage without training anything."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lrlab.report._page import Figure_, Section, Table, fmt
from lrlab.report.sections._copy import OPTIMIZERS, Choice, as_shown, code, peak

if TYPE_CHECKING:
    from lrlab.tune import TrialRow, TuneResult

__all__ = ["study_sections"]

#: The most trials the page's table lists (all of them are in results.json).
SHOWN = 25


def _counts(res: TuneResult) -> dict[str, int]:
    states = [r.state for r in res.trials]
    return {s: states.count(s) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")}


def _what(res: TuneResult, meta: dict[str, Any]) -> str:
    space = meta.get("space") or {}
    lr = space.get("lr")
    parts = [f"Study {res.study!r} in {res.storage} searched {res.task}"]
    if meta.get("steps"):
        parts.append(f"{meta['steps']} training steps a run")
    if meta.get("cv"):
        parts.append(f"{meta['cv']}-fold cross-validation")
    if int(meta.get("repeats", 1)) > 1:
        parts.append(f"{meta['repeats']} seeds a configuration")
    if lr:
        parts.append(
            f"peak rates in [{fmt(lr[0], 3)}, {fmt(lr[1], 3)}] (log-uniform) over "
            f"{', '.join(space.get('optimizers', []))} and the "
            f"{', '.join(space.get('schedules', []))} schedules, with the "
            f"{meta.get('sampler', '?')} sampler"
        )
    return ", ".join(parts) + "."


def _pruning(res: TuneResult, per_trial: int | None) -> str:
    n = _counts(res)
    text = (
        f"{res.n_finished} of its target of {res.target} trials finished ({n['COMPLETE']} "
        f"complete, {n['PRUNED']} pruned), {n['FAIL']} failed; {res.total_steps} training "
        "steps in all"
        + (
            f", {res.finalist_steps} of them the finalists' confirmation runs"
            if res.finalist_steps
            else ""
        )
    )
    if per_trial and n["PRUNED"]:
        saved = sum(per_trial - r.steps for r in res.trials if r.state == "PRUNED")
        full = res.total_steps + saved
        text += (
            f". Pruning stopped {n['PRUNED']} trials early and saved {saved} steps, "
            f"{100 * saved / full:.0f}% of what the study would have spent running them all out"
        )
    errors = sorted({r.error for r in res.trials if r.error})
    if errors:
        text += ". The objective raised: " + "; ".join(errors[:3])
    return text + "."


def _table(res: TuneResult) -> Table:
    rows = sorted(
        res.trials, key=lambda r: (r.value is None or not math.isfinite(r.value), r.value or 0.0)
    )[:SHOWN]
    return Table(
        "trials",
        f"The best {min(SHOWN, len(res.trials))} of the study's {len(res.trials)} trials, lowest "
        "loss first (pruned trials at their last report); all of them are in results.json.",
        ["#", "state", "loss", "optimizer", "peak lr", "schedule", "steps"],
        [[r.number, r.state, r.value if r.value is not None else "", r.optimizer or "",
          r.lr if r.lr is not None else "", r.schedule or "", r.steps] for r in rows],
    )  # fmt: skip


def _choice(best: TrialRow) -> Choice | None:
    """The best trial as the configuration to copy (its schedule as lrlab text)."""
    from lrlab.schedules import rule_from_config

    if best.schedule_config is None or best.optimizer not in OPTIMIZERS or best.lr is None:
        return None
    text = as_shown(rule_from_config(best.schedule_config))
    value = best.mean_loss if best.mean_loss is not None else float(best.value or math.nan)
    seeds = best.mean_seeds or len(best.run_losses or [1])
    return Choice(best.optimizer, text, peak(text), value, math.nan, seeds, 1)


def _recommendation(res: TuneResult) -> Section:
    best = res.best
    choice = None if best is None else _choice(best)
    paragraphs = []
    if best is None or choice is None:
        paragraphs.append(
            "No trial completed with a finite loss: there is nothing to recommend yet."
        )
    else:
        how = (
            f"the lowest mean over {best.mean_seeds} seeds among the raced finalists"
            if best.mean_loss is not None
            else "the lowest loss of the search"
        )
        spread = ""
        if best.run_losses and len(best.run_losses) > 1:
            lo, hi = min(best.run_losses), max(best.run_losses)
            spread = f"; its runs (seeds and folds) ranged from {fmt(lo)} to {fmt(hi)}"
        paragraphs.append(
            f"Use {choice.describe()} (trial {best.number}, {how}: {fmt(choice.mean)}{spread})."
            + (" " + note if (note := res.edge_note()) else "")
            + " The schedule spans the study's run length; for another length, scale its "
            "step counts with it."
        )
    return Section(
        key="study_recommendation",
        title="2. What to use",
        paragraphs=paragraphs,
        code=[] if choice is None else code(choice),
        data={"choice": None if choice is None else choice.__dict__},
    )


def study_sections(res: TuneResult) -> list[Section]:
    """The page of a stored study: the search (what it ran, its trials, its pruning and
    two figures), then the one configuration to copy."""
    meta = res.meta
    per_trial = None
    if meta.get("steps"):
        per_trial = int(meta["steps"]) * int(meta.get("cv") or 1) * int(meta.get("repeats", 1))
    own = not meta.get("builtin", "objective" not in meta)  # older studies: built-in tasks
    limits = (
        "This study's objective is the reader's own code, which lrlab did not write: the page "
        "shows what the study stored (each trial's configuration, reported losses, steps and "
        "state) and cannot show training curves, a range test or a comparison of schedules "
        "and optimizers over seeds, which would need lrlab to train the model itself "
        "(lrlab.tune.advise runs the range test through the same objective)."
        if own
        else "The page shows what the study stored; nothing was trained to write it."
    )
    search = Section(
        key="study",
        title=f"1. The search: {res.study}",
        paragraphs=[_what(res, meta), _pruning(res, per_trial), limits],
        figures=[
            Figure_(
                "study_history",
                res.plot_history(),
                "Each trial's loss in trial order and the best so far (pruned trials grey).",
            ),
            Figure_(
                "study_lr",
                res.plot_lr(),
                "Each trial's loss against its peak rate, one panel per optimizer, one "
                "colour per schedule; the best is ringed.",
            ),
        ],
        tables=[_table(res)],
        data={"study": {k: v for k, v in res.to_dict().items() if k != "storage"}, "meta": meta},
    )
    return [search, _recommendation(res)]
