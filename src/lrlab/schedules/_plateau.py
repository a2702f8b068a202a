"""Reduce-on-plateau: the learning rate as a pure function of the metric history.

Every other lrlab schedule is a closed form of the step.  Reduce-on-plateau
cannot be: it lowers the rate when a monitored metric (usually the validation
loss) stops improving, so the rate after ``n`` evaluations is a function of
the first ``n`` metric values.  lrlab keeps it a pure function all the same:
:class:`reduce_on_plateau` is an immutable rule, :class:`PlateauState` an
immutable state, and ``rule.update(state, metric)`` returns the next state
without touching either, so a run resumes from plain data and a history can
be replayed (``rule(metrics)``).

The rule is PyTorch's ``ReduceLROnPlateau`` to the last bit (float64, the
same operations in the same order).  Keras's callback and Optax's
``contrib.reduce_on_plateau`` count patience and cooldown differently; how
their arguments map onto these is in ``docs/peers.md`` and tested.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any, ClassVar, NamedTuple, cast

import numpy as np

from lrlab.errors import ScheduleError
from lrlab.schedules._base import Checked, register
from lrlab.schedules._parse import read, read_config
from lrlab.schedules._validate import RATE, NonNegative, OneOf, Rate, check, count, number
from lrlab.schedules._xp import SCALAR

__all__ = ["PlateauState", "reduce_on_plateau"]

_KIND = "reduce_on_plateau"


_tuple_new = tuple.__new__


class PlateauState(NamedTuple):
    """Where a :class:`reduce_on_plateau` rule stands after some evaluations.

    ``lr`` is the rate in force, ``best`` the best metric so far (``inf`` for
    ``mode="min"`` before the first one), ``bad`` the evaluations since the
    last improvement that count towards ``patience``, ``cooldown`` the
    evaluations still to be ignored after a reduction, ``evaluations`` how many
    metrics the rule has seen and ``reductions`` how many times it lowered the
    rate.  An immutable record of plain numbers (a ``NamedTuple``, like
    Optax's states, which is cheap to make once per evaluation):
    ``state._asdict()`` is its saved form and ``PlateauState(**saved)`` reads it.
    """

    lr: float
    best: float
    bad: int = 0
    cooldown: int = 0
    evaluations: int = 0
    reductions: int = 0

    @classmethod
    def from_dict(cls, data: Any, where: str = "PlateauState") -> PlateauState:
        """The state ``_asdict()`` saved, every field checked (``where`` names it in errors).

        >>> PlateauState.from_dict({"lr": 0.1, "best": 1.0, "bad": 0, "cooldown": 0,
        ...                         "evaluations": 3, "reductions": 1}).evaluations
        3
        """
        names = list(cls._fields)
        if not isinstance(data, Mapping) or set(data) != set(names):
            raise ScheduleError(
                f"{where} must be a dict with the keys {names}. Received: state={data!r}"
            )
        for n in names:
            v = data[n]
            if n in ("lr", "best"):
                ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
                ok = ok and (n == "best" or 0 <= v < math.inf)
            else:
                ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
            if not ok:
                raise ScheduleError(f"{where} holds a bad {n!r}. Received: {n}={v!r}")
        return cls(**{n: data[n] for n in names})


@register(_KIND)
@dataclass(frozen=True, repr=False)
class reduce_on_plateau(Checked):
    """Lower the rate by ``factor`` when the metric has not improved for ``patience`` evaluations.

    After each metric ``x``:

    1. ``x`` improves on ``best`` when ``x < best * (1 - threshold)``
       (``threshold_mode="rel"``) or ``x < best - threshold`` (``"abs"``);
       with ``mode="max"``, ``x > best * (1 + threshold)`` or
       ``x > best + threshold``.  An improvement sets ``best = x`` and
       ``bad = 0``; anything else (a NaN too) adds one to ``bad``.
    2. During a cooldown (``cooldown > 0``) the counter goes down by one and
       ``bad`` is reset: evaluations right after a reduction do not count.
    3. When ``bad > patience`` the rate becomes ``max(lr * factor, min_lr)``
       (kept unchanged when that lowers it by ``eps`` or less), the cooldown
       starts at ``cooldown`` and ``bad`` is reset.

    So with ``patience=p`` the rate drops on the ``(p+1)``-th evaluation in a
    row without improvement.  This is PyTorch's ``ReduceLROnPlateau``
    exactly; ``rule(metrics)`` gives the rate in force after each metric.

    >>> rule = reduce_on_plateau(0.1, factor=0.5, patience=1)
    >>> rule([1.0, 0.9, 0.95, 0.97, 0.99, 0.8]).tolist()
    [0.1, 0.1, 0.1, 0.05, 0.05, 0.05]
    >>> s = rule.update(rule.init(), 1.0)
    >>> s.lr, s.best, s.bad
    (0.1, 1.0, 0)
    """

    lr: Rate
    factor: Annotated[float, number(0.0, 1.0, low_open=True, high_open=True)] = 0.1
    patience: Annotated[int, count(0)] = 10
    threshold: NonNegative = 1e-4
    threshold_mode: Annotated[str, OneOf("rel", "abs")] = "rel"
    mode: Annotated[str, OneOf("min", "max")] = "min"
    cooldown: Annotated[int, count(0)] = 0
    min_lr: Rate = 0.0
    eps: NonNegative = 1e-8
    kind: ClassVar[str] = _KIND

    # -- the rule ---------------------------------------------------------------------------

    def init(self, lr: float | None = None) -> PlateauState:
        """The state before any metric: rate ``lr`` (default: the rule's), no best yet."""
        start = self.lr if lr is None else check(RATE, "lr", lr, kind=_KIND)
        return PlateauState(lr=start, best=math.inf if self.mode == "min" else -math.inf)

    def improves(self, value: Any, best: Any) -> Any:
        """Whether ``value`` counts as an improvement on ``best`` (step 1 above);
        elementwise on arrays."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def step(self, xp: Any, lr: Any, best: Any, bad: Any, cooldown: Any, value: Any) -> Any:
        """Steps 1-3 above, written once over the array namespace ``xp`` (lrlab's
        Python-float namespace for :meth:`update`, ``jax.numpy`` for
        :func:`lrlab.optax.plateau`): the new ``(lr, best, bad, cooldown, reduced)``."""
        where = xp.where
        better = self.improves(value, best)
        cooling = cooldown > 0
        bad = where(better | cooling, 0, bad + 1)  # a cooldown's evaluations do not count
        trigger = bad > self.patience
        lowered = xp.maximum(lr * self.factor, self.min_lr)
        reduced = trigger & (lr - lowered > self.eps)
        return (
            where(reduced, lowered, lr),
            where(better, value, best),
            where(trigger, 0, bad),
            where(trigger, self.cooldown, cooldown - cooling),
            reduced,
        )

    def update(self, state: PlateauState, metric: Any) -> PlateauState:
        """The state after one more metric (``state`` is not changed)."""
        lr, best, bad, cooldown, evaluations, reductions = state
        lr, best, bad, cooldown, reduced = self.step(SCALAR, lr, best, bad, cooldown,
                                                     _metric(metric))  # fmt: skip
        # tuple.__new__ skips the NamedTuple's Python-level __new__: this runs once per
        # evaluation inside a user's training loop (benchmarks/bench_torch_step.py).
        return _tuple_new(
            PlateauState, (lr, best, bad, cooldown, evaluations + 1, reductions + reduced)
        )

    def run(self, metrics: Iterable[Any], state: PlateauState | None = None) -> list[PlateauState]:
        """The state after each metric, starting from ``state`` (default :meth:`init`)."""
        s = self.init() if state is None else state
        out = []
        for m in metrics:
            s = self.update(s, m)
            out.append(s)
        return out

    def __call__(self, metrics: Iterable[Any]) -> np.ndarray:
        """The rate in force after each metric (float64)."""
        return np.array([s.lr for s in self.run(metrics)], dtype=np.float64)

    # -- config and text ----------------------------------------------------------------------

    def args(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_config(self) -> dict[str, Any]:
        """A JSON-safe dict with a ``type`` key; :meth:`from_config` rebuilds the rule."""
        return {"type": _KIND, **self.args()}

    @classmethod
    def from_config(cls, config: Any) -> reduce_on_plateau:
        """The rule :meth:`to_config` described."""
        return cast(reduce_on_plateau, read_config(config, cls))

    @classmethod
    def parse(cls, text: Any) -> reduce_on_plateau:
        """Read the text form ``str(rule)`` gives, e.g. ``"reduce_on_plateau(0.1, patience=5)"``.

        Positional arguments follow the fields' order.  Only literal numbers,
        strings and booleans are accepted; nothing in the text is evaluated.

        >>> reduce_on_plateau.parse("reduce_on_plateau(0.1, factor=0.5, patience=2)").patience
        2
        """
        example = "reduce_on_plateau(0.1, factor=0.5, patience=5)"
        return cast(reduce_on_plateau, read(text, cls, _KIND, example))

    def with_lr(self, lr: float) -> reduce_on_plateau:
        """The same rule starting from another rate."""
        return replace(self, lr=lr)

    def __str__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self.args().items())
        return f"{_KIND}({inner})"

    def __repr__(self) -> str:
        return str(self)


def _metric(value: Any) -> float:
    """A metric as a float (a 0-d tensor or array too); anything else is refused."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ScheduleError(
            f"Argument `metric` of {_KIND}.update() must be a number. Received: metric={value!r}"
        ) from None
