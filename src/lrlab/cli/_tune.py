"""``lrlab tune``: search LR, optimizer and schedule with Optuna on a built-in task or the
user's own objective (``--objective train.py:objective``); resumable by name."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Any

from lrlab import _json
from lrlab.cli._args import (
    BUDGET,
    COUNT,
    FINITE,
    POSITIVE,
    SEED,
    STEPS,
    WORKER,
    options,
    writable,
)
from lrlab.errors import LrlabWarning, UsageError

HELP = "search the learning rate (and optimizer, schedule) with Optuna"
DESCRIPTION = (
    "Run (or resume) an Optuna study on a task or on your own objective(trial) -> loss "
    "(--objective train.py:objective --steps N). --trials is the study's target "
    "of finished trials in total: rerunning with the same --study and --storage resumes it, "
    "and several workers may share one study. Writes trials.json, lr.png and history.png "
    "to --out."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--task", help="a built-in task (see `lrlab tasks`)")
    what.add_argument("--objective", help="PATH.py:FUNCTION, your objective (needs --steps)")
    p.add_argument("--sampler", default="tpe", help="grid, random or tpe (default tpe)")
    p.add_argument("--trials", type=COUNT, default=40, help="finished trials in total (default 40)")
    p.add_argument("--cv", type=COUNT, default=None, help="k-fold cross-validation (k >= 2)")
    p.add_argument(
        "--repeats",
        type=COUNT,
        default=1,
        help="seeds per configuration, scored by their mean (default 1)",
    )
    p.add_argument(
        "--finalists",
        type=COUNT,
        default=0,
        help="after the search, retrain this many best trials on more seeds and pick the best "
        "mean (default 0: off; 3 measured best)",
    )
    p.add_argument(
        "--finalist-seeds", type=COUNT, default=1, help="extra seeds per finalist (default 1)"
    )
    p.add_argument(
        "--budget",
        type=BUDGET,
        default=None,
        help="training steps the study may spend in all, the finalists' runs included: no "
        "trial starts that could exceed it (default: no limit)",
    )
    p.add_argument(
        "--pruner",
        default="projected",
        help="projected, median, hyperband, successive_halving, wilcoxon or none "
        "(default projected)",
    )
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna storage URL or journal:PATH (default: SQLite in --out)",
    )
    p.add_argument(
        "--storage-retry-s",
        type=FINITE,
        default=60.0,
        help="seconds a database that went away is waited for (retried with backoff) before "
        "the worker stops with exit status 1; a rerun resumes (default 60)",
    )
    p.add_argument(
        "--study", default=None, help="study name (default <task or objective>-<sampler>)"
    )
    p.add_argument("--out", required=True, help="run folder for the results (and default storage)")
    p.add_argument("--steps", type=STEPS, default=None, help="training steps per run")
    p.add_argument("--optimizers", default=None, help="comma-separated optimizers to search")
    p.add_argument("--schedules", default=None, help="comma-separated schedule families")
    p.add_argument("--min-lr", type=POSITIVE, default=None, help="low end of the LR range")
    p.add_argument("--max-lr", type=POSITIVE, default=None, help="high end of the LR range")
    p.add_argument("--seed", type=SEED, default=0, help="run seed (default 0)")
    p.add_argument(
        "--worker",
        type=WORKER,
        default=0,
        help="worker index, varies the sampler seed (not the grid's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _names(flag: str, text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise UsageError(
            f"Argument `{flag}` must list at least one name. Received: {flag}={text!r}"
        )
    return names


def load_objective(text: str) -> Any:
    """The function ``FUNCTION`` of the file ``PATH.py`` named by ``PATH.py:FUNCTION``
    (the file is imported as a module named after it; nothing is evaluated)."""
    path, sep, name = text.rpartition(":")
    where = "Argument `--objective` must be PATH.py:FUNCTION, a function in a Python file"
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise UsageError(f"{where}. Received: --objective={text!r}")
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{where}; there is no file {path!r}. Received: --objective={text!r}")
    module_name = file.stem if file.stem.isidentifier() else "lrlab_objective"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"{where}; {path!r} cannot be imported. Received: --objective={text!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(file.resolve().parent))  # its own imports, as `python PATH.py`
    spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if fn is None:
        raise UsageError(f"{where}; {path!r} has no {name!r}. Received: --objective={text!r}")
    if not callable(fn):
        raise UsageError(
            f"{where}; {name!r} in {path!r} is a {type(fn).__name__}, not a function. "
            f"Received: --objective={text!r}"
        )
    return fn


def run(args: argparse.Namespace) -> int:
    from lrlab.tune import Space, tune
    from lrlab.tune.storage import StorageUnavailable

    kwargs: dict[str, Any] = {}
    for name in ("optimizers", "schedules"):
        if (names := _names(f"--{name}", getattr(args, name))) is not None:
            kwargs[name] = names
    low, high = Space().lr  # the defaults
    kwargs["lr"] = (
        low if args.min_lr is None else args.min_lr,
        high if args.max_lr is None else args.max_lr,
    )
    space = Space(**kwargs)
    out = writable(args.out, folder=True)  # before the study, not after it
    search = options(args, "sampler trials cv repeats finalists finalist_seeds pruner budget")
    runs = options(args, "storage storage_retry_s study steps seed worker quiet")
    objective = args.task if args.objective is None else load_objective(args.objective)
    with warnings.catch_warnings():  # said once, below, beside the best
        warnings.simplefilter("ignore", LrlabWarning)
        try:
            result = tune(objective, space=space, run_dir=out, **search, **runs)
        except StorageUnavailable as exc:  # not bad input: the database went away
            sys.stderr.write(f"lrlab tune: error: {exc}\n")
            return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "trials.json").write_text(_json.dumps(result.to_dict(), indent=1))
    result.plot_lr().savefig(out / "lr.png", dpi=110, bbox_inches="tight")
    result.plot_history().savefig(out / "history.png", dpi=110, bbox_inches="tight")
    print(
        f"study {result.study} in {result.storage}: {result.n_finished}/{result.target} trials "
        f"finished, {result.total_steps} training steps"
        + (f" ({result.finalist_steps} for the finalists)" if result.finalist_steps else "")
        + (
            f"; stopped by the budget of {args.budget} steps"
            if args.budget is not None and result.n_finished < result.target
            else ""
        )
    )
    if result.best is None:
        print("no trial completed")
    else:
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in result.best_params.items()
        )
        b = result.best
        print(f"best: val loss {b.value:.4g} with {params}")
        if b.mean_loss is not None:
            print(
                f"      picked among {sum(r.mean_loss is not None for r in result.trials)} "
                f"finalists by the mean over {b.mean_seeds} seeds: {b.mean_loss:.4g}"
            )
    if (note := result.edge_note()) is not None:
        print(note)
    shown = 20
    print(result.table(limit=shown))
    if len(result.trials) > shown:
        print(
            f"(the best {shown} of {len(result.trials)} trials; all of them are in "
            f"{out / 'trials.json'})"
        )
    print(f"results: {out / 'trials.json'}, {out / 'lr.png'}, {out / 'history.png'}")
    return 0
