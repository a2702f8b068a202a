"""``lrlab report``: the whole learning-rate study in one page.

:func:`build_report` runs every section on real training (all local, built-in
defaults), then writes ``index.html`` (self-contained: figures embedded, no
scripts, works offline), ``results.json``, ``tables/*.csv`` and
``figures/*.png|svg`` into the output folder.  The folder appears only when
everything is done: the work happens in a hidden sibling folder that is
renamed into place at the end, so an interrupted run leaves no half-written
page, and an existing folder is replaced only with ``force=True``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lrlab._checks import search_seed
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.report._budget import Budget, budget
from lrlab.report._page import Section, render_page, write_assets
from lrlab.schedules._validate import shown

__all__ = ["Report", "build_report"]


@dataclass
class Report:
    """Where the report went and what it measured."""

    out: Path
    sections: list[Section]
    seconds: float

    @property
    def index(self) -> Path:
        return self.out / "index.html"


_T = TypeVar("_T")


class _Runner:
    """Runs one section after another: names it to ``progress`` and the bar, moves
    the bar through the section's share of the run, and records its time."""

    def __init__(self, bar: Any, progress: Callable[[str], Any] | None) -> None:
        self.bar, self.progress = bar, progress
        self.done = self.share = 0.0

    def advance(self, fraction: float) -> None:
        """Move the bar to ``fraction`` (0..1) of the running section."""
        self.bar.n = round(self.done + self.share * min(max(fraction, 0.0), 1.0), 1)
        self.bar.refresh()

    def __call__(self, label: str, share: float, section: Callable[[], _T]) -> _T:
        self.share = share
        if self.progress is not None:
            self.progress(label)
        self.bar.set_description(f"report: {label}")
        self.advance(0.0)
        started = time.perf_counter()
        out = section()
        sec = out[0] if isinstance(out, tuple) else out
        assert isinstance(sec, Section)
        sec.data["seconds"] = round(time.perf_counter() - started, 3)
        self.done += share
        self.advance(0.0)
        return out


def _run_sections(
    task: str, seed: int, b: Budget, bar: Any, progress: Callable[[str], Any] | None
) -> list[Section]:
    """Every section, each given the results it builds on; in page order.

    The shares (percent of the run's time, measured on digits) let the progress bar
    move at about the pace of the work.  The range test runs before the schedule and
    optimizer sections, which train at its suggestion; the page still shows them in order.
    """
    from lrlab.report import sections as s

    step = _Runner(bar, progress)
    ctx = s.Context(task_name=task, seed=seed, budget=b, quiet=True, advance=step.advance)
    decay = step("decay strategies", 0.5, lambda: s.decay_strategies(ctx))
    factor = step("decay factor", 0.5, lambda: s.decay_factor(ctx))
    land = step("loss surface", 6.0, lambda: s.landscape(ctx))
    found, finder = step("range test", 7.0, lambda: s.range_test(ctx))
    sched, schedules = step("schedules", 14.0, lambda: s.schedules_on_training(ctx, finder))
    opt, optimizers = step("optimizers", 28.0, lambda: s.optimizers(ctx, finder))
    searched, best = step("search", 44.0, lambda: s.search(ctx))
    advice = step(
        "recommendation", 0.0,
        lambda: s.recommendation(ctx, finder, schedules, optimizers, best),
    )  # fmt: skip
    return [decay, factor, land, sched, opt, found, searched, advice]


