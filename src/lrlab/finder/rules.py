"""The suggestion rules of the LR range test, each as its origin computes it.

Every rule takes the learning rates ``lrs`` of the sweep and the losses it
recorded (raw, one per step, the loss of the batch *before* the step at that
rate) and returns a :class:`Suggestion` or ``None`` when the curve is too short.
Each rule smooths and trims the curve the way its origin does:

``fastai_valley``
    fastai's ``valley``: debiased EMA (β = 0.98), skip the first ``n // 10``
    points, find the longest strictly decreasing subsequence of the smoothed
    loss (an O(n²) dynamic program), and return the point
    ``start + int(len / 3) + int(len / 6)`` of it, i.e. about half-way along
    its middle third.
``fastai_steep``
    fastai's ``steep``: the rate where ``d loss / d log(lr)`` is most negative
    (forward differences, same smoothing and trimming).
``fastai_minimum``
    fastai's ``minimum``: the rate of the smallest smoothed loss, divided by 10.
``lightning_steepest``
    Lightning's ``Tuner.lr_find().suggestion()``: debiased EMA (β = 0.98),
    skip 10 points at the start and 1 at the end, drop non-finite points,
    ``torch.gradient(loss, spacing=lr)`` against the *linear* rate, argmin.
``torch_lr_finder_steepest``
    torch-lr-finder's ``plot(suggest_lr=True)``: EMA with ``smooth_f = 0.05``
    that is *not* debiased (``s_i = 0.05 x_i + 0.95 s_{i-1}``, ``s_0 = x_0``),
    skip 10 at the start and 5 at the end, ``np.gradient`` over the index,
    argmin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "RULES",
    "Ema",
    "Suggestion",
    "centered",
    "centered_half",
    "ema_debiased",
    "ema_plain",
    "fastai_minimum",
    "fastai_steep",
    "fastai_valley",
    "lightning_steepest",
    "torch_lr_finder_steepest",
    "valley_index",
]


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate.

    Attributes:
        name: the rule's name (``"fastai_valley"``, ``"lrlab"``, ...).
        lr: the suggested rate.
        low, high: a range of rates the rule considers equally good (for the
            peer rules, which give a bare point, ``low == high == lr``).
        index: the sweep step the rate was read from, or ``None``.
        origin: where the rule comes from, in words.
    """

    name: str
    lr: float
    low: float
    high: float
    index: int | None
    origin: str

    def span(self, sep: str = " .. ") -> str:
        """``"range <low><sep><high>"``, or words for a range that is the rate alone.

        lrlab's range is a single rate when one brief run alone scored near the
        best and full-batch gradients left nothing to carry to the run's length.

        >>> Suggestion("lrlab", 0.1, 0.05, 0.2, None, "").span()
        'range 0.05 .. 0.2'
        >>> Suggestion("lrlab", 0.1, 0.1, 0.1, None, "").span()
        'range: this rate alone'
        """
        if self.high > self.low:
            return f"range {self.low:.3g}{sep}{self.high:.3g}"
        return "range: this rate alone"

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict of the fields."""
        return asdict(self)


class Ema:
    """The smoothed loss of a sweep, one loss at a time; :func:`ema_debiased` and
    :func:`ema_plain` are it run over a whole curve, and the range test's stop rule
    reads it as the sweep goes, so the curve it stops on is the curve it reports.

    ``Ema(beta)``: bias-corrected, ``a_i = β a_{i-1} + (1-β) x_i``, ``s_i = a_i / (1 - β^(i+1))``.
    ``Ema(beta, debias=False)``: torch-lr-finder's, ``s_0 = x_0``,
    ``s_i = f x_i + (1 - f) s_{i-1}`` with ``f = 1 - β`` (or ``smooth_f`` given as is).

    >>> e = Ema(0.5)
    >>> e.add(1.0), round(e.add(3.0), 12)
    (1.0, 2.333333333333)
    """

    def __init__(self, beta: float, debias: bool = True, *, smooth_f: float | None = None) -> None:
        self.beta, self.debias = beta, debias
        self.f = 1.0 - beta if smooth_f is None else smooth_f
        self.avg, self.i = 0.0, 0

    def add(self, x: float) -> float:
        """Take the next loss; the smoothed value there."""
        self.i += 1
        if self.debias:
            self.avg = self.beta * self.avg + (1.0 - self.beta) * x
            return self.avg / (1.0 - self.beta**self.i)
        f = self.f
        self.avg = x if self.i == 1 else f * x + (1.0 - f) * self.avg
        return self.avg

    def curve(self, losses: np.ndarray) -> np.ndarray:
        """The smoothed values of ``losses`` (continuing from what was added before)."""
        x = np.asarray(losses, dtype=np.float64)
        return np.array([self.add(v) for v in x.tolist()], dtype=np.float64)


def ema_debiased(losses: np.ndarray, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected EMA: ``a_i = β a_{i-1} + (1-β) x_i``, ``s_i = a_i / (1 - β^(i+1))``.

    >>> [round(float(v), 12) for v in ema_debiased(np.array([1.0, 3.0]), beta=0.5)]
    [1.0, 2.333333333333]
    """
    return Ema(beta).curve(losses)


def ema_plain(losses: np.ndarray, smooth_f: float = 0.05) -> np.ndarray:
    """torch-lr-finder's EMA: ``s_0 = x_0``, ``s_i = smooth_f x_i + (1 - smooth_f) s_{i-1}``.

    >>> ema_plain(np.array([1.0, 3.0]), smooth_f=0.5).tolist()
    [1.0, 2.0]
    """
    return Ema(1.0 - smooth_f, debias=False, smooth_f=smooth_f).curve(losses)


