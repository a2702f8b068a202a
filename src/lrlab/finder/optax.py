"""The LR range test on a JAX/Optax training step: :func:`find_lr` and its engine,
:class:`OptaxEngine`.

The test is lrlab's framework-neutral one (:func:`lrlab.finder._sweep.range_test`: the
ramp, the smoothing and stop rule, the peers' rules, lrlab's race and horizon carry); this
module supplies its training step.  One step at rate ``lr`` on ``batch`` is::

    loss, g = value_and_grad(loss_fn)(params, batch)      # loss before the update
    opt_state.hyperparams["learning_rate"] = lr            # a traced argument
    updates, opt_state = tx.update(g, opt_state, params)
    params = optax.apply_updates(params, updates)

compiled by ``jax.jit`` once for every step and every rate (the rate is an argument of
the compiled function, not a constant baked into it).  Nothing is donated: the caller's
``params`` and optimizer state are read, never consumed, and are as they were afterwards.

    >>> import jax, jax.numpy as jnp, optax
    >>> from lrlab.finder.optax import find_lr
    >>> x = jax.random.normal(jax.random.key(0), (64, 3))
    >>> y = x @ jnp.array([1.0, -2.0, 0.5])
    >>> params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    >>> def loss_fn(p, batch):
    ...     xb, yb = batch
    ...     return jnp.mean((xb @ p["w"] + p["b"] - yb) ** 2)
    >>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    >>> result = find_lr(loss_fn, params, tx, [(x, y)], num_steps=40, confirm=0)
    >>> bool(jnp.all(params["w"] == 0))
    True
    >>> len(result.lrs) <= 40 and result.steps == len(result.lrs)
    True
    >>> "lrlab" in result.suggestions
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrlab.errors import UsageError
from lrlab.finder._batches import Batches, describe
from lrlab.finder._result import FinderResult
from lrlab.finder._settings import SweepSettings
from lrlab.finder._sweep import range_test
from lrlab.finder.advice import AdviceRule

__all__ = ["OptaxEngine", "find_lr"]

#: What ``optimizer`` must be, in every message that refuses one.
OPTIMIZER_RULE = (
    "an Optax transformation whose learning rate can be set at each step: built with "
    "optax.inject_hyperparams(...)(learning_rate=<a number>), or a factory lr -> "
    "GradientTransformation (such as optax.adam)"
)


class OptaxEngine:
    """The range test's :class:`~lrlab.finder._sweep.Engine` for a JAX loss and an Optax
    transformation.

    Its state is the pair ``(params, opt_state)`` of pytrees; :meth:`save` returns it as
    it is (JAX arrays are immutable, so holding it is a snapshot) and :meth:`restore`
    puts one back.  :meth:`step` runs one ``jax.jit``-compiled update at a rate passed as
    a traced argument into ``opt_state.hyperparams["learning_rate"]`` (an
    ``optax.inject_hyperparams`` state), so every step and every rate run the one
    compiled function; :attr:`traces` counts how often it was traced.  Nothing is
    donated, so no array the engine was given or returned is ever invalidated.

    Model state: with ``has_aux=True``, ``params`` is a pair ``(trainable, model_state)``
    (for instance Flax BatchNorm's ``batch_stats``); ``loss_fn((trainable, model_state),
    batch)`` returns ``(loss, new_model_state)``; the gradient is taken with respect to
    ``trainable`` only, ``opt_state`` is the optimizer's state of ``trainable``, and the
    step carries ``new_model_state`` on.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar`` (or ``(scalar, new_model_state)``
            with ``has_aux``).
        params: a pytree of arrays (or the pair above).
        tx: the transformation; its state must carry ``hyperparams["learning_rate"]``.
        opt_state: ``tx``'s state of the trainable parameters.
        has_aux: whether the model has state, as above.
    """

    def __init__(
        self,
        loss_fn: Callable[[Any, Any], Any],
        params: Any,
        tx: optax.GradientTransformation,
        opt_state: Any,
        *,
        has_aux: bool = False,
    ) -> None:
        self.loss_fn, self.tx, self.has_aux = loss_fn, tx, has_aux
        self.traces = 0  # how often the step was traced (compiled)
        self.score_traces = 0  # how often the validation loss was traced
        self._state: tuple[Any, Any] = (params, opt_state)
        self._lr_dtype = np.dtype(jnp.asarray(opt_state.hyperparams["learning_rate"]).dtype)
        self._lr_type = self._lr_dtype.type  # a NumPy scalar: a strong dtype, cheap to pass
        self._step = jax.jit(self._update)
        self._score = jax.jit(self._loss)

    # ---------------------------------------------------------------- traced functions
    def _update(self, state: tuple[Any, Any], batch: Any, lr: jax.Array) -> tuple[Any, Any]:
        self.traces += 1
        params, opt_state = state
        if self.has_aux:
            trainable, model_state = params

            def objective(p: Any) -> Any:
                return self.loss_fn((p, model_state), batch)

            (loss, new_model_state), grads = jax.value_and_grad(objective, has_aux=True)(trainable)
        else:
            trainable = params
            loss, grads = jax.value_and_grad(self.loss_fn)(params, batch)
        hyperparams = dict(opt_state.hyperparams)
        hyperparams["learning_rate"] = jnp.asarray(lr, self._lr_dtype)
        opt_state = opt_state._replace(hyperparams=hyperparams)
        updates, opt_state = self.tx.update(grads, opt_state, trainable)
        trainable = optax.apply_updates(trainable, updates)
        params = (trainable, new_model_state) if self.has_aux else trainable
        return (params, opt_state), loss

    def _loss(self, params: Any, batch: Any) -> Any:
        self.score_traces += 1
        out = self.loss_fn(params, batch)
        return out[0] if self.has_aux else out

    # ---------------------------------------------------------------- the Engine protocol
    def save(self) -> tuple[Any, Any]:
        """The current ``(params, opt_state)`` (immutable pytrees: a snapshot as it is)."""
        return self._state

    def restore(self, state: tuple[Any, Any]) -> None:
        """Put back a ``(params, opt_state)`` that :meth:`save` returned."""
        self._state = state

    def train(self) -> None:
        """A no-op: a JAX loss has no training mode besides what ``loss_fn`` does."""

    def step(self, batch: Any, lr: float) -> float:
        """One compiled update at rate ``lr`` on ``batch``; the batch's loss before it."""
        self._state, loss = self._step(self._state, batch, self._lr_type(lr))
        return float(loss)

    def score(self, batch: Any) -> float:
        """``loss_fn`` of the current params on ``batch`` (compiled once; with
        ``has_aux`` the new model state is dropped, so scoring changes nothing)."""
        return float(self._score(self._state[0], batch))

    @property
    def params(self) -> Any:
        """The current parameters (with ``has_aux``: the pair with the model state)."""
        return self._state[0]

    @property
    def opt_state(self) -> Any:
        """The current optimizer state."""
        return self._state[1]


