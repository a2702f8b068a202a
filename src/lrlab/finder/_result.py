"""The result of an LR range test."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lrlab import _json
from lrlab.finder.advice import Advice
from lrlab.finder.rules import Suggestion, centered, centered_half

__all__ = ["FinderResult"]


@dataclass
class FinderResult:
    """Curves and suggestions of one range test.

    Attributes:
        lrs: the rate of each sweep step that ran.
        losses: the raw loss of each step (the batch loss before the step).
        smoothed: the smoothed loss the stop rule used.
        suggestions: rule name -> :class:`Suggestion`; ``"lrlab"`` is lrlab's own.
        stop_reason: ``"max_lr"`` (ran to the end), ``"diverged"`` or ``"non-finite"``;
            ``"fit_ended"`` for :class:`lrlab.finder.keras.LRFinder` when the user's ``fit``
            ended before the ramp did.
        divergence_lr: the stability edge fitted to the diverging tail
            (:func:`lrlab.finder.edge_lr`), or ``None``.
        stop_lr: the rate of the last step that ran.
        confirmations: ``(lr, score)`` of each of lrlab's probes at its final length.
        steps: training steps spent (sweep plus probes).
        settings: the options the test ran with.
        advice: how lrlab's suggestion came about (:class:`~lrlab.finder.Advice`:
            the pick before the horizon factor, the factor, the probes, a
            one-line reason), or ``None`` without probes.
        confirmed: whether lrlab's suggestion was confirmed by its race; ``False``
            for the sweep's proposal alone (``confirm=0``, or a horizon too short for
            the race at the budget, which also warns).
        why: one line on how lrlab's suggestion came about (the race's reason, or
            why it is unconfirmed).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict[str, Suggestion]
    stop_reason: str
    divergence_lr: float | None
    stop_lr: float
    confirmations: list[tuple[float, float]] = field(default_factory=list)
    steps: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    advice: Advice | None = None
    confirmed: bool = False
    why: str = ""

    @property
    def suggestion(self) -> Suggestion | None:
        """lrlab's suggestion (with its range), or ``None`` if the sweep was too short."""
        return self.suggestions.get("lrlab")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (:mod:`lrlab._json`'s convention: non-finite losses as
        ``"nan"`` / ``"inf"`` / ``"-inf"``)."""
        out: dict[str, Any] = _json.encode(asdict(self))  # Suggestion, Advice: their to_dict
        return out

    def summary(self) -> str:
        """Lines naming each suggestion, lrlab's range, and the divergence point."""
        lines = []
        for name, s in self.suggestions.items():
            if name == "lrlab":
                lines.append(f"{name:26s} {s.lr:.3g}  ({s.span()})")
            else:
                lines.append(f"{name:26s} {s.lr:.3g}")
        edge = "none" if self.divergence_lr is None else f"{self.divergence_lr:.3g}"
        lines.append(
            f"stopped: {self.stop_reason} at lr {self.stop_lr:.3g}; divergence edge {edge}"
        )
        if self.advice is not None:
            a = self.advice
            lines.append(
                f"lrlab's pick {a.pick_lr:.3g} after {a.length} steps, x {a.horizon_factor:.3g} "
                f"for the run's {self.settings.get('horizon')} steps = {a.lr:.3g}"
            )
            lines.append(f"why: {a.reason}")
        elif self.why:
            lines.append(f"why: {self.why}")
        lines.append(f"steps spent: {self.steps}")
        return "\n".join(lines)

    @property
    def centered(self) -> np.ndarray:
        """The centered moving mean of :attr:`losses` that lrlab's rule reads (no lag)."""
        return centered(self.losses, centered_half(len(self.losses)))

    def plot(self, ax: Any = None) -> Any:
        """Draw the loss against the rate with every suggestion marked; returns the Figure."""
        from lrlab.plots.finder import plot_finder

        return plot_finder(self, ax=ax)
