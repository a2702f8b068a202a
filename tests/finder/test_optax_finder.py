"""lrlab.optax.find_lr: the range test on a JAX loss and an Optax optimizer.

Its sweep is checked against a hand-written loop of Optax updates at the same rates, its
compiled step and validation loss are counted to trace once, the caller's arrays are shown
untouched (and still alive, where a donating call would have deleted them), and every bad
input is refused before one step runs (counted by a ``jax.debug.callback`` in the loss,
which runs only when the compiled loss is executed, never when it is traced).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import lrlab.optax  # noqa: E402
from lrlab.errors import UsageError  # noqa: E402
from lrlab.finder.optax import OptaxEngine, find_lr  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


def _mlp(seed: int = 0) -> dict[str, jax.Array]:
    """A 4-16-1 tanh MLP's float32 weights (drawn with NumPy: eager JAX ops compile)."""
    rng = np.random.default_rng(seed)
    return {
        "w1": jnp.asarray(rng.normal(0, 0.5, (4, 16)), jnp.float32),
        "b1": jnp.zeros(16, jnp.float32),
        "w2": jnp.asarray(rng.normal(0, 0.25, (16, 1)), jnp.float32),
        "b2": jnp.zeros(1, jnp.float32),
    }


def _forward(p: Any, x: jax.Array) -> jax.Array:
    return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def _loss(p: Any, batch: Any) -> jax.Array:
    x, y = batch
    return jnp.mean((_forward(p, x) - y) ** 2)


def _batches(n: int = 4, size: int = 32, seed: int = 1) -> list[tuple[jax.Array, jax.Array]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.normal(size=(size, 4)).astype(np.float32)
        out.append((jnp.asarray(x), jnp.asarray(np.sin(x.sum(axis=1, keepdims=True)))))
    return out


def _ramp(min_lr: float, max_lr: float, n: int) -> np.ndarray:
    t = np.arange(n) / (n - 1)
    return np.exp(math.log(min_lr) + t * (math.log(max_lr) - math.log(min_lr)))


def _copy(tree: Any) -> Any:
    return jax.tree.map(lambda a: np.array(a, copy=True), tree)


def _equal(tree: Any, copies: Any) -> bool:
    pairs = zip(jax.tree.leaves(tree), jax.tree.leaves(copies), strict=True)
    return all(np.array_equal(np.asarray(a), b) for a, b in pairs)


def _sgd(p: Any, g: Any, lr: float) -> Any:
    """``p - lr * g`` at the rate's float32 value, leaf by leaf."""
    r = np.float32(lr)
    return jax.tree.map(lambda a, b: a - r * b, p, g)


class _Runs:
    """How often the compiled loss was executed (not traced): a debug callback."""

    def __init__(self) -> None:
        self.n = 0

    def wrap(self, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def loss(p: Any, batch: Any) -> Any:
            jax.debug.callback(self._bump)
            return fn(p, batch)

        return loss

    def _bump(self) -> None:
        self.n += 1


# ------------------------------------------------------------------------ the curve
@pytest.mark.parametrize("make", [optax.sgd, lambda lr: optax.adam(lr, b1=0.8)])
def test_the_sweep_is_a_hand_written_loop_of_optax_updates(make: Any) -> None:
    params, batches = _mlp(), _batches()
    result = find_lr(_loss, params, make, batches, min_lr=1e-4, max_lr=3.0, num_steps=30, confirm=0)
    n = len(result.lrs)
    assert n >= 10 and result.steps == n and result.stop_reason in ("max_lr", "diverged")
    np.testing.assert_allclose(result.lrs, _ramp(1e-4, 3.0, 30)[:n], rtol=1e-12)

    # the reference: its own injected optimizer, the rate set by hand before each update
    tx = optax.inject_hyperparams(lambda learning_rate: make(learning_rate))(learning_rate=0.0)
    state = tx.init(params)

    @jax.jit
    def update(p: Any, s: Any, batch: Any) -> tuple[Any, Any, jax.Array]:
        loss, g = jax.value_and_grad(_loss)(p, batch)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    p, expected = params, []
    for i, lr in enumerate(result.lrs):
        state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        p, state, loss = update(p, state, batches[i % len(batches)])
        expected.append(float(loss))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-6)


def test_plain_sgd_by_formula_gives_the_same_curve() -> None:
    """No Optax in the reference: ``p <- p - lr * grad`` at the ramp's float32 rates."""
    params, batches = _mlp(2), _batches(3)
    result = find_lr(
        _loss, params, optax.sgd, batches, min_lr=1e-3, max_lr=1.0, num_steps=20, confirm=0
    )
    grad = jax.jit(jax.value_and_grad(_loss))
    p, expected = params, []
    for i, lr in enumerate(result.lrs):
        loss, g = grad(p, batches[i % 3])
        expected.append(float(loss))
        p = _sgd(p, g, lr)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-6)


