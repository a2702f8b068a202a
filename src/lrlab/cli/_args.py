"""What the subcommands share at the boundary: argument types with limits, output checks.

An argument type raises :class:`argparse.ArgumentTypeError`, which the parser turns into
one line naming the flag (``lrlab show: error: argument --steps: must be ...``) and exit
status 2.  :func:`writable` checks an output location before any work is done, so that
a run of minutes does not end in an error about where to put its results.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrlab.errors import UsageError

#: The most steps a command evaluates or trains: per-step arrays of this many float64
#: values take 80 MB each (``--steps 100000000000`` asked for a 745 GiB array).
MAX_STEPS = 10_000_000
#: Seeds go to NumPy and torch, which take unsigned 32-bit (NumPy) or 64-bit seeds.
MAX_SEED = 2**32 - 1
#: Counts of trials, seeds, folds, runs: beyond this, a run would not end.
MAX_COUNT = 100_000


def integer(low: int | None, high: int) -> Callable[[str], int]:
    """An argparse type: an integer of at most ``high`` (and at least ``low`` if given).

    Without ``low`` the command's own check of the lower end speaks (it knows
    what the value means: "a positive integer", "at least 2").
    """

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value > high or (low is not None and value < low):
            allowed = f"from {low} to {high}" if low is not None else f"of at most {high}"
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}. Received: {text!r}")
        return value

    return parse


def number(*, positive: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number (``> 0`` when ``positive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (positive and value <= 0):
            what = "a positive finite number" if positive else "a finite number"
            raise argparse.ArgumentTypeError(f"must be {what}. Received: {text!r}")
        return value

    return parse


STEPS = integer(None, MAX_STEPS)
SEED = integer(0, MAX_SEED)
COUNT = integer(None, MAX_COUNT)
#: Training steps of a whole study: trials x seeds x folds x steps.
BUDGET = integer(None, MAX_COUNT * MAX_STEPS)
WORKER = integer(0, MAX_COUNT)
FINITE = number()
POSITIVE = number(positive=True)


def options(args: argparse.Namespace, names: str) -> dict[str, Any]:
    """The parsed options ``names`` (space-separated) as keyword arguments of the same names."""
    return {name: getattr(args, name) for name in names.split()}


#: The figure formats the CLI writes (by the file's suffix).
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def figure_file(path: str, flag: str = "--out") -> Path:
    """``path`` as a :class:`Path`, once it is known to name a figure file (.png, .svg or
    .pdf) that can be written: checked before any work, so a long run is not lost to a
    typo.

    Raises:
        UsageError: naming ``flag``: another suffix, or a place that cannot be written.
    """
    if Path(path).suffix.lower() not in FIGURE_SUFFIXES:
        raise UsageError(
            f"Argument `{flag}` must end in .png, .svg or .pdf. Received: {flag}={path}"
        )
    return writable(path, flag, folder=False)


def writable(path: str, flag: str = "--out", *, folder: bool) -> Path:
    """``path`` as a :class:`Path`, once it is known that a file (or folder) can be written there.

    Missing folders are created to try, then removed again: nothing is left behind.

    Raises:
        UsageError: naming ``flag``: the path names a file where a folder is
            expected (or the reverse), or the place cannot be written.
    """
    p = Path(path)
    what = "a folder" if folder else "a file"
    if (p.exists() and not p.is_dir()) if folder else p.is_dir():
        other = "a file" if folder else "a folder"
        raise UsageError(
            f"Argument `{flag}` must be {what}, and {path} is {other}. Received: {flag}={path}"
        )
    target = p if folder else p.parent
    created: list[Path] = []
    try:
        for d in reversed([target, *target.parents]):
            if not d.exists():
                d.mkdir()
                created.append(d)
        probe = target / f".lrlab-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"Argument `{flag}` must be {what} lrlab can write ({reason}: "
            f"{exc.filename or target}). Received: {flag}={path}"
        ) from None
    finally:
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
    return p
