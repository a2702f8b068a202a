"""The range test's batches: drawing them from any iterable, moving them to the model's
device, the loss of one batch, and the checks on model, optimizer, loss and batches that
turn a first-day mistake into a :class:`~lrlab.errors.UsageError` before anything trains.

``data`` is any iterable of batches.  One that gives a new iterator each time (a
``DataLoader``, a list) is iterated again when exhausted; a one-shot iterable (a
generator, an iterator) is used until it ends, and ending before the test is done is an
error that says how many batches it held and how many the test needed.  A batch is an
``(inputs, targets)`` pair for ``loss_fn(model(inputs), targets)``, or anything
``batch_loss(model, batch)`` takes (a dict, an HF ``BatchEncoding``, a batch whose model
computes its own loss).  Tensors in a batch, nested in tuples, lists and mappings, are
moved to the device (``non_blocking`` when pinned) right before their loss is taken.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from lrlab.errors import UsageError
from lrlab.finder._batches import Batches, describe, is_pair

__all__ = [
    "BatchLoss",
    "Batches",
    "LossFn",
    "batch_size",
    "check_data",
    "check_model_and_optimizer",
    "describe",
    "is_pair",
    "loss_of",
    "model_device",
    "resolve_device",
    "to_device",
    "val_scorer",
]

LossFn = Callable[[Any, Any], torch.Tensor]
BatchLoss = Callable[[torch.nn.Module, Any], torch.Tensor]

#: What a user's function may raise on a batch it cannot take (CrossEntropyLoss on CPU
#: raises IndexError for a class index out of range).
_BATCH_ERRORS = (RuntimeError, ValueError, IndexError, TypeError)


def batch_size(batch: Any) -> int | None:
    """The length of the first tensor in ``batch`` (``None`` without one)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else None
    values = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(values, (tuple, list)) or isinstance(batch, Mapping):
        for v in values:
            if (n := batch_size(v)) is not None:
                return n
    return None


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); CPU for a model of neither."""
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor on ``device``, through tuples (named ones too), lists
    and mappings (a ``BatchEncoding`` stays one); pinned tensors move ``non_blocking``."""
    if isinstance(batch, torch.Tensor):
        if batch.device == device:
            return batch
        return batch.to(device, non_blocking=batch.is_pinned())
    if isinstance(batch, Mapping):
        moved = {k: to_device(v, device) for k, v in batch.items()}
        try:
            return type(batch)(moved)  # type: ignore[call-arg]
        except TypeError:
            return moved
    if isinstance(batch, tuple):
        items = [to_device(v, device) for v in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else tuple(items)
    if isinstance(batch, list):
        return [to_device(v, device) for v in batch]
    return batch


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


class _FirstCall:
    """Turns the error a user's function raises on the first batch into a UsageError."""

    def __init__(self) -> None:
        self.done = False

    def run(self, fn: Callable[[], Any], message: Callable[[], str]) -> Any:
        """``fn()``; a batch error, or torch's warning that a target's size differs from
        the input's (MSELoss then broadcasts silently), becomes ``UsageError(message())``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = fn()
            except _BATCH_ERRORS as err:
                if isinstance(err, UsageError):
                    raise
                raise UsageError(f"{message()}: {_first_line(err)}") from err
        for w in caught:
            if "target size" in str(w.message) and "input size" in str(w.message):
                raise UsageError(f"{message()}: {w.message}")
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return out


def _scalar(loss: Any, name: str) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise UsageError(
            f"Argument `{name}` must return the batch's loss as a scalar tensor. Received: "
            f"{describe(loss)} (a loss with reduction='none'? take its mean)"
        )
    return loss


def loss_of(
    model: torch.nn.Module,
    loss_fn: LossFn | None,
    batch_loss: BatchLoss | None,
    device: torch.device,
    where: str = "data",
) -> Callable[[Any], torch.Tensor]:
    """The loss of one batch of ``where`` on ``device``: ``loss_fn(model(inputs), targets)``
    or ``batch_loss(model, batch)``.  The first batch is checked as it goes: a model that
    cannot take its inputs, a loss that cannot take the outputs and targets, or a loss
    that is not a scalar is a UsageError naming the argument and the shapes."""
    first = _FirstCall()

    def loss(batch: Any) -> torch.Tensor:
        batch = to_device(batch, device)
        if first.done:
            if batch_loss is not None:
                return batch_loss(model, batch)
            assert loss_fn is not None
            return loss_fn(model(batch[0]), batch[1])
        first.done = True
        if batch_loss is not None:
            value = first.run(
                lambda: batch_loss(model, batch),
                lambda: (
                    f"Argument `batch_loss` failed on `{where}`'s first batch. "
                    f"Received: a batch {describe(batch)}"
                ),
            )
            return _scalar(value, "batch_loss")
        assert loss_fn is not None
        x, y = batch
        out = first.run(
            lambda: model(x),
            lambda: (
                f"Argument `{where}`'s inputs must fit `model`. Received: inputs "
                f"{describe(x)} for {type(model).__name__}"
            ),
        )
        value = first.run(
            lambda: loss_fn(out, y),
            lambda: (
                f"Argument `loss_fn` must take the model's outputs and `{where}`'s "
                f"targets. Received: outputs {describe(out)}, targets {describe(y)}"
            ),
        )
        return _scalar(value, "loss_fn")

    return loss


def check_model_and_optimizer(model: Any, optimizer: Any, loss_fn: Any, batch_loss: Any) -> None:
    """Refuse a model, optimizer or loss of the wrong kind, naming what was received."""
    if not isinstance(model, torch.nn.Module):
        hint = ""
        if isinstance(model, type) and issubclass(model, torch.nn.Module):
            hint = f" (the class itself; pass an instance, {model.__name__}(...))"
        elif callable(model):
            hint = " (a factory? find_lr takes the model itself: call it)"
        raise UsageError(
            "Argument `model` must be a torch.nn.Module. "
            f"Received: model={type(model).__name__}{hint}"
        )
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise UsageError(
            "Argument `optimizer` must be a torch.optim.Optimizer. "
            f"Received: optimizer={type(optimizer).__name__}"
        )
    _check_params(model, optimizer)
    _check_losses(loss_fn, batch_loss)


def _check_params(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """An optimizer none of whose tensors is one of ``model``'s would sweep nothing the
    model computes with (a model without parameters may go with free tensors)."""
    own = {id(p) for p in model.parameters()}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if own and not any(id(p) in own for p in params):
        shapes = ", ".join(describe(p.detach()) for p in params[:4])
        raise UsageError(
            "Argument `optimizer` must be a torch optimizer over `model`'s parameters. "
            f"Received: {type(optimizer).__name__} over {len(params)} tensors ({shapes}"
            f"{', ...' if len(params) > 4 else ''}), none of them a parameter of `model` "
            f"({type(model).__name__}, {len(own)} parameters); build it as "
            f"{type(optimizer).__name__}(model.parameters(), ...)"
        )


def _check_losses(loss_fn: Any, batch_loss: Any) -> None:
    """Exactly one of ``loss_fn`` and ``batch_loss``, a function or a loss instance."""
    if loss_fn is not None and batch_loss is not None:
        raise UsageError(
            "Arguments `loss_fn` and `batch_loss` must not both be given: `batch_loss` "
            "replaces `loss_fn`. Received: both"
        )
    name, value = ("loss_fn", loss_fn) if batch_loss is None else ("batch_loss", batch_loss)
    allowed = (
        "a function of (outputs, targets)" if name == "loss_fn" else "a function of (model, batch)"
    )
    if isinstance(value, type):
        raise UsageError(
            f"Argument `{name}` must be {allowed} or a loss instance. Received: the class "
            f"{value.__name__} itself; pass an instance, {name}={value.__name__}()"
        )
    if not callable(value):
        raise UsageError(
            f"Argument `{name}` must be {allowed}. Received: {name}={type(value).__name__}"
        )


def check_data(data: Any, val_data: Any, batch_loss: Any) -> None:
    """Refuse a ``data`` that is not an iterable of batches, or a ``val_data`` that is not
    one batch (an ``(inputs, targets)`` pair unless ``batch_loss`` takes the batches)."""
    if not isinstance(data, Iterable) or isinstance(data, (str, bytes, torch.Tensor)):
        raise UsageError(
            "Argument `data` must be an iterable of (inputs, targets) batches. "
            f"Received: data={type(data).__name__}"
        )
    if val_data is not None and batch_loss is None and not is_pair(val_data):
        raise UsageError(
            "Argument `val_data` must be one (inputs, targets) batch or None. "
            f"Received: val_data={type(val_data).__name__}"
            + (f" of length {len(val_data)}" if isinstance(val_data, (tuple, list)) else "")
        )


def resolve_device(device: Any, model: torch.nn.Module) -> torch.device:
    """``device`` as a ``torch.device``; ``None`` is the device of ``model``'s parameters."""
    if device is None:
        return model_device(model)
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except RuntimeError:
            pass
    raise UsageError(
        "Argument `device` must be a torch.device, a device string such as 'cuda:0', or None "
        f"(the model's device). Received: device={device!r}"
    )


def val_scorer(
    model: torch.nn.Module,
    loss_fn: LossFn | None,
    batch_loss: BatchLoss | None,
    device: torch.device,
    val_data: Any,
) -> Callable[[], float]:
    """The loss on ``val_data`` in eval mode (each module's training flag put back)."""
    loss = loss_of(model, loss_fn, batch_loss, device, where="val_data")
    val_data = to_device(val_data, device)  # once, not at every checkpoint

    def score() -> float:
        flags = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            with torch.no_grad():
                value = float(loss(val_data))
        finally:
            for m, flag in flags:
                m.training = flag
        return value if math.isfinite(value) else math.inf

    return score
