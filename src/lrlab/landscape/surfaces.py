"""Two-dimensional test functions with known minima.

Each :class:`Surface` evaluates on a tensor whose last dimension is 2, so the
same function gives a training loss (shape ``(2,)``) and a contour grid
(shape ``(ny, nx, 2)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from lrlab._checks import positive_number
from lrlab.errors import UsageError

__all__ = ["Surface", "functions", "get_function"]


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface.

    Attributes:
        name: the function's name.
        formula: the formula as text.
        fn: maps a ``(..., 2)`` tensor to a ``(...)`` tensor of values.
        start: default start point.
        minima: the global minima.
        xlim, ylim: the plotting window.
        log_levels: draw contours at log-spaced levels (for steep valleys).
        mu, L: the smallest and largest Hessian eigenvalue (quadratic only).
        default_lrs: three SGD learning rates that show a crawl, a good run and a
            too-large step (oscillation or divergence) from ``start``.
        adaptive_lrs: the same three for Adam-like optimizers, whose step per
            coordinate is about the rate whatever the gradient's size.
    """

    name: str
    formula: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log_levels: bool = False
    mu: float | None = None
    L: float | None = None
    default_lrs: tuple[float, ...] = ()
    adaptive_lrs: tuple[float, ...] = (0.01, 0.3, 3.0)
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        return self.fn(xy)

    @property
    def min_value(self) -> float:
        """The value at the global minima."""
        return float(self.fn(torch.tensor(self.minima[0], dtype=torch.float64)))

    @property
    def stable_lr(self) -> float | None:
        """``2 / L`` for the quadratic (gradient descent diverges above it), else None."""
        return None if self.L is None else 2.0 / self.L

    @property
    def optimal_lr(self) -> float | None:
        """``2 / (L + mu)`` for the quadratic, else None."""
        return None if self.L is None or self.mu is None else 2.0 / (self.L + self.mu)

    def rate(self, lr: float) -> float | None:
        """Gradient descent's contraction factor ``max(|1 - lr mu|, |1 - lr L|)`` (quadratic)."""
        if self.L is None or self.mu is None:
            return None
        return max(abs(1 - lr * self.mu), abs(1 - lr * self.L))


def _quadratic(mu: float = 1.0, L: float = 10.0) -> Surface:
    for name, v in (("mu", mu), ("L", L)):
        positive_number(name, v)
    if mu > L:
        raise UsageError(f"Argument `mu` must be at most `L`. Received: mu={mu}, L={L}")
    mu, big_l = float(mu), float(L)

    def f(xy: torch.Tensor) -> torch.Tensor:
        return 0.5 * (mu * xy[..., 0] ** 2 + big_l * xy[..., 1] ** 2)

    return Surface(
        "quadratic",
        f"0.5*({mu:g}*x^2 + {big_l:g}*y^2)",
        f,
        (-4.5, 1.5),
        ((0.0, 0.0),),
        (-5.0, 5.0),
        (-2.5, 2.5),
        mu=mu,
        L=big_l,
        default_lrs=(0.1 * 2 / big_l, 2 / (big_l + mu), 1.05 * 2 / big_l),
        params={"mu": mu, "L": big_l},
    )


def _rosenbrock() -> Surface:
    def f(xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    return Surface(
        "rosenbrock", "(1-x)^2 + 100*(y-x^2)^2", f, (-1.2, 1.0), ((1.0, 1.0),),
        (-2.0, 2.0), (-1.0, 3.0), log_levels=True, default_lrs=(2e-4, 4e-3, 6.5e-3),
    )  # fmt: skip


def _beale() -> Surface:
    def f(xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2

    return Surface(
        "beale", "(1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2", f, (1.0, 1.4),
        ((3.0, 0.5),), (-4.5, 4.5), (-4.5, 4.5), log_levels=True,
        default_lrs=(1e-3, 0.02, 0.05), adaptive_lrs=(0.01, 0.3, 1.0),
    )  # fmt: skip


def _himmelblau() -> Surface:
    def f(xy: torch.Tensor) -> torch.Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    return Surface(
        "himmelblau", "(x^2+y-11)^2 + (x+y^2-7)^2", f, (0.0, 0.0),
        ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
        (-5.0, 5.0), (-5.0, 5.0), log_levels=True, default_lrs=(2e-3, 0.015, 0.035),
        adaptive_lrs=(0.003, 0.1, 1.0),
    )  # fmt: skip


_BUILDERS: dict[str, Callable[..., Surface]] = {
    "quadratic": _quadratic,
    "rosenbrock": _rosenbrock,
    "beale": _beale,
    "himmelblau": _himmelblau,
}


def functions() -> list[str]:
    """Names of the built-in surfaces.

    >>> functions()
    ['quadratic', 'rosenbrock', 'beale', 'himmelblau']
    """
    return list(_BUILDERS)


def get_function(name: str | Surface, **params: Any) -> Surface:
    """The surface ``name``; only ``quadratic`` takes parameters (``mu=1``, ``L=10``).

    >>> q = get_function("quadratic", mu=1, L=10)
    >>> q.stable_lr, round(q.optimal_lr, 12)
    (0.2, 0.181818181818)
    """
    if isinstance(name, Surface):
        if params:
            raise UsageError(
                "Parameters can only be given with a surface name. "
                f"Received: {', '.join(sorted(params))}"
            )
        return name
    builder = _BUILDERS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise UsageError(f"Unknown function {name!r}. Available: {', '.join(_BUILDERS)}")
    try:
        return builder(**params)
    except TypeError as exc:
        raise UsageError(
            f"Invalid parameters for function {name!r}: {', '.join(sorted(params))}. "
            + ("Allowed: mu, L" if name == "quadratic" else "It takes none.")
        ) from exc
