"""The text form: what it accepts, and that it never runs anything."""

from __future__ import annotations

import builtins
import time
from pathlib import Path
from typing import Any

import pytest

import lrlab
import lrlab.schedules as ls
from lrlab.errors import ScheduleError


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("step(0.1, 0.5, 10)", ls.step(0.1, 0.5, 10)),
        ("step(lr=0.1, every=10, factor=0.5)", ls.step(0.1, 0.5, 10)),
        ("  step( 0.1 ,\n 0.5, 10 )  ", ls.step(0.1, 0.5, 10)),
        ("exponential(0.1, -0.01)", ls.exponential(0.1, -0.01)),
        ("exponential(0.1, +0.01, staircase=True, every=5)", ls.exponential(0.1, 0.01, 5, True)),
        ("piecewise([10, 20], [0.1, 0.01, 0.001])", ls.piecewise([10, 20], [0.1, 0.01, 0.001])),
        ("piecewise((10,), (1, 2))", ls.piecewise([10], [1.0, 2.0])),
        ("one_cycle(1.0, 100, anneal='linear')", ls.one_cycle(1.0, 100, anneal="linear")),
        ('wsd(1.0, 100, 10, decay="1-sqrt")', ls.wsd(1.0, 100, 10, decay="1-sqrt")),
        ("warmup(cosine(0.1, 1000), 100)", ls.warmup(ls.cosine(0.1, 1000), 100)),
        ("cosine(0.1, 1000) * 0.5", ls.scale(ls.cosine(0.1, 1000), 0.5)),
        ("2 * constant(0.1)", ls.scale(ls.constant(0.1), 2.0)),
        ("(constant(0.1)) * 2", ls.scale(ls.constant(0.1), 2.0)),
        ("scale(constant(0.1), 2)", ls.scale(ls.constant(0.1), 2.0)),
        (
            "join([constant(0.1), step(0.1, 0.5, 10)], [5])",
            ls.join([ls.constant(0.1), ls.step(0.1, 0.5, 10)], [5]),
        ),
        ("clip(step(0.1, 0.5, 1), 0.02, 0.08)", ls.clip(ls.step(0.1, 0.5, 1), 0.02, 0.08)),
        ("constant(1e-3)", ls.constant(0.001)),
        ("constant(1_000)", ls.constant(1000.0)),
    ],
)
def test_accepts(text: str, want: ls.Schedule) -> None:
    got = lrlab.parse(text)
    assert got == want
    assert lrlab.parse(str(got)) == got


def test_parse_passes_a_schedule_through_and_refuses_non_text() -> None:
    s = ls.constant(0.1)
    assert lrlab.parse(s) is s
    for bad in (None, 3, b"constant(0.1)", ["constant(0.1)"]):
        with pytest.raises(ScheduleError, match="must be text"):
            lrlab.parse(bad)  # type: ignore[arg-type]
    for empty in ("", "   ", "\n"):
        with pytest.raises(ScheduleError, match="empty"):
            lrlab.parse(empty)


CANARY = "lrlab-parse-canary"


