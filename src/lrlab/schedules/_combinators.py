"""Combinators: schedules built from schedules, each piece in its own time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrlab.schedules._base import Schedule, register
from lrlab.schedules._validate import (
    check_increasing,
    check_int,
    check_real,
    check_schedule,
    fail,
)

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

    schedule: Schedule
    steps: int
    start_lr: float = 0.0

    def __post_init__(self) -> None:
        self._set("schedule", check_schedule("warmup", "schedule", self.schedule))
        self._set("steps", check_int("warmup", "steps", self.steps))
        self._set(
            "start_lr",
            check_real(
                "warmup", "start_lr", self.start_lr, low=0.0, allowed="a finite number >= 0"
            ),
        )

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

    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]

    def __post_init__(self) -> None:
        scheds = self.schedules
        if isinstance(scheds, Schedule) or not isinstance(scheds, (list, tuple)) or not scheds:
            raise fail("join", "schedules", scheds, "a non-empty list of schedules")
        scheds = tuple(check_schedule("join", "schedules", s) for s in scheds)
        bounds = check_increasing("join", "boundaries", self.boundaries)
        if len(scheds) != len(bounds) + 1:
            raise fail(
                "join",
                "boundaries",
                self.boundaries,
                f"one boundary fewer than schedules ({len(scheds) - 1} for {len(scheds)})",
            )
        self._set("schedules", scheds)
        self._set("boundaries", bounds)

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

    schedule: Schedule
    min_lr: float
    max_lr: float

    def __post_init__(self) -> None:
        self._set("schedule", check_schedule("clip", "schedule", self.schedule))
        lo = check_real("clip", "min_lr", self.min_lr, low=0.0, allowed="a finite number >= 0")
        hi = check_real("clip", "max_lr", self.max_lr, low=0.0, allowed="a finite number >= 0")
        if hi < lo:
            raise fail("clip", "max_lr", self.max_lr, f"a finite number >= min_lr={lo!r}")
        self._set("min_lr", lo)
        self._set("max_lr", hi)

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

    schedule: Schedule
    factor: float

    def __post_init__(self) -> None:
        self._set("schedule", check_schedule("scale", "schedule", self.schedule))
        self._set(
            "factor",
            check_real("scale", "factor", self.factor, low=0.0, allowed="a finite number >= 0"),
        )

    def _value(self, t: Any, xp: Any) -> Any:
        return self.schedule._value(t, xp) * self.factor

    def __str__(self) -> str:
        return f"{self.schedule} * {self.factor!r}"
