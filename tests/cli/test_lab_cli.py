"""``lrlab tasks``, ``lrlab landscape`` and ``lrlab compare`` through the real dispatcher."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lrlab.cli import main
from lrlab.tasks import TASK_INFO


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tasks_lists_every_task_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name, info in TASK_INFO.items():
        assert f"{name}: {info.summary}" in out
    assert "mu=0.1, L=10.0" in out and "model='mlp'" in out
    assert main(["tasks", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == list(TASK_INFO)
    assert data[1]["sizes"] == {"train": 1079, "val": 359, "test": 359}


def test_landscape_writes_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fig.png"
    argv = ["landscape", "--fn", "quadratic", "--optimizer", "sgd", "--lrs", "0.02", "0.18"]
    assert main([*argv, "0.21", "--steps", "50", "--out", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[-1] == str(out) and out.read_bytes()[:4] == b"\x89PNG"
    assert text[0].startswith("lr=0.02 = 0.1·(2/L), ρ=0.98: 50 steps")
    assert ", diverged:" in text[2]


def test_compare_writes_table_files_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "compare", "--task", "breast_cancer",
        "--run", "sgd: step(0.5, 0.5, 10)",
        "--run", "momentum(momentum=0.95): cosine(0.05, 30)",
        "--seeds", "2", "--steps", "30", "--eval-every", "10",
        "--out", str(tmp_path), "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("run") and "momentum(momentum=0.95)" in out
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["optimizer"] for r in rows] == ["sgd", "momentum"]
    assert rows[1]["options"] == '{"momentum": 0.95}' and rows[0]["seeds"] == "2"
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["steps"] == 30 and data["seeds"] == [0, 1]
    for name in ("loss", "val_loss", "lr", "step_size"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["landscape", "--fn", "booth"], "Unknown function 'booth'. Available: quadratic,"),
        (["landscape", "--optimizer", "lbfgs"], "Unknown optimizer 'lbfgs'. Available: sgd,"),
        (["compare", "--task", "cifar", "--run", "sgd"], "Unknown task 'cifar'. Available:"),
        (["compare", "--task", "digits", "--run", "sgdx: constant(1)"], "Unknown optimizer"),
        (["compare", "--task", "digits", "--run", "sgd", "--param", "x"], "KEY=VALUE"),
    ],
)
def test_bad_names_give_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_landscape_defaults_follow_the_optimizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "adam.png"
    assert main(["landscape", "--optimizer", "adam", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()[:3]
    assert [line.split(":")[0] for line in lines] == ["lr=0.01", "lr=0.3", "lr=3"]
    distances = [float(line.rsplit(" ", 1)[1]) for line in lines]
    assert distances[1] < 0.5 < distances[0]  # the good rate arrives, the small one crawls


def test_compare_accepts_a_bare_string_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--param model=cnn`, as documented, not only `--param "model='cnn'"`."""
    argv = ["compare", "--task", "mnist1d", "--param", "model=cnn", "--run", "adam: 0.003",
            "--seeds", "1", "--steps", "3", "--eval-every", "3", "--out", str(tmp_path),
            "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert " ± —" in out  # one seed: no spread to show
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["task"] == "mnist1d"
