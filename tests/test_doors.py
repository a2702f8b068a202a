"""The framework doors: ``lrlab.torch``, ``lrlab.keras`` and ``lrlab.optax`` are what a user of
each framework imports; each hands out its adapter's objects themselves (not copies) and its
range test, which loads on first use."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import pytest

import lrlab.adapters.keras
import lrlab.adapters.optax
import lrlab.adapters.torch
import lrlab.finder
import lrlab.keras
import lrlab.optax
import lrlab.torch


@pytest.mark.parametrize(
    ("door", "adapter"),
    [
        (lrlab.torch, lrlab.adapters.torch),
        (lrlab.keras, lrlab.adapters.keras),
        (lrlab.optax, lrlab.adapters.optax),
    ],
)
def test_a_door_hands_out_its_adapter_objects(door: object, adapter: object) -> None:
    names = [n for n in door.__all__ if hasattr(adapter, n)]  # type: ignore[attr-defined]
    assert set(names) == set(adapter.__all__)  # type: ignore[attr-defined]
    for name in names:
        assert getattr(door, name) is getattr(adapter, name)


def test_the_torch_door_has_the_range_test_loaded_on_first_use() -> None:
    assert lrlab.torch.find_lr is lrlab.finder.find_lr
    with pytest.raises(AttributeError, match=r"lrlab\.torch' has no attribute 'nope'"):
        lrlab.torch.nope  # noqa: B018
    code = (
        "import sys, lrlab.torch; a = 'lrlab.finder' in sys.modules; "
        "lrlab.torch.find_lr; print(a, 'lrlab.finder' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_the_keras_door_has_the_range_test_and_its_callback_loaded_on_first_use() -> None:
    import lrlab.finder.keras

    assert lrlab.keras.find_lr is lrlab.finder.keras.find_lr
    assert lrlab.keras.LRFinder is lrlab.finder.keras.LRFinder
    assert {"find_lr", "LRFinder"} <= set(lrlab.keras.__all__)
    with pytest.raises(AttributeError, match=r"lrlab\.keras' has no attribute 'nope'"):
        lrlab.keras.nope  # noqa: B018
    code = (
        "import sys, lrlab.keras; a = 'lrlab.finder' in sys.modules; "
        "lrlab.keras.find_lr, lrlab.keras.LRFinder; print(a, 'lrlab.finder.keras' in sys.modules)"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["False", "True"]


def test_the_optax_door_has_its_range_test_loaded_on_first_use() -> None:
    import lrlab.finder.optax

    assert lrlab.optax.find_lr is lrlab.finder.optax.find_lr
    assert "find_lr" in lrlab.optax.__all__
    with pytest.raises(AttributeError, match=r"lrlab\.optax' has no attribute 'nope'"):
        lrlab.optax.nope  # noqa: B018
    code = (
        "import sys, lrlab.optax; a = 'lrlab.finder' in sys.modules; "
        "lrlab.optax.find_lr; print(a, 'lrlab.finder.optax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
