"""The built-in schedule kinds, each a closed form of the step ``t`` (from 0).

Every formula is written once against the array namespace ``xp`` (see
:mod:`lrlab.schedules._xp`), so the same line runs on a Python int, a NumPy
array, a torch tensor or a traced JAX array.  Each field names its rule in its
type (``lr: Rate``, ``every: Count = 1``: :mod:`lrlab.schedules._validate`);
``_cross_check`` holds the rules across fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from lrlab.schedules._base import Schedule, refuse, register
from lrlab.schedules._validate import (
    RATE,
    Count,
    Finite,
    Flag,
    ListOf,
    NonNegative,
    OneOf,
    Positive,
    Rate,
    count,
    increasing,
    number,
)

__all__ = [
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "inverse_sqrt",
    "inverse_time",
    "multistep",
    "one_cycle",
    "piecewise",
    "polynomial",
    "step",
    "wsd",
]

#: Step counts that mark changes (milestones, boundaries): strictly increasing, from 0.
Steps = Annotated[tuple[int, ...], increasing()]


def _floor_div(xp: Any, t: Any, d: float) -> Any:
    """``floor(t / d)``, exact at the multiples of ``d``.

    XLA (so ``jax.jit``) compiles a division by a constant into a
    multiplication by its reciprocal, which puts e.g. ``41 / 41`` at
    ``0.99999994``; the two corrections by exact multiplication undo that.
    """
    q = xp.floor(t / d)
    q = xp.where(q * d > t, q - 1.0, q)
    return xp.where((q + 1.0) * d <= t, q + 1.0, q)


@register("constant")
@dataclass(frozen=True, repr=False)
class constant(Schedule):
    """A fixed learning rate: ``lr``.

    >>> constant(0.1)(7)
    0.1
    """

    lr: Rate

    def _value(self, t: Any, xp: Any) -> Any:
        return xp.full_like(t, self.lr)


@register("step")
@dataclass(frozen=True, repr=False)
class step(Schedule):
    """Step decay: ``lr * factor ** floor(t / every)``.

    >>> s = step(0.1, 0.5, 10)
    >>> s(0), s(9), s(10), s(25)
    (0.1, 0.1, 0.05, 0.025)
    """

    lr: Rate
    factor: Positive
    every: Count

    def _value(self, t: Any, xp: Any) -> Any:
        return self.lr * self.factor ** _floor_div(xp, t, float(self.every))


@register("exponential")
@dataclass(frozen=True, repr=False)
class exponential(Schedule):
    """Exponential decay: ``lr * exp(-k * t / every)``; with ``staircase``,
    ``t / every`` is floored.  (Keras/Optax's ``decay_rate`` per
    ``decay_steps`` is ``k = -ln(decay_rate)``, ``every = decay_steps``.)

    >>> s = exponential(0.1, 0.1)
    >>> round(s(10), 12)
    0.036787944117
    """

    lr: Rate
    k: Finite
    every: Count = 1
    staircase: Flag = False

    def _value(self, t: Any, xp: Any) -> Any:
        p = _floor_div(xp, t, float(self.every)) if self.staircase else t / self.every
        return self.lr * xp.exp(-self.k * p)


@register("inverse_time")
@dataclass(frozen=True, repr=False)
class inverse_time(Schedule):
    """1/t decay: ``lr / (1 + k * t / every)`` (``t / every`` floored with
    ``staircase``).

    >>> inverse_time(0.1, 0.1)(10)
    0.05
    """

    lr: Rate
    k: NonNegative
    every: Count = 1
    staircase: Flag = False

    def _value(self, t: Any, xp: Any) -> Any:
        p = _floor_div(xp, t, float(self.every)) if self.staircase else t / self.every
        return self.lr / (1.0 + self.k * p)


@register("multistep")
@dataclass(frozen=True, repr=False)
class multistep(Schedule):
    """``lr * factor ** (number of milestones <= t)``: the new value applies
    at the milestone itself (as PyTorch's MultiStepLR).

    >>> s = multistep(1.0, [3, 5], 0.1)
    >>> [round(s(t), 12) for t in range(7)]
    [1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """

    lr: Rate
    milestones: Steps
    factor: Positive

    def _value(self, t: Any, xp: Any) -> Any:
        # The level after the i-th milestone, lr * factor**i, is a constant:
        # select it instead of raising factor to a per-step power.
        out: Any = xp.full_like(t, self.lr)
        for i, m in enumerate(self.milestones, start=1):
            out = xp.where(t >= m, self.lr * self.factor**i, out)
        return out


@register("piecewise")
@dataclass(frozen=True, repr=False)
class piecewise(Schedule):
    """``values[i]`` for ``boundaries[i-1] <= t < boundaries[i]``: the new
    value applies at the boundary (PyTorch/Optax; Keras gives the boundary
    step the old value, i.e. Keras's boundaries are ours minus one).

    >>> s = piecewise([10, 20], [0.1, 0.01, 0.001])
    >>> s(9), s(10), s(20)
    (0.1, 0.01, 0.001)
    """

    boundaries: Steps
    values: Annotated[tuple[float, ...], ListOf(RATE, "finite numbers", " >= 0")]

    def _cross_check(self) -> None:
        if len(self.values) != (n := len(self.boundaries)) + 1:
            refuse("values", f"one more value than boundaries ({n + 1} for {n} boundaries)")

    def _value(self, t: Any, xp: Any) -> Any:
        out: Any = xp.full_like(t, self.values[0])
        for b, v in zip(self.boundaries, self.values[1:]):
            out = xp.where(t >= b, v, out)
        return out


@register("polynomial")
@dataclass(frozen=True, repr=False)
class polynomial(Schedule):
    """``(lr - end_lr) * (1 - min(t, steps) / steps) ** power + end_lr``.

    >>> s = polynomial(0.1, 100, 0.0, 2.0)
    >>> round(s(50), 12), s(100), s(1000)
    (0.025, 0.0, 0.0)
    """

    lr: Rate
    steps: Count
    end_lr: Rate = 0.0
    power: Positive = 1.0

    def _value(self, t: Any, xp: Any) -> Any:
        # (steps - t) / steps rather than 1 - t / steps: exactly 0 from the
        # horizon on even where t / steps rounds below 1 (XLA computes it as
        # t * (1/steps)), which with power < 1 would leave lr * 1e-4 (float32)
        # or lr * 1e-8 (float64) for good instead of end_lr.
        left = float(self.steps) - xp.minimum(t, float(self.steps))
        return (self.lr - self.end_lr) * (left / self.steps) ** self.power + self.end_lr


@register("cosine")
@dataclass(frozen=True, repr=False)
class cosine(Schedule):
    """Cosine annealing, flat after ``steps``:
    ``min_lr + (lr - min_lr) * (1 + cos(pi * min(t, steps) / steps)) / 2``.

    >>> s = cosine(0.1, 100)
    >>> s(0), round(s(50), 12), s(100), s(500)
    (0.1, 0.05, 0.0, 0.0)
    """

    lr: Rate
    steps: Count
    min_lr: Rate = 0.0

    def _value(self, t: Any, xp: Any) -> Any:
        p = xp.minimum(t, float(self.steps)) / self.steps
        return self.min_lr + (self.lr - self.min_lr) * (1.0 + xp.cos(math.pi * p)) / 2.0


@register("cosine_restarts")
@dataclass(frozen=True, repr=False)
class cosine_restarts(Schedule):
    """SGDR, warm restarts.  Cycle ``i`` lasts ``period * mult**i`` steps and
    falls by a half cosine from ``min_lr + decay**i * (lr - min_lr)`` to
    ``min_lr``.

    With ``mult > 1`` cycle ``i`` starts at ``period * (mult**i - 1) /
    (mult - 1)`` (computed with ``expm1``/``log1p``, accurate for ``mult``
    near 1); the index comes from a logarithm and is then corrected by one
    either way.  A step within rounding error of a restart (16 ulps of the
    step) is that restart, and with an integer ``mult`` the restarts are
    rounded to the integers they are, so that every restart step is the
    new cycle's peak in float32 as in float64.

    >>> s = cosine_restarts(1.0, 10, mult=2.0, decay=0.5)
    >>> s(0), s(10), s(30), round(s(20), 12)
    (1.0, 0.5, 0.25, 0.25)
    """

    lr: Rate
    period: Count
    mult: Annotated[float, number(1.0)] = 1.0
    decay: NonNegative = 1.0
    min_lr: Rate = 0.0

    def _value(self, t: Any, xp: Any) -> Any:
        p, m = float(self.period), self.mult
        if m == 1.0:
            i = _floor_div(xp, t, p)
            start = i * p
            length: Any = p
        else:
            lm = math.log1p(m - 1.0)  # m - 1 is exact for m >= 1
            snap = m.is_integer()

            def begin(j: Any) -> Any:
                b = p * xp.expm1(j * lm) / (m - 1.0)
                return xp.floor(b + 0.5) if snap else b

            near = t + 16.0 * xp.eps(t) * t
            i = xp.floor(xp.log1p(t * (m - 1.0) / p) / lm)
            i = xp.where(begin(i) > near, i - 1.0, i)
            i = xp.where(begin(i + 1.0) <= near, i + 1.0, i)
            start = begin(i)
            length = begin(i + 1.0) - start
        frac = xp.maximum(t - start, 0.0) / length
        peak = self.decay**i * (self.lr - self.min_lr)
        return self.min_lr + peak * (1.0 + xp.cos(math.pi * frac)) / 2.0


@register("one_cycle")
@dataclass(frozen=True, repr=False)
class one_cycle(Schedule):
    """The 1cycle policy with PyTorch ``OneCycleLR`` semantics.

    Starts at ``max_lr / div``, rises to ``max_lr`` at step
    ``pct_start * steps - 1``, then anneals to ``max_lr / div / final_div``
    at step ``steps - 1`` (and stays there).  With ``three_phase`` it first
    comes back down to ``max_lr / div`` at step ``2 * pct_start * steps - 2``.
    ``anneal`` is ``"cos"`` (``end + (start - end) * (1 + cos(pi * x)) / 2``)
    or ``"linear"``.

    >>> s = one_cycle(1.0, 100)
    >>> round(s(0), 12), s(29), s(99)
    (0.04, 1.0, 4e-06)
    """

    max_lr: Rate
    steps: Annotated[int, count(2)]
    pct_start: Annotated[float, number(0.0, 1.0, low_open=True, high_open=True)] = 0.3
    div: Positive = 25.0
    final_div: Positive = 1e4
    anneal: Annotated[str, OneOf("cos", "linear")] = "cos"
    three_phase: Flag = False

    def _cross_check(self) -> None:
        ends = self._ends()
        if any(e <= s for s, e in zip((0.0, *ends[:-1]), ends)):
            phases = f"phase ends {[round(e, 6) for e in ends]} for steps={self.steps}"
            refuse("pct_start", f"such that every phase lasts more than one step ({phases})")

    def _ends(self) -> tuple[float, ...]:
        up = self.pct_start * self.steps - 1.0
        if self.three_phase:
            return (up, 2.0 * self.pct_start * self.steps - 2.0, self.steps - 1.0)
        return (up, self.steps - 1.0)

    def _anneal(self, xp: Any, start: float, end: float, x: Any) -> Any:
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (1.0 + xp.cos(math.pi * x))
        return (end - start) * x + start

    def _value(self, t: Any, xp: Any) -> Any:
        initial = self.max_lr / self.div
        low = initial / self.final_div
        levels: tuple[float, ...] = (initial, self.max_lr, low)
        if self.three_phase:
            levels = (initial, self.max_lr, initial, low)
        ends = self._ends()
        t = xp.minimum(t, ends[-1])
        out: Any = None
        begin = 0.0
        for i in range(len(ends) - 1, -1, -1):
            begin = 0.0 if i == 0 else ends[i - 1]
            value = self._anneal(xp, levels[i], levels[i + 1], (t - begin) / (ends[i] - begin))
            out = value if out is None else xp.where(t <= ends[i], value, out)
        return out


@register("cyclic")
@dataclass(frozen=True, repr=False)
class cyclic(Schedule):
    """Cyclical LR with PyTorch ``CyclicLR`` semantics (equal up and down
    half-cycles of ``step_size`` steps).

    ``cycle = floor(1 + t / (2 s))``, ``x = 1 + t / (2 s) - cycle`` (computed
    as ``(t - (cycle - 1) 2 s) / (2 s)``, exact for integer steps), the
    rise ``x / 0.5`` while ``x <= 0.5`` and ``(x - 1) / -0.5`` after, and
    ``lr = base_lr + (max_lr - base_lr) * rise * scale`` where
    ``scale`` is 1 (``triangular``), ``1 / 2**(cycle - 1)`` (``triangular2``)
    or ``gamma**t`` (``exp_range``).

    >>> s = cyclic(0.1, 1.0, 10)
    >>> s(0), s(10), s(20), round(s(5), 12)
    (0.1, 1.0, 0.1, 0.55)
    """

    base_lr: Rate
    max_lr: Rate
    step_size: Count
    mode: Annotated[str, OneOf("triangular", "triangular2", "exp_range")] = "triangular"
    gamma: Positive = 1.0

    def _value(self, t: Any, xp: Any) -> Any:
        total = 2.0 * self.step_size
        done = _floor_div(xp, t, total)
        cycle = done + 1.0
        # PyTorch's ``1 + t / total - cycle`` loses ~t ulps; this is exact.
        x = (t - done * total) / total
        # PyTorch: x / ratio on the way up, (x - 1) / (ratio - 1) on the way down.
        scale = xp.where(x <= 0.5, x / 0.5, (x - 1.0) / -0.5)
        height = (self.max_lr - self.base_lr) * scale
        if self.mode == "triangular2":
            height = height * 0.5 ** (cycle - 1.0)  # = 1 / 2**(cycle - 1), without overflow
        elif self.mode == "exp_range":
            height = height * self.gamma**t
        return self.base_lr + height


@register("inverse_sqrt")
@dataclass(frozen=True, repr=False)
class inverse_sqrt(Schedule):
    """Linear warmup from 0, then inverse square root decay:
    ``lr * t / warmup`` for ``t < warmup``, else ``lr * sqrt(warmup / t)``.

    >>> s = inverse_sqrt(0.01, 100)
    >>> s(0), s(50), s(100), s(400)
    (0.0, 0.005, 0.01, 0.005)
    """

    lr: Rate
    warmup: Count

    def _value(self, t: Any, xp: Any) -> Any:
        w = float(self.warmup)
        ramp = self.lr * t / w
        decay = self.lr * xp.sqrt(w / xp.maximum(t, w))
        return xp.where(t < w, ramp, decay)


@register("wsd")
@dataclass(frozen=True, repr=False)
class wsd(Schedule):
    """Warmup-stable-decay.  A linear warmup from 0 over ``warmup`` steps, a
    plateau at ``lr``, then over the last ``D = round(decay_frac * steps)``
    steps a decay to ``min_lr`` shaped ``1 - x`` (``linear``),
    ``(1 + cos(pi x)) / 2`` (``cosine``) or ``1 - sqrt(x)`` (``1-sqrt``),
    ``x`` the decay's progress; ``min_lr`` after ``steps``.

    >>> s = wsd(1.0, 100, 10)
    >>> s(5), s(50), s(80), s(90), s(100)
    (0.5, 1.0, 1.0, 0.5, 0.0)
    """

    lr: Rate
    steps: Count
    warmup: Annotated[int, count(0)]
    decay_frac: Annotated[float, number(0.0, 1.0, low_open=True)] = 0.2
    decay: Annotated[str, OneOf("linear", "cosine", "1-sqrt")] = "linear"
    min_lr: Rate = 0.0

    def _cross_check(self) -> None:
        if (d := self.decay_steps) < 1 or self.warmup + d > self.steps:
            rule = "such that 1 <= round(decay_frac * steps) <= steps - warmup"
            refuse(
                "decay_frac", f"{rule} (here {d} decay steps, {self.warmup} warmup of {self.steps})"
            )

    @property
    def decay_steps(self) -> int:
        """``D = round(decay_frac * steps)``, the length of the decay."""
        return round(self.decay_frac * self.steps)

    def _value(self, t: Any, xp: Any) -> Any:
        d = float(self.decay_steps)
        start = self.steps - d
        x = xp.minimum(xp.maximum(t - start, 0.0), d) / d
        if self.decay == "linear":
            shape = 1.0 - x
        elif self.decay == "cosine":
            shape = (1.0 + xp.cos(math.pi * x)) / 2.0
        else:
            shape = 1.0 - xp.sqrt(x)
        out = self.min_lr + (self.lr - self.min_lr) * shape
        if self.warmup > 0:
            w = float(self.warmup)
            out = xp.where(t < w, self.lr * t / w, out)
        return out
