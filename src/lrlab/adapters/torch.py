"""PyTorch adapter: an lrlab schedule as a ``torch.optim.lr_scheduler.LRScheduler``.

:func:`scheduler` wraps a schedule in :class:`ScheduleLR`, a real
``LRScheduler`` subclass that follows the protocol of PyTorch's built-in
schedulers: the constructor sets step 0, so the first ``optimizer.step()``
uses ``schedule(0)``; after ``k`` calls of ``scheduler.step()`` every param
group's ``lr`` is ``group["lr_scale"] * schedule(k)`` (``lr_scale`` defaults
to 1.0).  The LR always comes from the closed form, never from the previous
LR, so a run saved at any step and resumed reproduces the uninterrupted LR
sequence bit for bit::

    >>> import torch
    >>> import lrlab.torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> b = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([{"params": [w]}, {"params": [b], "lr_scale": 0.1}], lr=1.0)
    >>> sched = lrlab.torch.scheduler(opt, "step(1.0, 0.5, 2)")
    >>> sched.get_last_lr()
    [1.0, 0.1]
    >>> for _ in range(2):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.5, 0.05]
    >>> sched.state_dict()
    {'last_epoch': 2, 'schedule': {'type': 'step', 'lr': 1.0, 'factor': 0.5, 'every': 2}}

A param group whose ``lr`` is a ``torch.Tensor`` (as used with
``torch.compile``) is updated in place with ``fill_``, so a compiled
optimizer step sees the new LR without recompiling.

:func:`plateau` does the same for :class:`~lrlab.schedules.reduce_on_plateau`,
the one rule driven by a metric: :class:`PlateauLR` is a
``torch.optim.lr_scheduler.ReduceLROnPlateau`` (so Lightning passes it the
monitored metric), stepped with ``sched.step(val_loss)``, whose state is the
rule's plain-data :class:`~lrlab.schedules.PlateauState`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from lrlab import _seams
from lrlab.adapters._shared import as_plateau, as_schedule
from lrlab.errors import ScheduleError, UsageError
from lrlab.schedules import PlateauState, Schedule

__all__ = ["PlateauLR", "ScheduleLR", "plateau", "scheduler", "set_lrs"]

_Tensor = torch.Tensor
_INF = math.inf


def _bad_scale(index: int, key: str, value: Any) -> UsageError:
    return UsageError(
        f"Param group key `{key}` of param_groups[{index}] must be a finite number >= 0 "
        f"(the group's LR is {key} * schedule(step)). Received: {key}={value!r}"
    )


def _check_scale(index: int, key: str, value: Any) -> float:
    """Validate one param group's relative scale and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad_scale(index, key, value)
    v = float(value)
    if not 0.0 <= v < _INF:
        raise _bad_scale(index, key, value)
    return v


def _check_groups(optimizer: Optimizer, key: str) -> None:
    """Check every group's scale, and that groups sharing one LR tensor
    (``Optimizer(lr=tensor)`` gives them all the same object) share the scale."""
    owner: dict[int, tuple[int, float]] = {}
    for i, group in enumerate(optimizer.param_groups):
        scale = _check_scale(i, key, group.get(key, 1.0))
        lr = group["lr"]
        if not isinstance(lr, _Tensor):
            continue
        j, other = owner.setdefault(id(lr), (i, scale))
        if other != scale:
            raise UsageError(
                f"param_groups[{j}] and param_groups[{i}] share one lr tensor but have "
                f"different `{key}` ({other!r} and {scale!r}); an in-place update cannot give "
                "them different LRs. Give each group its own tensor, e.g. "
                "{'params': ..., 'lr': torch.tensor(0.1)}. "
                f"Received: {key}={scale!r} for param_groups[{i}]"
            )


def set_lrs(optimizer: Optimizer, key: str, value: float) -> list[float | torch.Tensor]:
    """Set every group's LR to ``group[key] * value`` (scale 1.0 when absent); the LRs set.

    One pass over the groups: this is the whole per-step cost of a scheduler, and
    what a loop of your own calls to set a rate (``set_lrs(opt, "lr_scale", 0.01)``);
    lrlab's lab, range test and surface paths set theirs through it too.  A tensor
    LR is filled in place.
    """
    last: list[float | torch.Tensor] = []
    for i, group in enumerate(optimizer.param_groups):
        scale = group.get(key, 1.0)
        if scale.__class__ is not float or not 0.0 <= scale < _INF:
            scale = _check_scale(i, key, scale)
        lr = scale * value
        current = group["lr"]
        # A float LR is the common case: test for it first, since
        # isinstance(x, torch.Tensor) costs more than the rest of the loop.
        if current.__class__ is not float and isinstance(current, _Tensor):
            current.fill_(lr)
            last.append(current.clone())
        else:
            group["lr"] = lr
            last.append(lr)
    return last


