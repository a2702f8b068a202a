"""The LR range test on a compiled Keras 3 model: :func:`find_lr`, the :class:`LRFinder`
callback for a sweep inside the user's own ``fit``, and :class:`KerasEngine`, the
training step both drive.

Every step is Keras's own training step (the model's ``train_function``, what ``fit`` and
``train_on_batch`` call), so the loss is the compiled loss plus the regularization losses,
and dropout and BatchNorm behave as in ``fit``.  The loss recorded for a step is that
batch's loss before the update: Keras's loss tracker is a running mean over the epoch, so
the metrics are reset before each step and the mean is then over the one batch.

The rate is set per step.  An optimizer given a float keeps it in a variable that the
jitted step reads as state (no retrace per rate); one given a ``LearningRateSchedule``
(or a callable) reads, for the test only, a variable put in its place (on JAX the train
step is traced once more for it, the first time only), and gets the very schedule object
back afterwards.

Afterwards every variable of the model (weights, BatchNorm statistics, the dropout seed
generators' state), of the optimizer (iterations, moments, the rate) and of the metrics is
what it was, bit for bit, whether the test finished, diverged or raised.

>>> import os; os.environ.setdefault("KERAS_BACKEND", "jax")  # doctest: +ELLIPSIS
'...'
>>> import keras, numpy as np
>>> keras.utils.set_random_seed(0)
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
>>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
>>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
>>> y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
>>> before = [v.numpy().copy() for v in model.weights]
>>> result = find_lr(model, x, y, batch_size=16, num_steps=40, confirm=0)
>>> all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))
True
>>> float(model.optimizer.learning_rate)  # doctest: +ELLIPSIS
0.1...
>>> len(result.lrs) <= 40 and result.steps == len(result.lrs)
True
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import keras
import numpy as np

from lrlab import _seams
from lrlab._checks import shown
from lrlab.errors import UsageError
from lrlab.finder._batches import Batches
from lrlab.finder._result import FinderResult
from lrlab.finder._settings import SweepSettings
from lrlab.finder._sweep import anchor, ramp, range_test, result_of
from lrlab.finder.advice import AdviceRule
from lrlab.finder.rules import Ema

__all__ = ["KerasEngine", "LRFinder", "find_lr"]

#: What ``x`` may be, in every message that refuses one.
X_RULE = (
    "a NumPy array (or a list, tuple or dict of them) with `y`, a keras.utils.PyDataset, "
    "a generator of (x, y) batches or a tf.data.Dataset"
)


# --------------------------------------------------------------------------- the model


def _rate_owner(optimizer: Any) -> Any:
    """The optimizer that holds the rate: a ``LossScaleOptimizer``'s inner one."""
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


def check_model(model: Any) -> None:
    """Refuse, before anything trains, a model that is not a compiled Keras model or whose
    optimizer's rate cannot be set (a ``learning_rate`` that is not Keras's settable one)."""
    if not isinstance(model, keras.Model):
        raise UsageError(f"Argument `model` must be a keras.Model. Received: model={shown(model)}")
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise UsageError(
            "Argument `model` must be compiled (model.compile(optimizer=..., loss=...)) before "
            f"the range test. Received: an uncompiled model={model.name!r}"
        )
    opt = _rate_owner(model.optimizer)
    rate = _seams.keras_rate(opt) if isinstance(opt, keras.optimizers.Optimizer) else None
    settable = (
        isinstance(opt, keras.optimizers.Optimizer)
        and type(opt).learning_rate is keras.optimizers.Optimizer.learning_rate
        and (isinstance(rate, keras.Variable) or callable(rate))
    )
    if not settable:
        raise UsageError(
            "Argument `model` must be compiled with a Keras optimizer whose learning_rate "
            "the test can set (a float, a LearningRateSchedule or a callable, read through "
            "Keras's own `learning_rate` property). Received: optimizer="
            f"{type(model.optimizer).__name__} with learning_rate={shown(rate)}"
        )


def _built(model: Any) -> bool:
    opt = model.optimizer
    return bool(model.built and getattr(opt, "built", False))


