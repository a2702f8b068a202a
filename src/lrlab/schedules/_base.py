"""The :class:`Schedule` base: call, config, canonical text, registry, field checks.

A schedule is an immutable value and a pure function of the step.  Concrete
kinds are frozen dataclasses registered with :func:`register`; their fields,
in order, are the constructor's arguments, the text form's positional order
and the config's keys.  Each field declares its rule with its type
(``lr: Rate``, ``every: Count = 1``, ``mode: Annotated[str, OneOf("min",
"max")]``: the vocabulary of :mod:`lrlab.schedules._validate`), and
:func:`check_fields`, run by the base's ``__post_init__``, applies them, so a
kind's class holds its fields, its formula and only the rules across fields
(:meth:`Checked._cross_check`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, TypeVar

import numpy as np

from lrlab.errors import ScheduleError
from lrlab.schedules._validate import Instance, Refused, Rule, shown
from lrlab.schedules._xp import NUMPY, SCALAR, prepare

__all__ = ["Checked", "Schedule", "bind", "check_fields", "register", "registry"]

#: Every kind the text and config forms know: the schedules, and the rules
#: driven by a metric (reduce_on_plateau), which are not schedules.
_REGISTRY: dict[str, type] = {}

# NumPy arrays longer than this are evaluated in blocks of this many steps, so
# that a formula's temporaries stay in cache instead of streaming through memory.
CHUNK = 16384

K = TypeVar("K", bound=type)


def registry() -> dict[str, type[Schedule]]:
    """The schedule kinds by name (a copy; the rules driven by a metric are not in it)."""
    return {k: c for k, c in _REGISTRY.items() if issubclass(c, Schedule)}


def kinds() -> dict[str, type]:
    """Every kind the text and config forms read, schedules and rules (a copy)."""
    return dict(_REGISTRY)


def known() -> str:
    """The schedule kinds an error message lists."""
    return ", ".join(sorted(k for k in registry() if k != "scale"))


def register(name: str) -> Callable[[K], K]:
    """Class decorator: register a frozen dataclass -- a schedule kind, or a rule
    such as reduce_on_plateau -- as ``name``, which is how the text and config
    forms find it."""

    def wrap(cls: K) -> K:
        cls.kind = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        _checked_init(cls)
        return cls

    return wrap


def _checked_init(cls: type) -> None:
    """Make a bad call (missing, unknown, duplicate or surplus arguments) raise
    :class:`~lrlab.errors.ScheduleError` with the same message as the text
    form, instead of the dataclass's bare ``TypeError``.  The arguments are
    matched against the signature only when the call fails (matching every call
    cost more than building the schedule)."""
    init = cls.__init__  # type: ignore[misc]
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
            return
        except TypeError:
            try:
                signature.bind(self, *args, **kwargs)
            except TypeError:
                pass
            else:
                raise  # the arguments fit: a TypeError from within, as it was
        bind(cls, list(args), kwargs, "")  # raises the ScheduleError

    cls.__init__ = __init__  # type: ignore[misc]


def bind(cls: type, args: list[Any], kwargs: dict[Any, Any], where: str) -> Any:
    """``cls(*args, **kwargs)`` with errors that say what was wrong: the one place the
    text form, the config form and a Python call check a kind's arguments."""
    kind: str = cls.kind  # type: ignore[attr-defined]
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    if len(args) > len(names):
        raise ScheduleError(
            f"{kind}() takes at most {len(names)} arguments ({', '.join(names)}), "
            f"got {len(args)}{where}"
        )
    bound = dict(zip(names, args))
    unknown = [k if isinstance(k, str) else shown(k) for k in kwargs if k not in names]
    if unknown:
        raise ScheduleError(
            f"Unknown argument `{unknown[0]}` of {kind}(){where}: unknown keys {unknown}. "
            f"Allowed: {', '.join(names)}"
        )
    for name, value in kwargs.items():
        if name in bound:
            raise ScheduleError(f"Argument `{name}` of {kind}() given twice{where}")
        bound[name] = value
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in bound
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ScheduleError(
            f"Missing argument `{missing[0]}` of {kind}(){where}. "
            f"{kind}() takes: {', '.join(names)}"
        )
    try:
        return cls(**bound)
    except ScheduleError as exc:
        raise ScheduleError(f"{exc}{where}") from None


class Checked:
    """A frozen dataclass whose fields declare their rules: the base of the schedules and
    of the rules driven by a metric (``reduce_on_plateau``)."""

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_fields(self)

    def _cross_check(self) -> None:
        """The rules across fields (e.g. ``warmup + decay <= steps``), run after each field's
        own rule, on the normalised values; a kind that has some overrides this and refuses
        with :func:`refuse`, whose message shows the field's value as it was received."""


def refuse(name: str, allowed: str) -> NoReturn:
    """Refuse field ``name`` of the kind being built: ``allowed`` says what it must be."""
    raise Refused(allowed, name=name)


