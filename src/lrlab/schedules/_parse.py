"""The one text parser and config reader of lrlab, evaluating nothing.

The text grammar is a tiny subset of Python expressions, read with
:func:`ast.parse` and walked against a whitelist::

    spec   := call | spec "*" number | number "*" spec | "(" spec ")"
    call   := KIND "(" [arg ("," arg)*] ")"
    arg    := value | NAME "=" value
    value  := number | "-" number | string | True | False | "[" value, ... "]" | spec

Nothing in the text is ever executed: names are looked up only in the
registry of kinds (``_base.register``: the schedules and the rules driven by a
metric, such as ``reduce_on_plateau``, whose arguments are literals only), and
only literal numbers, strings, booleans and lists are accepted as values.  A
call is bound to its kind by ``_base.bind``, the one place a kind's arguments
are counted, named and checked, whether they come from text, a config or Python.

Option values (``lrlab compare``'s ``optimizer(key=value)`` and ``--param``)
are read by the same walker with bare words allowed: ``cnn``, ``true``,
``none``, ``my-cnn``.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping
from typing import Any, cast

from lrlab.errors import ScheduleError
from lrlab.schedules._base import Schedule, bind, kinds, known
from lrlab.schedules._validate import refusal, shown

__all__ = [
    "from_config",
    "parse",
    "parse_options",
    "parse_rule",
    "parse_value",
    "read",
    "read_config",
    "rule_from_config",
]

MAX_TEXT = 20_000
MAX_DEPTH = 32
EXAMPLE = "step(0.1, 0.5, 10)"

#: An option value that Python's grammar reads otherwise, taken as the word it is.
_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")
_WORDS = {"true": True, "false": False, "none": None}


def check_text(text: str, what: str) -> None:
    """Refuse text that is not Unicode: a lone surrogate is what Python makes of a byte of
    ``argv`` (or a file) that is not UTF-8, and no parser can read it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ScheduleError(
            f"{what} must be valid Unicode text; character {exc.start + 1} is not "
            f"(an undecodable byte such as {text[exc.start]!r}). Received: {shown(text)}"
        ) from None


def ast_parse(text: str) -> Any:
    """``ast.parse(text, mode="eval")`` without its warnings.

    CPython warns about some user text it still parses (``1if``: "invalid
    decimal literal", ``'\\e'``: "invalid escape sequence"); printed, those
    would add lines to the CLI's one-line errors.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text, mode="eval")


def _expected(kind: str, where: str) -> ScheduleError:
    if kind == "reduce_on_plateau":
        return ScheduleError(
            f"reduce_on_plateau{where} is driven by a metric, not the step, so it is not a "
            "schedule: read it with lrlab.schedules.parse_rule() or "
            "reduce_on_plateau.parse(), and train with it through "
            "lrlab.train.run(task, schedule=...) or lrlab.torch.plateau()"
        )
    return ScheduleError(f"Unknown schedule kind {shown(kind)}{where}. Known kinds: {known()}")


def _kind(kind: str, where: str, accept: type | None) -> type:
    """The registered class of ``kind``, if it is what the caller accepts
    (``None``: a schedule or a rule; a rule is never a schedule's argument)."""
    cls = kinds().get(kind)
    if cls is None or (accept is not None and not issubclass(cls, accept)):
        raise _expected(kind, where)
    return cls


def _tree(text: Any, noun: str, example: str) -> ast.AST:
    """The syntax tree of ``text``, or the error that says why there is none."""
    if not isinstance(text, str):
        raise ScheduleError(
            f"A {noun} spec must be text such as {example!r}. Received: {shown(text)}"
        )
    if len(text) > MAX_TEXT:
        raise ScheduleError(
            f"{noun.capitalize()} text is too long ({len(text)} characters, at most {MAX_TEXT})"
        )
    if not text.strip():
        raise ScheduleError(f"{noun.capitalize()} text is empty. Example: {example!r}")
    check_text(text, f"{noun.capitalize()} text")
    try:
        return ast_parse(text.strip()).body
    except (RecursionError, MemoryError):
        # CPython's parser gives up on deep nesting (e.g. thousands of unary
        # minus signs or chained `*`) with these instead of a SyntaxError.
        raise ScheduleError(
            f"{noun.capitalize()} text nests too deeply to read ({len(text)} characters); "
            f"at most {MAX_DEPTH} levels are allowed"
        ) from None
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL character (Python < 3.12)
        if not isinstance(exc, SyntaxError):
            exc = SyntaxError(str(exc))
        col = (exc.offset or 1) if exc.lineno in (None, 1) else None
        at = f" at column {col}" if col is not None else ""
        raise ScheduleError(
            f"Malformed {noun} text {text.strip()!r}{at}: {exc.msg}. "
            f"Expected a form like {example!r}"
        ) from None


def read(text: Any, accept: type | None, noun: str = "schedule", example: str = EXAMPLE) -> Any:
    """The kind ``text`` spells, built: a schedule (``accept=Schedule``), one rule
    (``accept=reduce_on_plateau``) or either (``None``).  ``noun`` and ``example``
    word the errors."""
    if accept is not None and isinstance(text, accept):
        return text
    if accept is None and isinstance(text, tuple(kinds().values())):
        return text
    node = _tree(text, noun, example)
    reader = _Reader(text.strip())
    if accept is None or issubclass(accept, Schedule):
        if accept is None and isinstance(node, ast.Call):
            return reader.call(node, 0, None)
        return reader.schedule(node, 0)
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == accept.kind  # type: ignore[attr-defined]
    ):
        raise ScheduleError(
            f"Malformed {noun} text {text.strip()!r}: not a {noun} rule. "
            f"Expected a form like {example!r}"
        )
    return reader.call(node, 0, accept)


