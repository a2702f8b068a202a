"""compare(): the table's numbers recomputed from the histories, run parsing, files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lrlab import schedules, tasks
from lrlab.compare import Comparison, RunSpec, compare, parse_run
from lrlab.errors import ScheduleError, UsageError
from lrlab.train import run


def test_parse_run_forms() -> None:
    s = parse_run("sgd: step(0.1, 0.5, 10)")
    assert (s.optimizer, s.schedule, s.lr, s.options) == (
        "sgd",
        schedules.step(0.1, 0.5, 10),
        None,
        {},
    )
    s = parse_run("adam(betas=[0.8, 0.99], amsgrad=true, eps=1e-7) : cosine(lr=0.01, steps=50)")
    assert s.options == {"betas": (0.8, 0.99), "amsgrad": True, "eps": 1e-7}
    assert s.schedule == schedules.cosine(0.01, 50)
    assert parse_run("momentum: 0.05").lr == 0.05
    bare = parse_run("adagrad")
    assert bare.schedule is None and bare.lr is None
    assert parse_run(s.describe()).options == s.options
    p = parse_run("momentum: reduce_on_plateau(0.05, factor=0.5, patience=2)")
    assert p.schedule == schedules.reduce_on_plateau(0.05, factor=0.5, patience=2)
    assert parse_run(p.describe()).schedule == p.schedule


@pytest.mark.parametrize(
    ("text", "error", "pattern"),
    [
        ("sgdx: constant(0.1)", UsageError, r"Unknown optimizer 'sgdx'"),
        ("sgd(momentum): constant(0.1)", UsageError, r"must be key=value"),
        ("sgd(momentum=__import__('os')): constant(0.1)", UsageError, r"Option values must be"),
        ("sgd:", UsageError, r"A schedule must follow the colon"),
        ("sgd: nope(1)", ScheduleError, r"Unknown schedule kind 'nope'"),
        ("sgd: reduce_on_plateau(0.1, patient=2)", ScheduleError, r"Unknown argument `patient`"),
        # the run's own arguments: `lr` raised a TypeError (given twice), `steps` changed the run
        (
            "adam(lr=abc): constant(0.1)",
            UsageError,
            r"not the run's own `lr`.*options=\{'lr': 'abc'\}",
        ),
        ("adam(steps=5, seed=2): 0.1", UsageError, r"not the run's own `seed`, `steps`"),
    ],
)
def test_parse_run_errors(text: str, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        parse_run(text)


def test_a_run_dict_cannot_pass_the_runs_own_arguments_as_options() -> None:
    with pytest.raises(
        UsageError, match=r"not the run's own `eval_every` .*Received: options=\{'eval_every': 1\}"
    ):
        compare("digits", [{"optimizer": "adam", "options": {"eval_every": 1}}], seeds=1, steps=2)
    with pytest.raises(UsageError, match=r"not the run's own `lr`"):
        RunSpec("adam", None, None, {"lr": 0.1})


def test_a_plateau_rule_runs_per_seed_on_its_own_validation_losses() -> None:
    task = tasks.get("breast_cancer", steps=60, eval_every=5)
    text = "reduce_on_plateau(0.05, factor=0.5, patience=0, threshold=0.02)"
    res = compare(task, [{"optimizer": "momentum", "schedule": text}], seeds=2)
    (row,) = res.table
    rule = schedules.reduce_on_plateau.parse(text)
    assert row.schedule == str(rule)
    (hs,) = res.histories.values()
    for h in hs:
        after = rule(h.val_loss[:-1])  # the rate in force after each evaluation but the last
        for step, lr in zip(h.eval_steps[:-1], after):
            assert h.lr[step] == lr
    assert min(h.lr[-1] for h in hs) < 0.05


@pytest.fixture(scope="module")
def result() -> Comparison:
    task = tasks.get("breast_cancer", steps=40, eval_every=10)
    return compare(
        task,
        [
            "adam: constant(0.01)",
            ("sgd", schedules.step(0.5, 0.5, 20)),
            {"optimizer": "sgd", "lr": 1e9, "label": "huge"},
            RunSpec("momentum", None, 0.05, {"momentum": 0.8}),
        ],
        seeds=[0, 3],
    )


def test_table_is_the_statistics_of_the_histories(result: Comparison) -> None:
    assert [r.label for r in result.table] == [
        "adam: constant(0.01)",
        "sgd: step(lr=0.5, factor=0.5, every=20)",
        "huge",
        "momentum(momentum=0.8): lr=0.05",
    ]
    for row in result.table:
        hs = result.histories[row.label]
        ok = [h for h in hs if not h.diverged]
        assert row.seeds == 2 and row.diverged == 2 - len(ok)
        if ok:
            losses = [h.val_loss[-1] for h in ok]
            assert row.final_val_loss_mean == pytest.approx(np.mean(losses), rel=1e-12)
            assert row.final_val_loss_std == pytest.approx(np.std(losses, ddof=1), rel=1e-9)
            metrics = [h.val_metric[-1] for h in ok]
            assert row.final_val_metric_mean == pytest.approx(np.mean(metrics), rel=1e-12)
        hits = [h.steps_to(result.target_loss) for h in hs]
        hits = [s for s in hits if s is not None]
        assert row.reached == len(hits)
        assert row.steps_to_target_mean == (np.mean(hits) if hits else None)
    huge = result.table[2]
    assert huge.diverged == 2 and huge.final_val_loss_mean == math.inf
    finals = [r.final_val_loss_mean for r in result.table if r.diverged < 2]
    assert result.target_loss == pytest.approx(1.1 * min(finals), rel=1e-12)
    assert result.best.final_val_loss_mean == min(finals)


def test_histories_are_the_same_as_single_runs(result: Comparison) -> None:
    task = tasks.get("breast_cancer", steps=40, eval_every=10)
    h = run(task, "momentum", lr=0.05, seed=3, momentum=0.8)
    got = result.histories["momentum(momentum=0.8): lr=0.05"][1]
    assert np.array_equal(got.train_loss, h.train_loss) and np.array_equal(got.val_loss, h.val_loss)


def test_files_and_figures(result: Comparison, tmp_path: Path) -> None:
    rows = list(csv.DictReader(result.to_csv(tmp_path / "r.csv").open()))
    assert [r["label"] for r in rows] == [r.label for r in result.table]
    assert list(rows[0]) == [
        "label", "optimizer", "schedule", "options", "seeds", "final_val_loss_mean",
        "final_val_loss_std", "final_val_metric_mean", "final_val_metric_std",
        "steps_to_target_mean", "reached", "diverged", "wall_time_mean",
    ]  # fmt: skip
    assert float(rows[2]["final_val_loss_mean"]) == math.inf
    assert float(rows[0]["final_val_loss_mean"]) == result.table[0].final_val_loss_mean
    data = json.loads((result.to_json(tmp_path / "r.json")).read_text())
    assert data["task"] == "breast_cancer" and data["seeds"] == [0, 3]
    assert data["table"][2]["final_val_loss_mean"] == "inf"
    assert data["best"] == result.best.label
    assert len(data["histories"]["huge"]) == 2
    figs = result.figures()
    assert sorted(figs) == ["loss", "lr", "step_size", "val_loss"]
    assert len(figs["lr"].axes[0].get_lines()) == 4
    table = result.format_table()
    assert table.splitlines()[0].startswith("run") and "2/2" in table


def test_compare_input_errors() -> None:
    task = tasks.get("breast_cancer", steps=5)
    with pytest.raises(UsageError, match=r"Received: seeds=0"):
        compare(task, ["sgd"], seeds=0)
    with pytest.raises(UsageError, match=r"distinct seeds\. Received: seeds=\[1, 1\]"):
        compare(task, ["sgd"], seeds=[1, 1])
    # int() read each listed seed: 'a' and None raised from int(), 2**64 from torch, 1.5 was 1,
    # and the text '12' was the seeds 1 and 2
    listed = r"^Argument `seeds` must be a positive count or a list of distinct seeds, each an "
    for bad, shown in (
        (["a"], r"\['a'\]"), ([None], r"\[None\]"), ([1.5], r"\[1\.5\]"),
        ([2**64], r"\[18446744073709551616\]"), ("12", "'12'"), (None, "None"),
    ):  # fmt: skip
        with pytest.raises(UsageError, match=listed + rf".*Received: seeds={shown}$"):
            compare(task, ["sgd"], seeds=bad, steps=2)
    with pytest.raises(
        UsageError, match=r"^Argument `seeds` must be a positive count\. Received: seeds=1\.0$"
    ):
        compare(task, ["sgd"], seeds=1.0, steps=2)
    with pytest.raises(UsageError, match=r"at least one configuration"):
        compare(task, [])
    with pytest.raises(UsageError, match=r"Each run must be"):
        compare(task, [42])
    dup = compare(task, ["sgd", "sgd"], seeds=1)
    assert [r.label for r in dup.table] == ["sgd", "sgd #2"]


def test_progress_that_cannot_be_called_is_refused_before_training() -> None:
    """It raised "'int' object is not callable" after the first run had trained."""
    with pytest.raises(
        UsageError, match=r"^Argument `progress` must be a function .*Received: progress=3$"
    ):
        compare("quadratic", ["sgd"], seeds=1, steps=2, progress=3)


@pytest.mark.parametrize("steps", ["a", 2.5, True])
def test_steps_must_be_a_positive_integer(steps: object) -> None:
    """int(steps) raised a ValueError for 'a' and quietly ran 2.5 as 2 and True as 1."""
    with pytest.raises(
        UsageError,
        match=rf"^Argument `steps` must be a positive integer\. Received: steps={steps!r}$",
    ):
        compare("quadratic", ["sgd"], seeds=1, steps=steps)


def test_runs_and_a_runs_options_must_be_collections() -> None:
    """runs=None and options=3 raised "not iterable" from inside; a dict of runs was read as
    its keys."""
    runs = r"^Argument `runs` must be a list of configurations .*Received: runs="
    with pytest.raises(UsageError, match=runs + "None$"):
        compare("quadratic", None, seeds=1, steps=2)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=runs + r"\{'optimizer': 'sgd'\}$"):
        compare("quadratic", {"optimizer": "sgd"}, seeds=1, steps=2)
    options = r"^Argument `options` of a run must be a dict .*Received: options="
    with pytest.raises(UsageError, match=options + "3$"):
        compare("quadratic", [{"optimizer": "sgd", "options": 3}], seeds=1, steps=2)
    with pytest.raises(UsageError, match=options + "None$"):
        RunSpec("sgd", options=None)  # type: ignore[arg-type]
    assert compare("quadratic", [{"optimizer": "sgd", "options": None}], seeds=1, steps=2).table


def test_the_source_claims_on_the_noisy_quadratic() -> None:
    """Minibatch SGD on the quadratic (2/L = 0.2): a large constant LR keeps bouncing,
    decays settle near the noise floor, and a small constant LR gets there later."""
    task = tasks.get("quadratic", batch_size=10, noise=0.5, steps=400, eval_every=20)
    r = compare(
        task,
        [
            "sgd: constant(0.15)",
            "sgd: step(0.15, 0.5, 80)",
            "sgd: cosine(0.15, 400)",
            "sgd: constant(0.01)",
        ],
        seeds=3,
    )
    big, step, cos, small = r.table
    for decayed in (step, cos):
        assert decayed.final_val_loss_mean < big.final_val_loss_mean
        assert decayed.final_val_loss_std < big.final_val_loss_std
        assert decayed.final_val_loss_mean < 1.1 * task.noise_floor
    # the late validation losses of the constant large LR keep moving; the decays' do not
    wobble = {
        row.label: np.mean([np.std(h.val_loss[-5:]) for h in r.histories[row.label]])
        for row in r.table
    }
    assert wobble[step.label] < 0.1 * wobble[big.label]
    assert small.reached == 3 and step.reached == 3
    assert small.steps_to_target_mean > step.steps_to_target_mean


def test_progress_is_called_after_every_run() -> None:
    """The report's progress bar moves inside a comparison, not only between sections."""
    from lrlab.compare import compare

    seen: list[tuple[int, int]] = []
    compare("quadratic", ["sgd: 0.05", "sgd: 0.01"], seeds=2, steps=10,
            progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