def hostile(tmp: Path) -> list[str]:
    c = str(tmp / CANARY)
    return [
        # code execution, directly and smuggled into argument positions
        f"__import__('os').system('touch {c}')",
        f"step(__import__('os').system('touch {c}'), 0.5, 10)",
        f"constant(open('{c}', 'w'))",
        f'exec(\'open("{c}", "w")\')',
        "eval('1')",
        f"constant(0.1) if open('{c}', 'w') else constant(0.2)",
        "breakpoint()",
        "globals()",
        "input()",
        # attribute access and subscripts
        "constant.__class__",
        "constant(0.1).__class__",
        "step.__init__.__globals__['os']",
        "().__class__.__bases__[0].__subclasses__()",
        "constant(0.1).lr",
        "constant([0.1][0])",
        "constant({'a': 0.1}['a'])",
        "lrlab.schedules.constant(0.1)",
        "constant(lr=x)",
        # lambdas, comprehensions, other expressions
        "(lambda: constant(0.1))()",
        "constant((lambda: 0.1)())",
        "[constant(0.1) for _ in range(10**9)]",
        "join([constant(0.1) for _ in range(3)], [1, 2])",
        "{constant(0.1)}",
        "constant(*[0.1])",
        "constant(**{'lr': 0.1})",
        "(x := constant(0.1))",
        "constant(f'{0.1}')",
        "constant(b'0.1')",
        "constant(1j)",
        "constant(0.1 + 0.2)",
        "constant(9**9**9**9)",
        "constant(0.1) * 10**10**10",
        "constant(0.1) * constant(0.2)",
        "constant(0.1); import os",
        "import os",
        "constant(0.1)\nimport os",
        "await constant(0.1)",
        "yield constant(0.1)",
        "constant(...)",
        "constant(None)",
        "constant(nan)",
        "constant(inf)",
        "constant(1e999)",
        "step(0.1, 0.5, " + "9" * 400 + ")",
        "step(0.1, 0.5, " + "9" * 5000 + ")",
        "\x00constant(0.1)",
        # nesting, deep and deeper than the parser copes with
        "(" * 10_000 + "constant(0.1)" + ")" * 10_000,
        "warmup(" * 40 + "constant(0.1)" + ", 1)" * 40,
        "piecewise(" + "[" * 60 + "1" + "]" * 60 + ", [1.0, 2.0])",
        "constant(" + "-" * 15_000 + "1)",
        "constant(" + "not " * 4_000 + "1)",
        "constant(0.1)" + " * 1" * 4_000,
        "1 * " * 4_000 + "constant(0.1)",
        "constant(" + "~" * 15_000 + "1)",
        "constant(" + "2**" * 5_000 + "2)",
        # huge text
        "constant(0.1)" + " " * 30_000,
        "constant(" + "1" * 100_000 + ")",
        "x" * 1_000_000,
    ]


def test_hostile_text_is_refused_and_has_no_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing in parse may evaluate or execute: eval/exec/compile-to-code
    # and imports of anything but lrlab itself fail loudly while it runs.
    def forbidden(*a: Any, **k: Any) -> Any:
        raise AssertionError(f"parse called a forbidden builtin with {a!r}")

    real_import = builtins.__import__

    def only_lrlab(name: str, *a: Any, **k: Any) -> Any:
        if name.split(".")[0] != "lrlab":
            raise AssertionError(f"parse imported {name!r}")
        return real_import(name, *a, **k)

    texts = hostile(tmp_path)
    errors = []
    with monkeypatch.context() as m:
        for name in ("eval", "exec", "breakpoint", "input"):
            m.setattr(builtins, name, forbidden)
        m.setattr(builtins, "__import__", only_lrlab)
        for text in texts:
            start = time.perf_counter()
            try:
                lrlab.parse(text)
            except ScheduleError as exc:
                errors.append(str(exc))
            else:
                raise AssertionError(f"accepted hostile text {text[:80]!r}")
            assert time.perf_counter() - start < 2.0, text[:80]
    assert not (tmp_path / CANARY).exists()
    assert len(errors) == len(texts)
    # the messages stay readable: no traceback of the parser's internals
    assert all("Traceback" not in e for e in errors)


def test_errors_point_into_the_text() -> None:
    text = "warmup(constant(0.1), 10, start_lr=__import__('os'))"
    with pytest.raises(ScheduleError) as info:
        lrlab.parse(text)
    msg = str(info.value)
    assert "Unknown schedule kind '__import__'" in msg
    assert f"at column {text.index('__import__') + 1}" in msg
    with pytest.raises(ScheduleError, match=r"Unknown name .*'x'.* at column 16"):  # 1-based
        lrlab.parse("step(0.1, 0.5, x)")
    with pytest.raises(ScheduleError, match="nests deeper than 32 levels"):
        lrlab.parse("warmup(" * 40 + "constant(0.1)" + ", 1)" * 40)
    with pytest.raises(ScheduleError, match=r"too long .* at most 20000"):
        lrlab.parse("constant(0.1)" + " " * 30_000)
    with pytest.raises(ScheduleError, match="nests too deeply"):
        lrlab.parse("constant(" + "-" * 15_000 + "1)")