#: Per class: its fields' rules, in field order, and whether it has rules across fields.
_PLANS: dict[type, tuple[tuple[tuple[str, Rule], ...], bool]] = {}


def _plan(cls: type) -> tuple[tuple[tuple[str, Rule], ...], bool]:
    hints = typing.get_type_hints(cls, include_extras=True)
    rules = tuple(
        (f.name, rule)
        for f in dataclasses.fields(cls)
        for rule in getattr(hints[f.name], "__metadata__", ())
        if isinstance(rule, Rule)
    )
    plan = _PLANS[cls] = (rules, cls._cross_check is not Checked._cross_check)  # type: ignore[attr-defined]
    return plan


def check_fields(obj: Checked) -> None:
    """Apply every field's declared rule to ``obj`` (in field order, each value replaced by
    its normalised form), then its rules across fields; the first refusal raises
    :class:`~lrlab.errors.ScheduleError` naming the kind, the field and the value received.
    The rules are read from the class's annotations once and cached."""
    cls = obj.__class__
    rules, across = _PLANS.get(cls) or _plan(cls)
    received: dict[str, Any] = {}
    name, value = "", None
    try:
        for name, rule in rules:
            # getattr/object.__setattr__, not obj.__dict__: reading the dict would make
            # CPython (3.11+) keep the attributes in it, and every later read slower.
            value = getattr(obj, name)
            if (normal := rule(value)) is not value:
                _set(obj, name, normal)
            if across:
                received[name] = value
        if across:
            obj._cross_check()
    except Refused as refused:
        if refused.name:
            name = refused.name
            value = received.get(name, getattr(obj, name))
        raise refused.error(name, value, kind=cls.kind) from None


_set = object.__setattr__  # a frozen dataclass's fields, written once before anyone sees them


class Schedule(Checked):
    """A learning-rate schedule: an immutable, closed-form map from step to LR.

    ``s(step)`` accepts a Python ``int`` (returns ``float``), a NumPy array
    (returns ``float64``), a torch tensor or a JAX array (returns the same
    kind; traceable under ``jax.jit``).  Steps count from 0.
    """

    def __call__(self, step: Any) -> Any:
        if step.__class__ is int:
            # A training loop's step: the same result as prepare()'s scalar
            # path, without its type dispatch (a torch scheduler step pays
            # this on every call).
            return self._scalar(float(step))
        if isinstance(step, np.ndarray) and step.size > CHUNK:
            return self._blocks(step)
        xp, t, finish = prepare(step)
        if xp is SCALAR:
            return self._scalar(t)
        return finish(self._value(t, xp))

    def _scalar(self, t: float) -> float:
        """The value at one step, in Python floats.  Where their arithmetic
        overflows (``OverflowError``), the array formula gives the value the
        array path gives -- ``inf`` under IEEE rules, with NumPy's
        RuntimeWarning -- so one step is the same step on every path."""
        try:
            return float(self._value(t, SCALAR))
        except OverflowError:
            return float(self._value(np.array([t]), NUMPY)[0])

    def _blocks(self, step: np.ndarray) -> np.ndarray:
        """The NumPy path, block by block: every formula is elementwise, so
        each step's value is the same as in one call over the whole array."""
        out = np.empty(step.shape, dtype=np.float64)
        flat_out, flat_step = out.reshape(-1), step.reshape(-1)
        for i in range(0, flat_step.size, CHUNK):
            t = np.asarray(flat_step[i : i + CHUNK], dtype=np.float64)
            flat_out[i : i + CHUNK] = self._value(t, NUMPY)
        return out

    def _value(self, t: Any, xp: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- composition -------------------------------------------------------
    def __mul__(self, factor: Any) -> Schedule:
        from lrlab.schedules._combinators import scale

        if isinstance(factor, Schedule):
            return NotImplemented
        return scale(self, factor)

    __rmul__ = __mul__

    # -- serialisation -----------------------------------------------------
    def args(self) -> dict[str, Any]:
        """The constructor arguments, by name, in order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_config(self) -> dict[str, Any]:
        """A JSON-safe dict with a ``type`` key; :func:`from_config` rebuilds it."""
        out: dict[str, Any] = {"type": self.kind}
        for name, value in self.args().items():
            out[name] = _to_json(value)
        return out

    def __str__(self) -> str:
        inner = ", ".join(f"{n}={format_value(v)}" for n, v in self.args().items())
        return f"{self.kind}({inner})"

    def __repr__(self) -> str:
        return str(self)


#: A schedule (of any kind): the rule of a combinator's inner schedule.
SCHEDULE = Instance(Schedule, "a schedule")


def _to_json(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_config()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def format_value(value: Any) -> str:
    """The canonical text of one argument value (floats round-trip exactly)."""
    if isinstance(value, Schedule):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float, str)):
        return repr(value)
    raise TypeError(f"cannot format {value!r}")  # pragma: no cover