def find_lr(
    loss_fn: Callable[[Any, Any], Any],
    params: Any,
    optimizer: optax.GradientTransformation | Callable[[float], optax.GradientTransformation],
    batches: Iterable[Any],
    *,
    opt_state: Any = None,
    has_aux: bool = False,
    val_batch: Any = None,
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
    """Run the LR range test on a JAX loss and an Optax optimizer; the caller's
    ``params`` and ``opt_state`` are not changed (nothing is donated).

    Args:
        loss_fn: ``loss_fn(params, batch)`` gives the batch's loss as a scalar (checked
            with ``jax.eval_shape`` on the first batch before anything trains).  With
            ``has_aux=True`` it returns ``(loss, new_model_state)``, see ``params``.
        params: a pytree of floating arrays (JAX or NumPy).  With ``has_aux=True``, a
            pair ``(trainable, model_state)``: ``loss_fn`` gets the pair, the gradient
            and the optimizer see ``trainable`` only, and each step carries the
            ``new_model_state`` that ``loss_fn`` returned on (Flax BatchNorm's
            ``batch_stats``, say).
        optimizer: ``optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)`` (any
            transformation whose state has ``hyperparams["learning_rate"]`` set from a
            number, not a schedule), or a factory ``lr -> GradientTransformation``
            (``optax.adam``, ``lambda lr: optax.chain(optax.clip(1.0), optax.sgd(lr))``),
            wrapped in ``optax.inject_hyperparams`` here.
        batches: any iterable of batches (pytrees of arrays). One that can be iterated
            again (a list) restarts when exhausted; a one-shot one (a generator) is read
            up front, as many batches as the test may draw, so that one too short is
            refused before anything trains.  Batches of one shape compile the step once;
            each further shape (a short last batch) compiles it once more.
        opt_state: the optimizer's state to start from (``None``: ``optimizer.init`` of
            the trainable parameters); its learning rate is overwritten at each step of
            the test's own copies, never in the caller's.
        has_aux: the model has state, as described under ``params``.
        val_batch: one batch; when given, probes are scored by ``loss_fn`` there (with
            ``has_aux``, the returned model state is dropped), else by their training
            loss.
        horizon, budget, min_lr, max_lr, num_steps, mode, beta, debias, diverge,
        confirm, horizon_exponent, rule, deterministic, quiet: as in the PyTorch
            :func:`lrlab.finder.find_lr`.

    Returns:
        The :class:`~lrlab.finder.FinderResult` (curve, suggestions with ``"lrlab"``,
        ``why``, ``steps``).
    """
    settings = SweepSettings.of(
        min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode=mode, beta=beta,
        debias=debias, diverge=diverge, confirm=confirm, budget=budget, horizon=horizon,
        horizon_exponent=horizon_exponent, rule=rule,
    )  # fmt: skip
    if not callable(loss_fn):
        raise UsageError(
            "Argument `loss_fn` must be a function loss_fn(params, batch) -> scalar. "
            f"Received: loss_fn={type(loss_fn).__name__}"
        )
    if not isinstance(has_aux, bool):
        raise UsageError(f"Argument `has_aux` must be True or False. Received: has_aux={has_aux!r}")
    params = _checked_params(params, has_aux)
    trainable = params[0] if has_aux else params
    tx = _transformation(optimizer, settings.min_lr, trainable)
    opt_state = _start_state(tx, trainable, opt_state)
    data, first = _source(batches, settings.draws)
    _check_loss(loss_fn, params, first, has_aux, "batches", "the first batch of `batches`")
    if val_batch is not None:
        _check_loss(loss_fn, params, val_batch, has_aux, "val_batch", "`val_batch`")
    engine = OptaxEngine(loss_fn, params, tx, opt_state, has_aux=has_aux)
    return range_test(
        settings, engine, Batches(data, needed=settings.draws, pairs=False),
        val=None if val_batch is None else (lambda: engine.score(val_batch)),
        n_val=None if val_batch is None else _leading(val_batch),
        deterministic=deterministic, quiet=quiet, label="lr range test",
    )  # fmt: skip


# ---------------------------------------------------------------------------- checks
def _checked_params(params: Any, has_aux: bool) -> Any:
    """``params`` with every leaf a JAX array (NumPy ones moved over; nothing written)."""
    if has_aux:
        if not isinstance(params, (tuple, list)) or len(params) != 2:
            raise UsageError(
                "Argument `params` must be a pair (trainable parameters, model state) when "
                f"has_aux=True. Received: params={describe(params)}"
            )
        trainable, model_state = params
        _check_arrays(model_state, "params[1]", floating=False)
        _check_arrays(trainable, "params[0]", floating=True)
        return (_as_jax(trainable), _as_jax(model_state))
    _check_arrays(params, "params", floating=True)
    return _as_jax(params)


def _check_arrays(tree: Any, name: str, *, floating: bool) -> None:
    leaves = jax.tree.leaves(tree)
    kind = "floating arrays" if floating else "arrays"
    bad = [
        x
        for x in leaves
        if not isinstance(x, (jax.Array, np.ndarray))
        or (floating and not jnp.issubdtype(x.dtype, jnp.floating))
    ]
    if (floating and not leaves) or bad:
        what = "no arrays" if not leaves else f"a {type(bad[0]).__name__} leaf"
        if leaves and isinstance(bad[0], (jax.Array, np.ndarray)):
            what = f"a {bad[0].dtype} array"
        raise UsageError(
            f"Argument `{name}` must be a pytree of {kind} (JAX or NumPy). "
            f"Received: {name}={describe(tree)} ({what})"
            + (
                "; integer or other non-trainable arrays belong in the model state: pass "
                "params=(trainable, model_state) with has_aux=True"
                if floating and leaves and name == "params"
                else ""
            )
        )


def _as_jax(tree: Any) -> Any:
    return jax.tree.map(lambda x: x if isinstance(x, jax.Array) else jnp.asarray(x), tree)


def _transformation(
    optimizer: Any, first_lr: float, trainable: Any
) -> optax.GradientTransformation:
    """``optimizer`` itself, or the factory wrapped in ``optax.inject_hyperparams``, unless
    what it makes is injectable already (``lambda lr: inject_hyperparams(sgd)(
    learning_rate=lr)``): wrapped, that one would keep the rate its state was made with,
    since an inject_hyperparams update reads its rate from its state."""
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    if not callable(optimizer):
        raise UsageError(
            f"Argument `optimizer` must be {OPTIMIZER_RULE}. "
            f"Received: optimizer={type(optimizer).__name__}"
        )
    factory = optimizer

    def inner(learning_rate: Any) -> optax.GradientTransformation:
        made: optax.GradientTransformation = factory(learning_rate)
        return made

    try:
        made = factory(first_lr)
    except TypeError as err:
        raise UsageError(
            f"Argument `optimizer` must be {OPTIMIZER_RULE}. Received: optimizer="
            f"{getattr(factory, '__name__', type(factory).__name__)}, which failed when "
            f"called with a rate: {err}"
        ) from err
    if not isinstance(made, optax.GradientTransformation):
        raise UsageError(
            f"Argument `optimizer` must be {OPTIMIZER_RULE}. Received: a factory that "
            f"returned {type(made).__name__}"
        )
    if not _injectable(jax.eval_shape(made.init, trainable)):
        return made
    tx: optax.GradientTransformation = optax.inject_hyperparams(inner)(learning_rate=first_lr)
    return tx


def _injectable(state: Any) -> str:
    """Why ``state`` has no learning rate the test can set ("" when it has one)."""
    hyperparams = getattr(state, "hyperparams", None)
    if not isinstance(hyperparams, dict) or "learning_rate" not in hyperparams:
        return f"whose state is {type(state).__name__}, with no hyperparams['learning_rate']"
    if "learning_rate" in (getattr(state, "hyperparams_states", None) or {}):
        return (
            "whose learning_rate is a schedule, which would overwrite the rate set at each "
            "step (inject a number instead)"
        )
    if not hasattr(state, "_replace"):
        return f"whose state is {type(state).__name__}, not an inject_hyperparams state"
    return ""


def _start_state(tx: optax.GradientTransformation, trainable: Any, opt_state: Any) -> Any:
    """The optimizer state to start from, refused if its rate cannot be set."""
    expected = jax.eval_shape(tx.init, trainable)
    why = _injectable(expected)
    if why:
        hint = (
            ""
            if "schedule" in why
            else (
                " (optax.sgd(0.1)? pass optax.inject_hyperparams(optax.sgd)(learning_rate=0.1) "
                "or the factory optax.sgd)"
            )
        )
        raise UsageError(
            f"Argument `optimizer` must be {OPTIMIZER_RULE}. Received: optimizer="
            f"{type(tx).__name__}, {why}{hint}"
        )
    if opt_state is None:
        return tx.init(trainable)
    got: Any = jax.tree.structure(opt_state)
    if got != jax.tree.structure(expected) or _injectable(opt_state):
        raise UsageError(
            "Argument `opt_state` must be the state of `optimizer` for `params` "
            "(optimizer.init(params)) or None. Received: "
            f"opt_state={type(opt_state).__name__} with structure {got}"
        )
    return _as_jax(opt_state)


def _source(batches: Any, needed: int) -> tuple[Iterable[Any], Any]:
    """``batches`` ready for :class:`Batches` and its first batch: a one-shot iterable
    is read up front (up to ``needed`` batches), refused if it ends sooner."""
    try:
        it = iter(batches)
    except TypeError:
        raise UsageError(
            "Argument `batches` must be an iterable of batches (a list, a generator). "
            f"Received: batches={type(batches).__name__}"
        ) from None
    kind = type(batches).__name__
    if it is not batches:
        try:
            return batches, next(it)
        except StopIteration:
            raise UsageError(
                f"Argument `batches` must yield at least one batch. Received: an empty {kind}"
            ) from None
    held: list[Any] = []
    for batch in it:
        held.append(batch)
        if len(held) == needed:
            break
    if not held:
        raise UsageError(
            "Argument `batches` must yield at least one batch. Received: an empty "
            f"{kind} (a generator or iterator already used up?)"
        )
    if len(held) < needed:
        raise UsageError(
            f"Argument `batches` ended after {len(held)} batches, but the range test needs "
            f"up to {needed} (the sweep's `num_steps` and the race's probes). Received: a "
            f"one-shot {kind}; pass one that can be iterated again (a list), a longer one, "
            "or ask for less (`num_steps`, `confirm=0`)"
        )
    return held, held[0]


def _check_loss(
    loss_fn: Callable[[Any, Any], Any],
    params: Any,
    batch: Any,
    has_aux: bool,
    name: str,
    where: str,
) -> None:
    """``loss_fn(params, batch)`` traced abstractly: a floating scalar (with ``has_aux``,
    and a model state of the structure of ``params[1]``), else a UsageError."""
    try:
        out = jax.eval_shape(loss_fn, params, batch)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as err:
        first = (str(err).strip().splitlines() or [""])[0]
        raise UsageError(
            f"Argument `{name}` must hold batches that `loss_fn` accepts. Received: "
            f"{describe(batch)}, on which loss_fn(params, batch) raised "
            f"{type(err).__name__}: {first}"
        ) from err
    if has_aux:
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise UsageError(
                "Argument `loss_fn` must return (loss, new_model_state) when has_aux=True. "
                f"Received: {describe(out)} on {where}"
            )
        loss, new_state = out
        structure: Any = jax.tree.structure(new_state)
        if structure != jax.tree.structure(params[1]):
            raise UsageError(
                "Argument `loss_fn` must return a new model state of the structure of "
                f"params[1]. Received: {describe(new_state)} on {where}, for params[1]="
                f"{describe(params[1])}"
            )
    else:
        loss = out
    if (
        not isinstance(loss, jax.ShapeDtypeStruct)
        or loss.shape != ()
        or not jnp.issubdtype(loss.dtype, jnp.floating)
    ):
        raise UsageError(
            "Argument `loss_fn` must return the batch's loss as a floating scalar. "
            f"Received: {describe(loss)} on {where} (a per-example loss? take its mean)"
        )


def _leading(batch: Any) -> int | None:
    """The batch's size: the leading dimension of its first array."""
    leaves = [x for x in jax.tree.leaves(batch) if getattr(x, "ndim", 0) >= 1]
    return int(leaves[0].shape[0]) if leaves else None
