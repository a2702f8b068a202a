"""What a search returns: the best configuration, a table of trials, the steps spent, figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TuneResult"]


@dataclass
class TuneResult:
    """The state of a study after :func:`lrlab.tune.tune`.

    Attributes:
        study: the study name.
        storage: where it lives (password redacted).
        task: the task name.
        target: the number of finished trials the study aims at.
        trials: one row per trial (surplus markers left out): ``number``,
            ``state``, ``value``, ``optimizer``, ``lr``, ``schedule``,
            ``params``, ``steps``, ``run_losses`` (the final validation loss
            of each training run, seed-major: every fold of the first seed,
            then of the next), ``seconds``; the finalists (``tune``'s
            ``finalists``) also ``finalist_losses`` (``{seed: loss}`` of
            their confirmation runs), ``mean_loss`` (over all their seeds,
            each seed weighted alike; ``None`` until every run is done) and
            ``mean_seeds`` (how many seeds that mean is over).
        best: the best row, or ``None`` when no trial completed: with
            finalists, the one with the lowest ``mean_loss`` once all are
            confirmed, else the lowest ``value``.
        finalist_steps: the training steps of the confirmation runs.
    """

    study: str
    storage: str
    task: str
    target: int
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    finalist_steps: int = 0

    @classmethod
    def from_study(
        cls,
        st: Any,
        storage: str,
        *,
        target: int,
        task: str,
        finalists_study: Any = None,
        finalists: int = 0,
        extra_seeds: Sequence[int] = (),
        repeats: int = 1,
    ) -> TuneResult:
        """Read every trial of the Optuna study ``st`` (and of its finalists' study).

        ``finalists`` and ``extra_seeds`` are ``tune``'s: the number of best
        trials raced, and the seeds of their confirmation runs.
        """
        rows = []
        for t in st.get_trials(deepcopy=False):
            if t.user_attrs.get("lrlab_surplus"):
                continue
            cfg = t.user_attrs.get("config") or {}
            seconds = (
                (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start
                else None
            )
            rows.append(
                {
                    "number": t.number,
                    "state": t.state.name,
                    "value": t.value,
                    "optimizer": cfg.get("optimizer", t.params.get("optimizer")),
                    "lr": cfg.get("lr", t.params.get("lr")),
                    "schedule": cfg.get("schedule", t.params.get("schedule")),
                    "params": cfg.get("params", {}),
                    "schedule_config": cfg.get("schedule_config"),
                    "steps": int(t.user_attrs.get("steps", 0)),
                    "run_losses": t.user_attrs.get(
                        "run_losses",
                        t.user_attrs.get("fold_losses"),  # older studies
                    ),
                    "diverged": bool(t.user_attrs.get("diverged", False)),
                    "seconds": seconds,
                }
            )
        done = [
            r
            for r in rows
            if r["state"] == "COMPLETE" and r["value"] is not None and math.isfinite(r["value"])
        ]
        best = min(done, key=lambda r: r["value"]) if done else None
        extra = 0
        if finalists_study is not None:
            runs = finalists_study.get_trials(deepcopy=False)
            extra = sum(int(t.user_attrs.get("steps", 0)) for t in runs)
        if finalists_study is not None and finalists and done:
            _confirm(done, finalists_study, finalists, extra_seeds, repeats)
            raced = [r for r in rows if r.get("mean_loss") is not None]
            if len(raced) == min(finalists, len(done)):
                # a finalist that diverged on a new seed has an infinite mean; if
                # all did, the search value decides as without racing
                best = min(raced, key=lambda r: (r["mean_loss"], r["value"], r["number"]))
        return cls(
            study=st.study_name,
            storage=storage,
            task=task,
            target=target,
            trials=rows,
            best=best,
            finalist_steps=extra,
        )

    @property
    def total_steps(self) -> int:
        """Training steps of every trial (pruned and failed ones too) and confirmation run."""
        return sum(r["steps"] for r in self.trials) + self.finalist_steps

    @property
    def n_finished(self) -> int:
        """Trials that completed or were pruned."""
        return sum(r["state"] in ("COMPLETE", "PRUNED") for r in self.trials)

    @property
    def best_params(self) -> dict[str, Any]:
        """``{"optimizer", "lr", "schedule", **schedule params}`` of the best trial."""
        if self.best is None:
            return {}
        b = self.best
        return {
            "optimizer": b["optimizer"],
            "lr": b["lr"],
            "schedule": b["schedule"],
            **b["params"],
        }

    @property
    def best_schedule(self) -> Any:
        """The best trial's :class:`~lrlab.schedules.Schedule` (or ``reduce_on_plateau``
        rule), or ``None``."""
        if self.best is None or not self.best.get("schedule_config"):
            return None
        from lrlab.schedules import rule_from_config

        return rule_from_config(self.best["schedule_config"])

    def table(self, limit: int | None = None) -> str:
        """A fixed-width text table of the trials, best value first (finished ones)."""
        rows = sorted(
            self.trials,
            key=lambda r: (r["value"] is None or not math.isfinite(r["value"]), r["value"] or 0.0),
        )
        if limit is not None:
            rows = rows[:limit]
        raced = any(r.get("mean_loss") is not None for r in self.trials)
        head = (
            f"{'#':>4}  {'state':8}  {'val loss':>10}  {'optimizer':10}  {'lr':>9}  "
            f"{'schedule':12}  {'steps':>6}" + (f"  {'finalist mean':>13}" if raced else "")
        )
        lines = [head, "-" * len(head)]
        for r in rows:
            v = r["value"]
            vs = "-" if v is None else ("inf" if not math.isfinite(v) else f"{v:.4g}")
            lr = "-" if r["lr"] is None else f"{r['lr']:.3g}"
            line = (
                f"{r['number']:>4}  {r['state']:8}  {vs:>10}  {r['optimizer'] or '-':10}  "
                f"{lr:>9}  {r['schedule'] or '-':12}  {r['steps']:>6}"
            )
            if raced:
                m = r.get("mean_loss")
                ms = "" if m is None else ("inf" if not math.isfinite(m) else f"{m:.4g}")
                line += f"  {ms:>13}"
            lines.append(line)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (infinite values become ``None``)."""

        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "study": self.study,
            "storage": self.storage,
            "task": self.task,
            "target": self.target,
            "finished": self.n_finished,
            "total_steps": self.total_steps,
            "finalist_steps": self.finalist_steps,
            "best": None if self.best is None else {k: clean(v) for k, v in self.best.items()},
            "trials": [{k: clean(v) for k, v in r.items()} for r in self.trials],
        }

    def plot_lr(self, ax: Any = None) -> Any:
        """Validation loss against LR, one series per schedule family; returns the Figure."""
        from lrlab.plots.search import plot_lr_search

        return plot_lr_search(self, ax=ax)

    def plot_history(self, ax: Any = None) -> Any:
        """Each trial's value and the best so far, in trial order; returns the Figure."""
        from lrlab.plots.search import plot_history

        return plot_history(self, ax=ax)


def _confirm(
    done: list[dict[str, Any]], cst: Any, k: int, seeds: Sequence[int], repeats: int
) -> None:
    """Add ``finalist_losses``, ``mean_seeds`` and ``mean_loss`` to the ``k`` best ``done`` rows."""
    from lrlab.tune._finalists import confirmed

    by_pair = confirmed(cst.get_trials(deepcopy=False))
    for r in sorted(done, key=lambda r: (r["value"], r["number"]))[:k]:
        got = {s: by_pair[(r["number"], s)] for s in seeds if (r["number"], s) in by_pair}
        r["finalist_losses"] = got
        r["mean_seeds"] = repeats + len(seeds)
        r["mean_loss"] = None
        if len(got) == len(seeds):
            r["mean_loss"] = (repeats * r["value"] + sum(got.values())) / (repeats + len(seeds))
