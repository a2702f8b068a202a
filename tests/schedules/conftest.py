"""Setup for the schedule tests.

Keras must pick its backend before it is first imported, and the tests
only have JAX (no TensorFlow), hence the environment default here.
``schedule_kit`` (strategies, the reference, tolerances, the JAX float64
switch) sits next to this file and is put on ``sys.path`` for the test
modules to import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
