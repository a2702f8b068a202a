"""Compare (optimizer, schedule) configurations over several seeds."""

from __future__ import annotations

import csv
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from lrlab import _json
from lrlab._checks import SEED_RULE, int_at_least, number_in, positive_int
from lrlab._checks import seed as check_seed
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.schedules import ScheduleError, parse_options, parse_rule
from lrlab.schedules._validate import shown
from lrlab.tasks import Task, resolve
from lrlab.train import History, check_name, run

__all__ = ["CompareRow", "Comparison", "RunSpec", "compare", "parse_run"]

#: What :func:`lrlab.train.run` takes itself: an optimizer option of one of these names
#: would collide with it (``lr`` twice) or quietly change the run (``steps``).
_RUN_ARGUMENTS = frozenset(inspect.signature(run).parameters) - {"optimizer_options"}
_OPTION_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


@dataclass(frozen=True)
class RunSpec:
    """One configuration: an optimizer, its options, and a schedule (or a constant lr)."""

    optimizer: str
    schedule: Any = None
    lr: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping):
            raise UsageError(
                "Argument `options` of a run must be a dict of the optimizer's options. "
                f"Received: options={shown(self.options)}"
            )
        taken = sorted(set(self.options) & _RUN_ARGUMENTS)
        if taken:
            where = f" (in {self.label!r})" if self.label else ""
            raise UsageError(
                "Argument `options` of a run must hold only the optimizer's options, not "
                f"the run's own {', '.join(f'`{k}`' for k in taken)} (the rate comes after "
                "the colon: 'adam: 0.01' or 'adam: cosine(0.01, 500)'). "
                f"Received: options={self.options!r}{where}"
            )

    def describe(self) -> str:
        """``"optimizer(options): schedule"``, the text form :func:`parse_run` reads."""
        opts = ", ".join(f"{k}={_fmt(v)}" for k, v in self.options.items())
        head = f"{self.optimizer}({opts})" if opts else self.optimizer
        if self.schedule is not None:
            return f"{head}: {self.schedule}"
        return f"{head}: lr={self.lr}" if self.lr is not None else head


def _fmt(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, str) else str(v)


#: What each of :meth:`Comparison.figures` shows, in its title.
_TITLES = {
    "loss": "training loss",
    "val_loss": "validation loss",
    "lr": "learning rate",
    "step_size": "effective step size",
}


def parse_run(text: str) -> RunSpec:
    """Parse ``"optimizer[(key=value, ...)][: SCHEDULE]"`` (split on the first colon).

    ``SCHEDULE`` goes to :func:`lrlab.schedules.parse_rule` (a schedule, or a
    ``reduce_on_plateau(...)`` rule fed the validation loss at each
    evaluation); a bare number is a constant LR; without it the optimizer's
    default LR is used.

    >>> spec = parse_run("momentum(momentum=0.95): cosine(0.1, 500)")
    >>> spec.optimizer, spec.options, str(spec.schedule)
    ('momentum', {'momentum': 0.95}, 'cosine(lr=0.1, steps=500, min_lr=0.0)')
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"A run must be 'optimizer: schedule'. Received: {text!r}")
    head, sep, tail = text.partition(":")
    m = _OPTION_RE.match(head)
    if not m:
        raise UsageError(
            f"A run must be 'optimizer[(key=value, ...)]: schedule'. Received: {text!r}"
        )
    name = check_name(m.group(1))
    try:
        options = parse_options(m.group(2) or "")
    except ScheduleError as e:
        raise UsageError(f"{e} (in {text!r})") from None
    spec_text = tail.strip()
    schedule, lr = None, None
    if sep and spec_text:
        try:
            lr = float(spec_text)
        except ValueError:
            schedule = parse_rule(spec_text)
    elif sep:
        raise UsageError(f"A schedule must follow the colon. Received: {text!r}")
    return RunSpec(name, schedule, lr, options, text.strip())


def _options(options: Any) -> Any:
    """A run dict's ``options``: a copy of a mapping (``None``: none); anything else as it is,
    for :class:`RunSpec` to refuse by name."""
    if options is None:
        return {}
    return dict(options) if isinstance(options, Mapping) else options


def _as_spec(item: Any) -> RunSpec:
    if isinstance(item, RunSpec):
        return item
    if isinstance(item, str):
        return parse_run(item)
    if isinstance(item, dict):
        allowed = {"optimizer", "schedule", "lr", "options", "label"}
        extra = sorted(set(item) - allowed)
        if extra or "optimizer" not in item:
            raise UsageError(
                "A run dict needs `optimizer` and may have schedule, lr, options, label. "
                f"Received keys: {sorted(item)}"
            )
        sched = item.get("schedule")
        if isinstance(sched, str):
            sched = parse_rule(sched)
        return RunSpec(
            check_name(item["optimizer"]),
            sched,
            item.get("lr"),
            _options(item.get("options")),
            str(item.get("label") or ""),
        )
    if isinstance(item, tuple) and 1 <= len(item) <= 3:
        return _as_spec(dict(zip(("optimizer", "schedule", "options"), item)))
    raise UsageError(
        "Each run must be a 'optimizer: schedule' text, an (optimizer, schedule[, options]) "
        f"tuple, a dict or a RunSpec. Received: {item!r}"
    )


def _stats(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value; NaN for none)."""
    if not values:
        return math.nan, math.nan
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


