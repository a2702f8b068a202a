"""The training loop behind :func:`lrlab.train.run`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from lrlab._checks import positive_int as _positive_int
from lrlab._checks import positive_number
from lrlab._checks import seed as check_seed
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.schedules import Schedule, constant, parse, parse_rule, reduce_on_plateau
from lrlab.schedules._validate import shown
from lrlab.tasks import Task, resolve
from lrlab.train._step import Driver, StepMeter
from lrlab.train._step import divergence_factor as check_divergence_factor
from lrlab.train.history import History
from lrlab.train.optimizers import (
    DEFAULT_LR,
    check_name,
    is_schedule_free,
    make_optimizer,
    refuse_own,
)

__all__ = ["resolve_schedule", "run"]


def resolve_schedule(
    optimizer: str, lr: float | None, schedule: Any, steps: int
) -> tuple[Any, np.ndarray]:
    """The :class:`~lrlab.schedules.Schedule` of a run and its LR at steps ``0 .. steps-1``.

    Rule for ``lr`` and ``schedule`` together: the schedule sets the LR at every
    step; ``lr``, if also given, must equal the schedule's *peak* over the run
    (``max(schedule(t))``, to relative 1e-9), or a :class:`UsageError` is raised.
    With no schedule, the LR is constant at ``lr`` (or the optimizer's default).
    """
    optimizer = check_name(optimizer)
    steps = _positive_int("steps", steps)
    if lr is not None:
        positive_number("lr", lr, allow_zero=True)
    sched: Schedule
    if schedule is None:
        sched = constant(float(DEFAULT_LR[optimizer] if lr is None else lr))
    elif isinstance(schedule, str):
        sched = parse(schedule)
    elif isinstance(schedule, Schedule):
        sched = schedule
    else:
        raise UsageError(
            "Argument `schedule` must be a Schedule, a schedule text or None. "
            f"Received: schedule={schedule!r}"
        )
    lrs = np.asarray(sched(np.arange(steps)), dtype=np.float64).reshape(steps)
    bad = np.flatnonzero(~(np.isfinite(lrs) & (lrs >= 0)))
    if len(bad):
        raise UsageError(
            "Argument `schedule` must give a finite non-negative LR at every step. "
            f"Received: schedule={sched} with lr={lrs[bad[0]]!r} at step {bad[0]}"
        )
    if lr is not None and schedule is not None:
        peak = float(lrs.max())
        if not math.isclose(float(lr), peak, rel_tol=1e-9, abs_tol=0.0):
            raise UsageError(
                "Arguments `lr` and `schedule` disagree: when both are given, `lr` must equal the "
                f"schedule's peak over the run. Received: lr={lr!r}, schedule={sched} "
                f"(peak {peak!r})"
            )
    return sched, lrs


@dataclass(frozen=True)
class RunSettings:
    """Everything one :func:`run` needs, checked when made (:meth:`of`), then never changed.

    ``lrs`` are the rates of updates ``0 .. steps-1`` (a plateau rule's own ``lr`` at
    every step: its reductions are decided while training).
    """

    task: Task
    optimizer: str
    schedule: Schedule
    rule: reduce_on_plateau | None
    lrs: tuple[float, ...]
    steps: int
    seed: int
    eval_every: int
    divergence_factor: float
    step_size_every: int
    options: Mapping[str, Any]  # read-only

    @classmethod
    def of(
        cls,
        task: Task | str,
        optimizer: str,
        lr: float | None,
        schedule: Any,
        steps: int | None,
        seed: int,
        eval_every: int | None,
        divergence_factor: float,
        step_size_every: int,
        options: dict[str, Any],
    ) -> RunSettings:
        """The settings of :func:`run`'s arguments, or a :class:`UsageError` naming the first
        bad one."""
        task = resolve(task)
        name = check_name(optimizer)
        refuse_own(
            "run", options, ("name", "params"),
            "the optimizer is named by `optimizer` and built over the task's model",
        )  # fmt: skip
        steps = task.steps if steps is None else _positive_int("steps", steps)
        every = task.eval_every if eval_every is None else _positive_int("eval_every", eval_every)
        k_size = _positive_int("step_size_every", step_size_every)
        divergence_factor = check_divergence_factor(divergence_factor)
        seed = check_seed("seed", seed)
        rule = None
        if isinstance(schedule, str):
            schedule = parse_rule(schedule)
        if isinstance(schedule, reduce_on_plateau):
            rule = schedule
            if lr is not None and lr != rule.lr:
                raise UsageError(
                    "Arguments `lr` and `schedule` disagree: a reduce_on_plateau rule starts at "
                    f"its own lr. Received: lr={lr!r}, schedule={rule}"
                )
            schedule, lr = None, rule.lr
        sched, lrs = resolve_schedule(name, lr, schedule, steps)
        return cls(
            task, name, sched, rule, tuple(lrs.tolist()), steps, int(seed), every,
            float(divergence_factor), k_size, MappingProxyType(dict(options)),
        )  # fmt: skip


def run(
    task: Task | str,
    optimizer: str = "sgd",
    lr: float | None = None,
    schedule: Any = None,
    steps: int | None = None,
    seed: int = 0,
    eval_every: int | None = None,
    on_eval: Callable[[int, float], Any] | None = None,
    quiet: bool = True,
    *,
    divergence_factor: float = 1e3,
    step_size_every: int = 1,
    **optimizer_options: Any,
) -> History:
    """Train a fresh model of ``task`` and record what happened.

    Args:
        task: a :class:`~lrlab.tasks.Task` or a built-in task name.
        optimizer: one of :data:`lrlab.train.OPTIMIZERS`.
        lr: the learning rate (constant when ``schedule`` is None; else it must
            equal the schedule's peak, see :func:`resolve_schedule`).  ``None``
            takes the optimizer's default.
        schedule: a :class:`~lrlab.schedules.Schedule`, its text, or None.
            Update ``t`` (from 0) uses ``schedule(t)``; every param group's lr is
            set to ``schedule(t) * group.get("lr_scale", 1)``.  It may also be a
            :class:`~lrlab.schedules.reduce_on_plateau` rule (or its text): the
            run starts at the rule's ``lr`` and feeds it each evaluation's
            validation loss, so ``patience`` and ``cooldown`` count
            evaluations (every ``eval_every`` updates); a lowered rate applies
            from the next update on.  ``History.lr`` holds the rates used.
        steps: number of updates (default ``task.steps``).
        seed: fixes the model's initial weights and the batch order; the same
            seed gives a bit-identical history.
        eval_every: evaluate on the validation split every this many updates and
            after the last one (default ``task.eval_every``).
        on_eval: called as ``on_eval(step, val_loss)`` after each finite
            evaluation; whatever it raises propagates out of ``run``.
        quiet: no progress bar (it is also hidden when stderr is not a terminal).
        divergence_factor: the run stops as diverged when a training loss is not
            finite or exceeds ``divergence_factor`` times the first one, or a
            validation loss is not finite.  It never raises for that.
        step_size_every: measure ``||delta theta|| / ||g||`` every this many
            steps (NaN in between); 1 measures every step.
        **optimizer_options: passed to :func:`~lrlab.train.make_optimizer`.

    Returns:
        A :class:`~lrlab.train.History`.
    """
    s = RunSettings.of(
        task, optimizer, lr, schedule, steps, seed, eval_every, divergence_factor,
        step_size_every, optimizer_options,
    )  # fmt: skip
    if on_eval is not None and not callable(on_eval):
        raise UsageError(
            "Argument `on_eval` must be a function of (step, val_loss) or None. "
            f"Received: on_eval={shown(on_eval)}"
        )
    rec = _Record(s)
    bar = progress_bar(s.steps, f"{s.task.name}/{s.optimizer}", quiet)
    try:
        _train(s, rec, on_eval, bar)
    finally:
        bar.close()
    return rec.history(s, time.perf_counter() - rec.start)


class _Record:
    """What a run has done so far: the rates, losses and step sizes per update, the
    evaluations, and whether (and where) it stopped as diverged."""

    def __init__(self, s: RunSettings) -> None:
        self.lr = list(s.lrs)
        self.train_loss = np.full(s.steps, np.nan)
        self.step_size = np.full(s.steps, np.nan)
        self.eval_steps: list[int] = []
        self.val_loss: list[float] = []
        self.val_metric: list[float] = []
        self.done = 0  # updates made
        self.diverged = False
        self.stopped_by_train_loss = False
        self.start = time.perf_counter()  # reset when the first update starts

    def history(self, s: RunSettings, wall: float) -> History:
        # A run stopped by its training loss keeps that loss as its last iteration.
        n = self.done + 1 if self.stopped_by_train_loss else self.done
        return History(
            lr=np.asarray(self.lr[:n], dtype=np.float64),
            train_loss=self.train_loss[:n],
            step_size=self.step_size[:n],
            eval_steps=np.asarray(self.eval_steps, dtype=np.int64),
            val_loss=np.asarray(self.val_loss, dtype=np.float64),
            val_metric=np.asarray(self.val_metric, dtype=np.float64),
            steps=self.done,
            wall_time=wall,
            diverged=self.diverged,
            meta={
                "task": s.task.name,
                "optimizer": s.optimizer,
                "schedule": str(s.schedule if s.rule is None else s.rule),
                "seed": s.seed,
                "metric_name": s.task.metric_name,
                "options": {k: _jsonable(v) for k, v in s.options.items()},
            },
        )


def _train(
    s: RunSettings, rec: _Record, on_eval: Callable[[int, float], Any] | None, bar: Any
) -> None:
    """Train a fresh model of ``s.task`` for ``s.steps`` updates (or until it diverges),
    recording into ``rec``."""
    task = s.task
    model = task.make_model(s.seed)
    params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
    meter = StepMeter(params)  # before the optimizer: it may move parameters into one buffer
    opt = make_optimizer(s.optimizer, params, s.lrs[0], **s.options)
    schedule_free = is_schedule_free(s.optimizer)
    loss_fn = task.loss_fn
    driver = Driver(
        lambda batch: loss_fn(model(batch[0]), batch[1]), opt, factor=s.divergence_factor,
        meter=meter,
    )  # fmt: skip
    batches = task.batches(s.seed)
    lr, k_size, every, steps = rec.lr, s.step_size_every, s.eval_every, s.steps
    state = None if s.rule is None else s.rule.init()
    model.train()
    if schedule_free:
        opt.train()  # type: ignore[attr-defined]
    rec.start = time.perf_counter()
    for t in range(steps):
        measure = t % k_size == 0
        rec.train_loss[t] = driver.step(next(batches), lr[t], measure=measure)
        if driver.diverged:
            rec.diverged = rec.stopped_by_train_loss = True
            return
        rec.done = done = t + 1
        if measure:
            rec.step_size[t] = driver.step_size
        if done % every == 0 or done == steps:
            vl = _evaluate(task, model, opt, schedule_free, rec)
            if not math.isfinite(vl):
                rec.diverged = True
                return
            if on_eval is not None:
                on_eval(done, vl)
            if s.rule is not None and state is not None and done < steps:
                state = s.rule.update(state, vl)
                if state.lr != lr[done]:  # a reduction: it applies from the next update on
                    lr[done:] = [state.lr] * (steps - done)
        bar.update(1)


def _evaluate(
    task: Task,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    schedule_free: bool,
    rec: _Record,
) -> float:
    """Evaluate on the validation split (a Schedule-Free optimizer in its eval mode) and
    record it; the validation loss."""
    if schedule_free:
        opt.eval()  # type: ignore[attr-defined]
    vl, vm = task.evaluate(model, "val")
    if schedule_free:
        opt.train()  # type: ignore[attr-defined]
    rec.eval_steps.append(rec.done)
    rec.val_loss.append(vl)
    rec.val_metric.append(vm)
    return vl


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return repr(v)
