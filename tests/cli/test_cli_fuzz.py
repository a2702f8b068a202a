"""The CLI fuzz: every subcommand's every argument, given hostile values, exits 2 in one line.

Each case is a cheap valid command line with one argument replaced by a value that is
not allowed (out of range, not a number, not finite, too large to allocate, not UTF-8, a
place that cannot be written, a file where a folder is expected, ...).  ``main()`` runs
in-process; the case passes when it returns (or exits) 2, wrote exactly one line on
stderr, and no exception escaped (no traceback).  A Hypothesis test adds random
argument lists on the commands that train nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrlab.cli import main

SURROGATE = "\udcff"  # what Python makes of a byte of argv that is not UTF-8
COMMON = ["", SURROGATE, "-", "x" * 5000]
INT = [*COMMON, "abc", "1.5", "nan", "1e400", "-99999999999999999999999", "99999999999999999999999"]
FLOAT = [*COMMON, "abc", "nan", "inf", "-inf", "1e400", "-1e400"]
POSITIVE = [*FLOAT, "-1", "0"]
NAME = [*COMMON, "nope", "../x", "constant(0.1)"]
SPEC = [
    *COMMON,
    "constant(1" + "0" * 400 + ")",
    "__import__('os').system('true')",
    "constant(0.1)" + " * 2" * 3000,
    "reduce_on_plateau(0.1)",
    "[" * 500 + "]" * 500,
]
STORAGE = [
    SURROGATE,
    "nope",
    "redis://u:pw@h/0",
    "postgresql://u:pw@127.0.0.1:1/x",
    "postgresql://u:pw@h:notaport/x",
    "sqlite:////proc/lrlab-x/y.db",
    "journal:/proc/lrlab-x/y.log",
    "journal:",
]


def _cases(tmp: Path) -> list[tuple[list[str], str, str]]:
    """``(base command line, flag or positional index, hostile value)`` for every argument."""
    a_file = tmp / "a-file"
    a_file.write_text("x")
    a_dir = tmp / "a-dir.png"
    a_dir.mkdir(exist_ok=True)
    out_file = ["/proc/lrlab-x/y.png", str(a_dir), str(tmp / "fig.txt"), SURROGATE, "x" * 5000]
    out_dir = ["/proc/lrlab-x/y", str(a_file), "/dev/null", SURROGATE, "x" * 5000]
    task = ["--task", "breast_cancer"]
    commands: dict[str, tuple[list[str], dict[str, list[str]]]] = {
        "show": (["show", "constant(0.1)"], {"0": SPEC, "--steps": INT, "--format": NAME}),
        "plot": (
            ["plot", "constant(0.1)", "--steps", "5", "--out", str(tmp / "p.png")],
            {"0": SPEC, "--steps": INT, "--out": out_file},
        ),
        "tasks": (["tasks"], {"--json": ["1", SURROGATE]}),
        "landscape": (
            ["landscape", "--steps", "3", "--quiet", "--out", str(tmp / "l.png")],
            {
                "--fn": NAME, "--optimizer": NAME, "--lrs": POSITIVE, "--steps": INT,
                "--start": FLOAT, "--mu": POSITIVE, "--L": POSITIVE, "--layout": NAME,
                "--out": out_file,
            },
        ),
        "compare": (
            ["compare", *task, "--run", "sgd: constant(0.1)", "--seeds", "1", "--steps", "2",
             "--out", str(tmp / "c")],
            {
                "--task": NAME, "--run": SPEC, "--seeds": INT, "--steps": INT,
                "--eval-every": INT, "--target": FLOAT, "--param": NAME, "--out": out_dir,
            },
        ),
        "find": (
            ["find", *task, "--steps", "5", "--out", str(tmp / "f.png")],
            {
                "--task": NAME, "--optimizer": NAME, "--min-lr": POSITIVE, "--max-lr": POSITIVE,
                "--steps": INT, "--mode": NAME, "--seed": INT, "--horizon": INT,
                "--horizon-exponent": FLOAT, "--out": out_file,
            },
        ),
        "tune": (
            ["tune", *task, "--sampler", "random", "--trials", "1", "--steps", "2",
             "--schedules", "constant", "--storage", "memory", "--quiet", "--out", str(tmp / "t")],
            {
                "--task": NAME, "--sampler": NAME, "--trials": INT, "--cv": INT,
                "--repeats": INT, "--finalists": INT, "--finalist-seeds": INT, "--budget": INT,
                "--pruner": NAME, "--storage": STORAGE, "--study": [SURROGATE],
                "--steps": INT, "--optimizers": NAME, "--schedules": NAME, "--min-lr": POSITIVE,
                "--max-lr": POSITIVE, "--seed": INT, "--worker": INT, "--out": out_dir,
            },
        ),
        "report": (
            ["report", "--quick", "--quiet", "--out", str(tmp / "r")],
            {"--out": out_dir, "--task": NAME, "--seed": INT},
        ),
    }  # fmt: skip
    cases = []
    for base, args in commands.values():
        for arg, values in args.items():
            for value in values:
                cases.append((base, arg, value))
    return cases


def _replace(base: list[str], arg: str, value: str) -> list[str]:
    argv = list(base)
    if arg.isdigit():
        argv[1 + int(arg)] = value
    elif arg in argv:
        argv[argv.index(arg) + 1] = value
    else:
        argv += [f"{arg}={value}"]  # '=': a value that starts with '-' stays a value
    return argv


def _run(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    escaped = ""
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # what a user would see as a traceback
        rc, escaped = 1, f"Traceback: {type(exc).__name__}: {exc}"[:300]
    out, err = capsys.readouterr()
    return rc, out, err + escaped


def test_every_argument_of_every_command(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = []
    cases = _cases(tmp_path)
    for base, arg, value in cases:
        argv = _replace(base, arg, value)
        rc, _, err = _run(argv, capsys)
        if rc != 2 or err.count("\n") != 1 or "Traceback" in err:
            bad.append((argv[0], arg, value[:40], rc, err[-300:]))
    assert not bad, "\n".join(map(str, bad))
    assert len(cases) > 300
    # nothing was left behind by the checks of the output places
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-dir.png", "a-file"]


def test_the_reported_cases(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    zeros = "constant(1" + "0" * 400 + ")"
    expect = [
        (["show", zeros], "Argument `lr` of constant() must be a finite number"),
        (["plot", zeros, "--out", str(tmp_path / "p.png")], "Argument `lr` of constant()"),
        (["show", "constant(0.1)", "--steps", "100000000000"], "argument --steps: must be"),
        (["plot", "--steps", "100000000000"], "argument --steps: must be an integer of at most"),
        (["find", "--task", "digits", "--min-lr", "-1"], "argument --min-lr: must be a positive"),
        (["show", "cosine(0.1,10)" + SURROGATE], "Argument 2 of the command line must be valid"),
        (["tune", "--task", "digits", "--out", "/proc/lrlab-x/y"], "Argument `--out` must be a"),
        (["report", "--out", "/proc/lrlab-x/y"], "Argument `--out` must be a folder lrlab can"),
    ]
    for argv, fragment in expect:
        rc, out, err = _run(argv, capsys)
        assert rc == 2 and err.count("\n") == 1 and fragment in err, (argv[:2], err)
        assert out == ""


_cheap = st.sampled_from(["show", "plot", "tasks"])
_token = st.one_of(
    st.sampled_from(["--steps", "--format", "--out", "--log", "--json", "--", "-h", "-x"]),
    st.sampled_from([*INT, *SPEC, "csv", "json", "5", "constant(0.1)"]),
    st.text(st.characters() | st.just(SURROGATE), max_size=12),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_cheap, st.lists(_token, max_size=6))
def test_random_argument_lists(tmp_path, capsys, command: str, tokens: list[str]) -> None:  # type: ignore[no-untyped-def]
    argv = [command, *tokens]
    if "--out" in argv or command == "plot":
        argv += ["--out", str(tmp_path / "fuzz.png")]
    rc, _, err = _run(argv, capsys)
    assert rc in (0, 2), (argv, rc, err)
    assert "Traceback" not in err
    if rc == 2:
        assert err.count("\n") == 1, (argv, err)