@dataclass(frozen=True)
class CompareRow:
    """One configuration's line of :attr:`Comparison.table` (its fields are the CSV columns).

    - ``label``, ``optimizer``, ``schedule`` (its text), ``options`` (JSON text),
      ``seeds`` (how many ran);
    - ``final_val_loss_mean`` / ``_std`` and ``final_val_metric_mean`` / ``_std``:
      mean and sample standard deviation over the seeds that did not diverge
      (``inf`` / NaN when all diverged);
    - ``steps_to_target_mean``: mean over the seeds that reached it of the
      updates done at the first evaluation with validation loss ``<= target_loss``
      (None when no seed did), and ``reached`` the number of such seeds;
    - ``diverged``: how many seeds diverged; ``wall_time_mean`` in seconds.
    """

    label: str
    optimizer: str
    schedule: str
    options: str
    seeds: int
    final_val_loss_mean: float
    final_val_loss_std: float
    final_val_metric_mean: float
    final_val_metric_std: float
    steps_to_target_mean: float | None
    reached: int
    diverged: int
    wall_time_mean: float

    @classmethod
    def of(cls, label: str, spec: RunSpec, hs: list[History], target_loss: float) -> CompareRow:
        """The row of configuration ``spec`` from its runs ``hs`` (one per seed)."""
        ok = [h for h in hs if not h.diverged]
        loss_mean, loss_std = _stats([h.final_val_loss for h in ok])
        met_mean, met_std = _stats([h.final_val_metric for h in ok])
        hits = [s for s in (h.steps_to(target_loss) for h in hs) if s is not None]
        return cls(
            label=label,
            optimizer=spec.optimizer,
            schedule=hs[0].meta["schedule"],
            options=json.dumps(spec.options, sort_keys=True, default=repr),
            seeds=len(hs),
            final_val_loss_mean=loss_mean if ok else math.inf,
            final_val_loss_std=loss_std,
            final_val_metric_mean=met_mean,
            final_val_metric_std=met_std,
            steps_to_target_mean=float(np.mean(hits)) if hits else None,
            reached=len(hits),
            diverged=len(hs) - len(ok),
            wall_time_mean=float(np.mean([h.wall_time for h in hs])),
        )


