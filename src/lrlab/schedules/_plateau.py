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

import ast
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, NamedTuple

import numpy as np

from lrlab.errors import ScheduleError
from lrlab.schedules._validate import (
    ast_parse,
    check_choice,
    check_int,
    check_real,
    check_text,
    fail,
    shown,
)

__all__ = ["PlateauState", "parse_rule", "reduce_on_plateau", "rule_from_config"]

_KIND = "reduce_on_plateau"


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


@dataclass(frozen=True, repr=False)
class reduce_on_plateau:
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

    lr: float
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    mode: str = "min"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8
    kind: ClassVar[str] = _KIND

    def __post_init__(self) -> None:
        k = _KIND
        set_ = self._set
        set_("lr", check_real(k, "lr", self.lr, low=0.0, allowed="a finite number >= 0"))
        set_(
            "factor",
            check_real(k, "factor", self.factor, low=0.0, low_open=True, high=1.0, high_open=True),
        )
        set_("patience", check_int(k, "patience", self.patience, low=0))
        set_("threshold", check_real(k, "threshold", self.threshold, low=0.0))
        set_(
            "threshold_mode", check_choice(k, "threshold_mode", self.threshold_mode, ("rel", "abs"))
        )
        set_("mode", check_choice(k, "mode", self.mode, ("min", "max")))
        set_("cooldown", check_int(k, "cooldown", self.cooldown, low=0))
        set_("min_lr", check_real(k, "min_lr", self.min_lr, low=0.0))
        set_("eps", check_real(k, "eps", self.eps, low=0.0))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    # -- the rule ---------------------------------------------------------------------------

    def init(self, lr: float | None = None) -> PlateauState:
        """The state before any metric: rate ``lr`` (default: the rule's), no best yet."""
        start = self.lr if lr is None else check_real(_KIND, "lr", lr, low=0.0)
        return PlateauState(lr=start, best=math.inf if self.mode == "min" else -math.inf)

    def improves(self, value: float, best: float) -> bool:
        """Whether ``value`` counts as an improvement on ``best`` (step 1 above)."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def update(self, state: PlateauState, metric: Any) -> PlateauState:
        """The state after one more metric (``state`` is not changed)."""
        value = _metric(metric)
        best, bad, cooldown, lr, reductions = (
            state.best,
            state.bad,
            state.cooldown,
            state.lr,
            state.reductions,
        )
        if self.improves(value, best):
            best, bad = value, 0
        else:
            bad += 1
        if cooldown > 0:
            cooldown -= 1
            bad = 0
        if bad > self.patience:
            new_lr = max(lr * self.factor, self.min_lr)
            if lr - new_lr > self.eps:
                lr = new_lr
                reductions += 1
            cooldown, bad = self.cooldown, 0
        return PlateauState(lr, best, bad, cooldown, state.evaluations + 1, reductions)

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
        if not isinstance(config, dict) or config.get("type") != _KIND:
            raise fail(_KIND, "config", config, f"a dict with 'type': {_KIND!r}")
        args = {k: v for k, v in config.items() if k != "type"}
        names = {f.name for f in fields(cls)}
        unknown = sorted(k if isinstance(k, str) else shown(k) for k in set(args) - names)
        if unknown:
            raise ScheduleError(
                f"Argument `config` of {_KIND}() has unknown keys {unknown}; "
                f"allowed: {sorted(names)}. Received: config={shown(config)}"
            )
        if "lr" not in args:
            raise ScheduleError(
                f"Missing argument `lr` of {_KIND}() in its config. "
                f"{_KIND}() takes: {', '.join(f.name for f in fields(cls))}. "
                f"Received: config={shown(config)}"
            )
        return cls(**args)

    @classmethod
    def parse(cls, text: Any) -> reduce_on_plateau:
        """Read the text form ``str(rule)`` gives, e.g. ``"reduce_on_plateau(0.1, patience=5)"``.

        Positional arguments follow the fields' order.  Only literal numbers,
        strings and booleans are accepted; nothing in the text is evaluated.

        >>> reduce_on_plateau.parse("reduce_on_plateau(0.1, factor=0.5, patience=2)").patience
        2
        """
        if isinstance(text, cls):
            return text
        example = "Expected a form like 'reduce_on_plateau(0.1, factor=0.5, patience=5)'"
        if not isinstance(text, str) or len(text) > _MAX_TEXT:
            raise ScheduleError(f"A {_KIND} spec must be text. {example}. Received: {shown(text)}")
        check_text(text, f"{_KIND} text")
        try:
            node = ast_parse(text.strip()).body
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            raise ScheduleError(f"Malformed {_KIND} text {text.strip()!r}. {example}") from None
        if not (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == _KIND
        ):
            raise ScheduleError(f"Malformed {_KIND} text {text.strip()!r}. {example}")
        names = [f.name for f in fields(cls)]
        if len(node.args) > len(names):
            raise ScheduleError(
                f"{_KIND}() takes at most {len(names)} arguments ({', '.join(names)}), "
                f"got {len(node.args)} (in {text.strip()!r})"
            )
        bound = {n: _literal(text, a) for n, a in zip(names, node.args)}
        for kw in node.keywords:
            if kw.arg is None:
                raise ScheduleError(
                    f"Arguments of {_KIND}() must be written out, not unpacked with **. "
                    f"Received: {text.strip()!r}"
                )
            if kw.arg not in names:
                raise ScheduleError(
                    f"Unknown argument `{kw.arg}` of {_KIND}() (in {text.strip()!r}). "
                    f"Allowed: {', '.join(names)}"
                )
            if kw.arg in bound:
                raise ScheduleError(
                    f"Argument `{kw.arg}` of {_KIND}() given twice (in {text.strip()!r})"
                )
            bound[kw.arg] = _literal(text, kw.value)
        if "lr" not in bound:
            raise ScheduleError(
                f"Missing argument `lr` of {_KIND}() (in {text.strip()!r}). "
                f"{_KIND}() takes: {', '.join(names)}"
            )
        return cls(**bound)

    def with_lr(self, lr: float) -> reduce_on_plateau:
        """The same rule starting from another rate."""
        return replace(self, lr=lr)

    def __str__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self.args().items())
        return f"{_KIND}({inner})"

    def __repr__(self) -> str:
        return str(self)


_MAX_TEXT = 2_000


def _literal(text: str, node: ast.AST) -> Any:
    """A literal number, string or boolean of the text form (``ast.literal_eval``: no code runs)."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        value = None
    if value is None or not isinstance(value, (int, float, str, bool)):
        snippet = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise ScheduleError(
            f"Arguments of {_KIND}() must be literal numbers, strings or booleans. "
            f"Received: {snippet!r} (in {text.strip()!r})"
        )
    return value


