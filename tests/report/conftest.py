"""The one quick report the page's tests read (built once per session)."""

from __future__ import annotations

import pytest

from lrlab.report import Report, build_report


@pytest.fixture(scope="session")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    out = tmp_path_factory.mktemp("rep") / "lrlab-report"
    return build_report(out, task="digits", seed=3, quick=True, quiet=True)
