"""A task's model, loss, optimizer and batches built again in Keras and in JAX/Optax, with the
very weights its torch model starts from, so that one task can be trained (and its rate
found) in all three frameworks from the same point on the same batches.

The torch model is read into a short list of operations (:func:`operations`): ``dense``
(``x @ W + b``), ``relu``, ``tanh``, ``embed`` (a row of a table per token), ``flatten``,
``channel`` (a signal becomes one channel; a flatten after it is marked ``channels``) and
``conv1d`` (zero padding, then a strided valid convolution), which is what the built-in
tasks' models are made of (``Linear``, ``ReLU``, ``Tanh``, ``Sequential``, the 1-D CNN and
the character model). Each framework builds its model from that one list, so the three
compute the same function. Keras lays a signal out channels last, so its flatten after a
convolution transposes first, giving PyTorch's channel-major order.

The losses map one to one (``CrossEntropyLoss`` to sparse categorical cross-entropy on
logits, ``BCEWithLogitsLoss`` to binary cross-entropy on logits, ``MSELoss``, and the
quadratic task's half mean square); so do the optimizers, with PyTorch's defaults set
explicitly where Keras's or Optax's differ (Adam's ``eps=1e-8``, AdamW's
``weight_decay=0.01``, RMSprop's ``alpha=0.99`` and its ``eps`` outside the square root,
Adagrad's zero initial accumulator and ``eps=1e-10``). Keras's RMSprop and Adagrad add their
``epsilon`` inside the square root (``g / sqrt(v + epsilon)``), with no option to move it,
so they get PyTorch's ``eps`` squared (``1e-16``, ``1e-20``): the same denominator at a zero
accumulator and within float32 rounding of PyTorch's above it. Keras's Adam divides by
``sqrt(v) + eps`` before its bias correction, so its ``eps`` weighs ``sqrt(1 - beta2^t)``
times PyTorch's. Keras's momentum folds the rate into its velocity (``v = m v - lr g``)
where PyTorch and Optax scale the velocity by the current rate (``b = m b + g``, step
``lr b``): the same at a constant rate, not while a sweep raises it.

Everything is float32 (the quadratic task's float64 model too: JAX computes in float32
unless ``jax_enable_x64`` is set), so the three agree to float32 rounding, not bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lrlab.errors import UsageError

__all__ = ["OPTIMIZERS", "JaxBuild", "KerasBuild", "jax_build", "keras_build", "operations"]

#: The optimizers built in every framework (their names as in :mod:`lrlab.train.optimizers`).
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

Op = tuple[Any, ...]


def operations(model: torch.nn.Module) -> list[Op]:
    """The model as the operations both builds follow; weights as float32 NumPy arrays.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    >>> [op[0] for op in operations(net)], operations(net)[0][1].shape
    (['dense', 'tanh'], (3, 2))
    """
    from lrlab.tasks.builtin import _CharLM, _CNN1d

    if isinstance(model, torch.nn.Sequential):
        return [op for child in model for op in operations(child)]
    if isinstance(model, torch.nn.Linear):
        bias = None if model.bias is None else _np(model.bias)
        return [("dense", _np(model.weight).T.copy(), bias)]
    if isinstance(model, torch.nn.ReLU):
        return [("relu",)]
    if isinstance(model, torch.nn.Tanh):
        return [("tanh",)]
    if isinstance(model, _CNN1d):
        convs = [_conv(model.conv1), ("relu",), _conv(model.conv2), ("relu",)]
        return [("channel",), *convs, ("flatten", "channels"), *operations(model.head)]
    if isinstance(model, _CharLM):
        return [("embed", _np(model.emb.weight)), ("flatten",), *operations(model.mlp)]
    raise UsageError(
        "Argument `model` must be made of Linear, ReLU, Tanh and Sequential modules (or be a "
        "built-in task's CNN or character model) to be built in Keras and JAX. "
        f"Received: model={type(model).__name__}"
    )


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _conv(conv: torch.nn.Conv1d) -> Op:
    if conv.dilation != (1,) or conv.groups != 1 or not isinstance(conv.padding, tuple):
        raise UsageError(
            "Argument `model` has a Conv1d with dilation, groups or string padding, which the "
            f"Keras and JAX builds do not follow. Received: {conv!r}"
        )
    bias = None if conv.bias is None else _np(conv.bias)
    return ("conv1d", _np(conv.weight), bias, conv.stride[0], conv.padding[0])


def _loss_kind(loss_fn: Any) -> str:
    from lrlab.tasks.builtin import _HalfMSE

    kinds = {
        torch.nn.CrossEntropyLoss: "cross_entropy",
        torch.nn.BCEWithLogitsLoss: "binary_cross_entropy",
        torch.nn.MSELoss: "mse",
        _HalfMSE: "half_mse",
    }
    kind = kinds.get(type(loss_fn))
    reduction = getattr(loss_fn, "reduction", "mean")
    extra = getattr(loss_fn, "weight", None) is not None or getattr(loss_fn, "pos_weight", None)
    if kind is None or reduction != "mean" or extra is not None:
        raise UsageError(
            "Argument `loss_fn` must be CrossEntropyLoss, BCEWithLogitsLoss or MSELoss with "
            "the mean reduction and no weights, or the quadratic task's loss, to be built in "
            f"Keras and JAX. Received: loss_fn={type(loss_fn).__name__}(reduction={reduction!r}"
            f"{'' if extra is None else ', with weights'})"
        )
    if kind == "cross_entropy" and float(getattr(loss_fn, "label_smoothing", 0)):
        raise UsageError(
            "Argument `loss_fn` has label smoothing, which the Keras and JAX builds do not "
            f"follow. Received: loss_fn={loss_fn!r}"
        )
    return kind


def _check_optimizer(optimizer: Any) -> str:
    if optimizer not in OPTIMIZERS:
        raise UsageError(
            f"Argument `optimizer` must be one of {', '.join(OPTIMIZERS)} to be built in Keras "
            f"and JAX. Received: optimizer={optimizer!r}"
        )
    return str(optimizer)


def _stream(task: Any, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The task's own batches (:meth:`~lrlab.tasks.Task.batches`) as NumPy arrays."""
    for x, y in task.batches(seed):
        yield _array(x), _array(y)


