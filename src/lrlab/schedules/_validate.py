"""The one vocabulary of argument checks, and its one message form.

A :class:`Rule` says what a value must be: ``rule(value)`` returns the value
normalised (``float`` for a number, ``int`` for an integer, a tuple for a
list) or raises :class:`Refused`, which says what is allowed.  :func:`check`
turns a refusal into the caller's error class, in one form for every caller::

    Argument `every` of step() must be a positive integer. Received: every=0
    Argument `steps` must be a positive integer. Received: steps=0

The first is a schedule's (:class:`~lrlab.errors.ScheduleError`, naming the
kind); the second the lab's, the range test's and the search's
(:class:`~lrlab.errors.UsageError`, through :mod:`lrlab._checks`, their door
to these rules).  A schedule's fields declare their rules beside them
(``lr: Rate``, ``every: Count = 1``, ``mode: Annotated[str, OneOf("min",
"max")]``) and ``lrlab.schedules._base.check_fields`` applies them.  The
vocabulary lives here, not in ``lrlab._checks``, because the schedules are a
layer above the lab's checks (``tests/test_layers.py``) and may not import them.

Why no library.  attrs validators, pydantic and beartype were weighed by the
message form and the construction speed.  None gives this form: attrs raises
``ValueError("'lr' must be >= 0.0: -1.0")`` (and a ``TypeError`` carrying its
``Attribute`` for a wrong type; ``instance_of(float)`` refuses the int ``1``);
pydantic a multi-line ``ValidationError`` that names a positional argument by
its index (``0``) and, unless strict, turns ``"10"`` into 10; beartype a
``BeartypeCallHintViolation`` about the type only.  Each would need every error
translated back, and the frozen dataclasses (``dataclasses.fields``/``replace``,
the registry, the binder) rewritten as its classes.  On speed
(``benchmarks/bench_schedules.py --construct``, ``step(0.1, 0.5, 10)`` with its
three checks, CPU time), it is built 4x faster than before these rules (every
kind 2.4-4.6x, with the binder's signature matched only on a failing call);
attrs' validators take as long, pydantic's Rust core half as long, which no use
needs (a schedule is built once per run, and evaluated per step).
So: plain rules read from ``typing.Annotated`` once per class (the standard
library's way of putting a constraint beside a type; mypy reads the bare type),
and no new dependency.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Annotated, Any, cast

from lrlab.errors import LrlabError, ScheduleError

#: The longest value an error message quotes whole.
MAX_SHOWN = 500
#: The largest count of steps: steps are evaluated as floats, which count exactly to 2**53.
MAX_INT = 2**53
_GIVEN: Any = object()  # Refused's default: show the value that was checked


def shown(value: Any) -> str:
    """``repr(value)`` for an error message, whatever the value.

    A hostile value must not turn the error into another one: an int of more
    than 4300 digits has no ``repr`` (``ValueError``), a list nested thousands
    deep exhausts the stack (``RecursionError``), and a huge value would flood
    the one-line message; those are summarised or cut.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError, MemoryError):
        if isinstance(value, int):
            return f"<an integer of {value.bit_length()} bits>"
        return f"<a {type(value).__name__} too large or deep to show>"
    if len(text) > MAX_SHOWN:
        return f"{text[: MAX_SHOWN - 20]}... ({len(text)} characters)"
    return text


def refusal(
    name: str, value: Any, allowed: str, *, kind: str = "", error: type[LrlabError] = ScheduleError
) -> LrlabError:
    """The one message form, as an ``error``; ``kind`` names the schedule kind, if any.

    >>> str(refusal("every", 0, "a positive integer", kind="step"))
    'Argument `every` of step() must be a positive integer. Received: every=0'
    """
    of = f" of {kind}()" if kind else ""
    return error(f"Argument `{name}`{of} must be {allowed}. Received: {name}={shown(value)}")


class Refused(Exception):
    """A rule's refusal: what is ``allowed``; ``value``, when given, is shown instead of the
    value checked (one item of a list); ``name`` names the field a rule across fields refuses."""

    def __init__(self, allowed: str, value: Any = _GIVEN, name: str = "") -> None:
        super().__init__(allowed)
        self.allowed, self.value, self.name = allowed, value, name

    def error(
        self, name: str, value: Any, *, kind: str = "", error: type[LrlabError] = ScheduleError
    ) -> LrlabError:
        """This refusal of ``value`` for ``name``, in the one message form."""
        shown_value = value if self.value is _GIVEN else self.value
        return refusal(name, shown_value, self.allowed, kind=kind, error=error)


class Rule:
    """What a value must be: ``rule(value)`` returns it normalised or raises
    :class:`Refused`; ``allowed`` words it for the message."""

    allowed: str = ""

    def __call__(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.allowed}>"


def check(
    rule: Rule, name: str, value: Any, *, kind: str = "", error: type[LrlabError] = ScheduleError
) -> Any:
    """``rule(value)``, or its refusal in the one message form, as an ``error``.

    >>> check(RATE, "lr", 1), check(OneOf("min", "max"), "mode", "max")
    (1.0, 'max')
    >>> check(RATE, "lr", -1, kind="cosine")
    Traceback (most recent call last):
    lrlab.errors.ScheduleError: Argument `lr` of cosine() must be a finite number >= 0. Received: lr=-1
    """  # noqa: E501
    try:
        return rule(value)
    except Refused as refused:
        raise refused.error(name, value, kind=kind, error=error) from None