def _xyw(batch: Any) -> tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` of a batch given as ``x``, ``(x,)``, ``(x, y)`` or a triple."""
    out: tuple[Any, Any, Any] = keras.utils.unpack_x_y_sample_weight(batch)
    return out


def _copy(value: Any) -> np.ndarray:
    """A NumPy copy of a variable's value that owns its memory."""
    return np.array(keras.ops.convert_to_numpy(value), copy=True)


class KerasEngine:
    """One compiled Keras model's training step, as the range test drives it (the core's
    ``Engine``: ``save``, ``restore``, ``train``, ``step``).

    ``step(batch, lr)`` sets the optimizer's rate to ``lr``, resets the metrics and runs
    the model's own train step on ``batch`` (``x``, ``(x, y)`` or ``(x, y, sample_weight)``);
    it returns the loss Keras computed for that batch before the update (the loss tracker's
    mean over one batch: the compiled loss plus ``model.losses``).  On the JAX backend the
    state passes from step to step as arrays, as in ``fit``, and is written back to the
    variables by ``save``, before a validation and on ``close``; elsewhere each step is
    ``train_on_batch``.

    ``save()`` is a NumPy copy of every variable of the model, the optimizer and the
    metrics (the dropout layers' seed generators are variables of the model), with torch's
    global RNG state on the torch backend (where a dropout without a seed draws from it);
    ``restore(state)`` puts them back (bit for bit; any number of times).  On JAX, what a
    step or a restore leaves is carried as arrays and reaches the variables on
    :meth:`flush` (which ``save``, a validation and :meth:`close` call): read the model's
    variables after one of those.
    ``example`` is one batch to build an unbuilt model and optimizer with (as
    ``train_on_batch`` would), before anything is saved.

    Use it as a context manager (or call :meth:`close`): a schedule-driven optimizer gets
    its schedule back on exit.
    """

    def __init__(self, model: Any, example: Any = None) -> None:
        check_model(model)
        self.model = model
        self.example = example
        self._owner = _rate_owner(model.optimizer)
        self._original = _seams.keras_rate(self._owner)
        self._swapped = not isinstance(self._original, keras.Variable)
        self._jax = keras.backend.backend() == "jax"
        self._open = False
        self._live: Any = None  # the JAX state between steps (the variables are then stale)
        self.rate: Any = None
        self._groups: tuple[list[Any], ...] = ()
        self._reset: list[np.ndarray] = []
        self._lr_index = -1

    # -- context
    def __enter__(self) -> KerasEngine:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Build the model if need be, and put in the variable the steps read the rate from."""
        if self._open:
            return
        model = self.model
        if self.example is not None:  # the model, its optimizer, loss and metrics, as fit
            build(model, self.example)
        elif not _built(model):
            raise UsageError(
                "Argument `model` must be built (call it on a batch, or give the test "
                f"data to build it with). Received: an unbuilt model={model.name!r}"
            )
        if self._swapped:
            var = self._owner.add_variable(
                (), initializer="zeros", dtype=keras.config.floatx(), name="lrlab_learning_rate"
            )
            _seams.keras_set_rate(self._owner, var)
            self.rate = var
        else:
            self.rate = self._original
        # The model's own train function (made if there is none yet, as fit would). With the
        # variable in a schedule's place the optimizer has one more variable: JAX's jit traces
        # that structure once and keeps it beside the schedule's, whose trace is used again
        # once the schedule is back; the variable's value is read from the state, so a later
        # test's new variable at the same place runs the same compiled step.
        model.make_train_function()
        opt = model.optimizer
        self._groups = (
            list(model.trainable_variables),
            list(model.non_trainable_variables),
            list(opt.variables),
            list(model.metrics_variables),
        )
        self._lr_index = next(i for i, v in enumerate(self._groups[2]) if v is self.rate)
        metrics = self._groups[3]
        saved = [_copy(v.value) for v in metrics]
        model.reset_metrics()
        self._reset = [_copy(v.value) for v in metrics]
        for v, a in zip(metrics, saved):
            v.assign(a)
        if self._jax:
            self._per_step = _per_step(str(self.rate.dtype), self._reset)
        self._open = True

    def close(self) -> None:
        """Write the state back, and give the optimizer its schedule and the model its train
        function back."""
        if not self._open:
            return
        self._open = False
        self.flush()
        if self._swapped:
            self._owner.learning_rate = self._original  # Keras's setter untracks our variable

    # -- the Engine protocol
    @property
    def variables(self) -> list[Any]:
        """Every variable a step changes: model, optimizer, metrics."""
        return [v for group in self._groups for v in group]

    def flush(self) -> None:
        """Write the JAX state carried between steps back into the variables."""
        if self._live is None:
            return
        live, self._live = self._live, None
        for group, values in zip(self._groups, live):
            for v, a in zip(group, values):
                v.assign(a)

    def save(self) -> tuple[tuple[np.ndarray, ...], Any]:
        """``(a NumPy copy of every variable, the torch backend's global RNG state)``."""
        self.open()
        self.flush()
        return tuple(_copy(v.value) for v in self.variables), _torch_rng()

    def restore(self, state: tuple[tuple[np.ndarray, ...], Any]) -> None:
        values, rng = state
        self._live = None
        if self._jax:  # the state the next step starts from; the variables get it on flush
            cut = list(itertools.accumulate(len(g) for g in self._groups))
            groups = [list(values[a:b]) for a, b in zip([0, *cut[:-1]], cut)]
            self._live = _device_copy()(tuple(groups))
            return
        for v, a in zip(self.variables, values):
            v.assign(a)
        _set_torch_rng(rng)

    def train(self) -> None:
        """Nothing: Keras's train step runs the layers in training mode itself."""

    def step(self, batch: Any, lr: float) -> float:
        self.open()
        if not self._jax:
            self.rate.assign(lr)
            logs = self.model.train_on_batch(*_xyw(batch), return_dict=True)  # resets metrics
            return float(logs["loss"])
        # The batch as fit passes it ((x, y) stays a pair): the same structure, the same trace.
        data = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if self._live is None:
            self._live = _device_copy()(tuple([v.value for v in g] for g in self._groups))
        tv, ntv, ov, _ = self._live
        ov = list(ov)
        ov[self._lr_index], mv = self._per_step(float(lr))
        logs, self._live = self.model.train_function((tv, ntv, ov, mv), iter([data]))
        return float(logs["loss"])


_COPY: list[Callable[[Any], Any]] = []


def _device_copy() -> Callable[[Any], Any]:
    """A compiled copy of a nest of arrays (JAX or NumPy) into new device buffers, one call
    for them all: the state a step donates is never a variable's own buffer, nor a
    snapshot's memory."""
    if not _COPY:
        import jax
        import jax.numpy as jnp

        _COPY.append(jax.jit(lambda tree: jax.tree.map(jnp.copy, tree)))
    return _COPY[0]


#: The compiled makers of a step's rate and reset metrics, by their dtypes and values.
_PER_STEP: dict[tuple[Any, ...], Callable[[float], Any]] = {}


def _per_step(dtype: str, resets: list[np.ndarray]) -> Callable[[float], Any]:
    """``lr -> (rate array, reset metric arrays)`` in new buffers (Keras's train step donates
    its state): one small compiled call per step rather than one dispatch per array,
    compiled once per kind of model."""
    key = (dtype, *((a.dtype.str, a.shape, a.tobytes()) for a in resets))
    if key not in _PER_STEP:
        import jax
        import jax.numpy as jnp

        values = [np.array(a, copy=True) for a in resets]
        _PER_STEP[key] = jax.jit(
            lambda lr: (jnp.asarray(lr, dtype), [jnp.asarray(v) for v in values])
        )
    return _PER_STEP[key]


def _torch_rng() -> Any:
    """On the torch backend, torch's global RNG state (its CPU generator, and CUDA's when in
    use): Keras's torch dropout without a seed draws from it, not from a seed generator."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_torch_rng(rng: Any) -> None:
    if rng is None:
        return
    import torch

    torch.set_rng_state(rng[0])
    if rng[1] is not None:
        torch.cuda.set_rng_state_all(rng[1])


def build(model: Any, batch: Any) -> None:
    """Build an unbuilt compiled model (and its optimizer, loss and metrics) from one batch;
    a batch that does not fit it is a UsageError."""
    x, y, w = _xyw(batch)
    try:
        _seams.keras_build(model, (x, y, w))
    except (ValueError, TypeError, RuntimeError) as exc:
        raise UsageError(
            "Argument `x` must hold batches that fit the model's inputs (building the model "
            f"on the first one failed: {exc}). Received: a batch of {_describe(batch)}"
        ) from None


def _describe(batch: Any) -> str:
    def one(a: Any) -> str:
        shape = getattr(a, "shape", None)
        if shape is None:
            return type(a).__name__
        return f"{keras.backend.standardize_dtype(a.dtype)}{list(shape)}"

    return str(keras.tree.map_structure(one, batch))


# --------------------------------------------------------------------------- the data


def _is_array(a: Any) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "__getitem__")


def _arrays(name: str, value: Any) -> int:
    """The number of samples of ``value`` (an array or a nest of them), checked."""
    leaves = keras.tree.flatten(value)
    if not leaves or not all(_is_array(a) and len(a.shape) >= 1 for a in leaves):
        raise UsageError(f"Argument `{name}` must be {X_RULE}. Received: {name}={shown(value)}")
    sizes = {int(a.shape[0]) for a in leaves}
    if len(sizes) != 1:
        raise UsageError(
            f"Argument `{name}` must hold arrays of one length. Received: lengths {sorted(sizes)}"
        )
    return sizes.pop()


def _is_tf_dataset(x: Any) -> bool:
    return any(c.__module__.startswith("tensorflow") and c.__name__ == "DatasetV2"
               for c in type(x).__mro__)  # fmt: skip


class _NumpyPasses:
    """A ``tf.data.Dataset`` as a re-iterable source of NumPy batches."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def __iter__(self) -> Iterator[Any]:  # pragma: no cover - TensorFlow is not installed here
        return iter(self.ds.as_numpy_iterator())


class _ReadAhead:
    """A one-shot iterator whose first ``n`` batches are drawn at once: ending before them is a
    UsageError before anything trains; the rest are drawn as the test goes."""

    def __init__(self, it: Iterator[Any], n: int) -> None:
        self.head: deque[Any] = deque(itertools.islice(it, n))
        if len(self.head) < n:
            raise UsageError(
                f"Argument `x` must give at least {n} batches (the sweep's num_steps) when it "
                f"is a one-shot iterator. Received: a generator that held {len(self.head)}"
            )
        self.it = it

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self.head.popleft() if self.head else next(self.it)


def training_data(x: Any, y: Any, batch_size: Any, num_steps: int) -> tuple[Iterable[Any], Any]:
    """``(batches, first batch)`` of ``find_lr``'s ``x``, checked before anything trains.

    Arrays give the batches ``x[i*b:(i+1)*b]`` (with ``y``'s) in order, the last partial
    batch dropped when there is a full one, and are iterated again; a ``PyDataset`` and a
    ``tf.data.Dataset`` are iterated again; a generator is read until it ends, its first
    ``num_steps`` batches at once.
    """
    if x is None:
        raise UsageError(f"Argument `x` must be {X_RULE}. Received: x=None")
    if isinstance(x, keras.utils.PyDataset) or _is_tf_dataset(x) or isinstance(x, Iterator):
        if y is not None:
            raise UsageError(
                "Argument `y` must be None when `x` is a dataset or a generator (its batches "
                f"hold the targets). Received: y={shown(y)}"
            )
        if batch_size is not None:
            raise UsageError(
                "Argument `batch_size` must be None when `x` is a dataset or a generator (its "
                f"batches have their size). Received: batch_size={shown(batch_size)}"
            )
        if isinstance(x, Iterator):
            ahead = _ReadAhead(x, num_steps)
            return ahead, ahead.head[0]
        source: Iterable[Any] = _NumpyPasses(x) if _is_tf_dataset(x) else x
        try:
            first = next(iter(source))
        except StopIteration:
            raise UsageError(
                f"Argument `x` must hold at least one batch. Received: an empty {type(x).__name__}"
            ) from None
        return source, first
    n = _arrays("x", x)
    if y is None:
        raise UsageError(
            "Argument `y` must be given with arrays `x` (the targets of the compiled loss). "
            "Received: y=None"
        )
    if _arrays("y", y) != n:
        raise UsageError(
            f"Argument `y` must have as many samples as `x` ({n}). Received: y of "
            f"{_arrays('y', y)} samples"
        )
    size = 32 if batch_size is None else batch_size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= n:
        raise UsageError(
            f"Argument `batch_size` must be a positive integer of at most the {n} samples of "
            f"`x`, or None (32). Received: batch_size={shown(batch_size)}"
        )
    size = int(size)

    def part(a: Any, i: int) -> Any:
        return keras.tree.map_structure(lambda v: v[i : i + size], a)

    batches = [(part(x, i), part(y, i)) for i in range(0, (n // size) * size, size)]
    return batches, batches[0]


def _validation(
    model: Any, data: Any, batch_size: int | None, engine: KerasEngine
) -> tuple[Callable[[], float] | None, int | None]:
    """``(val, n_val)``: the compiled loss on ``validation_data`` in inference mode
    (``model.evaluate``), of the engine's current state."""
    if data is None:
        return None, None
    if isinstance(data, keras.utils.PyDataset) or _is_tf_dataset(data):
        args: tuple[Any, ...] = (data,)
        n_val = None
        kwargs: dict[str, Any] = {}
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        n_val = _arrays("validation_data", data[0])
        if _arrays("validation_data", data[1]) != n_val:
            raise UsageError(
                "Argument `validation_data` must be (x_val, y_val) of one length. Received: "
                f"{n_val} inputs and {_arrays('validation_data', data[1])} targets"
            )
        args = tuple(data)
        kwargs = {"batch_size": batch_size or 32}
    else:
        raise UsageError(
            "Argument `validation_data` must be (x_val, y_val) arrays, (x_val, y_val, "
            "sample_weight), a keras.utils.PyDataset or a tf.data.Dataset, or None. "
            f"Received: validation_data={shown(data)}"
        )

    def val() -> float:
        engine.flush()
        logs = model.evaluate(*args, verbose=0, return_dict=True, **kwargs)
        return float(logs["loss"])

    return val, n_val


# --------------------------------------------------------------------------- find_lr


def find_lr(
    model: Any,
    x: Any = None,
    y: Any = None,
    *,
    batch_size: int | None = None,
    validation_data: Any = None,
    horizon: int | None = None,
    budget: float = 0.25,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    beta: float = 0.98,
    debias: bool = True,
    diverge: float = 4.0,
    confirm: int | None = None,
    horizon_exponent: float | None = None,
    rule: AdviceRule | None = None,
    deterministic: bool = False,
    quiet: bool = True,
) -> FinderResult:
    """Run the LR range test (sweep, then lrlab's race) on a compiled Keras model.

    The sweep trains one step per rate ``lr_i = min_lr (max_lr / min_lr)^(i / (num_steps -
    1))`` (``mode="exponential"``; ``"linear"`` spaces them evenly) and stops once the
    smoothed loss exceeds ``diverge`` times its minimum; lrlab's race then trains a few
    rates from the very same start on the very same batches and carries the best to a run
    of ``horizon`` steps, within ``budget`` of that run (as :func:`lrlab.finder.find_lr`,
    whose options these are).  The model is restored bit for bit afterwards.

    Args:
        model: a compiled ``keras.Model`` (its optimizer's ``learning_rate`` a float, a
            ``LearningRateSchedule`` or a callable).  An unbuilt one is built on the first
            batch, as ``fit`` would.
        x, y: NumPy arrays (``x`` may be a list, tuple or dict of them for a multi-input
            model), batched in order by ``batch_size`` (default 32; a last partial batch is
            dropped) and iterated again as needed; or ``x`` alone as a
            ``keras.utils.PyDataset``, a ``tf.data.Dataset`` (both iterated again) or a
            generator of ``(x, y)`` / ``(x, y, sample_weight)`` batches (read until it
            ends; its first ``num_steps`` batches are drawn before anything trains).
        batch_size: for arrays only.
        validation_data: ``(x_val, y_val)`` arrays (or with sample weights, or a dataset):
            the race scores its rates by the compiled loss there, in inference mode
            (``model.evaluate``), instead of by their training loss.
        horizon: the length in steps of the run the advice is for (``epochs *
            steps_per_epoch``; ``None``: ten times the sweep).
        budget, min_lr, max_lr, num_steps, mode, beta, debias, diverge, confirm,
        horizon_exponent, rule, deterministic, quiet: as :func:`lrlab.finder.find_lr`.

    Returns:
        A :class:`~lrlab.finder.FinderResult`.

    Raises:
        UsageError: before anything trains, on a bad option, a model that is not a
            compiled Keras model, an optimizer whose rate cannot be set, arrays ``x``
            without ``y``, a bad ``batch_size``, a generator shorter than the sweep, or a
            first batch that does not fit the model; and, with the model restored, on a
            generator that ends during the race.
    """
    s = SweepSettings.of(
        min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode=mode, beta=beta, debias=debias,
        diverge=diverge, confirm=confirm, budget=budget, horizon=horizon,
        horizon_exponent=horizon_exponent, rule=rule,
    )  # fmt: skip
    check_model(model)
    data, first = training_data(x, y, batch_size, s.num_steps)
    with KerasEngine(model, example=first) as engine:
        val, n_val = _validation(model, validation_data, batch_size, engine)
        return range_test(
            s, engine, Batches(data, needed=s.draws, pairs=False, name="x"), val=val, n_val=n_val,
            deterministic=deterministic, quiet=quiet, label="lr range test (keras)",
        )  # fmt: skip


# --------------------------------------------------------------------------- the callback


class LRFinder(keras.callbacks.Callback):
    """The range test's sweep inside the user's own ``model.fit(...)``.

    Each batch trains at the next rate of the ramp (set in ``on_train_batch_begin``, with
    the metrics reset, so the loss logged for the batch is that batch's own, not the epoch's
    running mean); ``on_train_batch_end`` records it and stops training
    (``model.stop_training``) once the smoothed loss exceeds ``diverge`` times its minimum,
    a loss is not finite, or the ramp has run.  ``on_train_end`` puts every variable of the
    model, the optimizer (its rate or schedule included) and the metrics back as they were
    at ``on_train_begin``, bit for bit.  ``fit`` must have at least one batch per ramp rate
    for the whole sweep (``epochs * steps_per_epoch >= num_steps``); a shorter fit gives a
    shorter curve.

    :attr:`result` is a :class:`~lrlab.finder.FinderResult` with the peer rules'
    suggestions and lrlab's unconfirmed proposal (one lattice step below the sweep's
    anchor, as ``find_lr(..., confirm=0)``).  There is no race inside ``fit``: the race
    trains several rates from the same start, which one ``fit`` cannot; :func:`find_lr`
    runs it.  ``result.stop_reason`` is ``"fit_ended"`` when ``fit`` ran out of batches
    before the ramp did.  If ``fit`` raises, Keras calls no ``on_train_end`` and nothing is
    restored.

    Args:
        min_lr, max_lr, num_steps, mode, beta, debias, diverge: as :func:`find_lr`.
    """

    def __init__(
        self,
        min_lr: float = 1e-7,
        max_lr: float = 10.0,
        num_steps: int = 100,
        mode: str = "exponential",
        beta: float = 0.98,
        debias: bool = True,
        diverge: float = 4.0,
    ) -> None:
        super().__init__()
        self.settings = SweepSettings.of(
            min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode=mode, beta=beta,
            debias=debias, diverge=diverge, confirm=0, budget=0.25, horizon=None,
            horizon_exponent=None, rule=None,
        )  # fmt: skip
        s = self.settings
        self.lrs = ramp(s.min_lr, s.max_lr, s.num_steps, s.mode)
        self.result: FinderResult | None = None
        self._engine: KerasEngine | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._engine = KerasEngine(self.model)
        self._engine.open()
        self._start = self._engine.save()
        self._losses: list[float] = []
        self._ema = Ema(self.settings.beta, self.settings.debias)
        self._best = math.inf
        self._stop = "max_lr"
        self.result = None

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        engine = self._engine
        if engine is None:
            return
        i = len(self._losses)
        if i >= len(self.lrs):
            self.model.stop_training = True
            return
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:  # JAX's fit carries the state as arrays; a sync makes it re-read
            sync()
        engine.rate.assign(float(self.lrs[i]))
        self.model.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._engine is None or len(self._losses) >= len(self.lrs):
            return
        loss = float((logs or {})["loss"])
        self._losses.append(loss)
        i = len(self._losses) - 1
        if not math.isfinite(loss):
            self._stop = "non-finite"
            self.model.stop_training = True
            return
        smooth = self._ema.add(loss)
        if i > 0 and smooth > self.settings.diverge * self._best:
            self._stop = "diverged"
            self.model.stop_training = True
        self._best = min(self._best, smooth)
        if len(self._losses) >= len(self.lrs):
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        engine, self._engine = self._engine, None
        if engine is None:
            return
        try:
            engine.restore(self._start)
        finally:
            engine.close()
        lrs, losses = self.lrs[: len(self._losses)], np.asarray(self._losses, dtype=np.float64)
        stop = "fit_ended" if self._stop == "max_lr" and len(lrs) < len(self.lrs) else self._stop
        at = anchor(lrs, losses) if len(lrs) else None
        self.result = result_of(self.settings, lrs, losses, stop, at, None, len(losses))
