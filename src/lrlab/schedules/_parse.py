"""Text and config forms of schedules, parsed without evaluating anything.

The text grammar is a tiny subset of Python expressions, read with
:func:`ast.parse` and walked against a whitelist::

    spec   := call | spec "*" number | number "*" spec | "(" spec ")"
    call   := KIND "(" [arg ("," arg)*] ")"
    arg    := value | NAME "=" value
    value  := number | "-" number | string | True | False | "[" value, ... "]" | spec

Nothing in the text is ever executed: names are looked up only in the
registry of schedule kinds, and only literal numbers, strings, booleans and
lists are accepted as values.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from typing import Any

from lrlab.errors import ScheduleError
from lrlab.schedules._base import Schedule, registry
from lrlab.schedules._validate import ast_parse, check_text, shown

__all__ = ["from_config", "parse"]

MAX_TEXT = 20_000
MAX_DEPTH = 32


def _known() -> str:
    return ", ".join(sorted(k for k in registry() if k != "scale"))


def _bind(kind: str, args: list[Any], kwargs: dict[str, Any], where: str) -> Schedule:
    """Build kind(*args, **kwargs) with errors that say what was wrong."""
    classes = registry()
    if kind == "reduce_on_plateau":
        raise ScheduleError(
            f"reduce_on_plateau{where} is driven by a metric, not the step, so it is not a "
            "schedule: read it with lrlab.schedules.parse_rule() or "
            "reduce_on_plateau.parse(), and train with it through "
            "lrlab.train.run(task, schedule=...) or lrlab.torch.plateau()"
        )
    if kind not in classes:
        raise ScheduleError(f"Unknown schedule kind {shown(kind)}{where}. Known kinds: {_known()}")
    cls = classes[kind]
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    names = [f.name for f in fields]
    if len(args) > len(fields):
        raise ScheduleError(
            f"{kind}() takes at most {len(fields)} arguments ({', '.join(names)}), "
            f"got {len(args)}{where}"
        )
    bound = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in names:
            raise ScheduleError(
                f"Unknown argument `{name if isinstance(name, str) else shown(name)}` of "
                f"{kind}(){where}. Allowed: {', '.join(names)}"
            )
        if name in bound:
            raise ScheduleError(f"Argument `{name}` of {kind}() given twice{where}")
        bound[name] = value
    missing = [
        f.name
        for f in fields
        if f.name not in bound
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
    if isinstance(text, Schedule):
        return text
    if not isinstance(text, str):
        raise ScheduleError(
            f"A schedule spec must be text such as 'step(0.1, 0.5, 10)'. Received: {shown(text)}"
        )
    if len(text) > MAX_TEXT:
        raise ScheduleError(
            f"Schedule text is too long ({len(text)} characters, at most {MAX_TEXT})"
        )
    if not text.strip():
        raise ScheduleError("Schedule text is empty. Example: 'step(0.1, 0.5, 10)'")
    check_text(text, "Schedule text")
    try:
        tree = ast_parse(text.strip())
    except (RecursionError, MemoryError):
        # CPython's parser gives up on deep nesting (e.g. thousands of unary
        # minus signs or chained `*`) with these instead of a SyntaxError.
        raise ScheduleError(
            f"Schedule text nests too deeply to read ({len(text)} characters); "
            f"at most {MAX_DEPTH} levels are allowed"
        ) from None
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL character (Python < 3.12)
        if not isinstance(exc, SyntaxError):
            exc = SyntaxError(str(exc))
        col = (exc.offset or 1) if exc.lineno in (None, 1) else None
        at = f" at column {col}" if col is not None else ""
        raise ScheduleError(
            f"Malformed schedule text {text.strip()!r}{at}: {exc.msg}. "
            "Expected a form like 'step(0.1, 0.5, 10)'"
        ) from None
    return _Reader(text.strip()).schedule(tree.body, 0)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text

    def where(self, node: ast.AST) -> str:
        return f" (in {self.text!r} at column {getattr(node, 'col_offset', 0) + 1})"

    def bad(self, node: ast.AST, what: str) -> ScheduleError:
        snippet = ast.get_source_segment(self.text, node) or type(node).__name__
        return ScheduleError(f"{what}: {snippet!r}{self.where(node)}")

    def schedule(self, node: ast.AST, depth: int) -> Schedule:
        if depth > MAX_DEPTH:
            raise self.bad(node, f"Schedule nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            left_is_num = self._is_number(node.left)
            sched_node, num_node = (
                (node.right, node.left) if left_is_num else (node.left, node.right)
            )
            inner = self.schedule(sched_node, depth + 1)
            factor = self.value(num_node, depth + 1)
            from lrlab.schedules._combinators import scale

            try:
                return scale(inner, factor)
            except ScheduleError as exc:
                raise ScheduleError(f"{exc}{self.where(node)}") from None
        if not isinstance(node, ast.Call):
            raise self.bad(node, "Expected a schedule such as step(0.1, 0.5, 10), got")
        if not isinstance(node.func, ast.Name):
            raise self.bad(node.func, "Expected a schedule kind name")
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.bad(a, "Unsupported syntax")
            args.append(self.value(a, depth + 1))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.bad(kw, "Unsupported syntax")
            if kw.arg in kwargs:
                raise ScheduleError(
                    f"Argument `{kw.arg}` of {node.func.id}() given twice{self.where(kw)}"
                )
            kwargs[kw.arg] = self.value(kw.value, depth + 1)
        return _bind(node.func.id, args, kwargs, self.where(node))

    @staticmethod
    def _is_number(node: ast.AST) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            node = node.operand
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        )

    def value(self, node: ast.AST, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.bad(node, f"Schedule nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if self._is_number(node):
            assert isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
            v: Any = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e, depth + 1) for e in node.elts]
        if isinstance(node, (ast.Call, ast.BinOp)):
            return self.schedule(node, depth + 1)
        if isinstance(node, ast.Name):
            raise self.bad(node, "Unknown name (values are numbers, strings, lists or schedules)")
        raise self.bad(node, "Unsupported syntax")


def from_config(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_config`'s dict.

    >>> from lrlab.schedules import step
    >>> from_config(step(0.1, 0.5, 10).to_config()) == step(0.1, 0.5, 10)
    True
    """
    return _from_config(config, "config", 0)


