"""The :class:`Schedule` base: call, config, canonical text, registry.

A schedule is an immutable value and a pure function of the step.  Concrete
kinds are frozen dataclasses declared with :func:`kind`; their fields, in
order, are the constructor's arguments, the text form's positional order and
the config's keys.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

from lrlab.errors import ScheduleError
from lrlab.schedules._validate import shown
from lrlab.schedules._xp import NUMPY, SCALAR, prepare

__all__ = ["Schedule", "bind", "register", "registry"]

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
    form, instead of the dataclass's bare ``TypeError``."""
    init = cls.__init__  # type: ignore[misc]
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            signature.bind(self, *args, **kwargs)
        except TypeError:
            bind(cls, list(args), kwargs, "")  # raises the ScheduleError
        init(self, *args, **kwargs)

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


class Schedule:
    """A learning-rate schedule: an immutable, closed-form map from step to LR.

    ``s(step)`` accepts a Python ``int`` (returns ``float``), a NumPy array
    (returns ``float64``), a torch tensor or a JAX array (returns the same
    kind; traceable under ``jax.jit``).  Steps count from 0.
    """

    kind: ClassVar[str] = ""

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

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)


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