def parse_rule(text: Any) -> Any:
    """A schedule or a :class:`reduce_on_plateau` rule from its text (or the object itself).

    >>> parse_rule("cosine(0.1, 100)")
    cosine(lr=0.1, steps=100, min_lr=0.0)
    >>> parse_rule("reduce_on_plateau(0.1, patience=3)").patience
    3
    """
    if isinstance(text, reduce_on_plateau):
        return text
    if isinstance(text, str) and text.strip().startswith(_KIND):
        return reduce_on_plateau.parse(text)
    from lrlab.schedules._parse import parse

    return parse(text)


def rule_from_config(config: Any) -> Any:
    """A schedule or a :class:`reduce_on_plateau` rule from its config (``to_config()``).

    >>> rule_from_config(reduce_on_plateau(0.1, patience=3).to_config()).patience
    3
    >>> rule_from_config({"type": "constant", "lr": 0.1})
    constant(lr=0.1)
    """
    if isinstance(config, dict) and config.get("type") == _KIND:
        return reduce_on_plateau.from_config(config)
    from lrlab.schedules._parse import from_config

    return from_config(config)


def _metric(value: Any) -> float:
    """A metric as a float (a 0-d tensor or array too); anything else is refused."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ScheduleError(
            f"Argument `metric` of {_KIND}.update() must be a number. Received: metric={value!r}"
        ) from None
