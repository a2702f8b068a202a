"""Loss surfaces: real torch optimizers on 2-D functions, one path per learning rate.

``trajectories(fn, optimizer, lrs, steps, start=None)`` returns a
:class:`LandscapeResult`; :func:`lrlab.plots.landscape.plot_trajectories` draws it.
"""

from __future__ import annotations

from lrlab.landscape.surfaces import Surface, functions, get_function
from lrlab.landscape.trajectories import LandscapeResult, default_lrs, trajectories

__all__ = [
    "LandscapeResult",
    "Surface",
    "default_lrs",
    "functions",
    "get_function",
    "trajectories",
]
