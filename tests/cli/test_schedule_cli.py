"""``lrlab plot`` and ``lrlab show``: files written, values printed, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrlab.cli import main
from lrlab.schedules import cosine, step


def test_show_json_matches_the_formula(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "cosine(0.1, 10, min_lr=0.01)", "--steps", "12", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = np.arange(12)
    expected = 0.01 + 0.09 * (1 + np.cos(np.pi * np.minimum(t, 10) / 10)) / 2
    np.testing.assert_allclose(out["lr"], expected, rtol=1e-12, atol=0)
    assert out["step"] == list(range(12))
    assert out["config"] == cosine(0.1, 10, 0.01).to_config()


def test_show_csv_round_trips_floats_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "exponential(0.1, 0.1)", "--steps", "7", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["step", "lr"]
    values = [float(r[1]) for r in rows[1:]]
    assert values == [0.1 * np.exp(-0.1 * t) for t in range(7)]


def test_show_table_lists_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "step(0.1, 0.5, 2)", "--steps", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(step(0.1, 0.5, 2))
    assert [float(x.split()[1]) for x in lines[2:]] == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_plot_writes_png_and_svg(tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    assert (
        main(["plot", "step(0.1, 0.5, 10)", "cosine(0.1, 50)", "--steps", "60", "--out", str(png)])
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "b.svg"
    assert main(["plot", "wsd(0.1, 100, 10)", "--steps", "100", "--log", "--out", str(svg)]) == 0
    assert b"<svg" in svg.read_bytes()[:500]


def test_plot_without_specs_draws_the_source_figures(tmp_path: Path, capsys) -> None:
    out = tmp_path / "src.png"
    assert main(["plot", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    second = tmp_path / "src-decay-factor.png"
    assert out.exists() and second.exists()
    for spec in ("step(0.1, 0.5, 10)", "exponential(0.1, 0.1)", "inverse_time(0.1, 0.1)"):
        assert spec in printed


def test_plot_writes_pdf_like_the_other_figure_commands(tmp_path: Path) -> None:
    out = tmp_path / "s.pdf"
    assert main(["plot", "cosine(0.1, 10)", "--out", str(out)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["show", "step(0.1, 0.5, every=0)"], "Received: every=0"),
        (["show", "nope(1)"], "Unknown schedule kind 'nope'"),
        (["show", "step(0.1"], "Malformed schedule text"),
        (["show", "cosine(0.1, 10)", "--steps", "0"], "--steps"),
        (["plot", "cosine(0.1, 10)", "--out", "x.gif"], "Received: --out=x.gif"),
        (["landscape", "--out", "x.gif"], "must end in .png, .svg or .pdf. Received: --out=x.gif"),
        (["find", "--task", "quadratic", "--out", "x.jpg"], "Received: --out=x.jpg"),
        (["show", "__import__('os').system('touch pwned')"], "Expected a schedule kind name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
    assert not (tmp_path / "pwned").exists()


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lrlab.cli", "show", "step(lr=-1, factor=0.5, every=1)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "lrlab show: error: Argument `lr` of step() must be a finite number >= 0. "
        "Received: lr=-1 (in 'step(lr=-1, factor=0.5, every=1)' at column 1)"
    ]


def test_unknown_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrlab: error: argument COMMAND")


def test_an_unknown_option_is_named_with_its_command_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The top-level parser reports options no subcommand took; it used to call itself
    "lrlab lrlab" and leave the command out."""
    assert main(["tasks", "--bogus"]) == 2
    assert capsys.readouterr().err == "lrlab tasks: error: unrecognized arguments: --bogus\n"
    assert main(["show", "constant(0.1)", "--steps", "3", "extra", "--x"]) == 2
    assert capsys.readouterr().err == "lrlab show: error: unrecognized arguments: extra --x\n"
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("lrlab: error: the following arguments")


def test_every_command_and_option_says_what_it_does() -> None:
    """`lrlab X --help` has a description, and every option a line of help."""
    import argparse

    from lrlab.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert parser.description, name
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, (name, action.dest)
