"""Suite-wide settings.

The lab's models are tiny: one intra-op thread is several times faster than
two on this 2-core machine (OpenMP workers spin against each other and
against any other process), so the suite runs torch single-threaded, as the
CLI does.  This must happen before torch is first imported.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests: in CI the examples are derived from each test's code, not drawn at random,
# so a run can be reproduced (and a clean clone does not fail on an example no one has seen).
# Locally they stay random, which is how new counterexamples are found.
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


# One torch thread inside every test too (the environment above covers the first import;
# a test or library that raises the count is put back after it).
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
