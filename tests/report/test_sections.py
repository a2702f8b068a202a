"""Report sections as functions of explicit, typed inputs (fast: no whole report)."""

from __future__ import annotations

import dataclasses

import pytest

from lrlab.compare import compare
from lrlab.finder import find_lr_task
from lrlab.report._budget import Budget
from lrlab.report.sections import Context, RangeTest, SearchBest, recommendation
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
    assert [r[0] for r in sec.tables[0].rows] == ["learning rate", "schedule", "optimizer"]
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
    assert first.startswith(f"Learning rate: use lr {best.lr:.3g} for SGD + momentum")
    assert "training at 20 steps per fold with 2-fold cross-validation" in first
    where = "inside" if factor == 1.0 else "outside"
    assert first.endswith(f"the search's choice lies {where} the range test's range.")
    assert f"differ by {max(best.lr, finder.lr) / min(best.lr, finder.lr):.2g}×" in first
    assert sec.tables[0].rows[-1] == ["search best", "sgd at lr x", "cv loss 0.125"]
    assert sec.data["items"] is sec.tables[0].rows


def test_a_range_test_without_a_suggestion_gives_no_rate_advice(inputs) -> None:  # type: ignore[no-untyped-def]
    ctx, finder, cmp = inputs
    bare = RangeTest(result=dataclasses.replace(finder.result, suggestions={}), lr=0.01)
    assert bare.result.suggestion is None
    sec = recommendation(ctx, bare, cmp, cmp, None)
    assert [r[0] for r in sec.tables[0].rows] == ["schedule", "optimizer"]