def _array(t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu().numpy()
    return a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int32)


def _start(task: Any, optimizer: Any, seed: int) -> tuple[Any, list[Op], str, str]:
    """The task resolved, its model's operations, its loss and the optimizer, all checked."""
    from lrlab.tasks.builtin import resolve

    task = resolve(task)
    name = _check_optimizer(optimizer)
    return task, operations(task.make_model(seed)), _loss_kind(task.loss_fn), name


# ------------------------------------------------------------------------------ Keras
@dataclass(frozen=True)
class KerasBuild:
    """A task in Keras: ``model`` compiled with the task's loss and the optimizer (at
    ``lr``), starting from the torch model's weights for ``seed``; the task's training
    batches for ``seed`` and its validation split, as NumPy arrays."""

    model: Any
    batches: Iterator[tuple[np.ndarray, np.ndarray]]
    validation: tuple[np.ndarray, np.ndarray]


def keras_build(task: Any, optimizer: str = "sgd", *, seed: int = 0, lr: float = 0.1) -> KerasBuild:
    """The task's model, loss and optimizer in Keras, from the torch model's initial weights."""
    import keras

    task, ops, loss, name = _start(task, optimizer, seed)
    inputs = keras.Input(tuple(task.x_train.shape[1:]), dtype=_array(task.x_train[:1]).dtype)
    h, weights = inputs, []
    for op in ops:
        h, w = _keras_layer(keras, op, h)
        weights += w
    model = keras.Model(inputs, h)
    for layer, values in weights:
        layer.set_weights(values)
    model.compile(optimizer=_keras_optimizer(keras, name, lr), loss=_keras_loss(keras, loss))
    return KerasBuild(model, _stream(task, seed), (_array(task.x_val), _array(task.y_val)))


def _keras_layer(keras: Any, op: Op, h: Any) -> tuple[Any, list[tuple[Any, list[np.ndarray]]]]:
    kind = op[0]
    if kind in ("relu", "tanh"):
        return keras.layers.Activation(kind)(h), []
    if kind == "channel":
        return keras.layers.Reshape((*h.shape[1:], 1))(h), []
    if kind == "flatten":
        if op[1:] == ("channels",):  # Keras's (length, channels) -> torch's (channels, length)
            h = keras.layers.Permute((2, 1))(h)
        return keras.layers.Flatten()(h), []
    if kind == "embed":
        table = op[1]
        layer = keras.layers.Embedding(table.shape[0], table.shape[1])
        return layer(h), [(layer, [table])]
    if kind == "dense":
        w, b = op[1], op[2]
        layer = keras.layers.Dense(w.shape[1], use_bias=b is not None)
        return layer(h), [(layer, [w] if b is None else [w, b])]
    w, b, stride, pad = op[1], op[2], op[3], op[4]  # conv1d: (out, in, k) -> Keras (k, in, out)
    h = keras.layers.ZeroPadding1D(pad)(h) if pad else h
    layer = keras.layers.Conv1D(w.shape[0], w.shape[2], strides=stride, use_bias=b is not None)
    kernel = np.ascontiguousarray(w.transpose(2, 1, 0))
    return layer(h), [(layer, [kernel] if b is None else [kernel, b])]


def _keras_loss(keras: Any, kind: str) -> Any:
    if kind == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if kind == "binary_cross_entropy":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if kind == "mse":
        return keras.losses.MeanSquaredError()

    def half_mse(y_true: Any, y_pred: Any) -> Any:
        return 0.5 * keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1)

    return half_mse


