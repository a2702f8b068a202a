"""The training loop behind :func:`lrlab.train.run`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lrlab._checks import positive_int as _positive_int
from lrlab._progress import shows_progress
from lrlab.errors import UsageError
from lrlab.schedules import parse_rule, reduce_on_plateau
from lrlab.tasks import Task, get
from lrlab.train.history import History
from lrlab.train.optimizers import DEFAULT_LR, check_name, is_schedule_free, make_optimizer

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
    from lrlab.schedules import Schedule, constant, parse

    if lr is not None and (
        isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf
    ):
        raise UsageError(f"Argument `lr` must be a non-negative finite number. Received: lr={lr!r}")
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
    if not np.all(np.isfinite(lrs)) or np.any(lrs < 0):
        bad = int(np.nonzero(~(np.isfinite(lrs) & (lrs >= 0)))[0][0])
        raise UsageError(
            "Argument `schedule` must give a finite non-negative LR at every step. "
            f"Received: schedule={sched} with lr={lrs[bad]!r} at step {bad}"
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


class _StepMeter:
    """Measures the effective step ``||theta_{t+1} - theta_t|| / ||g_t||`` cheaply.

    When all parameters share a dtype and device they are moved into one flat
    buffer (each parameter becomes a view of it) and their gradients into
    another, so a measurement costs a handful of tensor ops on two flat
    vectors instead of one per parameter.  Gradients are then zeroed in place
    rather than set to None (the same values, since the backward pass adds to
    zeros).  If an optimizer ever rebinds a parameter's storage, the meter
    falls back to per-parameter ``torch._foreach`` ops.
    """

    def __init__(self, params: list[torch.Tensor]) -> None:
        self.params = params
        self.flat: torch.Tensor | None = None
        self.gflat: torch.Tensor | None = None
        self.gnorm: torch.Tensor | None = None
        first = params[0] if params else None
        if first is not None and all(
            p.dtype == first.dtype and p.device == first.device for p in params
        ):
            n = sum(p.numel() for p in params)
            flat = torch.empty(n, dtype=first.dtype, device=first.device)
            gflat = torch.zeros(n, dtype=first.dtype, device=first.device)
            off = 0
            for p in params:
                k = p.numel()
                flat[off : off + k].copy_(p.detach().reshape(-1))
                p.data = flat[off : off + k].view_as(p)
                p.grad = gflat[off : off + k].view_as(p)
                off += k
            self.flat, self.gflat, self.prev_flat = flat, gflat, torch.empty_like(flat)
            self._ptrs = self._pointers()
        else:
            self._fallback()

    def _pointers(self) -> list[tuple[int, int]]:
        return [(p.data_ptr(), p.grad.data_ptr() if p.grad is not None else 0) for p in self.params]

    def _fallback(self) -> None:
        self.flat = self.gflat = None
        self.prev = [p.detach().clone() for p in self.params]

    def zero_grad(self, opt: torch.optim.Optimizer) -> None:
        if self.gflat is not None:
            self.gflat.zero_()
        else:
            opt.zero_grad(set_to_none=True)

    def before(self) -> None:
        """Record ``||g||`` and the parameters before ``optimizer.step()``."""
        if self.flat is not None and self.gflat is not None:
            self.gnorm = torch.linalg.vector_norm(self.gflat)
            self.prev_flat.copy_(self.flat)
        else:
            grads = [p.grad for p in self.params if p.grad is not None]
            self.gnorm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            torch._foreach_copy_(self.prev, self.params)

    def after(self) -> float:
        """``||theta_before - theta_now|| / ||g||`` (NaN when ``g = 0``)."""
        gnorm = self.gnorm
        assert gnorm is not None
        if self.flat is not None:
            if self._pointers() != self._ptrs:  # storage rebound: measure per parameter
                self._fallback()
                return math.nan
            dnorm = torch.linalg.vector_norm(self.prev_flat.sub_(self.flat))
        else:
            torch._foreach_sub_(self.prev, self.params)
            dnorm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(self.prev)))
        ratio = (dnorm / gnorm).item()
        return ratio if math.isfinite(ratio) else math.nan


def _progress(total: int, desc: str, quiet: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not shows_progress(quiet), leave=False)


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
    if isinstance(task, str):
        task = get(task)
    if not isinstance(task, Task):
        raise UsageError(f"Argument `task` must be a Task or a task name. Received: task={task!r}")
    name = check_name(optimizer)
    steps = task.steps if steps is None else _positive_int("steps", steps)
    eval_every = task.eval_every if eval_every is None else _positive_int("eval_every", eval_every)
    k_size = _positive_int("step_size_every", step_size_every)
    if not (isinstance(divergence_factor, (int, float)) and divergence_factor > 1):
        raise UsageError(
            "Argument `divergence_factor` must be a number greater than 1. "
            f"Received: divergence_factor={divergence_factor!r}"
        )
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise UsageError(f"Argument `seed` must be an integer. Received: seed={seed!r}")
    rule, state = None, None
    if isinstance(schedule, str):
        schedule = parse_rule(schedule)
    if isinstance(schedule, reduce_on_plateau):
        rule, state = schedule, schedule.init()
        if lr is not None and lr != rule.lr:
            raise UsageError(
                "Arguments `lr` and `schedule` disagree: a reduce_on_plateau rule starts at its "
                f"own lr. Received: lr={lr!r}, schedule={rule}"
            )
        schedule, lr = None, rule.lr
    sched, lrs = resolve_schedule(name, lr, schedule, steps)

    model = task.make_model(int(seed))
    params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
    meter = _StepMeter(params)  # before the optimizer: it may move parameters into one buffer
    opt = make_optimizer(name, params, float(lrs[0]), **optimizer_options)
    schedule_free = is_schedule_free(name)
    groups = opt.param_groups
    scales = [float(g.get("lr_scale", 1.0)) for g in groups]
    batches = task.batches(int(seed))
    loss_fn = task.loss_fn

    train_loss = np.full(steps, np.nan)
    step_size = np.full(steps, np.nan)
    eval_steps: list[int] = []
    val_loss: list[float] = []
    val_metric: list[float] = []
    diverged = False
    limit = math.inf
    done = 0
    t = -1
    lr_list = lrs.tolist()

    bar = _progress(steps, f"{task.name}/{name}", quiet)
    start = time.perf_counter()
    model.train()
    if schedule_free:
        opt.train()  # type: ignore[attr-defined]
    try:
        for t in range(steps):
            lr_t = lr_list[t]
            for g, s in zip(groups, scales):
                g["lr"] = lr_t * s
            x, y = next(batches)
            meter.zero_grad(opt)
            loss = loss_fn(model(x), y)
            loss.backward()
            value = loss.item()
            train_loss[t] = value
            if t == 0:
                limit = divergence_factor * max(abs(value), 1e-12)
            if not value <= limit:  # also catches NaN
                diverged = True
                break
            measure = t % k_size == 0
            if measure:
                meter.before()
            opt.step()
            done = t + 1
            if measure:
                step_size[t] = meter.after()
            if done % eval_every == 0 or done == steps:
                if schedule_free:
                    opt.eval()  # type: ignore[attr-defined]
                vl, vm = task.evaluate(model, "val")
                if schedule_free:
                    opt.train()  # type: ignore[attr-defined]
                eval_steps.append(done)
                val_loss.append(vl)
                val_metric.append(vm)
                if not math.isfinite(vl):
                    diverged = True
                    break
                if on_eval is not None:
                    on_eval(done, vl)
                if rule is not None and state is not None and done < steps:
                    state = rule.update(state, vl)
                    if state.lr != lr_list[done]:
                        lr_list[done:] = [state.lr] * (steps - done)
            bar.update(1)
    finally:
        bar.close()
    wall = time.perf_counter() - start
    # A run stopped by its training loss keeps that loss as its last iteration.
    n = done + 1 if diverged and done < steps and t == done else done
    return History(
        lr=np.asarray(lr_list[:n], dtype=np.float64),
        train_loss=train_loss[:n],
        step_size=step_size[:n],
        eval_steps=np.asarray(eval_steps, dtype=np.int64),
        val_loss=np.asarray(val_loss, dtype=np.float64),
        val_metric=np.asarray(val_metric, dtype=np.float64),
        steps=done,
        wall_time=wall,
        diverged=diverged,
        meta={
            "task": task.name,
            "optimizer": name,
            "schedule": str(sched if rule is None else rule),
            "seed": int(seed),
            "metric_name": task.metric_name,
            "options": {k: _jsonable(v) for k, v in optimizer_options.items()},
        },
    )


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return repr(v)