class Number(Rule):
    """A finite real number (not a ``bool``) from ``low`` to ``high``, neither end in
    ``open_ends``, that ``ok`` accepts, as a ``float``."""

    def __init__(
        self,
        allowed: str,
        ok: Callable[[float], bool] | None = None,
        *,
        low: float = -math.inf,
        high: float = math.inf,
        open_ends: tuple[float, ...] = (),
    ) -> None:
        self.allowed, self.ok, self.low, self.high = allowed, ok, low, high
        self.open_ends = open_ends

    def __call__(self, value: Any) -> float:
        v = value
        if v.__class__ is not float:
            if isinstance(v, bool) or not isinstance(v, Real):
                raise Refused(self.allowed)
            try:
                v = float(v)
            except OverflowError:  # an int beyond the float range (10**400): not finite either
                raise Refused(self.allowed) from None
        # v - v is 0 but for inf and nan (nan fails every comparison anyway).
        if not (self.low <= v <= self.high and v - v == 0.0) or v in self.open_ends:
            raise Refused(self.allowed)
        if self.ok is not None and not self.ok(v):
            raise Refused(self.allowed)
        return v


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Number:
    """A finite :class:`Number` within ``[low, high]``, each end open when asked.

    >>> number(0.0, 1.0, low_open=True).allowed
    'a finite number > 0 and <= 1'
    """
    lo, hi = -math.inf if low is None else low, math.inf if high is None else high
    parts = [] if low is None else [f"{'>' if low_open else '>='} {lo:g}"]
    parts += [] if high is None else [f"{'<' if high_open else '<='} {hi:g}"]
    ends = (lo,) * low_open + (hi,) * high_open
    return Number(
        f"a finite number {' and '.join(parts)}".rstrip(), low=lo, high=hi, open_ends=ends
    )


class Int(Rule):
    """An integer (Python's or NumPy's, not a ``bool``) from ``low`` to ``high`` as an
    ``int``; one above ``high`` is refused as ``too_high`` (default: ``allowed``)."""

    def __init__(
        self, allowed: str, low: int, high: int | None = None, too_high: str | None = None
    ) -> None:
        self.allowed, self.low, self.high = allowed, low, high
        self.too_high = allowed if too_high is None else too_high

    def __call__(self, value: Any) -> int:
        if value.__class__ is not int:
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise Refused(self.allowed)
            value = int(value)
        if value < self.low:
            raise Refused(self.allowed)
        if self.high is not None and value > self.high:
            raise Refused(self.too_high)
        return value


def count(low: int = 1) -> Int:
    """A count of steps: an integer ``>= low`` (a positive one by default), at most 2**53.

    >>> count(0).allowed, count().too_high
    ('an integer >= 0', 'a positive integer <= 2**53 (9007199254740992)')
    """
    allowed = "a positive integer" if low == 1 else f"an integer >= {low}"
    return Int(allowed, low, MAX_INT, f"{allowed} <= 2**53 ({MAX_INT})")


class OneOf(Rule):
    """One of the strings ``choices``."""

    def __init__(self, *choices: str) -> None:
        self.choices = frozenset(choices)
        self.allowed = "one of " + ", ".join(repr(c) for c in choices)

    def __call__(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise Refused(self.allowed)
        return value


class Instance(Rule):
    """An instance of ``cls``, worded ``allowed``."""

    def __init__(self, cls: type | tuple[type, ...], allowed: str) -> None:
        self.cls, self.allowed = cls, allowed

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, self.cls):
            raise Refused(self.allowed)
        return value


class ListOf(Rule):
    """A non-empty sequence (``of``; not text) of items that ``item`` accepts, as a tuple.

    Refused whole as ``"a non-empty list of {noun}"``; for a refused item as that plus
    ``bound``, or with ``show_item`` as the item's own refusal, showing the item; with
    ``ordered``, a list not strictly increasing is refused as ``ordered``.
    """

    def __init__(
        self,
        item: Rule,
        noun: str,
        bound: str = "",
        *,
        of: type | tuple[type, ...] = Sequence,
        show_item: bool = False,
        ordered: str = "",
    ) -> None:
        self.item, self.of, self.show_item, self.ordered = item, of, show_item, ordered
        self.allowed = f"a non-empty list of {noun}"
        self.items_allowed = self.allowed + bound

    def __call__(self, value: Any) -> tuple[Any, ...]:
        items = cast(Sequence[Any], value)
        if isinstance(value, (str, bytes)) or not isinstance(value, self.of) or not len(items):
            raise Refused(self.allowed)
        item, out = self.item, []
        for v in items:
            try:
                out.append(item(v))
            except Refused as refused:
                if self.show_item:
                    raise Refused(refused.allowed, v) from None
                raise Refused(self.items_allowed) from None
        if self.ordered and any(b <= a for a, b in itertools.pairwise(out)):
            raise Refused(self.ordered)
        return tuple(out)


def increasing(low: int = 0) -> ListOf:
    """A non-empty, strictly increasing list of counts ``>= low``, as a tuple.

    >>> increasing()([3, 5])
    (3, 5)
    """
    bound = f" >= {low}"
    return ListOf(
        count(low), "integers", bound, ordered="a strictly increasing list of integers" + bound
    )


# -- the schedules' words: a type and its rule, which lrlab.schedules._base reads -------------

#: A finite number >= 0: a learning rate, a level of one; as ``NonNegative``, a decay, an eps.
RATE = number(0.0)
Rate = Annotated[float, RATE]
NonNegative = Annotated[float, RATE]
#: A finite number > 0: a factor, a divisor, a power.
Positive = Annotated[float, number(0.0, low_open=True)]
#: Any finite number.
Finite = Annotated[float, number()]
#: A count of steps: a positive integer, at most 2**53.
Count = Annotated[int, count()]
#: ``True`` or ``False`` itself (not 0, 1 or "yes").
FLAG = Instance(bool, "True or False")
Flag = Annotated[bool, FLAG]