def test_kinds_are_found_only_in_the_registry() -> None:
    # Names that exist in the parser's own module are not kinds.
    for name in ("ast", "parse", "from_config", "Schedule", "registry", "dataclasses"):
        with pytest.raises(ScheduleError, match="Unknown schedule kind"):
            lrlab.parse(f"{name}(0.1)")


# -- one parser, one registry: rules and option values go through the same walker ------------


def test_rules_and_schedules_share_one_registry_and_one_binder() -> None:
    from lrlab.schedules._base import kinds

    assert kinds()["reduce_on_plateau"] is ls.reduce_on_plateau
    assert "reduce_on_plateau" not in ls.registry()  # a rule is not a schedule kind
    # a Python call with a bad argument is worded as the text and the config are
    for call in (
        lambda: ls.reduce_on_plateau(0.1, patient=3),
        lambda: ls.reduce_on_plateau.parse("reduce_on_plateau(0.1, patient=3)"),
        lambda: ls.rule_from_config({"type": "reduce_on_plateau", "lr": 0.1, "patient": 3}),
    ):
        with pytest.raises(ScheduleError) as info:
            call()
        assert "Unknown argument `patient` of reduce_on_plateau()" in str(info.value)
        assert "unknown keys ['patient']" in str(info.value)
    with pytest.raises(ScheduleError, match=r"Missing argument `lr` of reduce_on_plateau\(\)"):
        ls.reduce_on_plateau()  # type: ignore[call-arg]
    # a rule is never a schedule's argument, in text or in a config
    with pytest.raises(ScheduleError, match="driven by a metric, not the step"):
        lrlab.parse("warmup(reduce_on_plateau(0.1), 10)")
    with pytest.raises(ScheduleError, match=r"\(at config.schedule\) is driven by a metric"):
        lrlab.from_config(
            {"type": "warmup", "steps": 1, "schedule": {"type": "reduce_on_plateau", "lr": 0.1}}
        )
    # the one parser reads either at the top, a product included
    assert ls.parse_rule("cosine(0.1, 10) * 0.5") == ls.scale(ls.cosine(0.1, 10), 0.5)
    assert ls.parse_rule("reduce_on_plateau(1)") == ls.reduce_on_plateau(1.0)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("cnn", "cnn"),
        ("'cnn'", "cnn"),
        ("my-cnn", "my-cnn"),
        ("data/set.csv", "data/set.csv"),
        ("a.b", "a.b"),
        ("True", True),
        ("false", False),
        ("none", None),
        ("None", None),
        ("-1e-3", -0.001),
        ("7", 7),
        ("[0.9, 0.99]", (0.9, 0.99)),
        ("[[1, cnn], [], ('x',)]", ((1, "cnn"), (), ("x",))),
        ("[1, [2, [3, none]]]", (1, (2, (3, None)))),
    ],
)
def test_option_values(text: str, want: Any) -> None:
    got = ls.parse_value(text)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(
    "text", ["__import__('os')", "f(1)", "1 + 2", "[1, f(2)]", "{1: 2}", "lambda: 1", "a b"]
)
def test_option_values_refuse_code(text: str) -> None:
    with pytest.raises(ScheduleError, match="Option values must be") as info:
        ls.parse_value(text)
    assert "Received:" in str(info.value)


def test_options_read_nested_lists_and_bare_words() -> None:
    got = ls.parse_options("betas=[0.8, 0.99], grid=[[1, 2], [3, 4]], model=cnn, flag=true")
    assert got == {"betas": (0.8, 0.99), "grid": ((1, 2), (3, 4)), "model": "cnn", "flag": True}
    assert ls.parse_options("") == {} and ls.parse_options("  ") == {}
    for bad in ("momentum", "a=1, a=2", "**{'a': 1}", "a=1,,", "a=(1"):
        with pytest.raises(ScheduleError, match="Options must be key=value, each key once"):
            ls.parse_options(bad)
    with pytest.raises(ScheduleError, match="Option values must be"):
        ls.parse_options("a=open('x')")
