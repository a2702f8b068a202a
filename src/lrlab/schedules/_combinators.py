"""Combinators: schedules built from schedules, each piece in its own time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from lrlab.schedules._base import SCHEDULE, Schedule, refuse, register
from lrlab.schedules._validate import Count, ListOf, Rate, increasing

#: A combinator's inner schedule.
Inner = Annotated[Schedule, SCHEDULE]

__all__ = ["clip", "join", "scale", "warmup"]


@register("warmup")
@dataclass(frozen=True, repr=False)
class warmup(Schedule):
    """A linear ramp from ``start_lr`` to ``schedule(0)`` over ``steps``
    steps, then ``schedule(t - steps)``: the schedule runs in its own local
    time, so its horizon does not include the warmup.

    >>> from lrlab.schedules import cosine
    >>> s = warmup(cosine(0.1, 100), 10)
    >>> s(0), s(5), s(10), round(s(60), 12)
    (0.0, 0.05, 0.1, 0.05)
    """

    schedule: Inner
    steps: Count
    start_lr: Rate = 0.0

    def _value(self, t: Any, xp: Any) -> Any:
        w = float(self.steps)
        peak = self.schedule(0)
        ramp = self.start_lr + (peak - self.start_lr) * (t / w)
        after = self.schedule._value(xp.maximum(t - w, 0.0), xp)
        return xp.where(t < w, ramp, after)


@register("join")
@dataclass(frozen=True, repr=False)
class join(Schedule):
    """``schedules[i](t - boundaries[i-1])`` for ``boundaries[i-1] <= t <
    boundaries[i]``: like Optax's ``join_schedules``, each piece starts at
    its own step 0.

    >>> from lrlab.schedules import constant, step
    >>> s = join([constant(0.1), step(0.1, 0.5, 10)], [5])
    >>> s(4), s(5), s(15)
    (0.1, 0.1, 0.05)
    """

    schedules: Annotated[
        tuple[Schedule, ...], ListOf(SCHEDULE, "schedules", of=(list, tuple), show_item=True)
    ]
    boundaries: Annotated[tuple[int, ...], increasing()]

    def _cross_check(self) -> None:
        if len(self.boundaries) != (n := len(self.schedules)) - 1:
            refuse("boundaries", f"one boundary fewer than schedules ({n - 1} for {n})")

    def _value(self, t: Any, xp: Any) -> Any:
        out = self.schedules[0]._value(t, xp)
        for b, s in zip(self.boundaries, self.schedules[1:]):
            out = xp.where(t < b, out, s._value(xp.maximum(t - b, 0.0), xp))
        return out


@register("clip")
@dataclass(frozen=True, repr=False)
class clip(Schedule):
    """``min(max(schedule(t), min_lr), max_lr)``.

    >>> from lrlab.schedules import step
    >>> s = clip(step(0.1, 0.5, 1), 0.02, 0.08)
    >>> s(0), s(5)
    (0.08, 0.02)
    """

    schedule: Inner
    min_lr: Rate
    max_lr: Rate

    def _cross_check(self) -> None:
        if self.max_lr < self.min_lr:
            refuse("max_lr", f"a finite number >= min_lr={self.min_lr!r}")

    def _value(self, t: Any, xp: Any) -> Any:
        return xp.minimum(xp.maximum(self.schedule._value(t, xp), self.min_lr), self.max_lr)


@register("scale")
@dataclass(frozen=True, repr=False)
class scale(Schedule):
    """``factor * schedule(t)``; also written ``schedule * factor``.

    >>> from lrlab.schedules import constant
    >>> s = constant(0.1) * 0.5
    >>> str(s), s(0)
    ('constant(lr=0.1) * 0.5', 0.05)
    """

    schedule: Inner
    factor: Rate

    def _value(self, t: Any, xp: Any) -> Any:
        return self.schedule._value(t, xp) * self.factor

    def __str__(self) -> str:
        return f"{self.schedule} * {self.factor!r}"
