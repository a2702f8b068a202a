"""Paths on 2-D surfaces: gradient descent on the quadratic agrees with theory,
Adam agrees with a NumPy Adam, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.errors import UsageError
from lrlab.landscape import get_function, trajectories

MU, L = 1.0, 10.0
FACTORS = (0.5, 0.9, 0.99, 0.999, 1.001, 1.01, 1.1, 1.5)


def test_gradient_descent_threshold_is_two_over_l_on_a_grid() -> None:
    lrs = [f * 2 / L for f in FACTORS]
    x0 = np.array([-4.5, 1.5])
    r = trajectories("quadratic", "sgd", lrs, steps=1000, start=tuple(x0))
    curv = np.array([MU, L])
    for f, lr, path, div in zip(FACTORS, lrs, r.paths, r.diverged):
        # theory: x_t = (1 - lr mu)^t x_0 and y_t = (1 - lr L)^t y_0, up to the rounding of
        # each update (relative 1e-12 of the scale |x_0| max(1, rate^t) it has reached)
        t = np.arange(len(path))[:, None]
        rate = np.abs(1 - lr * curv)
        err = np.abs(path - x0 * (1 - lr * curv) ** t)
        assert np.all(err <= 1e-12 * np.abs(x0) * np.maximum(1.0, rate**t)), f
        dist = np.linalg.norm(path, axis=1)
        if f < 1:
            assert not div and dist[-1] < 0.2 * dist[0], f
        else:
            assert div and dist[-1] > dist[0], f
    assert r.diverged == [f > 1 for f in FACTORS]


def test_quadratic_surface_theory() -> None:
    q = get_function("quadratic", mu=MU, L=L)
    assert q.stable_lr == 2 / L and q.optimal_lr == 2 / (L + MU)
    assert q.rate(q.optimal_lr) == pytest.approx((L - MU) / (L + MU), rel=1e-15)
    assert q.rate(0.01) == pytest.approx(1 - 0.01 * MU, rel=1e-15)
    r = trajectories(q, "sgd", [0.02, 0.18, 0.21], steps=50)
    labels = [r.label(i) for i in range(3)]
    assert labels[0].startswith("lr=0.02 = 0.1·(2/L), ρ=0.98")
    assert "≈ 2/(L+μ)" in labels[1] and labels[2].endswith("diverged")


def _numpy_adam(grad, x0, lr, steps, b1=0.9, b2=0.999, eps=1e-8):  # type: ignore[no-untyped-def]
    x, m, v, out = np.array(x0, float), np.zeros(2), np.zeros(2), [np.array(x0, float)]
    for t in range(1, steps + 1):
        g = grad(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(x.copy())
    return np.array(out)


def test_adam_on_rosenbrock_matches_numpy_adam() -> None:
    def grad(p: np.ndarray) -> np.ndarray:
        x, y = p
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    r = trajectories("rosenbrock", "adam", [0.05], steps=100)
    ref = _numpy_adam(grad, (-1.2, 1.0), 0.05, 100)
    assert np.allclose(r.paths[0], ref, rtol=1e-9, atol=1e-12)
    assert r.losses[0][-1] < r.losses[0][0]


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "beale", "himmelblau"])
def test_minima_are_stationary_zeros(name: str) -> None:
    import torch

    s = get_function(name)
    for m in s.minima:
        p = torch.tensor(m, dtype=torch.float64, requires_grad=True)
        v = s.fn(p)
        v.backward()
        assert v.item() < 1e-9 and p.grad.norm().item() < 1e-4
    assert s.min_value < 1e-9


def test_summary_and_early_stop() -> None:
    r = trajectories("himmelblau", "sgd", [0.01, 0.05], steps=200)
    rows = r.summary()
    assert rows[0]["distance"] < 1e-6 and not rows[0]["diverged"]
    assert rows[1]["diverged"] and rows[1]["steps"] < 200  # left every bound, stopped
    assert len(r.paths[1]) == len(r.losses[1]) == rows[1]["steps"] + 1


def test_bad_input() -> None:
    with pytest.raises(UsageError, match=r"Unknown function 'booth'\. Available: quadratic"):
        trajectories("booth", "sgd", [0.1])
    with pytest.raises(UsageError, match=r"`lrs` must hold positive finite numbers"):
        trajectories("quadratic", "sgd", [0.1, -1.0])
    with pytest.raises(UsageError, match=r"Received: start=\(1\.0,\)"):
        trajectories("quadratic", "sgd", [0.1], start=(1.0,))
    with pytest.raises(UsageError, match=r"Received: steps=0"):
        trajectories("quadratic", "sgd", [0.1], steps=0)
    with pytest.raises(UsageError, match=r"Unknown optimizer"):
        trajectories("quadratic", "lbfgs", [0.1])
    with pytest.raises(UsageError, match=r"Invalid parameters for function 'rosenbrock'"):
        get_function("rosenbrock", a=2)


def test_default_lrs_crawl_converge_and_overshoot() -> None:
    q = trajectories("quadratic", "sgd", steps=60)
    assert q.lrs == [0.1 * 2 / L, 2 / (L + MU), 1.05 * 2 / L]
    assert q.diverged == [False, False, True]
    crawl, good, _ = q.summary()
    assert good["distance"] < 1e-3 * crawl["distance"]
    for fn in ("rosenbrock", "beale", "himmelblau"):
        r = trajectories(fn, "sgd", steps=150)
        assert len(r.lrs) == 3 and r.lrs == sorted(r.lrs)
        small, best, _ = r.summary()
        assert not small["diverged"] and not best["diverged"], fn
        assert best["distance"] < small["distance"], fn  # the small LR crawls
        big_loss = r.losses[2]
        # the large LR overshoots: its value goes up at some step (oscillation or divergence)
        assert np.any(np.diff(big_loss) > 0), fn


@pytest.mark.parametrize("key", ["lr", "name", "params"])
def test_make_optimizers_own_arguments_are_not_optimizer_options(key: str) -> None:
    """They went on to make_optimizer next to its own and raised a TypeError there."""
    pattern = rf"^Argument `{key}` is not an option of trajectories.*Received: {key}=0\.5$"
    with pytest.raises(UsageError, match=pattern):
        trajectories("quadratic", "sgd", [0.1], steps=3, **{key: 0.5})


def test_rates_and_start_are_numbers_of_any_kind_and_nothing_else() -> None:
    """An int past the float range raised OverflowError from float(); a NumPy float32 rate or
    start was refused as not a number; start=3 raised 'int' object is not iterable."""
    with pytest.raises(UsageError, match=r"^Argument `lrs` must hold .*Received: lrs=\[1000+\]$"):
        trajectories("quadratic", "sgd", [10**400], steps=3)
    with pytest.raises(UsageError, match=r"^Argument `start` must be two .*Received: start=3$"):
        trajectories("quadratic", "sgd", [0.1], steps=3, start=3)  # type: ignore[arg-type]
    r = trajectories(
        "quadratic", "sgd", np.array([0.05], dtype=np.float32), steps=3,
        start=(np.float32(1.0), np.array(1.0)),
    )  # fmt: skip
    assert r.lrs == [float(np.float32(0.05))] and r.start == (1.0, 1.0)
    assert trajectories("quadratic", "sgd", np.float32(0.05), steps=3).lrs == r.lrs


@pytest.mark.parametrize("factor", ["a", 0, 1.0, float("nan"), None])
def test_divergence_factor_is_checked_like_runs(factor: object) -> None:
    """It went unchecked to the Driver: 'a' raised a TypeError at the first step, and 0, 1
    or NaN quietly changed when a path counts as diverged."""
    with pytest.raises(
        UsageError,
        match=rf"^Argument `divergence_factor` must be a number greater than 1\. "
        rf"Received: divergence_factor={factor!r}$",
    ):
        trajectories("quadratic", "sgd", [0.1], steps=3, divergence_factor=factor)  # type: ignore[arg-type]