@dataclass
class Comparison:
    """The result of :func:`compare`.

    ``histories[label]`` lists one :class:`~lrlab.train.History` per seed;
    ``table`` has one :class:`CompareRow` per configuration, in the order given.
    """

    task: str
    metric_name: str
    greater_is_better: bool
    specs: list[RunSpec]
    seeds: list[int]
    steps: int
    target_loss: float
    histories: dict[str, list[History]]
    table: list[CompareRow]

    @property
    def best(self) -> CompareRow:
        """The row with the lowest mean final validation loss (fewest divergences on ties)."""
        return min(self.table, key=lambda r: (r.final_val_loss_mean, r.diverged))

    def figures(self) -> dict[str, Any]:
        """``{"loss", "val_loss", "lr", "step_size"}`` -> matplotlib Figure.

        Training curves and validation curves with a min..max band over seeds,
        the LR curves, and the effective step sizes.
        """
        from lrlab.plots.training import plot_curves, plot_lr, plot_step_size

        figs = {
            "loss": plot_curves(self.histories, what="train_loss"),
            "val_loss": plot_curves(self.histories, what="val_loss"),
            "lr": plot_lr(self.histories),
            "step_size": plot_step_size(self.histories),
        }
        for name, fig in figs.items():
            self.title(fig, name)
        return figs

    def title(self, fig: Any, name: str) -> None:
        """Title one of :meth:`figures` (``name`` one of its keys) and lay it out."""
        fig.suptitle(f"{self.task}: {_TITLES[name]} over {len(self.seeds)} seed(s)")
        fig.tight_layout()

    def to_csv(self, path: str | Path) -> Path:
        """Write :attr:`table` as CSV (non-finite numbers as ``inf`` / ``nan``, None empty)."""
        p = Path(path)
        with p.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(CompareRow)])
            w.writeheader()
            for row in self.table:
                w.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
        return p

    def to_dict(self, histories: bool = True) -> dict[str, Any]:
        """JSON-safe (:mod:`lrlab._json`'s convention): task, seeds, steps, target, the
        table, and (optionally) every history."""
        out: dict[str, Any] = {
            "task": self.task,
            "metric_name": self.metric_name,
            "seeds": list(self.seeds),
            "steps": self.steps,
            "target_loss": self.target_loss,
            "table": [asdict(r) for r in self.table],
            "best": self.best.label,
        }
        if histories:
            out["histories"] = {k: [h.to_dict() for h in hs] for k, hs in self.histories.items()}
        encoded: dict[str, Any] = _json.encode(out)
        return encoded

    def to_json(self, path: str | Path, histories: bool = True) -> Path:
        """Write :meth:`to_dict` as strict JSON (non-finite numbers as strings)."""
        p = Path(path)
        p.write_text(_json.dumps(self.to_dict(histories), indent=1))
        return p

    def format_table(self) -> str:
        """The table as aligned text."""
        m = self.metric_name
        head = ["run", "val loss", f"val {m}", f"steps to {self.target_loss:.4g}", "diverged"]
        rows = [head]
        for r in self.table:
            # The spread of one seed is not 0 but unknown: a dash.
            one = r.seeds - r.diverged < 2
            loss_sd = "—" if one else f"{r.final_val_loss_std:.2g}"
            metric_sd = "—" if one else f"{r.final_val_metric_std:.2g}"
            rows.append(
                [
                    r.label,
                    f"{r.final_val_loss_mean:.4g} ± {loss_sd}",
                    f"{r.final_val_metric_mean:.4g} ± {metric_sd}",
                    "-"
                    if r.steps_to_target_mean is None
                    else f"{r.steps_to_target_mean:.0f} ({r.reached}/{r.seeds})",
                    f"{r.diverged}/{r.seeds}",
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def compare(
    task: Task | str,
    runs: Iterable[Any],
    seeds: int | Sequence[int] = 3,
    *,
    steps: int | None = None,
    target_loss: float | None = None,
    eval_every: int | None = None,
    quiet: bool = True,
    progress: Callable[[int, int], Any] | None = None,
) -> Comparison:
    """Run every configuration in ``runs`` once per seed on ``task`` and tabulate.

    Args:
        task: a Task or a built-in task name.
        runs: configurations, each ``"optimizer[(k=v,...)]: SCHEDULE"`` text, an
            ``(optimizer, schedule[, options])`` tuple, a dict with ``optimizer``,
            ``schedule``, ``lr``, ``options``, ``label``, or a :class:`RunSpec`.
        seeds: a count ``n`` (seeds ``0 .. n-1``) or explicit seeds.
        steps: updates per run (default ``task.steps``).
        target_loss: the validation loss for "steps to target"; default
            ``1.1 *`` the best configuration's mean final validation loss (steps
            to get within 10% of the winner).
        eval_every: evaluation interval (default ``task.eval_every``).
        quiet: no progress bar (also hidden when stderr is not a terminal).
        progress: called as ``progress(done, total)`` after each training run.
    """
    plan = _Plan.build(task, runs, seeds, steps, eval_every, target_loss)
    if progress is not None and not callable(progress):
        raise UsageError(
            "Argument `progress` must be a function of (done, total) or None. "
            f"Received: progress={shown(progress)}"
        )
    histories = _train(plan, quiet, progress)
    target = target_loss if target_loss is not None else _default_target(histories)
    return Comparison(
        task=plan.task.name,
        metric_name=plan.task.metric_name,
        greater_is_better=plan.task.greater_is_better,
        specs=list(plan.specs),
        seeds=list(plan.seeds),
        steps=plan.steps,
        target_loss=float(target),
        histories=histories,
        table=[
            CompareRow.of(label, spec, histories[label], target)
            for label, spec in zip(plan.labels, plan.specs)
        ],
    )


@dataclass(frozen=True)
class _Plan:
    """What :func:`compare` runs, checked once: the task, the configurations with their
    unique labels, the seeds and the steps of each run."""

    task: Task
    specs: tuple[RunSpec, ...]
    labels: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    eval_every: int | None

    @classmethod
    def build(
        cls,
        task: Task | str,
        runs: Iterable[Any],
        seeds: int | Sequence[int],
        steps: int | None,
        eval_every: int | None,
        target_loss: float | None,
    ) -> _Plan:
        """Check ``compare``'s arguments (each error names its argument)."""
        task = resolve(task)
        items = runs if not isinstance(runs, (str, RunSpec)) else [runs]
        if not isinstance(items, Iterable) or isinstance(items, (bytes, Mapping)):
            raise UsageError(
                "Argument `runs` must be a list of configurations (texts, tuples, dicts or "
                f"RunSpecs) or one text or RunSpec. Received: runs={shown(runs)}"
            )
        specs = tuple(_as_spec(r) for r in items)
        if not specs:
            raise UsageError("Argument `runs` must hold at least one configuration. Received: []")
        seed_tuple = _seeds(seeds)
        if target_loss is not None:
            number_in("target_loss", target_loss, lambda v: True, "a finite number")
        labels: list[str] = []
        for spec in specs:
            base = label = spec.label or spec.describe()
            k = 2
            while label in labels:
                label, k = f"{base} #{k}", k + 1
            labels.append(label)
        n_steps = task.steps if steps is None else positive_int("steps", steps)
        return cls(task, specs, tuple(labels), seed_tuple, int(n_steps), eval_every)


def _seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """``seeds`` as a tuple: a count ``n`` is ``0 .. n-1``; a list must be distinct."""
    if isinstance(seeds, (bool, Real)) or (isinstance(seeds, np.ndarray) and seeds.ndim == 0):
        return tuple(range(int_at_least("seeds", seeds, 1, "a positive count")))
    listed = f"a positive count or a list of distinct seeds, each {SEED_RULE}"
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise UsageError(f"Argument `seeds` must be {listed}. Received: seeds={shown(seeds)}")
    items = list(seeds)
    try:
        seed_list = [check_seed("seeds", s) for s in items]
    except UsageError:
        raise UsageError(
            f"Argument `seeds` must be {listed}. Received: seeds={shown(items)}"
        ) from None
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise UsageError(
            f"Argument `seeds` must list distinct seeds. Received: seeds={list(seeds)}"
        )
    return tuple(seed_list)


def _train(
    plan: _Plan, quiet: bool, progress: Callable[[int, int], Any] | None
) -> dict[str, list[History]]:
    """Every configuration once per seed: ``{label: [History per seed]}``."""
    total = len(plan.specs) * len(plan.seeds)
    bar = progress_bar(total, f"compare on {plan.task.name}", quiet, leave=True)
    histories: dict[str, list[History]] = {}
    done = 0
    try:
        for label, spec in zip(plan.labels, plan.specs):
            hs = histories.setdefault(label, [])
            for seed in plan.seeds:
                hs.append(
                    run(
                        plan.task,
                        spec.optimizer,
                        lr=spec.lr,
                        schedule=spec.schedule,
                        steps=plan.steps,
                        seed=seed,
                        eval_every=plan.eval_every,
                        quiet=True,
                        **spec.options,
                    )
                )
                done += 1
                bar.update(1)
                if progress is not None:
                    progress(done, total)
    finally:
        bar.close()
    return histories


def _default_target(histories: dict[str, list[History]]) -> float:
    """1.1 x the best configuration's mean final validation loss over its seeds that did
    not diverge (``inf`` when every run diverged)."""
    means = [
        float(np.mean(finals))
        for hs in histories.values()
        if (finals := [h.final_val_loss for h in hs if not h.diverged])
    ]
    return 1.1 * min(means) if means else math.inf
