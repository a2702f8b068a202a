"""What a search returns: the best configuration, a table of trials, the steps spent, figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lrlab import _json

__all__ = ["TrialRow", "TuneResult"]


@dataclass(frozen=True)
class TrialRow:
    """One trial of a search, read once from its study.

    ``run_losses`` is the final validation loss of each training run,
    seed-major (every fold of the first seed, then of the next); ``seconds``
    the wall time (``None`` while it runs).  A finalist (``tune``'s
    ``finalists``) also has ``finalist_losses`` (``{seed: loss}`` of its
    confirmation runs), ``mean_seeds`` (how many seeds its mean is over) and
    ``mean_loss`` (over all its seeds, each weighted alike; ``None`` until
    every run is done); for any other trial those three are ``None``.
    ``user_params`` are the objective's own ``trial.optuna.suggest_*`` values;
    ``error`` the one-line message of an objective that raised (a ``FAIL`` trial).
    """

    number: int
    state: str
    value: float | None
    optimizer: str | None
    lr: float | None
    schedule: str | None
    params: dict[str, Any]
    schedule_config: dict[str, Any] | None
    steps: int
    run_losses: list[float] | None
    diverged: bool
    seconds: float | None
    finalist_losses: dict[int, float] | None = None
    mean_seeds: int | None = None
    mean_loss: float | None = None
    user_params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def from_trial(cls, t: Any) -> TrialRow:
        """The row of the Optuna ``FrozenTrial`` ``t``."""
        cfg = t.user_attrs.get("config") or {}
        losses = t.user_attrs.get("run_losses", t.user_attrs.get("fold_losses"))  # older studies
        done, start = t.datetime_complete, t.datetime_start
        return cls(
            number=t.number,
            state=t.state.name,
            value=t.value,
            optimizer=cfg.get("optimizer", t.params.get("optimizer")),
            lr=cfg.get("lr", t.params.get("lr")),
            schedule=cfg.get("schedule", t.params.get("schedule")),
            params=cfg.get("params", {}),
            schedule_config=cfg.get("schedule_config"),
            steps=int(t.user_attrs.get("steps", 0)),
            run_losses=None if losses is None else [_run_loss(v) for v in losses],
            diverged=bool(t.user_attrs.get("diverged", False)),
            seconds=(done - start).total_seconds() if done and start else None,
            user_params=dict(t.user_attrs.get("user_params") or {}),
            error=t.user_attrs.get("error"),
        )

    @property
    def completed(self) -> bool:
        """Whether the trial completed with a finite value."""
        return self.state == "COMPLETE" and self.value is not None and math.isfinite(self.value)

    def to_dict(self) -> dict[str, Any]:
        """The row's fields (the three finalist fields only for a finalist)."""
        d = asdict(self)
        if self.finalist_losses is None:
            for k in ("finalist_losses", "mean_seeds", "mean_loss"):
                del d[k]
        for k in ("user_params", "error"):  # only for objectives that have them
            if not d[k]:
                del d[k]
        return d


