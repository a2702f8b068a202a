"""The range test on a lab task, and lrlab's confirmed suggestion."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from lrlab import tasks
from lrlab.errors import UsageError
from lrlab.finder import advice_budget, find_lr_task
from lrlab.finder._core import HORIZON_EXPONENT, HORIZON_EXPONENT_RANGE


@pytest.fixture(scope="module")
def cancer_result():  # type: ignore[no-untyped-def]
    return find_lr_task(tasks.get("breast_cancer"), "momentum", seed=0)


def test_budget_is_at_most_a_quarter_of_a_run() -> None:
    for total in (128, 200, 300, 500, 1000, 5000):
        sweep, conf = advice_budget(total)
        assert sweep + 4 * conf <= total // 4
        assert sweep >= 20 and conf >= 3


def test_suggestions_named_for_their_origin_and_lrlab_range(cancer_result) -> None:  # type: ignore[no-untyped-def]
    res = cancer_result
    assert set(res.suggestions) == {
        "fastai_valley",
        "fastai_steep",
        "fastai_minimum",
        "lightning_steepest",
        "torch_lr_finder_steepest",
        "lrlab",
    }
    s = res.suggestion
    assert s is not None and s.low <= s.lr <= s.high
    assert len(res.confirmations) == 4
    # The spent steps are the sweep plus the four confirmations, within a quarter of a run.
    sweep, conf = advice_budget(300)
    assert len(res.lrs) <= sweep
    assert res.steps == len(res.lrs) + 4 * conf
    assert res.steps <= 300 // 4
    # The first three candidates are the sweep's minimum rate over 3**k; the fourth goes
    # a factor 3 beyond the end of that range when the best of the three is at the end,
    # else halfway (in log lr) from the best towards its better neighbour.
    first = [lr for lr, _ in res.confirmations[:3]]
    np.testing.assert_allclose(np.log(first[0] / np.array(first)), np.log([1, 3, 9]), rtol=1e-12)
    scores = dict(res.confirmations[:3])
    best = min(first, key=scores.__getitem__)
    fourth = res.confirmations[3][0]
    if best == first[0]:
        assert fourth == pytest.approx(3 * first[0], rel=1e-12)
    elif best == first[2]:
        assert fourth == pytest.approx(first[2] / 3, rel=1e-12)
    else:
        assert fourth in (
            pytest.approx(best * 3**0.5, rel=1e-12),
            pytest.approx(best / 3**0.5, rel=1e-12),
        )


def test_horizon_scaling_of_the_confirmed_rate(cancer_result) -> None:  # type: ignore[no-untyped-def]
    """Stochastic task: the confirmed rate is scaled by (confirm / run steps)^0.5, and the
    range's ends by the ends of the exponent's measured interquartile range (0.7 and 0.4)."""
    res = cancer_result
    best_lr, best = min(res.confirmations, key=lambda c: c[1])
    _, conf = advice_budget(300)
    assert HORIZON_EXPONENT == 0.5 and HORIZON_EXPONENT_RANGE == (0.4, 0.7)
    r = conf / 300
    s = res.suggestion
    raw = s.lr / r**0.5
    # The range is the candidates within 5% of the best score (and the pick).
    good = [lr for lr, y in res.confirmations if y <= best * 1.05]
    assert s.low == pytest.approx(min(*good, raw) * r**0.7, rel=1e-12)
    assert s.high == pytest.approx(max(*good, raw) * r**0.4, rel=1e-12)
    assert s.low < s.lr < s.high
    # The parabola refinement stays between the best candidate's neighbours.
    assert best_lr / 3 * (1 - 1e-12) <= raw <= best_lr * 3 * (1 + 1e-12)


def test_horizon_defaults_to_the_task_and_can_be_given(cancer_result) -> None:  # type: ignore[no-untyped-def]
    """The advice is for a run of ``task.steps`` unless told otherwise: for a run of 75
    steps the same confirmations scale by (conf/75)^0.5 instead of (conf/300)^0.5."""
    assert cancer_result.settings["horizon"] == 300
    short = find_lr_task(tasks.get("breast_cancer"), "momentum", seed=0, horizon=75)
    assert short.settings["horizon"] == 75
    assert short.confirmations == cancer_result.confirmations
    assert short.suggestion.lr == pytest.approx(
        cancer_result.suggestion.lr * (300 / 75) ** 0.5, rel=1e-12
    )


@pytest.mark.parametrize("bad", [0, -5, 2.5, "500", True])
def test_bad_horizon_is_named_before_any_training(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"Argument `horizon` must be a positive integer"):
        find_lr_task("breast_cancer", "momentum", horizon=bad)


def test_horizon_exponent_only_rescales_the_same_pick(cancer_result) -> None:  # type: ignore[no-untyped-def]
    """Same seed, same sweep, same confirmations: the exponent changes the scale alone."""
    _, conf = advice_budget(300)
    r = conf / 300
    base = cancer_result.suggestion
    raw = (base.lr / r**0.5, base.low / r**0.7, base.high / r**0.4)
    for exponent in (0.0, 1.0):
        res = find_lr_task(
            tasks.get("breast_cancer"), "momentum", seed=0, horizon_exponent=exponent
        )
        assert res.confirmations == cancer_result.confirmations
        assert res.settings["horizon_exponent"] == exponent
        s = res.suggestion
        want = (
            raw[0] * r**exponent,
            raw[1] * r ** max(exponent, 0.7),
            raw[2] * r ** min(exponent, 0.4),
        )
        assert (s.lr, s.low, s.high) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("bad", [-0.1, 2.5, float("nan"), "1", True])
def test_bad_horizon_exponent_is_named(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        UsageError,
        match=r"Argument `horizon_exponent` must be a number in \[0, 2\]\. "
        r"Received: horizon_exponent=",
    ):
        find_lr_task("quadratic", horizon_exponent=bad, num_steps=5, confirm=0)


def test_to_dict_is_json(cancer_result) -> None:  # type: ignore[no-untyped-def]
    d = json.loads(json.dumps(cancer_result.to_dict()))
    assert d["steps"] == cancer_result.steps
    assert d["suggestions"]["lrlab"]["name"] == "lrlab"
    assert "lrlab" in cancer_result.summary()


def test_summary_states_the_range_or_that_there_is_none(cancer_result) -> None:  # type: ignore[no-untyped-def]
    s = cancer_result.suggestion
    assert s is not None and s.low < s.high  # stochastic: the range is carried to the run
    assert f"(range {s.low:.3g} .. {s.high:.3g})" in cancer_result.summary()
    alone = dataclasses.replace(s, low=s.lr, high=s.lr)
    point = dataclasses.replace(cancer_result, suggestions={"lrlab": alone})
    assert f"{alone.lr:.3g}  (range: this rate alone)" in point.summary()


def test_unknown_task_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        find_lr_task("no-such-task")