def test_a_factory_of_injected_transformations_sweeps_the_same_rates() -> None:
    """``lambda lr: inject_hyperparams(sgd)(learning_rate=lr)`` is used as made: wrapped
    once more, its inner state would keep ``min_lr`` for every step."""
    params, batches = _mlp(), _batches()
    kw = {"min_lr": 1e-3, "max_lr": 1.0, "num_steps": 20, "confirm": 0}
    plain = find_lr(_loss, params, optax.sgd, batches, **kw)
    injected = optax.inject_hyperparams(optax.sgd)
    made = find_lr(_loss, params, lambda lr: injected(learning_rate=lr), batches, **kw)
    np.testing.assert_array_equal(made.losses, plain.losses)
    wrapped = optax.inject_hyperparams(lambda learning_rate: injected(learning_rate=learning_rate))
    frozen = find_lr(_loss, params, wrapped(learning_rate=1e-3), batches, **kw)
    assert not np.allclose(frozen.losses[-5:], plain.losses[-5:], rtol=1e-3)


# ------------------------------------------------------------ the caller's state, donation
def test_the_callers_params_and_opt_state_are_unchanged_and_alive() -> None:
    params, batches = _mlp(), _batches()
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=0.01)
    state = tx.init(params)
    grad, update = jax.jit(jax.grad(_loss)), jax.jit(tx.update)  # compiled: eager is slower
    for b in batches[:2]:  # moments and a count that are not zero
        _, state = update(grad(params, b), state, params)
    p_copy, s_copy = _copy(params), _copy(state)

    result = find_lr(
        _loss, params, tx, batches, opt_state=state, min_lr=1e-4, max_lr=10.0,
        num_steps=25, horizon=200, val_batch=batches[0],
    )  # fmt: skip
    assert result.steps > len(result.lrs)  # the race trained as well
    for leaf in jax.tree.leaves((params, state)):
        assert not leaf.is_deleted()
    assert _equal(params, p_copy) and _equal(state, s_copy)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.01)

    # the check could fail: a donating call on this backend deletes its argument
    donated = jax.tree.map(jnp.copy, params)
    jax.jit(lambda t: jax.tree.map(lambda a: a + 1, t), donate_argnums=0)(donated)
    assert all(leaf.is_deleted() for leaf in jax.tree.leaves(donated))


def test_the_engine_saves_and_restores_and_compiles_once() -> None:
    params, batches = _mlp(), _batches()
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    engine = OptaxEngine(_loss, params, tx, tx.init(params))
    start = engine.save()
    first = [engine.step(b, lr) for b, lr in zip(batches, [0.01, 0.02, 0.05, 0.1])]
    mid = engine.save()
    after_mid = engine.step(batches[0], 0.3)
    engine.restore(start)
    again = [engine.step(b, lr) for b, lr in zip(batches, [0.01, 0.02, 0.05, 0.1])]
    assert again == first  # the same steps from the same snapshot: bit for bit
    engine.restore(mid)
    assert engine.step(batches[0], 0.3) == after_mid
    assert engine.score(batches[1]) == pytest.approx(float(_loss(engine.params, batches[1])))
    assert engine.traces == 1 and engine.score_traces == 1
    assert float(engine.opt_state.hyperparams["learning_rate"]) == pytest.approx(0.3)
    assert engine.save() is not start and start[0] is params


# ------------------------------------------------------------------- suggestions, traces
def test_the_race_runs_and_lrlab_suggests() -> None:
    result = find_lr(
        _loss, _mlp(), optax.inject_hyperparams(optax.sgd)(learning_rate=0.1), _batches(),
        min_lr=1e-4, max_lr=30.0, num_steps=30, horizon=300,
    )  # fmt: skip
    assert result.stop_reason in ("diverged", "non-finite")
    assert "lrlab" in result.suggestions and result.confirmed
    assert result.advice is not None and result.confirmations
    assert result.steps > len(result.lrs)
    assert {"fastai_valley", "fastai_minimum"} <= set(result.suggestions)
    assert 1e-4 <= result.suggestions["lrlab"].lr <= 30.0


def _traced_loss() -> tuple[Callable[[Any, Any], Any], list[int]]:
    count = [0]

    def loss(p: Any, batch: Any) -> Any:
        count[0] += 1  # Python runs this only while JAX traces
        return _loss(p, batch)

    return loss, count