@dataclass
class TuneResult:
    """The state of a study after :func:`lrlab.tune.tune`.

    Attributes:
        study: the study name.
        storage: where it lives (password redacted).
        task: the task's name, or the objective's (``module.qualname``).
        target: the number of finished trials the study aims at.
        trials: one :class:`TrialRow` per trial (surplus markers left out).
        best: the best row, or ``None`` when no trial completed: with
            finalists, the one with the lowest ``mean_loss`` once all are
            confirmed, else the lowest ``value``.
        finalist_steps: the training steps of the confirmation runs.
        lr_range, grid_points: the space's ``(low, high)`` rate range and grid
            density, as the study recorded them (``None`` for a study without).
        meta: what the study recorded it ran (objective, steps, cv, repeats, space, ...).
    """

    study: str
    storage: str
    task: str
    target: int
    trials: list[TrialRow] = field(default_factory=list)
    best: TrialRow | None = None
    finalist_steps: int = 0
    lr_range: tuple[float, float] | None = None
    grid_points: int = 7
    meta: dict[str, Any] = field(default_factory=dict)

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
        trials = st.get_trials(deepcopy=False)
        rows = [TrialRow.from_trial(t) for t in trials if not t.user_attrs.get("lrlab_surplus")]
        extra = 0
        raced: list[TrialRow] = []
        if finalists_study is not None:
            runs = finalists_study.get_trials(deepcopy=False)
            extra = sum(int(t.user_attrs.get("steps", 0)) for t in runs)
            if finalists:
                rows = _confirm(rows, runs, finalists, extra_seeds, repeats)
                raced = [r for r in rows if r.mean_loss is not None]
        done = [r for r in rows if r.completed]
        best = min(done, key=lambda r: r.value or 0.0) if done else None
        if raced and len(raced) == min(finalists, len(done)):
            # a finalist that diverged on a new seed has an infinite mean; if
            # all did, the search value decides as without racing
            best = min(raced, key=lambda r: (r.mean_loss, r.value, r.number))
        meta = dict(st.user_attrs.get("lrlab") or {})
        space = meta.get("space") or {}
        lr = space.get("lr")
        return cls(
            study=st.study_name,
            storage=storage,
            task=task,
            target=target,
            trials=rows,
            best=best,
            finalist_steps=extra,
            lr_range=None if lr is None else (float(lr[0]), float(lr[1])),
            grid_points=int(space.get("grid_points", 7)),
            meta=meta,
        )

    @property
    def total_steps(self) -> int:
        """Training steps of every trial (pruned and failed ones too) and confirmation run."""
        return sum(r.steps for r in self.trials) + self.finalist_steps

    @property
    def n_finished(self) -> int:
        """Trials that completed or were pruned."""
        return sum(r.state in ("COMPLETE", "PRUNED") for r in self.trials)

    @property
    def best_params(self) -> dict[str, Any]:
        """``{"optimizer", "lr", "schedule", **schedule params, **the objective's own}`` of
        the best trial."""
        if self.best is None:
            return {}
        b = self.best
        return {
            "optimizer": b.optimizer, "lr": b.lr, "schedule": b.schedule, **b.params,
            **b.user_params,
        }  # fmt: skip

    @property
    def best_schedule(self) -> Any:
        """The best trial's :class:`~lrlab.schedules.Schedule` (or ``reduce_on_plateau``
        rule), or ``None``."""
        if self.best is None or not self.best.schedule_config:
            return None
        from lrlab.schedules import rule_from_config

        return rule_from_config(self.best.schedule_config)

    @property
    def edge(self) -> dict[str, Any] | None:
        """Where the best rate sits on the edge of the searched range, or ``None``.

        On the edge means within half a grid step (``log(high / low) /
        (grid_points - 1)``) of ``low`` or ``high``: on a grid, the end point itself.
        The best rate may then lie outside the range; ``next`` is the range of the same
        width centred on it, to search next: ``{"side": "low" | "high", "lr", "range",
        "next"}``.
        """
        if self.best is None or self.best.lr is None or self.lr_range is None:
            return None
        lo, hi = self.lr_range
        width = math.log(hi / lo)
        half = 0.5 * width / max(self.grid_points - 1, 1)
        lr = float(self.best.lr)
        side = "low" if math.log(lr / lo) <= half else "high" if math.log(hi / lr) <= half else None
        if side is None:
            return None
        reach = math.exp(width / 2)
        return {"side": side, "lr": lr, "range": (lo, hi), "next": (lr / reach, lr * reach)}

    def edge_note(self) -> str | None:
        """One sentence on :attr:`edge`, or ``None`` when the best rate is inside the range."""
        e = self.edge
        if e is None:
            return None
        lo, hi = e["range"]
        a, b = e["next"]
        return (
            f"The best rate, {e['lr']:.3g}, is at the {e['side']} edge of the searched range "
            f"[{lo:.3g}, {hi:.3g}]: the best may lie beyond it; search [{a:.3g}, {b:.3g}] next "
            f"(Space(lr=({a:.3g}, {b:.3g})), --min-lr {a:.3g} --max-lr {b:.3g})."
        )

    def summary(self) -> str:
        """A few lines: the study, its trials and steps, the best configuration, and where
        the best rate sits in its range."""
        lines = [
            f"study {self.study} in {self.storage}: {self.n_finished}/{self.target} trials "
            f"finished, {self.total_steps} training steps"
        ]
        if self.best is None or self.best.value is None:
            lines.append("no trial completed")
        else:
            params = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in self.best_params.items()
            )
            lines.append(f"best: val loss {self.best.value:.4g} with {params}")
        if (note := self.edge_note()) is not None:
            lines.append(note)
        return "\n".join(lines)

    def table(self, limit: int | None = None) -> str:
        """A fixed-width text table of the trials, best value first (finished ones)."""
        rows = sorted(
            self.trials,
            key=lambda r: (r.value is None or not math.isfinite(r.value), r.value or 0.0),
        )
        if limit is not None:
            rows = rows[:limit]
        raced = any(r.mean_loss is not None for r in self.trials)
        head = (
            f"{'#':>4}  {'state':8}  {'val loss':>10}  {'optimizer':10}  {'lr':>9}  "
            f"{'schedule':12}  {'steps':>6}" + (f"  {'finalist mean':>13}" if raced else "")
        )
        lines = [head, "-" * len(head)]
        for r in rows:
            lr = "-" if r.lr is None else f"{r.lr:.3g}"
            line = (
                f"{r.number:>4}  {r.state:8}  {_loss(r.value, '-'):>10}  {r.optimizer or '-':10}  "
                f"{lr:>9}  {r.schedule or '-':12}  {r.steps:>6}"
            )
            lines.append(line + (f"  {_loss(r.mean_loss, ''):>13}" if raced else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (:mod:`lrlab._json`'s convention: non-finite numbers as
        ``"nan"`` / ``"inf"`` / ``"-inf"``)."""
        out: dict[str, Any] = _json.encode(
            {
                "study": self.study,
                "storage": self.storage,
                "task": self.task,
                "target": self.target,
                "finished": self.n_finished,
                "total_steps": self.total_steps,
                "finalist_steps": self.finalist_steps,
                "best": None if self.best is None else self.best.to_dict(),
                "edge": self.edge,
                "trials": [r.to_dict() for r in self.trials],
            }
        )
        return out

    def plot_lr(self, ax: Any = None) -> Any:
        """Validation loss against LR, one series per schedule family; returns the Figure."""
        from lrlab.plots.search import plot_lr_search

        return plot_lr_search(self, ax=ax)

    def plot_history(self, ax: Any = None) -> Any:
        """Each trial's value and the best so far, in trial order; returns the Figure."""
        from lrlab.plots.search import plot_history

        return plot_history(self, ax=ax)


def _loss(v: float | None, missing: str) -> str:
    """A loss in the table: ``missing`` if there is none yet."""
    return missing if v is None else ("inf" if not math.isfinite(v) else f"{v:.4g}")


def _run_loss(v: Any) -> float:
    """One stored run loss: ``"inf"`` as :mod:`lrlab._json` writes it, or ``None`` as
    studies before it did (they stored every non-finite loss, always ``inf``, so)."""
    return math.inf if v is None else float(v)


def _confirm(
    rows: list[TrialRow], runs: list[Any], k: int, seeds: Sequence[int], repeats: int
) -> list[TrialRow]:
    """``rows`` with ``finalist_losses``, ``mean_seeds`` and ``mean_loss`` set on the ``k``
    best completed ones, from the confirmation ``runs``."""
    from lrlab.tune._finalists import confirmed

    by_pair = confirmed(runs)
    done = [r for r in rows if r.completed]
    top = {r.number for r in sorted(done, key=lambda r: (r.value, r.number))[:k]}

    def raced(r: TrialRow) -> TrialRow:
        got = {s: by_pair[(r.number, s)] for s in seeds if (r.number, s) in by_pair}
        n = repeats + len(seeds)
        mean = (
            (repeats * (r.value or 0.0) + sum(got.values())) / n if len(got) == len(seeds) else None
        )
        return replace(r, finalist_losses=got, mean_seeds=n, mean_loss=mean)

    return [raced(r) if r.number in top else r for r in rows]
