"""The search space of :func:`lrlab.tune.tune`: LR, optimizer, schedule family and its parameters.

A :class:`Space` holds

* ``lr = (low, high)``: the peak learning rate, sampled log-uniformly;
* ``optimizers``: names from :data:`lrlab.train.OPTIMIZERS`;
* ``schedules``: names of schedule *families*; each :class:`Family` knows how
  to build a :class:`lrlab.schedules.Schedule` from ``(lr, steps, **params)``
  and the distributions of its parameters.

Parameters are expressed relative to the run length so that one space fits any
step budget, e.g. ``exponential``'s ``decay`` is the ratio of the final to the
initial rate, ``lr(t) = lr * decay ** (t / steps)``.

The built-in families (:data:`FAMILIES`):

==============  =============================================  ==========================
family          schedule                                       parameters (distribution)
==============  =============================================  ==========================
constant        ``lr``                                          none
step            ``lr * factor ** (t // (every_frac * steps))``  factor U(0.1, 0.9),
                                                                every_frac U(0.1, 0.5)
exponential     ``lr * exp(-k t)``, ``k = -ln(decay) / steps``  decay logU(0.001, 0.5)
inverse_time    ``lr / (1 + k t)``, ``k = (1/decay - 1)/steps`` decay logU(0.001, 0.5)
cosine          ``cosine(lr, steps, min_frac * lr)``            min_frac U(0, 0.1)
one_cycle       ``one_cycle(lr, steps, pct_start, div)``        pct_start U(0.1, 0.5),
                                                                div logU(5, 100)
wsd             ``wsd(lr, steps, warmup_frac*steps, decay)``    warmup_frac U(0, 0.2),
                                                                decay_frac U(0.1, 0.5)
plateau         ``reduce_on_plateau(lr, factor, patience)``     factor U(0.1, 0.7),
                (the rate falls when the validation loss        patience 0 .. 2
                stops improving; not searched by default)
==============  =============================================  ==========================

Extend it with :meth:`Space.with_family`::

    >>> from lrlab.schedules import polynomial
    >>> fam = Family("poly", lambda lr, steps, power: polynomial(lr, steps, power=power),
    ...              {"power": Float(0.5, 3.0)}, {"power": 1.0})
    >>> space = Space(optimizers=("sgd",)).with_family(fam)
    >>> "poly" in space.schedules
    True
    >>> str(space.build("poly", 0.1, 100, {"power": 2.0}))
    'polynomial(lr=0.1, steps=100, end_lr=0.0, power=2.0)'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lrlab import schedules
from lrlab._checks import int_at_least, number_in
from lrlab.errors import UsageError

__all__ = ["FAMILIES", "Choice", "Family", "Float", "Int", "Space"]


@dataclass(frozen=True)
class Float:
    """A float parameter, uniform on ``[low, high]`` (log-uniform when ``log``)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.log, bool):
            raise UsageError(
                f"Argument `log` of Float must be True or False. Received: log={self.log!r}"
            )
        floor = math.nextafter(0.0, 1.0) if self.log else -math.inf
        what = "a positive finite number (log scale)" if self.log else "a finite number"
        low = number_in("low", self.low, lambda v: v >= floor, what)
        high = number_in("high", self.high, lambda v: v >= floor, what)
        if low > high:
            raise UsageError(
                f"Argument `low` of Float must be at most `high`. Received: low={self.low!r}, "
                f"high={self.high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)


@dataclass(frozen=True)
class Int:
    """An integer parameter, uniform on ``low .. high`` inclusive."""

    low: int
    high: int

    def __post_init__(self) -> None:
        low = int_at_least("low", self.low, -(2**63), "an integer")
        high = int_at_least("high", self.high, -(2**63), "an integer")
        if low > high:
            raise UsageError(
                f"Argument `low` of Int must be at most `high`. Received: low={self.low!r}, "
                f"high={self.high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)


@dataclass(frozen=True)
class Choice:
    """A categorical parameter."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if (
            isinstance(self.values, str)
            or not isinstance(self.values, (tuple, list))
            or not self.values
        ):
            raise UsageError(
                "Argument `values` of Choice must be a non-empty tuple of choices. "
                f"Received: values={self.values!r}"
            )
        object.__setattr__(self, "values", tuple(self.values))


Param = Float | Int | Choice


@dataclass(frozen=True)
class Family:
    """A schedule family: ``build(lr, steps, **params) -> Schedule``.

    Attributes:
        name: the family's name in the space and in Optuna parameter names
            (``"<name>.<param>"``).
        build: makes the schedule for a peak ``lr`` and a run of ``steps``.
        params: parameter name -> distribution.
        defaults: the values the ``grid`` sampler uses (it searches LR,
            optimizer and family only).
    """

    name: str
    build: Callable[..., Any]
    params: Mapping[str, Param] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _constant(lr: float, steps: int) -> Any:
    return schedules.constant(lr)


def _step(lr: float, steps: int, factor: float, every_frac: float) -> Any:
    return schedules.step(lr, factor, max(round(every_frac * steps), 1))


def _exponential(lr: float, steps: int, decay: float) -> Any:
    return schedules.exponential(lr, -math.log(decay) / steps)


def _inverse_time(lr: float, steps: int, decay: float) -> Any:
    return schedules.inverse_time(lr, (1.0 / decay - 1.0) / steps)


def _cosine(lr: float, steps: int, min_frac: float) -> Any:
    return schedules.cosine(lr, steps, min_lr=min_frac * lr)


def _one_cycle(lr: float, steps: int, pct_start: float, div: float) -> Any:
    return schedules.one_cycle(lr, steps, pct_start=pct_start, div=div)


def _plateau(lr: float, steps: int, factor: float, patience: int) -> Any:
    return schedules.reduce_on_plateau(lr, factor=factor, patience=patience)


def _wsd(lr: float, steps: int, warmup_frac: float, decay_frac: float) -> Any:
    return schedules.wsd(lr, steps, round(warmup_frac * steps), decay_frac=decay_frac)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("constant", _constant),
        Family(
            "step",
            _step,
            {"factor": Float(0.1, 0.9), "every_frac": Float(0.1, 0.5)},
            {"factor": 0.5, "every_frac": 0.3},
        ),
        Family("exponential", _exponential, {"decay": Float(1e-3, 0.5, log=True)}, {"decay": 0.05}),
        Family(
            "inverse_time", _inverse_time, {"decay": Float(1e-3, 0.5, log=True)}, {"decay": 0.1}
        ),
        Family("cosine", _cosine, {"min_frac": Float(0.0, 0.1)}, {"min_frac": 0.0}),
        Family(
            "one_cycle",
            _one_cycle,
            {"pct_start": Float(0.1, 0.5), "div": Float(5.0, 100.0, log=True)},
            {"pct_start": 0.3, "div": 25.0},
        ),
        Family(
            "wsd",
            _wsd,
            {"warmup_frac": Float(0.0, 0.2), "decay_frac": Float(0.1, 0.5)},
            {"warmup_frac": 0.05, "decay_frac": 0.2},
        ),
        Family(
            "plateau",
            _plateau,
            {"factor": Float(0.1, 0.7), "patience": Int(0, 2)},
            {"factor": 0.5, "patience": 1},
        ),
    )
}


def _check_names(arg: str, names: tuple[str, ...], known: Collection[str], what: str) -> None:
    if isinstance(names, str) or not isinstance(names, Collection):
        raise UsageError(
            f"Argument `{arg}` of Space must be a tuple of {what} from {', '.join(known)}. "
            f"Received: {arg}={names!r}"
        )
    if not names:
        raise UsageError(f"Argument `{arg}` of Space must not be empty. Received: ()")
    if len(set(names)) != len(names):
        raise UsageError(
            f"Argument `{arg}` of Space must not repeat a name (a repeated one would be drawn "
            f"more often). Received: {arg}={names!r}"
        )
    for name in names:
        if name not in known:
            raise UsageError(
                f"Argument `{arg}` of Space must hold {what} from {', '.join(known)}. "
                f"Received: {name!r}"
            )


def _pair(lr: Any) -> tuple[float, float]:
    """``lr`` as two floats; ``(nan, nan)`` (refused by the caller) if it is not two numbers."""
    try:
        lo, hi = lr
    except (TypeError, ValueError):
        return math.nan, math.nan
    try:
        return number_in("lr", lo, lambda _: True, ""), number_in("lr", hi, lambda _: True, "")
    except UsageError:
        return math.nan, math.nan


@dataclass(frozen=True)
class Space:
    """What :func:`~lrlab.tune.tune` searches over (see the module docstring).

    Attributes:
        lr: ``(low, high)`` of the log-uniform peak learning rate.
        optimizers: optimizer names.
        schedules: schedule family names (keys of ``families``).
        families: the known families (built-ins plus any added).
        grid_points: log-spaced LR values per decade-range for the ``grid`` sampler.
    """

    lr: tuple[float, float] = (1e-4, 1.0)
    optimizers: tuple[str, ...] = ("momentum", "adam")
    schedules: tuple[str, ...] = ("constant", "cosine", "one_cycle", "wsd")
    families: Mapping[str, Family] = field(default_factory=lambda: dict(FAMILIES))
    grid_points: int = 7

    def __post_init__(self) -> None:
        lo, hi = _pair(self.lr)
        if not (0 < lo < hi < math.inf):
            raise UsageError(
                "Argument `lr` of Space must be (low, high) with 0 < low < high. "
                f"Received: lr={self.lr!r}"
            )
        from lrlab.train import OPTIMIZERS

        _check_names("optimizers", self.optimizers, OPTIMIZERS, "names")
        if not isinstance(self.families, Mapping) or not all(
            isinstance(f, Family) for f in self.families.values()
        ):
            raise UsageError(
                "Argument `families` of Space must map names to Family objects. "
                f"Received: families={self.families!r}"
            )
        _check_names("schedules", self.schedules, self.families, "family names")
        if isinstance(self.grid_points, bool) or not (
            isinstance(self.grid_points, int) and self.grid_points >= 1
        ):
            raise UsageError(
                "Argument `grid_points` of Space must be a positive integer. "
                f"Received: grid_points={self.grid_points!r}"
            )

    def with_family(self, family: Family, *, include: bool = True) -> Space:
        """A copy that knows ``family`` (and searches it when ``include``)."""
        fams = {**self.families, family.name: family}
        scheds = self.schedules
        if include and family.name not in scheds:
            scheds = (*scheds, family.name)
        return replace(self, families=fams, schedules=scheds)

    def grid_values(self) -> dict[str, list[Any]]:
        """The ``GridSampler`` search space: LR values, optimizers, families."""
        lo, hi = self.lr
        lrs = np.geomspace(lo, hi, self.grid_points).tolist() if self.grid_points > 1 else [lo]
        return {
            "lr": [float(v) for v in lrs],
            "optimizer": list(self.optimizers),
            "schedule": list(self.schedules),
        }

    def grid_size(self) -> int:
        """How many configurations the grid has."""
        return self.grid_points * len(self.optimizers) * len(self.schedules)

    def sample(self, trial: Any, *, grid: bool = False) -> dict[str, Any]:
        """Ask ``trial`` for one configuration ``{"optimizer", "lr", "schedule", "params"}``."""
        if grid:
            lr = float(trial.suggest_categorical("lr", self.grid_values()["lr"]))
        else:
            lr = trial.suggest_float("lr", self.lr[0], self.lr[1], log=True)
        opt = trial.suggest_categorical("optimizer", list(self.optimizers))
        fam_name = trial.suggest_categorical("schedule", list(self.schedules))
        fam = self.families[fam_name]
        params: dict[str, Any] = {}
        for pname, dist in fam.params.items():
            if grid:
                params[pname] = fam.defaults[pname]
                continue
            key = f"{fam_name}.{pname}"
            if isinstance(dist, Float):
                params[pname] = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
            elif isinstance(dist, Int):
                params[pname] = trial.suggest_int(key, dist.low, dist.high)
            else:
                params[pname] = trial.suggest_categorical(key, list(dist.values))
        return {"optimizer": opt, "lr": float(lr), "schedule": fam_name, "params": params}

    def build(self, family: str, lr: float, steps: int, params: Mapping[str, Any]) -> Any:
        """The :class:`~lrlab.schedules.Schedule` (or ``reduce_on_plateau`` rule) of one
        configuration."""
        return self.families[family].build(lr, steps, **params)

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary (stored in the study's user attributes)."""
        return {
            "lr": list(self.lr),
            "optimizers": list(self.optimizers),
            "schedules": list(self.schedules),
            "grid_points": self.grid_points,
        }
