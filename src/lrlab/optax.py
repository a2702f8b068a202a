"""What a JAX user imports: lrlab's schedules as an Optax learning rate and the plateau
rule as an Optax transformation (:mod:`lrlab.adapters.optax`), and the range test on a
JAX loss and an Optax optimizer (:func:`find_lr`, from :mod:`lrlab.finder.optax`).

    >>> import jax.numpy as jnp, lrlab.optax
    >>> round(float(lrlab.optax.schedule("cosine(0.1, 100)")(jnp.int32(50))), 6)
    0.05
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrlab.adapters.optax import OptaxSchedule, PlateauScaleState, plateau, schedule

if TYPE_CHECKING:
    from lrlab.finder.optax import find_lr

__all__ = ["OptaxSchedule", "PlateauScaleState", "find_lr", "plateau", "schedule"]


def __getattr__(name: str) -> Any:
    # The range test loads on first use, so that a schedule alone imports no more than it needs.
    if name == "find_lr":
        from lrlab.finder.optax import find_lr

        return find_lr
    raise AttributeError(f"module 'lrlab.optax' has no attribute {name!r}")