def _from_config(config: Any, path: str, depth: int) -> Schedule:
    if depth > MAX_DEPTH:
        raise ScheduleError(f"Schedule config nests deeper than {MAX_DEPTH} levels at {path}")
    if not isinstance(config, Mapping):
        raise ScheduleError(
            "A schedule config must be a dict with a 'type' key. "
            f"Received at {path}: {shown(config)}"
        )
    if "type" not in config:
        raise ScheduleError(
            f"A schedule config needs a 'type' key (one of {_known()}). Received at {path}: "
            f"{shown(dict(config))}"
        )
    kind = config["type"]
    if not isinstance(kind, str):
        raise ScheduleError(
            f"Schedule 'type' must be a string. Received at {path}: type={shown(kind)}"
        )
    kwargs = {}
    for key, value in config.items():
        if key == "type":
            continue
        name = key if isinstance(key, str) else shown(key)
        kwargs[key] = _config_value(value, f"{path}.{name}", depth + 1)
    return _bind(kind, [], kwargs, f" (at {path})")


def _config_value(value: Any, path: str, depth: int) -> Any:
    if (
        depth > MAX_DEPTH
    ):  # lists too: a list nested 500 deep is valid JSON (and a cycle is endless)
        raise ScheduleError(f"Schedule config nests deeper than {MAX_DEPTH} levels at {path}")
    if isinstance(value, Mapping):
        return _from_config(value, path, depth)
    if isinstance(value, list):
        return [_config_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value