def parse(text: str | Schedule) -> Schedule:
    """Parse a schedule's text form, e.g. ``"step(lr=0.1, factor=0.5, every=10)"``.

    Positional arguments follow each kind's documented order; kinds nest
    (``"warmup(cosine(0.1, 1000), 100)"``); ``str(s)`` parses back to an
    equal value.

    >>> parse("warmup(cosine(0.1, 1000), 100)")
    warmup(schedule=cosine(lr=0.1, steps=1000, min_lr=0.0), steps=100, start_lr=0.0)
    >>> parse("step(0.1, 0.5, every=0)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lrlab.errors.ScheduleError: Argument `every` of step() must be a positive integer. ...
    """
    return cast(Schedule, read(text, Schedule))


def parse_rule(text: Any) -> Any:
    """A schedule or a :class:`reduce_on_plateau` rule from its text (or the object itself).

    >>> parse_rule("cosine(0.1, 100)")
    cosine(lr=0.1, steps=100, min_lr=0.0)
    >>> parse_rule("reduce_on_plateau(0.1, patience=3)").patience
    3
    """
    return read(text, None)


class _Reader:
    """Walks one text's syntax tree against the whitelist; ``words`` reads option
    values, where a bare word is a string."""

    def __init__(self, text: str, words: bool = False) -> None:
        self.text = text
        self.words = words
        self.shown = repr(text)  # once: where() runs for every call in the text

    def where(self, node: ast.AST) -> str:
        return f" (in {self.shown} at column {getattr(node, 'col_offset', 0) + 1})"

    def bad(self, node: ast.AST, what: str) -> ScheduleError:
        snippet = ast.get_source_segment(self.text, node) or type(node).__name__
        return ScheduleError(f"{what}: {snippet!r}{self.where(node)}")

    def schedule(self, node: ast.AST, depth: int) -> Schedule:
        if depth > MAX_DEPTH:
            raise self.bad(node, f"Schedule nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            left_is_num = _is_number(node.left)
            sched_node, num_node = (
                (node.right, node.left) if left_is_num else (node.left, node.right)
            )
            inner = self.schedule(sched_node, depth + 1)
            factor = self.value(num_node, depth + 1)
            return cast(Schedule, bind(kinds()["scale"], [inner, factor], {}, self.where(node)))
        return cast(Schedule, self.call(node, depth, Schedule))

    def call(self, node: ast.AST, depth: int, accept: type | None) -> Any:
        """``KIND(args)``, bound to its registered class."""
        if not isinstance(node, ast.Call):
            raise self.bad(node, "Expected a schedule such as step(0.1, 0.5, 10), got")
        if not isinstance(node.func, ast.Name):
            raise self.bad(node.func, "Expected a schedule kind name")
        kind = node.func.id
        cls = _kind(kind, self.where(node), accept)
        # a rule's arguments are literals; a schedule's may be schedules
        literal = not issubclass(cls, Schedule)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.bad(a, f"Arguments of {kind}() must be written out, not unpacked with *")
            args.append(self.argument(kind, a, depth + 1, literal))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.bad(
                    kw, f"Arguments of {kind}() must be written out, not unpacked with **"
                )
            if kw.arg in kwargs:
                raise ScheduleError(f"Argument `{kw.arg}` of {kind}() given twice{self.where(kw)}")
            kwargs[kw.arg] = self.argument(kind, kw.value, depth + 1, literal)
        return bind(cls, args, kwargs, self.where(node))

    def argument(self, kind: str, node: ast.AST, depth: int, literal: bool) -> Any:
        if literal and not (
            _is_number(node)
            or (isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)))
        ):
            raise self.bad(
                node, f"Arguments of {kind}() must be literal numbers, strings or booleans, got"
            )
        return self.value(node, depth)

    def value(self, node: ast.AST, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.bad(node, f"Schedule nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if _is_number(node):
            assert isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
            v: Any = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e, depth + 1) for e in node.elts]
            return tuple(items) if self.words else items
        if self.words:
            return self.word(node)
        if isinstance(node, (ast.Call, ast.BinOp)):
            return self.schedule(node, depth + 1)
        if isinstance(node, ast.Name):
            raise self.bad(node, "Unknown name (values are numbers, strings, lists or schedules)")
        raise self.bad(node, "Unsupported syntax")

    def word(self, node: ast.AST) -> Any:
        """An option value that is not a literal: a bare word (``cnn``, ``true``,
        ``none``, ``my-cnn``, ``a/b``) as itself."""
        if isinstance(node, ast.Name):
            return _WORDS.get(node.id.lower(), node.id)
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        segment = (ast.get_source_segment(self.text, node) or "").strip()
        if not isinstance(node, ast.Call) and _BARE.match(segment):
            return segment
        raise _option_error(segment)


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