def _check_keys(state_dict: Any, where: str, keys: tuple[str, str]) -> None:
    if not isinstance(state_dict, Mapping) or set(state_dict) != set(keys):
        raise UsageError(
            f"Argument `state_dict` of {where} must be a dict with exactly the keys "
            f"{keys[0]!r} and {keys[1]!r}, as state_dict() returns. "
            f"Received: state_dict={state_dict!r}"
        )


class ScheduleLR(_seams.ClosedFormStep, LRScheduler):
    """A PyTorch LR scheduler driven by an lrlab schedule's closed form.

    Args:
        optimizer: the optimizer whose param groups' ``lr`` it sets.
        schedule: a :class:`~lrlab.Schedule`, its text form or its config.
        scale_key: the param group key holding a relative scale (default
            ``"lr_scale"``; a group without it has scale 1.0).

    ``step()`` sets every group's LR to ``scale * schedule(step)``: one closed
    form and one pass over the groups, with ``LRScheduler``'s bookkeeping
    kept (:class:`lrlab._seams.ClosedFormStep`).
    ``state_dict()`` holds only plain data (``last_epoch`` and the
    schedule's config), so it loads with ``torch.load(weights_only=True)``.
    ``load_state_dict()`` restores both and sets every group's LR to the
    closed form at the restored step, whatever the order in which the
    optimizer and the scheduler are restored; the schedule in the state
    replaces the one given to the constructor, as with PyTorch's built-ins.
    """

    schedule: Schedule
    scale_key: str

    def __init__(self, optimizer: Optimizer, schedule: Any, *, scale_key: str = "lr_scale") -> None:
        where = "lrlab.torch.scheduler()"
        if not isinstance(optimizer, Optimizer):
            raise UsageError(
                f"Argument `optimizer` of {where} must be a torch.optim.Optimizer. "
                f"Received: optimizer={optimizer!r}"
            )
        if not isinstance(scale_key, str) or not scale_key or scale_key == "lr":
            raise UsageError(
                f"Argument `scale_key` of {where} must be a non-empty param group key other "
                f"than 'lr'. Received: scale_key={scale_key!r}"
            )
        self.schedule = as_schedule(schedule, where)
        self.scale_key = scale_key
        _check_groups(optimizer, scale_key)
        super().__init__(optimizer)

    # -- the closed form -----------------------------------------------------
    def _lrs(self, step: int) -> list[float]:
        """``scale * schedule(step)`` for every param group."""
        value = self.schedule(step)
        key = self.scale_key
        out = []
        for i, group in enumerate(self.optimizer.param_groups):
            scale = group.get(key, 1.0)
            if scale.__class__ is not float or not 0.0 <= scale < _INF:
                scale = _check_scale(i, key, scale)
            out.append(scale * value)
        return out

    def _rates(self, step: int) -> list[float | torch.Tensor]:
        """Set every group's LR to the closed form at ``step``; the LRs set.

        One pass over the groups: this is the whole per-step cost.
        """
        return set_lrs(self.optimizer, self.scale_key, self.schedule(step))

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LRs at ``last_epoch`` (PyTorch calls this inside ``step()``;
        use :meth:`get_last_lr` to read the current LRs)."""
        _seams.warn_unless_in_step(self)
        return list(self._lrs(self.last_epoch))

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        return list(self._lrs(self.last_epoch))

    # -- state ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"last_epoch": int, "schedule": config}``: plain data only."""
        return {"last_epoch": int(self.last_epoch), "schedule": self.schedule.to_config()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step and the schedule and set the LRs to match."""
        where = "ScheduleLR.load_state_dict()"
        _check_keys(state_dict, where, ("last_epoch", "schedule"))
        step = state_dict["last_epoch"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise UsageError(
                f"Key 'last_epoch' of {where}'s `state_dict` must be an integer >= 0. "
                f"Received: last_epoch={step!r}"
            )
        self.schedule = as_schedule(state_dict["schedule"], where)
        self.last_epoch = step
        _seams.restored(self)
        _seams.set_last_lr(self, self._rates(step))


def scheduler(optimizer: Optimizer, schedule: Any, *, scale_key: str = "lr_scale") -> ScheduleLR:
    """Wrap ``schedule`` (a :class:`~lrlab.Schedule`, its text form or its
    config) as a PyTorch LR scheduler for ``optimizer``; see :class:`ScheduleLR`.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    >>> sched = scheduler(opt, "cosine(0.1, 100)")
    >>> opt.param_groups[0]["lr"]
    0.1
    """
    return ScheduleLR(optimizer, schedule, scale_key=scale_key)


class PlateauLR(ReduceLROnPlateau):
    """A :class:`~lrlab.schedules.reduce_on_plateau` rule driving an optimizer.

    ``sched.step(metric)`` feeds one metric (a float or a 0-d tensor) to the
    rule and sets every param group's LR to ``group["lr_scale"] * state.lr``
    (``lr_scale`` defaults to 1.0, as for :class:`ScheduleLR`).  With one
    group, or equal scales, the LRs are PyTorch's ``ReduceLROnPlateau``'s bit
    for bit; ``min_lr`` and ``eps`` apply to the rule's own rate, so a group
    with ``lr_scale`` ``c`` never goes below ``c * min_lr``.  The state is the
    rule's config and its :class:`~lrlab.schedules.PlateauState`, plain data
    that ``torch.load(..., weights_only=True)`` reads.  Being a
    ``ReduceLROnPlateau``, it is treated as one by code that checks (Lightning
    steps it with the monitored metric); its ``best``, ``num_bad_epochs``,
    ``cooldown_counter`` and ``last_epoch`` mirror the state.

    >>> import torch
    >>> from lrlab.schedules import reduce_on_plateau
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    >>> sched = PlateauLR(opt, reduce_on_plateau(0.1, factor=0.5, patience=0))
    >>> for loss in [1.0, 1.2, 0.5]:
    ...     sched.step(loss)
    >>> sched.get_last_lr(), sched.state.reductions
    ([0.05], 1)
    """

    def __init__(self, optimizer: Optimizer, rule: Any, *, scale_key: str = "lr_scale") -> None:
        if not isinstance(optimizer, Optimizer):
            raise UsageError(
                "Argument `optimizer` must be a torch.optim.Optimizer. "
                f"Received: optimizer={type(optimizer).__name__}"
            )
        self.rule = as_plateau(rule, "PlateauLR()")
        _check_groups(optimizer, scale_key)
        r = self.rule
        super().__init__(
            optimizer,
            mode=r.mode,  # type: ignore[arg-type]
            factor=r.factor,
            patience=r.patience,
            threshold=r.threshold,
            threshold_mode=r.threshold_mode,  # type: ignore[arg-type]
            cooldown=r.cooldown,
            min_lr=r.min_lr,
            eps=r.eps,
        )
        self.scale_key = scale_key
        self.state = r.init()
        self._apply()

    def _apply(self, lrs: bool = True) -> None:
        """Set every group's LR from the state (when ``lrs``); mirror the state in torch's
        attributes."""
        s = self.state
        if lrs:
            _seams.set_last_lr(self, set_lrs(self.optimizer, self.scale_key, s.lr))
        self.best = s.best
        self.num_bad_epochs = s.bad
        self.cooldown_counter = s.cooldown
        self.last_epoch = s.evaluations

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Feed one metric to the rule and set the LRs."""
        if epoch is not None:
            raise UsageError(
                "Argument `epoch` of PlateauLR.step() is not supported: the state counts "
                f"its own evaluations. Received: epoch={epoch!r}"
            )
        before = self.state.lr
        try:
            self.state = self.rule.update(self.state, metrics)
        except ScheduleError as e:
            raise UsageError(str(e)) from None
        self._apply(lrs=self.state.lr != before)  # most evaluations change no rate

    def state_dict(self) -> dict[str, Any]:
        """``{"rule": config, "state": PlateauState fields}``: plain data only."""
        return {"rule": self.rule.to_config(), "state": self.state._asdict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the rule and its state and set the LRs to match."""
        where = "PlateauLR.load_state_dict()"
        _check_keys(state_dict, where, ("rule", "state"))
        rule = as_plateau(state_dict["rule"], where)
        try:
            state = PlateauState.from_dict(
                state_dict["state"], f"Key 'state' of {where}'s `state_dict`"
            )
        except ScheduleError as e:
            raise UsageError(str(e)) from None
        self.rule = rule
        self.state = state
        self._apply()


def plateau(optimizer: Optimizer, rule: Any, *, scale_key: str = "lr_scale") -> PlateauLR:
    """Drive ``optimizer`` with a :class:`~lrlab.schedules.reduce_on_plateau` rule
    (or its text or config); see :class:`PlateauLR`.

    >>> import torch
    >>> from lrlab.schedules import reduce_on_plateau
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    >>> sched = plateau(opt, reduce_on_plateau(0.1, patience=2))
    >>> opt.param_groups[0]["lr"]
    0.1
    """
    return PlateauLR(optimizer, rule, scale_key=scale_key)
