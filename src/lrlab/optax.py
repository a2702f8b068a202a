"""What a JAX user imports: lrlab's schedules as an Optax learning rate and the plateau
rule as an Optax transformation (:mod:`lrlab.adapters.optax`).

    >>> import jax.numpy as jnp, lrlab.optax
    >>> round(float(lrlab.optax.schedule("cosine(0.1, 100)")(jnp.int32(50))), 6)
    0.05
"""

from __future__ import annotations

from lrlab.adapters.optax import OptaxSchedule, PlateauScaleState, plateau, schedule

__all__ = ["OptaxSchedule", "PlateauScaleState", "plateau", "schedule"]
