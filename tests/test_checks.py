"""The lab's argument checks (lrlab._checks): the value back, normalised, or one UsageError."""

from __future__ import annotations

import pytest

from lrlab._checks import number_in, positive_number
from lrlab.errors import UsageError
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
