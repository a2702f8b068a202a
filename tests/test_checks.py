"""The lab's argument checks (lrlab._checks): the value back, normalised, or one UsageError."""

from __future__ import annotations

import numpy as np
import pytest

import lrlab.schedules as ls
from lrlab import tasks
from lrlab._checks import (
    OneOf,
    check,
    int_at_least,
    number,
    number_in,
    positive_int,
    positive_number,
    seed,
)
from lrlab.errors import ScheduleError, UsageError
from lrlab.finder import find_lr_task
from lrlab.schedules._validate import count
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


def test_one_rule_one_message_form_for_the_lab_and_the_schedules() -> None:
    """The same rule refuses the same value in the same words; only the error class and
    the kind's name differ."""
    with pytest.raises(UsageError) as lab:
        check(count(), "steps", 0)
    assert str(lab.value) == "Argument `steps` must be a positive integer. Received: steps=0"
    with pytest.raises(ScheduleError) as schedule:
        ls.cosine(0.1, 0)
    assert str(schedule.value) == (
        "Argument `steps` of cosine() must be a positive integer. Received: steps=0"
    )
    assert not isinstance(lab.value, ScheduleError) and not isinstance(schedule.value, UsageError)


def test_check_reads_a_0d_array_and_shows_it_as_received() -> None:
    assert check(number(0.0, 1.0), "beta", np.array(0.25)) == 0.25
    assert check(OneOf("auto", "off"), "mode", "off") == "off"
    with pytest.raises(UsageError) as info:
        check(OneOf("auto", "off"), "mode", "on")
    assert str(info.value) == "Argument `mode` must be one of 'auto', 'off'. Received: mode='on'"
    with pytest.raises(UsageError) as info:
        check(number(0.0, 1.0, high_open=True), "beta", np.array(1.0))
    assert str(info.value) == (
        "Argument `beta` must be a finite number >= 0 and < 1. Received: beta=array(1.)"
    )


@pytest.mark.parametrize("value", [-(2**63) - 1, 2**64, 1.0, True, "7", None])
def test_a_seed_out_of_torch_range_is_refused_in_the_one_form(value: object) -> None:
    with pytest.raises(UsageError) as info:
        seed("seed", value)
    assert str(info.value) == (
        f"Argument `seed` must be an integer from -2**63 to 2**64 - 1. Received: seed={value!r}"
    )
    assert seed("seed", -(2**63)) == -(2**63) and seed("seed", 2**64 - 1) == 2**64 - 1
