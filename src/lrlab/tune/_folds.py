"""Cross-validation folds: the same ``cv`` folds for every trial of a study, stratified
for integer labels."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from lrlab._checks import shown
from lrlab.errors import UsageError

__all__ = ["Folds", "labels"]

Split = tuple[np.ndarray, np.ndarray]


def labels(y: Any) -> np.ndarray | int:
    """What :meth:`Folds.split` stratifies on: an array of ``n`` labels, or ``n`` itself.

    A tensor or array of shape ``(n,)`` or ``(n, 1)`` is its values; ``(n, k)`` with
    ``k > 1`` (one-hot or scores) is the index of the largest of each row.
    """
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        return int(y)
    if hasattr(y, "detach"):  # a torch tensor
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim == 0 or arr.dtype == object:
        raise UsageError(
            "Argument `y` of trial.split must be the number of examples or their labels "
            f"(an array of n rows). Received: y={shown(y)}"
        )
    arr = arr.reshape(len(arr), -1)
    return arr[:, 0] if arr.shape[1] == 1 else arr.argmax(axis=1)


class Folds:
    """The folds of a study with ``cv`` folds (``None``: no cross-validation), seeded by
    ``seed`` so that every trial, every worker and every resume sees the same ones."""

    def __init__(self, cv: int | None, seed: int) -> None:
        self.cv, self.seed = cv, seed
        self._cache: dict[tuple[int, bytes], list[Split]] = {}

    def of(self, y: Any) -> list[Split]:
        """Every fold's ``(train_idx, val_idx)`` over ``y`` (labels, or a count ``n``):
        ``StratifiedKFold`` for integer (or boolean) labels, ``KFold`` otherwise."""
        from sklearn.model_selection import KFold, StratifiedKFold

        if self.cv is None:
            raise UsageError(
                "trial.split needs a study with cross-validation (tune(..., cv=k)). "
                "Received: cv=None"
            )
        lab = labels(y)
        n = lab if isinstance(lab, int) else len(lab)
        stratify = not isinstance(lab, int) and lab.dtype.kind in "biu"
        key = (n, hashlib.blake2b(lab.tobytes()).digest() if stratify else b"")  # type: ignore[union-attr]
        if key in self._cache:
            return self._cache[key]
        if self.cv > n:
            raise UsageError(
                f"Argument `cv` must be at most the {n} training examples. Received: cv={self.cv}"
            )
        x = np.zeros((n, 1))
        splitter: Any = (StratifiedKFold if stratify else KFold)(
            n_splits=self.cv, shuffle=True, random_state=self.seed
        )
        try:
            found = [(tr, va) for tr, va in splitter.split(x, lab if stratify else None)]
        except ValueError as exc:
            raise UsageError(
                "Argument `cv` is too large for the smallest class of the labels. "
                f"Received: cv={self.cv} ({exc})"
            ) from None
        self._cache[key] = found
        return found
