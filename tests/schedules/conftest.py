"""Fixtures for the schedule tests.

Keras must pick its backend before it is first imported, and the tests
only have JAX (no TensorFlow), hence the environment default here.
``schedule_kit`` (strategies, oracle, tolerances) sits next to this file
and is put on ``sys.path`` for the test modules to import.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def jax_x64() -> Iterator[None]:
    """Run the test with JAX in float64, then put the previous mode back."""
    jax = pytest.importorskip("jax")
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.fixture
def jax_x32() -> Iterator[None]:
    """Run the test with JAX in its default float32, whatever ran before."""
    jax = pytest.importorskip("jax")
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)
