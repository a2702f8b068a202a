"""The framework-neutral core: any engine gets the torch finder's curve, race and result.

The reference engine is gradient descent on a least-squares problem written in NumPy
(the gradient by its formula); the torch finder on the same problem, same weights, same
batches, must give the same curve and the same suggestions.
"""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch

from lrlab.errors import UsageError
from lrlab.finder import find_lr, ramp
from lrlab.finder._batches import Batches
from lrlab.finder._settings import SweepSettings
from lrlab.finder._sweep import range_test

OPTIONS: dict[str, Any] = dict(
    min_lr=1e-4, max_lr=10.0, num_steps=40, mode="exponential", beta=0.98, debias=True,
    diverge=4.0, confirm=None, budget=0.5, horizon=400, horizon_exponent=None, rule=None,
)  # fmt: skip


class LeastSquares:
    """``f(w) = mean((x w - y)^2)``, one SGD step ``w -= lr * 2 x^T (x w - y) / n``."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w.copy()
        self.trained = 0
        self.modes: list[str] = []

    def save(self) -> np.ndarray:
        return self.w.copy()

    def restore(self, state: np.ndarray) -> None:
        self.w = state.copy()

    def train(self) -> None:
        self.modes.append("train")

    def step(self, batch: Any, lr: float) -> float:
        x, y = batch
        r = x @ self.w - y
        loss = float(np.mean(r**2))
        self.w = self.w - lr * (2.0 * x.T @ r / len(x))
        self.trained += 1
        return loss


def _problem(n_batches: int = 60) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(0)
    w_true = rng.normal(size=(3, 1))
    batches = []
    for _ in range(n_batches):
        x = rng.normal(size=(16, 3))
        batches.append((x, x @ w_true + 0.1 * rng.normal(size=(16, 1))))
    return rng.normal(size=(3, 1)), batches


def test_the_sweep_is_the_ramp_on_the_engine_and_the_state_comes_back() -> None:
    w0, data = _problem()
    engine = LeastSquares(w0)
    s = SweepSettings.of(**{**OPTIONS, "confirm": 0})
    res = range_test(s, engine, Batches(data, needed=s.draws, pairs=True))
    # the reference: the same steps by hand
    w, want = w0.copy(), []
    for lr, (x, y) in zip(ramp(1e-4, 10.0, 40), data):
        r = x @ w - y
        want.append(float(np.mean(r**2)))
        w = w - lr * (2.0 * x.T @ r / len(x))
        if not math.isfinite(want[-1]):
            break
    assert len(res.losses) < 40 and res.stop_reason == "diverged"  # 10 is past the edge
    np.testing.assert_array_equal(res.losses, want[: len(res.losses)])
    np.testing.assert_array_equal(engine.w, w0)  # restored
    assert res.steps == len(res.losses) == engine.trained


def test_the_race_restores_the_start_for_each_rate_and_counts_every_step() -> None:
    w0, data = _problem()
    engine = LeastSquares(w0)
    s = SweepSettings.of(**OPTIONS)
    res = range_test(s, engine, Batches(data, needed=s.draws, pairs=True))
    assert res.confirmed and res.advice is not None and "lrlab" in res.suggestions
    assert res.steps == engine.trained <= int(0.5 * 400)
    np.testing.assert_array_equal(engine.w, w0)
    assert len(engine.modes) >= 1 + len(res.advice.probes)  # train() before each run


def test_a_numpy_engine_and_the_torch_finder_agree() -> None:
    w0, data = _problem()
    s = SweepSettings.of(**OPTIONS)
    mine = range_test(s, LeastSquares(w0), Batches(data, needed=s.draws, pairs=True))
    model = torch.nn.Linear(3, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w0.T))
    tdata = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    theirs = find_lr(model, torch.nn.MSELoss(), tdata, opt, **{
        k: v for k, v in OPTIONS.items() if k not in ("mode",)
    })  # fmt: skip
    np.testing.assert_allclose(mine.losses, theirs.losses, rtol=1e-10)
    assert mine.stop_reason == theirs.stop_reason
    assert {k: v.lr for k, v in mine.suggestions.items()} == pytest.approx(
        {k: v.lr for k, v in theirs.suggestions.items()}, rel=1e-12
    )
    assert mine.why == theirs.why


def test_an_engine_that_raises_is_restored_and_the_error_passes() -> None:
    w0, data = _problem()

    class Breaks(LeastSquares):
        def step(self, batch: Any, lr: float) -> float:
            if self.trained == 7:
                raise RuntimeError("out of memory")
            return super().step(batch, lr)

    engine = Breaks(w0)
    s = SweepSettings.of(**OPTIONS)
    with pytest.raises(RuntimeError, match="out of memory"):
        range_test(s, engine, Batches(data, needed=s.draws, pairs=True))
    np.testing.assert_array_equal(engine.w, w0)


def test_a_one_shot_source_too_short_for_the_race_says_how_many_it_needed() -> None:
    w0, data = _problem(50)
    s = SweepSettings.of(**OPTIONS)
    with pytest.raises(UsageError, match=f"ended after 50 batches.*up to {s.draws}"):
        range_test(s, LeastSquares(w0), Batches(iter(data), needed=s.draws, pairs=True))


def test_the_core_imports_no_framework() -> None:
    code = (
        "import sys\n"
        "for name in ('torch', 'keras', 'jax', 'optax', 'tensorflow'): sys.modules[name] = None\n"
        "import lrlab.finder, lrlab.finder._sweep, lrlab.finder._batches\n"
        "print(sorted(lrlab.finder.RULES))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "fastai_valley" in out.stdout
