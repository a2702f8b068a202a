"""lrlab's advice through the trial contract: the range test's sweep and its confirmation
race run as trials of the user's objective, so any loop that reports its loss gets it.

The sweep is one trial (``trial.phase == "sweep"``) whose schedule is the exponential
ramp from ``min_lr`` to ``max_lr``: the objective reports the batch's loss after every
update (``trial.report(loss, step)``, ``step`` the updates done) and stops when
``trial.should_prune()`` says the loss diverged.  The race is short constant-rate trials
(``trial.phase == "probe"``) that report the validation loss every ``trial.eval_every``
steps (or return it at the end).  The curve, the peers' rules, lrlab's race and its
horizon carry are those of :func:`lrlab.finder.find_lr`; the result is its
:class:`~lrlab.finder.FinderResult`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from lrlab._checks import seed as check_seed
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.finder import FinderResult, advice_budget, edge_lr, ramp
from lrlab.finder._settings import SweepSettings
from lrlab.finder._sweep import anchor as sweep_anchor
from lrlab.finder._sweep import suggestions
from lrlab.finder.advice import advise as race_advice
from lrlab.finder.advice import checkpoint_every
from lrlab.finder.rules import Ema
from lrlab.tune._folds import Folds
from lrlab.tune._runs import as_loss
from lrlab.tune._settings import as_objective, check_steps
from lrlab.tune.trial import Trial

__all__ = ["advise"]


class _Sweep:
    """The sweep trial's channel: the reported losses, and the range test's stop rule as
    ``should_prune``."""

    def __init__(self, beta: float, diverge: float) -> None:
        self.ema, self.diverge = Ema(beta, True), diverge
        self.points: list[tuple[int, float]] = []
        self.best, self.stop = math.inf, "max_lr"

    def report(self, value: float, step: int) -> None:
        if self.stop != "max_lr":
            return  # past the stop: not part of the curve
        self.points.append((step, value))
        if not math.isfinite(value):
            self.stop = "non-finite"
            return
        smooth = self.ema.add(value)
        if len(self.points) > 1 and smooth > self.diverge * self.best:
            self.stop = "diverged"
        self.best = min(self.best, smooth)

    def should_prune(self) -> bool:
        return self.stop != "max_lr"

    def count(self, steps: int) -> None:
        pass


class _Probe:
    """One constant-rate probe of the race as a trial of the objective: its validation
    checkpoints ``[(step, loss), ...]``.  An objective keeps no state between calls, so
    a longer probe of a rate reruns it from the start (the same seed: the same run)."""

    def __init__(self, objective: Any, optimizer: str, seed: int, every: int, bar: Any) -> None:
        self.objective, self.optimizer, self.seed, self.every = objective, optimizer, seed, every
        self.bar, self.spent = bar, 0
        self.points: list[tuple[int, float]] = []

    def report(self, value: float, step: int) -> None:
        self.points.append((step, value))

    def should_prune(self) -> bool:
        return False

    def count(self, steps: int) -> None:
        pass

    def __call__(self, lr: float, steps: int) -> list[tuple[int, float]]:
        from lrlab.schedules import constant

        self.points = []
        config = {"lr": lr, "optimizer": self.optimizer, "schedule": "constant", "params": {}}
        trial = _trial(self, config, constant(lr), steps, self.seed, "probe", self.every)
        value = as_loss(self.objective(trial))
        self.spent += steps
        self.bar.update(steps)
        points = sorted((s, v) for s, v in self.points if 0 < s <= steps)
        if not points or points[-1][0] < steps or not math.isfinite(value):
            points = [p for p in points if p[0] < steps] + [(steps, value)]
        return points


def _trial(
    runner: Any, config: dict[str, Any], schedule: Any, steps: int, seed: int, phase: str,
    every: int,
) -> Trial:  # fmt: skip
    t = Trial(
        None, config, schedule, steps=steps, seed=seed, fold=None, folds=Folds(None, seed),
        runner=runner,
    )  # fmt: skip
    t.phase, t.eval_every = phase, every
    return t


def advise(
    objective: Any,
    *,
    steps: int | None = None,
    budget: float = 0.25,
    optimizer: str = "sgd",
    min_lr: float = 1e-6,
    max_lr: float = 10.0,
    num_steps: int | None = None,
    seed: int = 0,
    confirm: int | None = None,
    horizon_exponent: float | None = None,
    rule: Any = None,
    beta: float = 0.98,
    diverge: float = 4.0,
    quiet: bool = True,
) -> FinderResult:
    """lrlab's range test and confirmed advice for a run of ``steps`` steps of
    ``objective``, spending at most ``budget`` of that run.

    ``objective`` is the function :func:`lrlab.tune.tune` takes, or a built-in task.
    It is called once for the sweep (``trial.phase == "sweep"``: the ramp over
    ``num_steps`` steps, default :func:`lrlab.finder.advice_budget`; report the batch's
    loss after each update, stop when ``trial.should_prune()``) and once per probe of the
    race (``trial.phase == "probe"``: a constant rate for ``trial.steps`` steps; report
    the validation loss every ``trial.eval_every`` steps, and return it).  Every call
    trains ``optimizer`` (``trial.optimizer(params)``) from a fresh model seeded by
    ``trial.seed``.  The options are :func:`lrlab.finder.find_lr`'s.

    Returns:
        A :class:`~lrlab.finder.FinderResult`: the curve, the peers' suggestions and
        lrlab's (``result.suggestion``, with its range and ``advice.reason``), the steps
        spent (a longer probe of a rate reruns it: counted in full).
    """
    from lrlab.schedules import exponential
    from lrlab.train.optimizers import check_name

    fn, task = as_objective(objective)  # the options are checked before anything trains
    horizon = check_steps(steps, task)
    if num_steps is None:
        num_steps = advice_budget(horizon, budget)[0]
    s = SweepSettings.of(
        min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode="exponential", beta=beta,
        debias=True, diverge=diverge, confirm=confirm, budget=budget, horizon=horizon,
        horizon_exponent=horizon_exponent, rule=rule,
    )  # fmt: skip
    name, seed = check_name(optimizer), check_seed("seed", seed)
    every = checkpoint_every(s.horizon)
    ramp_lrs = ramp(s.min_lr, s.max_lr, s.num_steps)
    grow = exponential(s.min_lr, -math.log(s.max_lr / s.min_lr) / (s.num_steps - 1))
    sweep = _Sweep(s.beta, s.diverge)
    bar = progress_bar(s.num_steps + max(s.room, 0), "lr range test", quiet)
    try:
        lrs, losses = _swept(fn, sweep, name, grow, s.num_steps, seed, ramp_lrs)
        bar.update(s.num_steps)
        anchor = sweep_anchor(lrs, losses)
        advice, probe_steps = None, 0
        if anchor is not None and s.rule.candidates > 0 and s.room >= 2 * every:
            probe = _Probe(fn, name, seed, every, bar)
            deterministic = task is not None and int(task.batch_size) >= len(task.x_train)
            advice = race_advice(
                anchor, probe, horizon=s.horizon, budget=s.room, rule=s.rule,
                deterministic=deterministic,
            )  # fmt: skip
            probe_steps = probe.spent
    finally:
        bar.close()
    return FinderResult(
        lrs=lrs, losses=losses, smoothed=Ema(s.beta, True).curve(losses),
        suggestions=suggestions(lrs, losses, anchor, advice), stop_reason=sweep.stop,
        divergence_lr=edge_lr(lrs, losses) if sweep.stop != "max_lr" else None,
        stop_lr=float(lrs[-1]),
        confirmations=[] if advice is None else [(lr, sc) for lr, _, sc in advice.probes],
        steps=int(sweep.points[-1][0]) + probe_steps, settings=dataclasses.asdict(s),
        advice=advice,
    )  # fmt: skip


def _swept(
    fn: Any, sweep: _Sweep, name: str, grow: Any, n: int, seed: int, ramp_lrs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Run the sweep trial (the objective on the ramp ``grow``); its ``(lrs, losses)``."""
    import optuna

    config = {"lr": float(ramp_lrs[0]), "optimizer": name, "schedule": "ramp", "params": {}}
    try:
        fn(_trial(sweep, config, grow, n, seed, "sweep", 1))
    except optuna.TrialPruned:
        pass  # the stop rule said so: the curve ends there
    return _curve(sweep.points, ramp_lrs)


def _curve(points: list[tuple[int, float]], ramp_lrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sweep's ``(lrs, losses)``: the loss reported after update ``k`` is the batch's
    loss before it, at the ramp's rate ``k - 1``."""
    n = len(ramp_lrs)
    ok = [(step, v) for step, v in points if 1 <= step <= n]
    if len(ok) < 5:
        raise UsageError(
            "advise needs the sweep's loss after each update: in the objective, call "
            "trial.report(loss, step) at every step when trial.phase == 'sweep'. "
            f"Received: {len(ok)} reports over {n} sweep steps"
        )
    lrs = np.asarray([ramp_lrs[step - 1] for step, _ in ok], dtype=np.float64)
    return lrs, np.asarray([v for _, v in ok], dtype=np.float64)
