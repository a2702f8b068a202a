"""The lab's argument checks (lrlab._checks): the value back, normalised, or one UsageError."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab import tasks
from lrlab._checks import int_at_least, number_in, positive_int, positive_number
from lrlab.errors import UsageError
from lrlab.finder import find_lr_task
from lrlab.train import run


def test_an_integer_beyond_the_float_range_is_refused_by_name() -> None:
    """float(10**400) raised OverflowError out of the check (run(lr=10**400) did)."""
    with pytest.raises(UsageError, match=r"^Argument `lr` must be .*Received: lr=1000+$"):
        positive_number("lr", 10**400)
    with pytest.raises(UsageError, match=r"^Argument `beta` must be a number in \[0, 1\)\."):
        number_in("beta", -(10**400), lambda v: 0 <= v < 1, "a number in [0, 1)")
    with pytest.raises(UsageError, match=r"^Argument `lr` must be .*Received: lr=1000+$"):
        run("quadratic", lr=10**400, steps=3)
    assert positive_number("lr", 10**300) == 1e300


def test_a_0d_array_is_the_number_it_holds() -> None:
    """np.array(0.1) was refused as 'must be a positive finite number. Received: lr=array(0.1)'."""
    assert positive_number("lr", np.array(0.1)) == 0.1
    assert type(positive_number("lr", np.array(0.1, dtype=np.float32))) is float
    assert (
        positive_int("steps", np.array(3)) == 3 and type(positive_int("steps", np.array(3))) is int
    )
    assert int_at_least("seed", np.array(0, dtype=np.uint8), 0, "a non-negative integer") == 0
    assert tasks.get("quadratic", mu=np.array(0.5), dim=np.array(3)).mu == 0.5
    assert run("quadratic", lr=np.array(0.1), steps=np.array(3)).steps == 3
    zero_d = {"beta": np.array(0.9), "confirm": np.array(0), "horizon_exponent": np.array(0.5)}
    settings = find_lr_task("quadratic", num_steps=np.array(5), **zero_d).settings
    assert settings["num_steps"] == 5 and settings["rule"]["candidates"] == 0
    assert type(settings["beta"]) is float and type(settings["horizon_exponent"]) is float


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (np.array(2.5), r"array\(2\.5\)"),
        (np.array([3]), r"array\(\[3\]\)"),
        (np.array(True), r"array\(True\)"),
        (np.array("3"), r"array\('3', dtype='<U1'\)"),
    ],
)
def test_other_arrays_are_still_refused_by_name(value: object, shown: str) -> None:
    with pytest.raises(
        UsageError,
        match=rf"^Argument `steps` must be a positive integer\. Received: steps={shown}$",
    ):
        positive_int("steps", value)


def test_a_0d_array_is_checked_like_its_number() -> None:
    with pytest.raises(UsageError, match=r"^Argument `lr` must be .*Received: lr=array\(nan\)$"):
        positive_number("lr", np.array(np.nan))
    with pytest.raises(
        UsageError, match=r"^Argument `steps` must be .*Received: steps=array\(0\)$"
    ):
        positive_int("steps", np.array(0))
