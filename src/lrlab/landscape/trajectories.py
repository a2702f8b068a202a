"""Optimizer paths on a 2-D surface, one per learning rate."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import torch

from lrlab._checks import number_in, positive_int, positive_number
from lrlab.errors import UsageError
from lrlab.landscape.surfaces import Surface, get_function
from lrlab.train._step import Driver
from lrlab.train._step import divergence_factor as check_divergence_factor
from lrlab.train.optimizers import check_name, is_schedule_free, make_optimizer, refuse_own

__all__ = ["LandscapeResult", "default_lrs", "trajectories"]


@dataclass
class LandscapeResult:
    """Paths of one optimizer from one start, one per learning rate.

    ``paths[i]`` has shape ``(n_i + 1, 2)``: the start and the point after each
    of the ``n_i`` updates; ``losses[i]`` the surface's value at those points.
    ``diverged[i]`` is True when the path was stopped for leaving every bound
    (a non-finite value, or one above ``divergence_factor`` times the starting
    value) or ended higher than it started.
    """

    surface: Surface
    optimizer: str
    lrs: list[float]
    steps: int
    start: tuple[float, float]
    paths: list[np.ndarray]
    losses: list[np.ndarray]
    diverged: list[bool]
    options: dict[str, Any] = field(default_factory=dict)

    def label(self, i: int) -> str:
        """Legend text for path ``i``: the LR and, on the quadratic, its place against theory.

        On the quadratic the LR is given as a multiple of ``2/L`` with gradient
        descent's contraction factor ``rho = max(|1 - lr mu|, |1 - lr L|)``.
        """
        lr = self.lrs[i]
        text = f"lr={lr:g}"
        s = self.surface
        if s.stable_lr is not None and s.optimal_lr is not None and self.optimizer == "sgd":
            rho = s.rate(lr)
            text += f" = {lr / s.stable_lr:.3g}·(2/L), ρ={rho:.3g}"
            if math.isclose(lr, s.optimal_lr, rel_tol=0.02):
                text += " ≈ 2/(L+μ)"
        if self.diverged[i]:
            text += ", diverged"
        return text

    def summary(self) -> list[dict[str, Any]]:
        """One row per LR: lr, steps, final point, value, distance to the nearest minimum."""
        minima = np.asarray(self.surface.minima)
        return [
            {
                "lr": lr,
                "steps": len(path) - 1,
                "x": float(path[-1][0]),
                "y": float(path[-1][1]),
                "loss": float(loss[-1]),
                "distance": float(np.min(np.linalg.norm(minima - path[-1], axis=1))),
                "diverged": div,
            }
            for lr, path, loss, div in zip(self.lrs, self.paths, self.losses, self.diverged)
        ]


def default_lrs(surface: Surface | str, optimizer: str) -> tuple[float, ...]:
    """Three rates that show a crawl, a good run and a too-large step for ``optimizer``.

    SGD's are the surface's ``default_lrs``.  Heavy-ball momentum (0.9) moves about
    ten times as far per rate while the gradient holds steady, so its crawl and
    good rates are a tenth of SGD's; but it stays stable up to ``2(1 + 0.9)/L``,
    about twice SGD's edge, so its too-large rate is twice SGD's.  The Adam-like
    optimizers, whose step per coordinate is about the rate, get the surface's
    ``adaptive_lrs``; Prodigy and D-Adaptation, whose rate is a multiplier of
    their own estimate, get 0.1, 1 and 10.

    >>> default_lrs("rosenbrock", "sgd"), default_lrs("rosenbrock", "momentum")
    ((0.0002, 0.004, 0.0065), (2e-05, 0.0004, 0.013))
    >>> default_lrs("quadratic", "adam")
    (0.01, 0.3, 3.0)
    """
    s = get_function(surface) if isinstance(surface, str) else surface
    name = check_name(optimizer)
    if name in ("sgd", "schedulefree_sgd"):
        return tuple(s.default_lrs)
    if name in ("momentum", "nesterov"):
        *slow, large = s.default_lrs
        return (*(round(lr / 10, 12) for lr in slow), round(2 * large, 12))
    if name in ("prodigy", "dadapt_adam"):
        return (0.1, 1.0, 10.0)
    return tuple(s.adaptive_lrs)


def _start(xy: Any, start: Any) -> tuple[float, float]:
    """The starting point ``xy`` (``start``, or the surface's own) as two floats."""
    if isinstance(xy, (Sequence, np.ndarray)) and not isinstance(xy, str) and len(xy) == 2:
        try:
            x, y = (number_in("start", v, lambda _: True, "a finite number") for v in xy)
            return x, y
        except UsageError:
            pass
    raise UsageError(f"Argument `start` must be two finite numbers. Received: start={start!r}")


def trajectories(
    fn: str | Surface,
    optimizer: str = "sgd",
    lrs: Sequence[float] | None = None,
    steps: int = 50,
    start: Sequence[float] | None = None,
    *,
    divergence_factor: float = 1e6,
    **options: Any,
) -> LandscapeResult:
    """Run the real torch ``optimizer`` on surface ``fn`` from ``start`` once per LR.

    ``lrs=None`` takes :func:`default_lrs` for the surface and the optimizer (a
    crawl, a good run, a too-large step; for SGD on the quadratic ``0.1*2/L``,
    ``2/(L+mu)``, ``1.05*2/L``).

    The point is a float64 ``torch.nn.Parameter`` of shape ``(2,)``; each update
    evaluates ``fn``, back-propagates and calls ``optimizer.step()``.  A path
    stops early when the value is no longer finite or exceeds
    ``divergence_factor`` times the starting value.  For the Schedule-Free
    optimizers the path is the sequence the gradient is taken at (train mode).

    >>> r = trajectories("quadratic", "sgd", [0.05], steps=3, start=(1.0, 1.0))
    >>> r.paths[0][:, 1].round(12).tolist()  # y is multiplied by 1 - 0.05 * L each step
    [1.0, 0.5, 0.25, 0.125]
    """
    surface = get_function(fn)
    name = check_name(optimizer)
    refuse_own(
        "trajectories", options, ("lr", "name", "params"),
        "the optimizer is named by `optimizer`, built over the surface's point and run once "
        "per rate in `lrs`",
    )  # fmt: skip
    steps = positive_int("steps", steps)
    if lrs is None:
        lrs = default_lrs(surface, name)
    given: Any = lrs
    if isinstance(given, Real) or (isinstance(given, np.ndarray) and given.ndim == 0):
        lr_list: list[Any] = [given]
    else:
        lr_list = list(given) if isinstance(given, Iterable) else [given]
    if not lr_list:
        raise UsageError("Argument `lrs` must list at least one learning rate. Received: lrs=[]")
    try:
        lr_list = [positive_number("lrs", lr) for lr in lr_list]
    except UsageError:
        raise UsageError(
            f"Argument `lrs` must hold positive finite numbers. Received: lrs={lr_list!r}"
        ) from None
    x0 = _start(surface.start if start is None else start, start)
    divergence_factor = check_divergence_factor(divergence_factor)

    runs = [
        _path(surface, name, float(lr), steps, x0, divergence_factor, options) for lr in lr_list
    ]
    paths, losses, diverged = (list(column) for column in zip(*runs))
    return LandscapeResult(
        surface=surface,
        optimizer=name,
        lrs=[float(v) for v in lr_list],
        steps=steps,
        start=x0,
        paths=paths,
        losses=losses,
        diverged=diverged,
        options=dict(options),
    )


def _path(
    surface: Surface,
    name: str,
    lr: float,
    steps: int,
    x0: tuple[float, float],
    factor: float,
    options: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, bool]:
    """One path at rate ``lr``: the points, the values there, and whether it diverged.

    The updates and the divergence rule are the lab's (:class:`lrlab.train._step.Driver`);
    the value at the last point is checked without an update.
    """
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = make_optimizer(name, [p], lr, **options)
    if is_schedule_free(name):
        opt.train()  # type: ignore[attr-defined]
    driver = Driver(lambda _: surface.fn(p), opt, factor=factor)
    pts = [x0]
    vals: list[float] = []
    for t in range(steps + 1):
        vals.append(driver.step(None, update=t < steps))
        if driver.diverged or t == steps:
            break
        xy = p.detach().tolist()
        pts.append((xy[0], xy[1]))
    div = driver.diverged or vals[-1] > vals[0]
    return np.asarray(pts[: len(vals)], dtype=np.float64), np.asarray(vals, dtype=np.float64), div