def test_the_step_and_the_validation_loss_trace_once_over_a_whole_test() -> None:
    batches = _batches()
    short_loss, short = _traced_loss()
    find_lr(short_loss, _mlp(), optax.sgd, batches, num_steps=10, confirm=0, min_lr=1e-3)
    long_loss, long = _traced_loss()
    result = find_lr(
        long_loss, _mlp(), optax.sgd, batches, num_steps=40, min_lr=1e-4, max_lr=30.0,
        horizon=400, val_batch=_batches(1, size=16, seed=5)[0],
    )  # fmt: skip
    assert result.steps > len(result.lrs) + 20 and result.advice is not None  # many rates
    # the sweep alone: one eval_shape check and one compiled step; with the race and a
    # validation batch (of another shape, so that its check is not JAX's cached first one),
    # one more check and one compiled validation loss, whatever the number of steps
    assert short[0] == 2
    assert long[0] == 4


# ------------------------------------------------------------------ a model with state
def _stateful_loss(pair: Any, batch: Any) -> tuple[jax.Array, Any]:
    """A BatchNorm-like running mean of the inputs, used by the loss and carried on."""
    p, state = pair
    x, y = batch
    mean = 0.9 * state["mean"] + 0.1 * x.mean(axis=0)
    out = _forward(p, x - mean)
    return jnp.mean((out - y) ** 2), {"mean": mean, "seen": state["seen"] + 1}


def test_a_model_with_state_carries_it_from_step_to_step() -> None:
    params, batches = _mlp(), [(x + 2.0, y) for x, y in _batches()]
    model_state = {"mean": jnp.zeros(4), "seen": jnp.zeros((), jnp.int32)}
    copies = _copy((params, model_state))
    result = find_lr(
        _stateful_loss, (params, model_state), optax.sgd, batches, has_aux=True,
        min_lr=1e-3, max_lr=1.0, num_steps=20, confirm=0,
    )  # fmt: skip
    assert _equal((params, model_state), copies)

    @jax.jit
    def grad(p: Any, s: Any, batch: Any) -> Any:
        return jax.value_and_grad(lambda q: _stateful_loss((q, s), batch), has_aux=True)(p)

    p, s, carried, frozen = params, model_state, [], []
    for i, lr in enumerate(result.lrs):
        (loss, s), g = grad(p, s, batches[i % 4])
        carried.append(float(loss))
        p = _sgd(p, g, lr)
    p = params
    for i, lr in enumerate(result.lrs):  # the state never carried on: another curve
        (loss, _), g = grad(p, model_state, batches[i % 4])
        frozen.append(float(loss))
        p = _sgd(p, g, lr)
    np.testing.assert_allclose(result.losses, carried, rtol=1e-6)
    assert not np.allclose(result.losses, frozen, rtol=1e-3)


def test_a_model_with_state_races_and_scores_on_the_validation_batch() -> None:
    params, batches = _mlp(), _batches()
    pair = (params, {"mean": jnp.zeros(4), "seen": jnp.zeros((), jnp.int32)})
    result = find_lr(
        _stateful_loss, pair, optax.sgd, batches, has_aux=True, val_batch=batches[0],
        min_lr=1e-4, max_lr=30.0, num_steps=30, horizon=300,
    )  # fmt: skip
    assert "lrlab" in result.suggestions and result.advice is not None
    assert int(pair[1]["seen"]) == 0


# ------------------------------------------------------------------------- bad input
def _refused(match: str, *args: Any, **kwargs: Any) -> None:
    runs = _Runs()
    loss_fn, rest = args[0], args[1:]
    with pytest.raises(UsageError, match=match):
        find_lr(runs.wrap(loss_fn), *rest, **{"num_steps": 10, **kwargs})
    assert runs.n == 0  # refused before the compiled loss ran once


def test_an_optimizer_without_an_injectable_rate_is_refused() -> None:
    params, batches = _mlp(), _batches()
    _refused(r"Argument `optimizer` must be .*inject_hyperparams.*Received: optimizer=Gradient"
             r".*no hyperparams\['learning_rate'\].*optax\.sgd\(0\.1\)\?",
             _loss, params, optax.sgd(0.1), batches)  # fmt: skip
    scheduled = optax.inject_hyperparams(optax.sgd)(
        learning_rate=optax.linear_schedule(0.1, 0.0, 100)
    )
    _refused(r"Argument `optimizer`.*learning_rate is a schedule", _loss, params, scheduled,
             batches)  # fmt: skip
    _refused(r"Argument `optimizer`.*Received: a factory that returned float",
             _loss, params, lambda lr: 0.1, batches)  # fmt: skip
    _refused(r"Argument `optimizer`.*Received: optimizer=str", _loss, params, "adam", batches)
    _refused(r"Argument `opt_state` must be the state of `optimizer`", _loss, params,
             optax.sgd, batches, opt_state=optax.adam(0.1).init(params))  # fmt: skip


