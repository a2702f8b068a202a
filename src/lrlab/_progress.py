"""Whether long work shows a progress bar: one rule for the whole package.

A bar goes to stderr unless the caller asked for quiet or stderr is not a
terminal (a log file, a pipe, CI), where a bar would only fill the log.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["on_terminal", "progress_bar", "shows_progress"]


def on_terminal() -> bool:
    """Whether stderr is a terminal (read at each call: tests and callers may swap it)."""
    return sys.stderr.isatty()


def shows_progress(quiet: bool) -> bool:
    """Whether to draw a bar: not ``quiet`` and stderr a terminal."""
    return not quiet and on_terminal()


def progress_bar(
    total: int,
    desc: str,
    quiet: bool,
    *,
    leave: bool = False,
    unit: str = "it",
    bar_format: str | None = None,
) -> Any:
    """A tqdm bar of ``total`` steps (also a ``with`` that closes it), disabled (its updates
    do nothing) unless :func:`shows_progress`; ``bar_format`` is tqdm's."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, disable=not shows_progress(quiet), leave=leave, unit=unit,
        bar_format=bar_format,
    )  # fmt: skip