def _keras_optimizer(keras: Any, name: str, lr: float) -> Any:
    o = keras.optimizers
    return {
        "sgd": lambda: o.SGD(lr),
        "momentum": lambda: o.SGD(lr, momentum=0.9),
        "nesterov": lambda: o.SGD(lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: o.Adagrad(lr, initial_accumulator_value=0.0, epsilon=1e-20),
        "rmsprop": lambda: o.RMSprop(lr, rho=0.99, epsilon=1e-16),
        "adam": lambda: o.Adam(lr, epsilon=1e-8),
        "adamw": lambda: o.AdamW(lr, weight_decay=0.01, epsilon=1e-8),
    }[name]()


# -------------------------------------------------------------------------------- JAX
@dataclass(frozen=True)
class JaxBuild:
    """A task in JAX/Optax: ``apply(params, x)`` the model, ``loss_fn(params, (x, y))`` its
    scalar loss, ``params`` the torch model's initial weights for ``seed`` (a list with one
    tuple of arrays per layer), ``optimizer(lr)`` the Optax transformation with its rate
    injectable (``optax.inject_hyperparams``), the task's batches for ``seed`` and its
    validation split, as NumPy arrays."""

    apply: Callable[[Any, Any], Any]
    loss_fn: Callable[[Any, Any], Any]
    params: Any
    optimizer: Callable[[float], Any]
    batches: Iterator[tuple[np.ndarray, np.ndarray]]
    validation: tuple[np.ndarray, np.ndarray]


def jax_build(task: Any, optimizer: str = "sgd", *, seed: int = 0) -> JaxBuild:
    """The task's model, loss and optimizer in JAX and Optax, from the torch model's weights."""
    import jax.numpy as jnp

    task, ops, loss, name = _start(task, optimizer, seed)
    kinds = [op[0] for op in ops]
    params = [tuple(jnp.asarray(a) for a in op[1:] if isinstance(a, np.ndarray)) for op in ops]
    statics = [op[3:] if op[0] == "conv1d" else () for op in ops]
    layers = [(k, s, op[0] in ("dense", "conv1d") and op[2] is not None) for k, s, op in
              zip(kinds, statics, ops)]  # fmt: skip

    def apply(params: Any, x: Any) -> Any:
        h = x
        for (kind, static, has_bias), p in zip(layers, params):
            h = _jax_op(kind, static, has_bias, p, h)
        return h

    loss_of = _jax_loss(loss)

    def loss_fn(params: Any, batch: Any) -> Any:
        x, y = batch
        return loss_of(apply(params, x), y)

    return JaxBuild(
        apply, loss_fn, params, _optax_optimizer(name), _stream(task, seed),
        (_array(task.x_val), _array(task.y_val)),
    )  # fmt: skip


def _jax_op(kind: str, static: tuple[Any, ...], has_bias: bool, p: Any, h: Any) -> Any:
    import jax
    import jax.numpy as jnp

    if kind == "relu":
        return jax.nn.relu(h)
    if kind == "tanh":
        return jnp.tanh(h)
    if kind == "channel":
        return h[:, None, :]
    if kind == "flatten":
        return h.reshape(h.shape[0], -1)
    if kind == "embed":
        return p[0][h]
    if kind == "dense":
        return h @ p[0] + p[1] if has_bias else h @ p[0]
    stride, pad = static  # conv1d on (batch, channels, length), PyTorch's layout
    out = jax.lax.conv_general_dilated(
        h, p[0], (stride,), [(pad, pad)], dimension_numbers=("NCH", "OIH", "NCH")
    )
    return out + p[1][None, :, None] if has_bias else out


def _jax_loss(kind: str) -> Callable[[Any, Any], Any]:
    import jax.numpy as jnp
    import optax

    def loss(out: Any, y: Any) -> Any:
        if kind == "cross_entropy":
            return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()
        if kind == "binary_cross_entropy":
            return optax.sigmoid_binary_cross_entropy(out, y).mean()
        d = out - y
        return jnp.mean(d * d) * (0.5 if kind == "half_mse" else 1.0)

    return loss


def _optax_optimizer(name: str) -> Callable[[float], Any]:
    import optax

    make: dict[str, Callable[..., Any]] = {
        "sgd": lambda learning_rate: optax.sgd(learning_rate),
        "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
        "nesterov": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9, nesterov=True),
        "adagrad": lambda learning_rate: optax.adagrad(
            learning_rate, initial_accumulator_value=0.0, eps=1e-10
        ),
        "rmsprop": lambda learning_rate: optax.rmsprop(
            learning_rate, decay=0.99, eps=1e-8, eps_in_sqrt=False
        ),
        "adam": lambda learning_rate: optax.adam(learning_rate, eps=1e-8),
        "adamw": lambda learning_rate: optax.adamw(learning_rate, eps=1e-8, weight_decay=0.01),
    }
    factory = optax.inject_hyperparams(make[name])

    def optimizer(lr: float) -> Any:
        return factory(learning_rate=lr)

    return optimizer
