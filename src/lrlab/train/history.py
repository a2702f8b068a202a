"""The record of one training run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrlab import _json

__all__ = ["History"]

_ARRAYS = ("lr", "train_loss", "step_size", "eval_steps", "val_loss", "val_metric")


@dataclass(eq=False)
class History:
    """What happened in a run.

    Per iteration ``i`` (arrays of equal length): ``lr[i]`` the learning rate
    used, ``train_loss[i]`` the loss on batch ``i`` *before* update ``i``,
    ``step_size[i]`` the effective step ``||theta_{i+1} - theta_i|| / ||g_i||``
    (equal to ``lr[i]`` for plain SGD; NaN where not measured).  Per
    evaluation: ``eval_steps[j]`` the number of updates done, ``val_loss[j]``
    and ``val_metric[j]`` on the validation split.

    ``steps`` counts the updates taken; when the run ``diverged`` the last
    iteration holds the offending (non-finite or exploding) loss and no update
    followed it.  ``wall_time`` is in seconds.
    """

    lr: np.ndarray
    train_loss: np.ndarray
    step_size: np.ndarray
    eval_steps: np.ndarray
    val_loss: np.ndarray
    val_metric: np.ndarray
    steps: int
    wall_time: float
    diverged: bool
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def final_val_loss(self) -> float:
        """The last validation loss; ``inf`` when the run diverged or was never evaluated."""
        if self.diverged or len(self.val_loss) == 0:
            return math.inf
        return float(self.val_loss[-1])

    @property
    def final_val_metric(self) -> float:
        """The last validation metric; ``nan`` when the run diverged or was never evaluated."""
        if self.diverged or len(self.val_metric) == 0:
            return math.nan
        return float(self.val_metric[-1])

    def steps_to(self, target: float) -> int | None:
        """Updates done at the first evaluation whose validation loss is ``<= target``."""
        hit = np.nonzero(self.val_loss <= target)[0]
        return int(self.eval_steps[hit[0]]) if len(hit) else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (:mod:`lrlab._json`'s convention: non-finite numbers as
        ``"nan"`` / ``"inf"`` / ``"-inf"``); :meth:`from_dict` rebuilds an equal history."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _ARRAYS}
        out.update(
            steps=int(self.steps),
            wall_time=float(self.wall_time),
            diverged=bool(self.diverged),
            final_val_loss=self.final_val_loss,
            final_val_metric=self.final_val_metric,
            meta=dict(self.meta),
        )
        encoded: dict[str, Any] = _json.encode(out)
        return encoded

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        arrays = {
            k: np.array([_json.number(v) for v in d[k]], np.int64 if k == "eval_steps" else float)
            for k in _ARRAYS
        }
        return cls(
            **arrays,
            steps=int(d["steps"]),
            wall_time=float(d["wall_time"]),
            diverged=bool(d["diverged"]),
            meta=dict(d.get("meta", {})),
        )

    def __repr__(self) -> str:
        return (
            f"History(steps={self.steps}, diverged={self.diverged}, "
            f"final_val_loss={self.final_val_loss:.6g}, "
            f"final_val_metric={self.final_val_metric:.6g}, wall_time={self.wall_time:.3f}s)"
        )
