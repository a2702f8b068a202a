"""``lrlab.compare`` is the compare function however it is reached."""

from __future__ import annotations

import lrlab
import lrlab.compare
from lrlab.compare import Comparison, compare


def test_lrlab_compare_is_callable_after_the_package_is_imported() -> None:
    # importing the package binds lrlab.compare to it; calling it must still compare
    first = lrlab.compare("breast_cancer", ["sgd"], seeds=1, steps=3, eval_every=3)
    second = lrlab.compare("breast_cancer", ["sgd"], seeds=1, steps=3, eval_every=3)
    direct = compare("breast_cancer", ["sgd"], seeds=1, steps=3, eval_every=3)
    assert isinstance(first, Comparison) and isinstance(second, Comparison)
    assert first.table[0].final_val_loss_mean == direct.table[0].final_val_loss_mean