def _check_arguments(
    out: str | Path, task: str | None, seed: int, flags: dict[str, Any], progress: Any
) -> Path:
    """The output folder, once every argument is known to be usable (``task=None``: a
    stored study's report, which trains no task)."""
    from lrlab.tasks import get, names

    if not isinstance(out, (str, os.PathLike)):
        raise UsageError(f"Argument `out` must be a folder path. Received: out={shown(out)}")
    for name, value in flags.items():  # `force='no'` would replace a folder, `quick='no'` not
        if not isinstance(value, bool):
            raise UsageError(f"Argument `{name}` must be True or False. Received: {name}={value!r}")
    if progress is not None and not callable(progress):
        raise UsageError(
            "Argument `progress` must be a function of the section's name or None. "
            f"Received: progress={shown(progress)}"
        )

    if task is not None and (not isinstance(task, str) or task not in names()):
        raise UsageError(
            f"Argument `task` must be one of {', '.join(names())}. Received: task={task!r}"
        )
    search_seed("seed", seed)  # the search section seeds Optuna's samplers with it
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise UsageError(f"Argument `out` must be a folder. Received: out={str(out)!r} is a file")
    if target.exists() and any(target.iterdir()) and not flags["force"]:
        raise UsageError(
            f"Output folder {str(out)!r} already exists and is not empty; "
            "pass --force (force=True) to replace it"
        )
    if task is not None:
        get(task)  # fail early on a task that cannot be built
    return target


def _sections(
    task: str, seed: int, quick: bool, quiet: bool, progress: Any, study: str | None,
    storage: str | None,
) -> tuple[list[Section], str, str]:  # fmt: skip
    """The page's sections, title and what it is: the study run on ``task``, or the stored
    ``study`` read back."""
    if study is not None:
        from lrlab.report.sections import study_sections
        from lrlab.tune import load

        sections = study_sections(load(study, storage))
        return sections, f"Your search, measured — {study}", f"lrlab report of study '{study}'"
    # The bar counts percent of the run; tqdm ends desc with ": ".
    fmt = "{desc}{percentage:3.0f}%|{bar}| {elapsed}"
    with progress_bar(100, "report", quiet, leave=True, unit="%", bar_format=fmt) as bar:
        sections = _run_sections(task, seed, budget(quick), bar, progress)
    what = f"lrlab report on task '{task}', seed {seed}{', quick budgets' if quick else ''}"
    return sections, f"The learning rate, measured — {task}", what


def build_report(
    out: str | Path = "lrlab-report",
    *,
    task: str = "digits",
    seed: int = 0,
    quick: bool = False,
    force: bool = False,
    quiet: bool = False,
    progress: Callable[[str], Any] | None = None,
    study: str | None = None,
    storage: str | None = None,
) -> Report:
    """Run the study on ``task`` and write the report folder ``out``.

    ``quick`` uses small budgets (same page, for tests); ``seed`` fixes every
    random choice, so the same seed gives the same numbers.  With ``study`` (and
    ``storage``, as for :func:`lrlab.tune.tune`), the page is instead the report of
    that stored search, a built-in task's or the user's own objective's: its
    trials, pruning and the configuration to copy, read back without training.
    Raises :class:`~lrlab.errors.UsageError`, before any work, for an unknown task,
    an unknown study or an existing ``out`` without ``force``.
    """
    flags = {"quick": quick, "force": force}
    target = _check_arguments(out, None if study else task, seed, flags, progress)
    t0 = time.perf_counter()
    ordered, title, what = _sections(task, seed, quick, quiet, progress, study, storage)
    work = time.perf_counter() - t0
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write_assets(ordered, staging)
        seconds = time.perf_counter() - t0
        page = render_page(
            ordered,
            title=title,
            subtitle=(
                f"{what}: {len(ordered)} sections, built in "
                f"{seconds:.0f} s on this machine ({work:.0f} s training and measuring, the "
                "rest drawing and saving the figures; the command's wall time adds a few "
                "seconds of Python start-up and imports)."
            ),
            footer=(
                "Generated by lrlab. Every number on this page was measured by the run that "
                "wrote it; results.json, tables/ and figures/ beside this page hold them all."
            ),
        )
        (staging / "index.html").write_text(page, encoding="utf-8")
        os.chmod(staging, 0o755)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Report(out=target, sections=ordered, seconds=seconds)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished folder to ``target``, replacing an old one."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
