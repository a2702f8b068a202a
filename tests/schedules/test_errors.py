"""Bad input raises ScheduleError (a ValueError) whose message names the
argument, the value received and what is allowed; from text or config it
also says where."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

import lrlab
import lrlab.schedules as ls
from lrlab.errors import ScheduleError

c = ls.constant(0.1)

# (what to call, the argument, the value as the message shows it, what is allowed)
CASES: list[tuple[str, Callable[[], Any], str, str, str]] = [
    # wrong type
    ("lr str", lambda: ls.step("0.1", 0.5, 10), "lr", "'0.1'", "a finite number >= 0"),
    ("lr None", lambda: ls.constant(None), "lr", "None", "a finite number >= 0"),
    ("lr bool", lambda: ls.constant(True), "lr", "True", "a finite number >= 0"),
    ("every float", lambda: ls.step(0.1, 0.5, 10.0), "every", "10.0", "a positive integer"),
    ("every str", lambda: ls.step(0.1, 0.5, "10"), "every", "'10'", "a positive integer"),
    (
        "staircase",
        lambda: ls.exponential(0.1, 1.0, 1, "yes"),
        "staircase",
        "'yes'",
        "True or False",
    ),
    (
        "anneal",
        lambda: ls.one_cycle(1.0, 100, anneal="cosine"),
        "anneal",
        "'cosine'",
        "'cos', 'linear'",
    ),
    ("mode", lambda: ls.cyclic(0.1, 1.0, 5, "tri"), "mode", "'tri'", "'triangular', 'triangular2'"),
    (
        "decay",
        lambda: ls.wsd(1.0, 100, 10, decay="exp"),
        "decay",
        "'exp'",
        "'linear', 'cosine', '1-sqrt'",
    ),
    ("schedule", lambda: ls.warmup(0.1, 10), "schedule", "0.1", "a schedule"),
    (
        "schedules",
        lambda: ls.join(c, [5]),
        "schedules",
        "constant(lr=0.1)",
        "a non-empty list of schedules",
    ),
    (
        "milestones str",
        lambda: ls.multistep(1.0, "5", 0.1),
        "milestones",
        "'5'",
        "a non-empty list of integers",
    ),
    (
        "values",
        lambda: ls.piecewise([5], [0.1, "x"]),
        "values",
        "[0.1, 'x']",
        "a non-empty list of finite numbers >= 0",
    ),
    # NaN / inf
    ("lr nan", lambda: ls.cosine(math.nan, 10), "lr", "nan", "a finite number >= 0"),
    ("lr inf", lambda: ls.cosine(math.inf, 10), "lr", "inf", "a finite number >= 0"),
    ("k nan", lambda: ls.exponential(0.1, math.nan), "k", "nan", "a finite number"),
    (
        "min_lr -inf",
        lambda: ls.cosine(0.1, 10, -math.inf),
        "min_lr",
        "-inf",
        "a finite number >= 0",
    ),
    (
        "values inf",
        lambda: ls.piecewise([5], [0.1, math.inf]),
        "values",
        "[0.1, inf]",
        "finite numbers >= 0",
    ),
    # negative lr
    ("lr < 0", lambda: ls.step(-0.1, 0.5, 10), "lr", "-0.1", "a finite number >= 0"),
    (
        "end_lr < 0",
        lambda: ls.polynomial(0.1, 10, -0.01),
        "end_lr",
        "-0.01",
        "a finite number >= 0",
    ),
    ("start_lr < 0", lambda: ls.warmup(c, 10, -1.0), "start_lr", "-1.0", "a finite number >= 0"),
    ("base_lr < 0", lambda: ls.cyclic(-0.1, 1.0, 5), "base_lr", "-0.1", "a finite number >= 0"),
    ("scale < 0", lambda: c * -2, "factor", "-2", "a finite number >= 0"),
    # factor <= 0
    ("factor 0", lambda: ls.step(0.1, 0.0, 10), "factor", "0.0", "a finite number > 0"),
    ("factor < 0", lambda: ls.multistep(0.1, [5], -0.5), "factor", "-0.5", "a finite number > 0"),
    ("gamma 0", lambda: ls.cyclic(0.1, 1.0, 5, "exp_range", 0.0), "gamma", "0.0", "> 0"),
    ("div 0", lambda: ls.one_cycle(1.0, 100, div=0), "div", "0", "> 0"),
    ("power 0", lambda: ls.polynomial(0.1, 10, 0.0, 0.0), "power", "0.0", "> 0"),
    ("mult < 1", lambda: ls.cosine_restarts(0.1, 10, 0.5), "mult", "0.5", ">= 1"),
    # every <= 0 and other counts
    ("every 0", lambda: ls.step(0.1, 0.5, 0), "every", "0", "a positive integer"),
    ("every < 0", lambda: ls.exponential(0.1, 0.1, -3), "every", "-3", "a positive integer"),
    ("steps 0", lambda: ls.cosine(0.1, 0), "steps", "0", "a positive integer"),
    ("period 0", lambda: ls.cosine_restarts(0.1, 0), "period", "0", "a positive integer"),
    ("warmup 0", lambda: ls.inverse_sqrt(0.1, 0), "warmup", "0", "a positive integer"),
    ("warmup steps 0", lambda: ls.warmup(c, 0), "steps", "0", "a positive integer"),
    ("one_cycle steps 1", lambda: ls.one_cycle(1.0, 1), "steps", "1", "an integer >= 2"),
    ("every 2**53+1", lambda: ls.step(0.1, 0.5, 2**53 + 1), "every", str(2**53 + 1), "<= 2**53"),
    ("pct_start 1", lambda: ls.one_cycle(1.0, 100, 1.0), "pct_start", "1.0", "< 1"),
    ("pct_start short", lambda: ls.one_cycle(1.0, 4, 0.1), "pct_start", "0.1", "every phase"),
    ("decay_frac", lambda: ls.wsd(1.0, 100, 90, 0.2), "decay_frac", "0.2", "steps - warmup"),
    # unsorted / repeated boundaries
    (
        "boundaries unsorted",
        lambda: ls.piecewise([20, 10], [1.0, 0.5, 0.1]),
        "boundaries",
        "[20, 10]",
        "strictly increasing",
    ),
    (
        "milestones repeated",
        lambda: ls.multistep(1.0, [5, 5], 0.1),
        "milestones",
        "[5, 5]",
        "strictly increasing",
    ),
    (
        "join unsorted",
        lambda: ls.join([c, c, c], [9, 3]),
        "boundaries",
        "[9, 3]",
        "strictly increasing",
    ),
    ("boundary < 0", lambda: ls.piecewise([-1], [1.0, 0.5]), "boundaries", "[-1]", ">= 0"),
    ("boundaries empty", lambda: ls.piecewise([], [1.0]), "boundaries", "[]", "a non-empty list"),
    # mismatched lengths
    (
        "values too many",
        lambda: ls.piecewise([10], [1.0, 0.5, 0.1]),
        "values",
        "[1.0, 0.5, 0.1]",
        "one more value than boundaries (2 for 1",
    ),
    (
        "values too few",
        lambda: ls.piecewise([10, 20], [1.0, 0.5]),
        "values",
        "[1.0, 0.5]",
        "one more value than boundaries (3 for 2",
    ),
    (
        "join lengths",
        lambda: ls.join([c, c, c], [5]),
        "boundaries",
        "[5]",
        "one boundary fewer than schedules (2 for 3)",
    ),
    # clip order
    ("clip order", lambda: ls.clip(c, 0.5, 0.1), "max_lr", "0.1", ">= min_lr=0.5"),
]


@pytest.mark.parametrize(
    ("call", "name", "shown", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_argument(call: Callable[[], Any], name: str, shown: str, allowed: str) -> None:
    with pytest.raises(ScheduleError) as info:
        call()
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert f"Argument `{name}` of " in msg, msg
    assert f"Received: {name}={shown}" in msg, msg
    assert allowed in msg, msg


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "stepp(0.1, 0.5, 10)",
            ["Unknown schedule kind 'stepp'", "Known kinds:", "step", "cosine"],
        ),
        (
            "step(0.1, 0.5, 10, gamma=0.1)",
            ["Unknown argument `gamma` of step()", "Allowed: lr, factor, every"],
        ),
        ("step(0.1, 0.5)", ["Missing argument `every` of step()", "takes: lr, factor, every"]),
        ("step(0.1, 0.5, 10, 4)", ["step() takes at most 3 arguments", "got 4"]),
        ("step(0.1, 0.5, every=1, every=2)", ["`every`", "given twice"]),
        ("step(0.1, 0.5, 10, lr=0.2)", ["`lr`", "given twice"]),
        (
            "step(0.1, 0.5, every=0)",
            [
                "Argument `every` of step() must be a positive integer",
                "Received: every=0",
                "at column 1",
            ],
        ),
        (
            "warmup(cosine(-0.1, 100), 10)",
            ["Argument `lr` of cosine()", "Received: lr=-0.1", "at column 8"],
        ),
        (
            "join([constant(0.1), constant(0.2)], [5, 6])",
            ["one boundary fewer", "Received: boundaries=[5, 6]"],
        ),
    ],
)
def test_text_errors_name_argument_and_place(text: str, fragments: list[str]) -> None:
    with pytest.raises(ScheduleError) as info:
        lrlab.parse(text)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, (f, msg)
    assert repr(text) in msg  # it quotes the text it failed in


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("step(0.1, 0.5", None),
        ("step(0.1,, 0.5, 10)", 10),
        ("step(0.1 0.5, 10)", 6),
        ("step(0.1, 0.5, 10))", 19),
    ],
)
def test_malformed_text_says_where(text: str, column: int | None) -> None:
    with pytest.raises(ScheduleError, match="Malformed schedule text") as info:
        lrlab.parse(text)
    msg = str(info.value)
    assert repr(text) in msg and "Expected a form like" in msg
    if column is not None:
        assert f"at column {column}" in msg, msg


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"type": "nope"}, ["Unknown schedule kind 'nope'", "(at config)"]),
        ({"lr": 0.1}, ["needs a 'type' key", "Received at config"]),
        ({"type": 3}, ["'type' must be a string", "type=3"]),
        ([1, 2], ["must be a dict", "Received at config: [1, 2]"]),
        ({"type": "step", "lr": 0.1, "factor": 0.5}, ["Missing argument `every` of step()"]),
        ({"type": "step", "lr": 0.1, "factor": 0.5, "every": 1, "x": 1}, ["Unknown argument `x`"]),
        (
            {"type": "warmup", "schedule": {"type": "cosine", "lr": "hi", "steps": 10}, "steps": 5},
            ["Argument `lr` of cosine()", "Received: lr='hi'", "(at config.schedule)"],
        ),
        (
            {
                "type": "join",
                "schedules": [{"type": "constant", "lr": 0.1}, {"lr": 1}],
                "boundaries": [3],
            },
            ["needs a 'type' key", "config.schedules[1]"],
        ),
    ],
)
def test_config_errors(config: Any, fragments: list[str]) -> None:
    with pytest.raises(ScheduleError) as info:
        lrlab.from_config(config)
    for f in fragments:
        assert f in str(info.value), (f, str(info.value))


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)
    with pytest.raises(ValueError):
        ls.step(0.1, 0.5, 0)


@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda: ls.step(0.1, 0.5), ["Missing argument `every` of step()", "lr, factor, every"]),
        (lambda: ls.step(0.1, 0.5, 10, 3), ["step() takes at most 3 arguments", "got 4"]),
        (lambda: ls.step(0.1, 0.5, 10, every=3), ["Argument `every` of step() given twice"]),
        (lambda: ls.cosine(lr=0.1, stps=10), ["Unknown argument `stps` of cosine()", "min_lr"]),
        (lambda: ls.join([ls.constant(1.0)]), ["Missing argument `boundaries` of join()"]),
    ],
)
def test_bad_python_calls_raise_schedule_error_like_text(
    call: Callable[[], Any], fragments: list[str]
) -> None:
    # The same call written as text gives the same message (less the position).
    with pytest.raises(ScheduleError) as exc:
        call()
    for fragment in fragments:
        assert fragment in str(exc.value)
