"""``lrlab.compare`` is a plain package; its ``compare`` function is imported by name."""

from __future__ import annotations

import types

import lrlab.compare
from lrlab.compare import Comparison, compare


def test_compare_is_reached_by_name_and_is_deterministic() -> None:
    first = compare("breast_cancer", ["sgd"], seeds=1, steps=3, eval_every=3)
    second = lrlab.compare.compare("breast_cancer", ["sgd"], seeds=1, steps=3, eval_every=3)
    assert isinstance(first, Comparison) and isinstance(second, Comparison)
    assert first.table[0].final_val_loss_mean == second.table[0].final_val_loss_mean
    assert type(lrlab.compare) is types.ModuleType and not callable(lrlab.compare)