# -- option values ------------------------------------------------------------------------------


def _option_error(text: str) -> ScheduleError:
    return ScheduleError(
        "Option values must be numbers, true/false, none, strings (quoted, or a bare word "
        f"such as cnn) or [lists] of those. Received: {text.strip()!r}"
    )


def parse_value(text: str) -> Any:
    """One option value, parsed without evaluating anything: a number, true/false, none,
    a quoted string or a bare word, or a bracketed list (a tuple) of those.

    >>> parse_value("cnn"), parse_value("'cnn'"), parse_value("[0.9, 0.99]")
    ('cnn', 'cnn', (0.9, 0.99))
    >>> parse_value("1e-3"), parse_value("true"), parse_value("my-cnn")
    (0.001, True, 'my-cnn')
    """
    t = text.strip()
    try:
        node = ast_parse(t).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        if _BARE.match(t):
            return t
        raise _option_error(text) from None
    return _Reader(t, words=True).value(node, 0)


def parse_options(text: str) -> dict[str, Any]:
    """``key=value, ...`` (what goes between an optimizer's parentheses), values as
    :func:`parse_value` reads them.

    >>> parse_options("betas=[0.8, 0.99], amsgrad=true, model=cnn")
    {'betas': (0.8, 0.99), 'amsgrad': True, 'model': 'cnn'}
    """
    source = f"f({text})"
    usage = f"Options must be key=value, each key once. Received: {text.strip()!r}"
    try:
        call = ast_parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ScheduleError(usage) from None
    if not isinstance(call, ast.Call) or call.args:
        raise ScheduleError(usage)
    reader = _Reader(source, words=True)
    options: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None or kw.arg in options:
            raise ScheduleError(usage)
        options[kw.arg] = reader.value(kw.value, 0)
    return options


# -- the config form ------------------------------------------------------------------------


def from_config(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_config`'s dict.

    >>> from lrlab.schedules import step
    >>> from_config(step(0.1, 0.5, 10).to_config()) == step(0.1, 0.5, 10)
    True
    """
    return cast(Schedule, read_config(config, Schedule))


def rule_from_config(config: Any) -> Any:
    """A schedule or a :class:`reduce_on_plateau` rule from its config (``to_config()``).

    >>> rule_from_config({"type": "reduce_on_plateau", "lr": 0.1, "patience": 3}).patience
    3
    >>> rule_from_config({"type": "constant", "lr": 0.1})
    constant(lr=0.1)
    """
    return read_config(config, None)


def read_config(config: Any, accept: type | None) -> Any:
    """The kind ``config`` describes: a schedule (``accept=Schedule``), one rule or either."""
    if accept is not None and accept is not Schedule:
        kind: str = accept.kind  # type: ignore[attr-defined]
        if not isinstance(config, Mapping) or config.get("type") != kind:
            raise refusal("config", config, f"a dict with 'type': {kind!r}", kind=kind)
    return _from_config(config, "config", 0, accept)


def _from_config(config: Any, path: str, depth: int, accept: type | None) -> Any:
    if depth > MAX_DEPTH:
        raise ScheduleError(f"Schedule config nests deeper than {MAX_DEPTH} levels at {path}")
    if not isinstance(config, Mapping):
        raise ScheduleError(
            "A schedule config must be a dict with a 'type' key. "
            f"Received at {path}: {shown(config)}"
        )
    if "type" not in config:
        raise ScheduleError(
            f"A schedule config needs a 'type' key (one of {known()}). Received at {path}: "
            f"{shown(dict(config))}"
        )
    kind = config["type"]
    if not isinstance(kind, str):
        raise ScheduleError(
            f"Schedule 'type' must be a string. Received at {path}: type={shown(kind)}"
        )
    cls = _kind(kind, f" (at {path})", accept)
    kwargs = {}
    for key, value in config.items():
        if key == "type":
            continue
        name = key if isinstance(key, str) else shown(key)
        kwargs[key] = _config_value(value, f"{path}.{name}", depth + 1)
    return bind(cls, [], kwargs, f" (at {path})")


def _config_value(value: Any, path: str, depth: int) -> Any:
    if (
        depth > MAX_DEPTH
    ):  # lists too: a list nested 500 deep is valid JSON (and a cycle is endless)
        raise ScheduleError(f"Schedule config nests deeper than {MAX_DEPTH} levels at {path}")
    if isinstance(value, Mapping):
        return _from_config(value, path, depth, Schedule)
    if isinstance(value, list):
        return [_config_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value