def _fastai_trim(lrs: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """fastai's preprocessing: smooth, skip ``n // 10`` points, cut at the first NaN."""
    smooth = ema_debiased(losses)
    skip = len(lrs) // 10
    lr, lo = np.asarray(lrs[skip:], dtype=np.float64), smooth[skip:]
    bad = np.flatnonzero(~np.isfinite(lo))
    if len(bad):
        lr, lo = lr[: bad[0]], lo[: bad[0]]
    return lr, lo, skip


def valley_index(values: np.ndarray) -> int:
    """fastai's valley point of an (already smoothed, trimmed) curve.

    ``lds[i]`` is the length of the longest strictly decreasing subsequence
    ending at ``i``; with ``end`` the first index of the longest one and
    ``start = end - lds[end]`` (fastai's bookkeeping, one before the
    subsequence's first point when it is contiguous), the answer is
    ``start + int((end - start) / 3) + int((end - start) / 3 / 2)``.

    >>> valley_index(np.array([3.0, 3.0, 2.0, 1.0, 0.5, 2.0, 4.0]))
    1
    """
    lo = np.asarray(values, dtype=np.float64)
    n = len(lo)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(i):
            if lo[i] < lo[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


def fastai_valley(lrs: np.ndarray, losses: np.ndarray) -> Suggestion | None:
    """fastai's ``valley`` rule (see the module docstring)."""
    lr, lo, skip = _fastai_trim(lrs, losses)
    if len(lo) < 2:
        return None
    idx = valley_index(lo)
    return _point("fastai_valley", lr[idx], skip + idx, "fastai lr_find suggest_funcs=valley")


def fastai_steep(lrs: np.ndarray, losses: np.ndarray) -> Suggestion | None:
    """fastai's ``steep`` rule: argmin of the forward difference against ``log(lr)``."""
    lr, lo, skip = _fastai_trim(lrs, losses)
    if len(lo) < 2:
        return None
    grads = (lo[1:] - lo[:-1]) / (np.log(lr[1:]) - np.log(lr[:-1]))
    idx = int(np.argmin(grads))
    return _point("fastai_steep", lr[idx], skip + idx, "fastai lr_find suggest_funcs=steep")


def fastai_minimum(lrs: np.ndarray, losses: np.ndarray) -> Suggestion | None:
    """fastai's ``minimum`` rule: the rate of the smallest smoothed loss, over 10."""
    lr, lo, skip = _fastai_trim(lrs, losses)
    if len(lo) < 1:
        return None
    idx = int(np.argmin(lo))
    return _point("fastai_minimum", lr[idx] / 10.0, skip + idx, "fastai lr_find minimum / 10")


def lightning_steepest(lrs: np.ndarray, losses: np.ndarray) -> Suggestion | None:
    """Lightning's steepest-gradient rule against the linear rate (module docstring)."""
    smooth = ema_debiased(losses)
    n = len(smooth)
    index = np.arange(n)[10:-1]
    lo = np.asarray(smooth[10:-1], dtype=np.float64)
    lr = np.asarray(lrs, dtype=np.float64)[10:-1]
    finite = np.isfinite(lo)
    lo, lr, index = lo[finite], lr[finite], index[finite]
    if len(lo) < 2:
        return None
    # torch.gradient(lo, spacing=[lr]): the same second-order non-uniform interior formula
    # and first-order edges as NumPy's (ATen's gradient), so Lightning's pick is kept.
    grads = np.gradient(lo, lr)
    k = int(index[int(np.argmin(grads))])
    return _point("lightning_steepest", float(lrs[k]), k, "Lightning Tuner.lr_find suggestion()")


def torch_lr_finder_steepest(lrs: np.ndarray, losses: np.ndarray) -> Suggestion | None:
    """torch-lr-finder's steepest-gradient rule over the step index (module docstring)."""
    x = np.asarray(losses, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(x))
    n = len(x) if not len(bad) else int(bad[0])
    smooth = ema_plain(x[:n])
    lo = smooth[10:-5] if n > 15 else smooth[:0]
    if len(lo) < 2:
        return None
    k = 10 + int(np.argmin(np.gradient(lo)))
    return _point("torch_lr_finder_steepest", float(lrs[k]), k, "torch-lr-finder suggest_lr")


def _point(name: str, lr: float, index: int, origin: str) -> Suggestion:
    v = float(lr)
    return Suggestion(name=name, lr=v, low=v, high=v, index=int(index), origin=origin)


RULES: dict[str, Callable[[np.ndarray, np.ndarray], Suggestion | None]] = {
    "fastai_valley": fastai_valley,
    "fastai_steep": fastai_steep,
    "fastai_minimum": fastai_minimum,
    "lightning_steepest": lightning_steepest,
    "torch_lr_finder_steepest": torch_lr_finder_steepest,
}


def centered_half(n: int) -> int:
    """Half-width of the centered mean lrlab's rule reads over a sweep of ``n`` steps:
    a twentieth of it each side, so the window spans a tenth."""
    return max(1, round(n * 0.05))


def centered(losses: np.ndarray, half: int) -> np.ndarray:
    """Centered moving mean of ``losses`` over ``2 * half + 1`` steps (shorter at the ends);
    a non-finite loss makes every window that holds it ``inf``.

    >>> centered(np.array([1.0, 2.0, 3.0, 4.0]), 1).tolist()
    [1.5, 2.0, 3.0, 3.5]
    """
    x = np.where(np.isfinite(losses), losses, np.inf)
    out = np.empty(len(x))
    for i in range(len(x)):
        out[i] = float(np.mean(x[max(0, i - half) : i + half + 1]))
    return out
