"""The range test on a lab task, and lrlab's confirmed suggestion."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from lrlab import tasks
from lrlab.errors import UsageError
from lrlab.finder import advice_budget, find_lr_task, lattice
from lrlab.finder.advice import lattice_index


@pytest.fixture(scope="module")
def cancer_result():  # type: ignore[no-untyped-def]
    return find_lr_task(tasks.get("breast_cancer"), "momentum", seed=0)


def test_budget_is_at_most_a_quarter_of_a_run() -> None:
    for total in (128, 200, 300, 500, 1000, 5000):
        sweep, probes = advice_budget(total)
        assert sweep + probes == max(total // 4, sweep)
        assert 20 <= sweep <= 100
        assert sum(advice_budget(total, budget=1.0)) == total


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
    a = res.advice
    assert a is not None and len(res.confirmations) == len(a.probes) >= 3
    # The spent steps are the sweep plus the probes, within a quarter of a run.
    sweep, _ = advice_budget(300)
    assert len(res.lrs) <= sweep
    assert res.steps == len(res.lrs) + a.steps <= 300 // 4
    # Every probe is a rate of the lattice, and so is the advice.
    for lr, _, _ in a.probes:
        assert lr == lattice(round(lattice_index(lr)))
    assert s.lr == lattice(round(lattice_index(s.lr)))
    assert s.lr == pytest.approx(a.pick_lr * a.horizon_factor, rel=1e-12)


def test_budget_one_races_longer_and_spends_at_most_one_run() -> None:
    short = find_lr_task(tasks.get("breast_cancer"), "momentum", seed=0)
    long = find_lr_task(tasks.get("breast_cancer"), "momentum", seed=0, budget=1.0)
    assert long.advice.length > 4 * short.advice.length
    assert short.steps <= 300 // 4 < long.steps <= 300
    assert long.settings["budget"] == 1.0
    # Less to extrapolate: the factor from the pick to the advice is nearer 1.
    assert long.advice.horizon_factor >= short.advice.horizon_factor * (1 - 1e-12)


def test_summary_says_why(cancer_result) -> None:  # type: ignore[no-untyped-def]
    a = cancer_result.advice
    text = cancer_result.summary()
    assert f"lrlab's pick {a.pick_lr:.3g} after {a.length} steps" in text
    assert f"why: {a.reason}" in text


def test_horizon_defaults_to_the_task_and_can_be_given(cancer_result) -> None:  # type: ignore[no-untyped-def]
    """The advice is for a run of ``task.steps`` unless told otherwise; a fixed exponent
    carries the same pick by (length / horizon) ** exponent, to the nearest lattice rate."""
    assert cancer_result.settings["horizon"] == 300
    for horizon in (300, 1200):
        res = find_lr_task(
            tasks.get("breast_cancer"), "momentum", seed=0, horizon=horizon, horizon_exponent=0.5
        )
        assert res.settings["horizon"] == horizon
        a = res.advice
        shift = 0.5 * math.log10(horizon / a.length) / 0.3
        want = min(
            round(lattice_index(a.pick_lr) - shift),
            max(round(lattice_index(lr)) for lr, _, sc in a.probes if math.isfinite(sc)),
        )
        assert res.suggestion.lr == lattice(want)  # fmt: skip


@pytest.mark.parametrize("bad", [0, -5, 2.5, "500", True])
def test_bad_horizon_is_named_before_any_training(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"Argument `horizon` must be a positive integer"):
        find_lr_task("breast_cancer", "momentum", horizon=bad)


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


@pytest.mark.parametrize("key", ["lr", "params"])
def test_the_rate_and_the_parameters_are_not_optimizer_options(key: str) -> None:
    """They went on to make_optimizer next to its own and raised a TypeError there."""
    with pytest.raises(UsageError, match=rf"Argument `{key}` is not an option.*Received: {key}=1"):
        find_lr_task("quadratic", "adam", **{key: 1})


def test_the_optimizers_name_is_not_an_optimizer_option() -> None:
    """It went on to make_optimizer next to its own `name` and raised a TypeError there."""
    with pytest.raises(
        UsageError, match=r"^Argument `name` is not an option.*`optimizer`\. Received: name='sgd'$"
    ):
        find_lr_task("quadratic", "adam", name="sgd")


@pytest.mark.parametrize("seed", ["a", None, 1.5, True, 2**64])
def test_a_bad_seed_is_refused_by_name(seed: object) -> None:
    """The seed went unchecked to make_model: int('a') raised ValueError, None TypeError, 2**64
    torch's overflow, and 1.5 and True were read as 1."""
    with pytest.raises(
        UsageError, match=rf"^Argument `seed` must be an integer from .*Received: seed={seed!r}$"
    ):
        find_lr_task("quadratic", seed=seed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # a TypeError from //, and NaN's 'cannot convert float NaN to integer'
        (
            ("a",),
            r"^Argument `total_steps` must be a positive integer\. Received: total_steps='a'$",
        ),
        (
            (100, math.nan),
            r"^Argument `budget` must be a number in \(0, 10\] .*Received: budget=nan$",
        ),
        # a sweep of 20 steps for a run of none, and a negative budget spending nothing, quietly
        ((0,), r"^Argument `total_steps` .*Received: total_steps=0$"),
        ((100, -1), r"^Argument `budget` .*Received: budget=-1$"),
    ],
)
def test_advice_budget_checks_its_arguments(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        advice_budget(*args)  # type: ignore[arg-type]


def test_a_model_instance_as_the_tasks_factory_is_refused_by_name() -> None:
    """A Module is callable: it was called as the factory and failed in its forward."""
    import torch

    task = dataclasses.replace(tasks.get("quadratic"), model_factory=torch.nn.Linear(2, 1))
    with pytest.raises(
        UsageError,
        match=r"^Argument `model_factory` of the Task must be a function .* Received: a Linear "
        r"instance; pass a factory, model_factory=lambda: Linear\(\.\.\.\)$",
    ):
        find_lr_task(task, "sgd")


def test_an_explicit_device_gives_the_same_test() -> None:
    a = find_lr_task("quadratic", "sgd", confirm=0)
    b = find_lr_task("quadratic", "sgd", confirm=0, device="cpu")
    assert a.losses.tolist() == b.losses.tolist() and a.suggestion == b.suggestion


def test_a_task_horizon_too_short_to_race_warns() -> None:
    from lrlab.errors import LrlabWarning

    with pytest.warns(LrlabWarning, match=r"budget=0\.25 of a 40-step run .*confirm=0"):
        res = find_lr_task("quadratic", "sgd", horizon=40, num_steps=20)
    assert not res.confirmed and res.why.startswith("unconfirmed")