def test_a_loss_that_is_not_a_scalar_is_refused() -> None:
    def per_example(p: Any, batch: Any) -> jax.Array:
        x, y = batch
        return ((_forward(p, x) - y) ** 2).mean(axis=1)

    _refused(r"Argument `loss_fn` must return the batch's loss as a floating scalar\. "
             r"Received: float32\[32\] on the first batch of `batches` \(a per-example loss",
             per_example, _mlp(), optax.sgd, _batches())  # fmt: skip
    _refused(r"Argument `loss_fn` must return \(loss, new_model_state\) when has_aux=True",
             lambda pair, b: _loss(pair[0], b), (_mlp(), {}), optax.sgd, _batches(),
             has_aux=True)  # fmt: skip
    wrong_val = (jnp.zeros((8, 5)), jnp.zeros((8, 1)))
    _refused(r"Argument `val_batch` must hold batches that `loss_fn` accepts\. Received: "
             r"\(float32\[8, 5\], float32\[8, 1\]\), on which .* raised TypeError",
             _loss, _mlp(), optax.sgd, _batches(), val_batch=wrong_val)  # fmt: skip


def test_batches_too_short_or_not_batches_are_refused() -> None:
    params, batches = _mlp(), _batches()
    _refused(r"Argument `batches` ended after 4 batches, but the range test needs up to 10 "
             r".*Received: a one-shot generator",
             _loss, params, optax.sgd, (b for b in batches), confirm=0)  # fmt: skip
    _refused(r"Argument `batches` must yield at least one batch. Received: an empty list",
             _loss, params, optax.sgd, [])  # fmt: skip
    _refused(r"Argument `batches` must be an iterable.*Received: batches=int",
             _loss, params, optax.sgd, 3)  # fmt: skip
    # a one-shot generator long enough is read up front and runs
    result = find_lr(_loss, params, optax.sgd, (b for _ in range(3) for b in batches),
                     num_steps=10, confirm=0, min_lr=1e-3)  # fmt: skip
    assert len(result.lrs) == 10


def test_params_that_are_not_arrays_are_refused() -> None:
    batches = _batches()
    _refused(r"Argument `params` must be a pytree of floating arrays \(JAX or NumPy\)\. "
             r"Received: params=\{'w': \[float, float\]\} \(a float leaf\)",
             _loss, {"w": [1.0, 2.0]}, optax.sgd, batches)  # fmt: skip
    _refused(r"Argument `params` must be a pytree of floating arrays.*\(a int32 array\); "
             r"integer or other non-trainable arrays belong in the model state.*has_aux=True",
             _loss, {"w": jnp.zeros(3, jnp.int32)}, optax.sgd, batches)  # fmt: skip
    _refused(r"Argument `params` must be a pytree of floating arrays.*\(no arrays\)",
             _loss, {}, optax.sgd, batches)  # fmt: skip
    _refused(r"Argument `params` must be a pair \(trainable parameters, model state\) when "
             r"has_aux=True", _loss, _mlp(), optax.sgd, batches, has_aux=True)  # fmt: skip
    _refused(r"Argument `num_steps`", _loss, _mlp(), optax.sgd, batches, num_steps=2)


def test_numpy_params_work_and_are_not_written() -> None:
    params = {k: np.array(v) for k, v in _mlp().items()}
    before = _copy(params)
    result = find_lr(_loss, params, optax.sgd, _batches(), num_steps=10, confirm=0)
    assert _equal(params, before) and len(result.lrs) == 10


# ---------------------------------------------------------------- no torch, the door
def test_the_door_and_the_finder_work_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, jax.numpy as jnp, optax, lrlab.optax\n"
        "x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)\n"
        "y = x @ np.array([1.0, -2.0, 0.5], np.float32)\n"
        "def loss(p, b): return jnp.mean((b[0] @ p['w'] - b[1]) ** 2)\n"
        "r = lrlab.optax.find_lr(loss, {'w': np.zeros(3, np.float32)}, optax.sgd, [(x, y)],\n"
        "                        num_steps=20, horizon=200)\n"
        "print('lrlab' in r.suggestions, r.steps > 20, 'torch' in sys.modules and "
        "sys.modules['torch'] is not None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True", "False"]


def test_the_door_hands_out_this_find_lr() -> None:
    assert lrlab.optax.find_lr is find_lr


@pytest.mark.slow
def test_the_docs_jax_examples_run_flax_nnx_included_without_torch() -> None:
    """docs/choosing.md's "In JAX / Optax" blocks (a plain MLP, and Flax NNX with
    BatchNorm through ``has_aux``), run as written with torch unimportable."""
    pytest.importorskip("flax")
    text = (SRC.parent / "docs" / "choosing.md").read_text(encoding="utf-8")
    section = text[text.index("### In JAX / Optax") : text.index("### The suggestion rules")]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) == 2 and "from flax import nnx" in blocks[1]
    code = "import sys; sys.modules['torch'] = None\n" + "\n".join(blocks)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Suggestion(name='lrlab'" in out.stdout
