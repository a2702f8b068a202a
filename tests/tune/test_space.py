"""The search space: sampling, schedule families built from relative parameters, the grid."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import pytest

from lrlab.errors import UsageError
from lrlab.schedules import constant
from lrlab.tune import FAMILIES, Choice, Family, Float, Int, Space


def test_family_parameters_mean_what_the_table_says() -> None:
    steps, lr = 200, 0.3
    space = Space()
    exp = space.build("exponential", lr, steps, {"decay": 0.01})
    assert exp(steps) == pytest.approx(lr * 0.01, rel=1e-12)
    inv = space.build("inverse_time", lr, steps, {"decay": 0.1})
    assert inv(steps) == pytest.approx(lr * 0.1, rel=1e-12)
    stp = space.build("step", lr, steps, {"factor": 0.5, "every_frac": 0.25})
    assert [stp(t) for t in (0, 49, 50, 100, 199)] == pytest.approx(
        [lr, lr, lr * 0.5, lr * 0.25, lr * 0.125], rel=1e-12
    )
    cos = space.build("cosine", lr, steps, {"min_frac": 0.1})
    assert cos(0) == pytest.approx(lr, rel=1e-12)
    assert cos(steps) == pytest.approx(0.1 * lr, rel=1e-12)
    one = space.build("one_cycle", lr, steps, {"pct_start": 0.3, "div": 25.0})
    ts = np.arange(steps)
    assert float(np.max(one(ts))) == pytest.approx(lr, rel=1e-9)
    assert one(0) == pytest.approx(lr / 25.0, rel=1e-12)
    assert space.build("constant", lr, steps, {})(123) == lr


def test_sample_with_a_fixed_trial() -> None:
    space = Space(optimizers=("sgd", "adam"), schedules=("constant", "exponential"))
    trial = optuna.trial.FixedTrial(
        {"lr": 0.02, "optimizer": "adam", "schedule": "exponential", "exponential.decay": 0.05}
    )
    cfg = space.sample(trial)
    assert cfg == {
        "optimizer": "adam",
        "lr": 0.02,
        "schedule": "exponential",
        "params": {"decay": 0.05},
    }


def test_grid_values_and_defaults() -> None:
    space = Space(
        lr=(1e-4, 1.0), optimizers=("sgd",), schedules=("constant", "step"), grid_points=5
    )
    g = space.grid_values()
    np.testing.assert_allclose(g["lr"], [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-12)
    assert space.grid_size() == 10
    trial = optuna.trial.FixedTrial({"lr": g["lr"][2], "optimizer": "sgd", "schedule": "step"})
    cfg = space.sample(trial, grid=True)
    assert cfg["params"] == dict(FAMILIES["step"].defaults)


def test_user_family_is_searched() -> None:
    fam = Family(
        "flat_then_half",
        lambda lr, steps, at: _half(lr, steps, at),
        {"at": Float(0.2, 0.8)},
        {"at": 0.5},
    )
    space = Space(schedules=("constant",)).with_family(fam)
    assert space.schedules == ("constant", "flat_then_half")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        cfg = space.sample(trial)
        seen.add(cfg["schedule"])
        if cfg["schedule"] == "flat_then_half":
            assert 0.2 <= cfg["params"]["at"] <= 0.8
            assert math.log(1e-4) <= math.log(cfg["lr"]) <= 0.0
        study.tell(trial, 1.0)
    assert seen == {"constant", "flat_then_half"}


def _half(lr: float, steps: int, at: float):  # type: ignore[no-untyped-def]
    from lrlab.schedules import step

    return step(lr, 0.5, max(int(at * steps), 1)) if at < 1 else constant(lr)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lr": (1.0, 0.1)}, "Received: lr=(1.0, 0.1)"),
        ({"optimizers": ("nope",)}, "Received: 'nope'"),
        ({"schedules": ("zigzag",)}, "Received: 'zigzag'"),
        ({"optimizers": ()}, "must not be empty"),
        ({"grid_points": 0}, "Received: grid_points=0"),
    ],
)
def test_bad_space(kwargs: dict, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        Space(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # unpacking raised ValueError ('not enough values to unpack'), comparing TypeError
        ({"lr": "a"}, r"^Argument `lr` of Space must be \(low, high\) .*Received: lr='a'$"),
        ({"lr": (1e-3,)}, r"^Argument `lr` of Space .*Received: lr=\(0\.001,\)$"),
        ({"lr": ("1e-3", "1")}, r"^Argument `lr` of Space .*Received: lr=\('1e-3', '1'\)$"),
        # a name was read letter by letter ("Received: 'a'"), a repeated one drawn twice as often
        (
            {"optimizers": "adam"},
            r"^Argument `optimizers` of Space must be a tuple of names .*='adam'$",
        ),
        (
            {"optimizers": ("adam", "adam")},
            r"^Argument `optimizers` of Space must not repeat .*=\('adam', 'adam'\)$",
        ),
        ({"schedules": ("cosine", "cosine")}, r"^Argument `schedules` of Space must not repeat"),
        # "argument of type 'int' is not iterable"
        (
            {"families": 3},
            r"^Argument `families` of Space must map names to Family .*Received: families=3$",
        ),
    ],
)
def test_a_space_of_the_wrong_shape_is_refused_by_name(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError, match=message):
        Space(**kwargs)


def test_numpy_bounds_are_numbers() -> None:
    assert Space(lr=(np.float32(1e-3), np.array(1.0))).grid_size() > 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        # each was made as given, and failed (or sampled nonsense) inside the study
        (
            lambda: Float(1.0, 0.1),
            r"^Argument `low` of Float must be at most `high`\. .*low=1\.0, high=0\.1$",
        ),
        (
            lambda: Float(0.0, 1.0, log=True),
            r"^Argument `low` must be a positive finite number \(log scale\)\. Received: low=0\.0$",
        ),
        (lambda: Float("a", 1.0), r"^Argument `low` must be a finite number\. Received: low='a'$"),
        (lambda: Float(math.nan, 1.0), r"^Argument `low` .*Received: low=nan$"),
        (
            lambda: Float(0.1, 1.0, log="yes"),
            r"^Argument `log` of Float must be True or False\. Received: log='yes'$",
        ),
        (lambda: Int(2, 1), r"^Argument `low` of Int must be at most `high`\. .*low=2, high=1$"),
        (lambda: Int(1.5, 3), r"^Argument `low` must be an integer\. Received: low=1\.5$"),
        (
            lambda: Choice(()),
            r"^Argument `values` of Choice must be a non-empty tuple .*values=\(\)$",
        ),
        (lambda: Choice("ab"), r"^Argument `values` of Choice .*Received: values='ab'$"),
    ],
)
def test_a_bad_distribution_is_refused_when_made(make: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()


def test_distributions_normalise_numpy_values() -> None:
    assert Float(np.float32(0.5), np.array(2.0)) == Float(0.5, 2.0)
    assert Int(np.int64(0), 2) == Int(0, 2) and Choice([1, 2]).values == (1, 2)
