"""Drawing the range test's batches from any iterable, in any framework.

``data`` is any iterable of batches.  One that gives a new iterator each time (a
``DataLoader``, a list, a ``keras.utils.PyDataset``) is iterated again when exhausted; a
one-shot iterable (a generator, an iterator) is used until it ends, and ending before the
test is done is an error that says how many batches it held and how many the test needed.
This module imports no framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lrlab.errors import UsageError

__all__ = ["Batches", "describe", "is_pair"]


def is_pair(batch: Any) -> bool:
    """Whether ``batch`` is an ``(inputs, targets)`` pair (a tuple or a list of two)."""
    return isinstance(batch, (tuple, list)) and len(batch) == 2


def describe(x: Any, depth: int = 0) -> str:
    """A short description of a batch or an output: tensors as ``float32[8, 3]``.

    >>> import numpy as np
    >>> describe((np.zeros((8, 3), np.float32), {"labels": np.zeros(8, np.int64)}))
    "(float32[8, 3], {'labels': int64[8]})"
    """
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # a tensor or an array of any framework
        return f"{str(x.dtype).removeprefix('torch.')}{[int(n) for n in x.shape]}"
    if depth >= 3:
        return "..."
    if isinstance(x, Mapping):
        items = list(x.items())[:6]
        return "{" + ", ".join(f"{k!r}: {describe(v, depth + 1)}" for k, v in items) + "}"
    if isinstance(x, (tuple, list)):
        inner = ", ".join(describe(v, depth + 1) for v in list(x)[:6])
        return f"({inner})" if isinstance(x, tuple) else f"[{inner}]"
    return type(x).__name__


def _refuse_batch(batch: Any) -> UsageError:
    """The error for a batch that is not an ``(inputs, targets)`` pair (no ``batch_loss``)."""
    what = f"a batch of type {type(batch).__name__}"
    if isinstance(batch, (tuple, list)):
        what += f" of length {len(batch)}"
    hint = ""
    if isinstance(batch, Mapping):
        hint = (
            "; for a dict batch pass `batch_loss=fn`, fn(model, batch) -> loss, "
            "in place of `loss_fn`"
        )
    return UsageError(
        f"Argument `data` must yield (inputs, targets) batches. Received: {what}{hint}"
    )


class Batches:
    """Draw batches from ``data``: iterated again when exhausted, unless it is one-shot.

    ``needed`` is the most batches the test may draw, for the message when a one-shot
    iterable ends early; ``pairs``: every batch must be an ``(inputs, targets)`` pair;
    ``name``: the caller's argument, as the messages name it (``x`` for Keras).
    """

    def __init__(
        self, data: Iterable[Any], *, needed: int, pairs: bool, name: str = "data"
    ) -> None:
        self.data, self.needed, self.pairs, self.name = data, needed, pairs, name
        self.it: Iterator[Any] = iter(data)
        self.one_shot = self.it is data
        self.drawn = 0

    def next(self) -> Any:
        try:
            batch = next(self.it)
        except StopIteration:
            batch = self._restart()
        self.drawn += 1
        if self.pairs and not is_pair(batch):
            raise _refuse_batch(batch)
        return batch

    def _restart(self) -> Any:
        kind = type(self.data).__name__
        if self.drawn == 0:
            spent = " (a generator or iterator already used up?)" if self.one_shot else ""
            raise UsageError(
                f"Argument `{self.name}` must yield at least one batch. Received: an empty "
                f"{kind}{spent}"
            )
        if self.one_shot:
            raise UsageError(
                f"Argument `{self.name}` ended after {self.drawn} batches, but the range test "
                f"needs up to {self.needed} (the sweep's `num_steps` and the race's probes). "
                f"Received: a one-shot {kind}; pass one that can be iterated again (a "
                "DataLoader, a list), a longer one, or ask for less (`num_steps`, `confirm=0`)"
            )
        self.it = iter(self.data)
        try:
            return next(self.it)
        except StopIteration:
            raise UsageError(
                f"Argument `{self.name}` must yield batches each time it is iterated. Received: a "
                f"{kind} that yielded {self.drawn} batches, then none when iterated again"
            ) from None
