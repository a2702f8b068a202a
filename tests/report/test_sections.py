"""Report sections as functions of explicit, typed inputs (fast: no whole report)."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest

from lrlab.compare import CompareRow, compare
from lrlab.finder import find_lr_task
from lrlab.report._budget import Budget
from lrlab.report.sections import Context, RangeTest, SearchBest, recommendation
from lrlab.report.sections._copy import Choice, choose, code
from lrlab.schedules import one_cycle
from lrlab.tasks import get


@pytest.fixture(scope="module")
def inputs() -> tuple[Context, RangeTest, object]:
    ctx = Context("quadratic", seed=0, budget=Budget(steps=30, seeds=2, trials=4, cv=2,
                                                     search_steps=20))  # fmt: skip
    res = find_lr_task(get("quadratic"), "sgd", min_lr=1e-4, max_lr=10.0, num_steps=60, confirm=0)
    assert res.suggestion is not None
    cmp = compare("quadratic", ["sgd: 0.05", "sgd: 0.01"], seeds=2, steps=30, eval_every=7)
    return ctx, RangeTest(result=res, lr=float(res.suggestion.lr)), cmp


def test_the_range_test_result_is_frozen(inputs) -> None:  # type: ignore[no-untyped-def]
    _, finder, _ = inputs
    with pytest.raises(dataclasses.FrozenInstanceError):
        finder.lr = 0.05  # type: ignore[misc]


def test_recommendation_without_a_search_starts_from_the_range_test(inputs) -> None:  # type: ignore[no-untyped-def]
    ctx, finder, cmp = inputs
    sec = recommendation(ctx, finder, cmp, cmp, None)
    steps = finder.result.steps
    assert sec.tables[0].rows[0] == [
        "learning rate",
        f"{finder.lr:.3g}",
        f"range test, {steps} steps",
    ]
    assert sec.paragraphs[0].startswith(
        f"Learning rate: for SGD + momentum start from lr ≈ {finder.lr:.3g}; "
    )
    assert f"cost {steps} training steps, {steps / ctx.steps:.0%} of one run" in sec.paragraphs[0]
    best = cmp.best
    assert [r[0] for r in sec.tables[0].rows] == [
        "learning rate", "schedule", "optimizer", "to copy"
    ]  # fmt: skip
    assert sec.tables[0].rows[2][1] == best.label
    assert not any(p.startswith("Search:") for p in sec.paragraphs)


@pytest.mark.parametrize("factor", [1.0, 1000.0])
def test_recommendation_prefers_the_searchs_rate_and_says_if_it_is_in_range(inputs, factor) -> None:  # type: ignore[no-untyped-def]
    ctx, finder, cmp = inputs
    s = finder.result.suggestion
    best = SearchBest(sampler="random search", lr=s.high * factor, value=0.125,
                      config="sgd at lr x", steps=240, steps_per_fold=20, cv=2)  # fmt: skip
    sec = recommendation(ctx, finder, cmp, cmp, best)
    first = sec.paragraphs[0]
    assert first.startswith(
        f"Learning rate: the search's choice for SGD + momentum is lr {best.lr:.3g}"
    )
    assert "training at 20 steps per fold with 2-fold cross-validation" in first
    where = "inside" if factor == 1.0 else "outside"
    assert first.endswith(f"the search's choice lies {where} the range test's range.")
    assert f"differ by {max(best.lr, finder.lr) / min(best.lr, finder.lr):.2g}×" in first
    assert sec.tables[0].rows[-2] == ["search best", "sgd at lr x", "cv loss 0.125"]
    assert sec.tables[0].rows[-1][0] == "to copy"  # the table ends with one configuration
    assert sec.data["items"] is sec.tables[0].rows


def test_a_range_test_without_a_suggestion_gives_no_rate_advice(inputs) -> None:  # type: ignore[no-untyped-def]
    ctx, finder, cmp = inputs
    bare = RangeTest(result=dataclasses.replace(finder.result, suggestions={}), lr=0.01)
    assert bare.result.suggestion is None
    sec = recommendation(ctx, bare, cmp, cmp, None)
    assert [r[0] for r in sec.tables[0].rows] == ["schedule", "optimizer", "to copy"]


def _row(label: str, optimizer: str, schedule: str, mean: float, std: float) -> CompareRow:
    return CompareRow(label, optimizer, schedule, "{}", 3, mean, std, 0.9, 0.01, None, 0, 0, 1.0)


def _table(*rows: CompareRow) -> SimpleNamespace:
    return SimpleNamespace(table=list(rows))  # what choose() reads of a Comparison


def test_the_rule_picks_the_simplest_of_the_tied() -> None:
    schedules = _table(
        _row("fixed", "momentum", "constant(lr=0.05)", 0.105, 0.01),
        _row("cosine", "momentum", "cosine(lr=0.05, steps=30, min_lr=0.0)", 0.100, 0.01),
        _row("step", "momentum", "step(lr=0.05, factor=0.5, every=7)", 0.2, 0.01),
    )
    optimizers = _table(
        _row("Adam (lr 0.001)", "adam", "constant(lr=0.001)", 0.104, 0.0),
        _row("momentum (lr 0.05)", "momentum", "constant(lr=0.05)", 0.105, 0.01),  # the same run
        _row("Prodigy", "prodigy", "constant(lr=1.0)", math.inf, math.nan),
    )
    # cosine is best; fixed momentum and fixed Adam are within its spread (0.01); of the
    # three, fixed has the fewest settings, and momentum comes before Adam
    assert choose(schedules, optimizers) == Choice(
        "momentum", "constant(lr=0.05)", 0.05, 0.105, 0.01, 3, 3
    )
    narrow = _table(*(dataclasses.replace(r, final_val_loss_std=0.001) for r in schedules.table))
    pick = choose(narrow, optimizers)
    assert pick is not None and (pick.schedule, pick.lr, pick.tied) == (
        "cosine(lr=0.05, steps=30, min_lr=0.0)", 0.05, 1
    )  # fmt: skip
    assert pick.describe() == "SGD + momentum, cosine schedule, lr 0.05"
    sgd = _table(_row("a", "momentum", "constant(lr=0.05)", 0.10, 0.01),
                 _row("b", "sgd", "constant(lr=0.1)", 0.105, 0.02))  # fmt: skip
    assert choose(sgd).optimizer == "sgd"  # type: ignore[union-attr]
    peak = _table(_row("oc", "adam", "one_cycle(max_lr=0.0123456, steps=30)", 0.1, 0.0))
    pick = choose(peak)  # the peak rate, to the 3 digits the page shows, in the text too
    assert pick is not None and pick.lr == 0.0123
    assert pick.schedule == str(one_cycle(0.0123, 30))
    assert choose(_table(_row("x", "sgd", "constant(lr=9.0)", math.inf, math.nan))) is None


def test_the_configuration_to_copy_parses_back_and_its_code_runs(inputs) -> None:  # type: ignore[no-untyped-def]
    import torch

    from lrlab.schedules import parse_rule

    ctx, finder, cmp = inputs
    sec = recommendation(ctx, finder, cmp, cmp, None)
    pick = choose(cmp)
    assert pick is not None and sec.data["choice"] == dataclasses.asdict(pick)
    row = next(r for r in cmp.table if r.schedule == pick.schedule)
    assert str(parse_rule(pick.schedule)) == row.schedule  # lrlab's text reads back
    assert sec.tables[0].rows[-1] == ["to copy", pick.describe(),
                                      f"val loss {row.final_val_loss_mean:.4g} ± "
                                      f"{row.final_val_loss_std:.2g} over 2 seeds"]  # fmt: skip
    assert f"`{pick.schedule}`" in sec.paragraphs[-1] and "The rule: " in sec.paragraphs[-1]
    torch_code, *others = sec.code
    assert [c.split("\n")[0] for c in others] == ["# Keras", "# Optax"]
    space: dict = {"model": torch.nn.Linear(3, 1)}
    exec(torch_code, space)  # the page's own lines, as a reader pastes them
    schedule = parse_rule(pick.schedule)
    for k in range(3):
        assert space["opt"].param_groups[0]["lr"] == pytest.approx(schedule(k), rel=1e-12)
        space["opt"].step()
        space["sched"].step()
    optax_space: dict = {}
    exec(others[1], optax_space)
    assert hasattr(optax_space["opt"], "init") and hasattr(optax_space["opt"], "update")


@pytest.mark.parametrize("optimizer", ["nesterov", "schedulefree_adamw", "prodigy"])
def test_code_for_other_optimizers_and_the_plateau_rule(optimizer: str) -> None:
    pick = Choice(optimizer, "constant(lr=0.1)", 0.1, 0.2, 0.01, 3, 1)
    lines = code(pick)
    assert lines[0].splitlines()[3] == 'sched = lrlab.torch.scheduler(opt, "constant(lr=0.1)")'
    import torch

    space: dict = {"model": torch.nn.Linear(3, 1)}
    exec(lines[0], space)  # the PyTorch lines build that optimizer at that rate
    cls = {"nesterov": "SGD", "schedulefree_adamw": "AdamWScheduleFree", "prodigy": "Prodigy"}
    assert type(space["opt"]).__name__ == cls[optimizer]
    assert space["opt"].param_groups[0]["lr"] == 0.1
    assert ("opt.train()" in lines[0]) == optimizer.startswith("schedulefree")
    assert len(lines) == {"nesterov": 3, "schedulefree_adamw": 2, "prodigy": 2}[optimizer]
    plateau = code(dataclasses.replace(pick, schedule="reduce_on_plateau(lr=0.1, patience=1)"))
    assert len(plateau) == 1 and "lrlab.torch.plateau(opt," in plateau[0]
