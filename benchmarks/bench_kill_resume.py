"""Kill and resume a distributed grid search, many times; count what went wrong.

Each round starts ``--workers`` processes on one grid study (``lrlab.tune``, grid sampler,
``--worker i``), loads the CPU with one more busy process, SIGKILLs one worker while it
is inside a trial (after its heartbeat started), starts a new worker in its place (the
resume), waits for every worker to end, and counts over the study:

* ``duplicated``: grid points that finished (COMPLETE or PRUNED) more than once;
* ``missing``: grid points that never finished;
* ``lost``: trials neither finished, nor surplus markers, nor failed-and-retried
  (a killed worker's trial that nobody redid), and trials left RUNNING or WAITING;
* ``same_best``: whether the study's best is a single worker's best (same point, same loss).

Usage (SQLite file, or the PostgreSQL server; JSON on stdout)::

    python benchmarks/bench_kill_resume.py --rounds 10
    python benchmarks/bench_kill_resume.py --rounds 10 \\
        --storage postgresql+psycopg2://postgres@127.0.0.1:5432/test

The test suite runs one small round on each storage (``tests/tune/test_faults.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

WORKER = """
import os, sys, time
from lrlab.tune import Family, Space, tune

def napping(lr, steps):
    from lrlab.schedules import constant
    time.sleep(float(os.environ.get("LRLAB_NAP", "0")))
    return constant(lr)

storage, study, worker, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import dataclasses
space = Space(lr=(1e-3, 1.0), optimizers=("sgd", "adam"), schedules=("constant",),
              grid_points=points).with_family(Family("napping", napping))
space = dataclasses.replace(space, schedules=("napping",))
res = tune("breast_cancer", sampler="grid", trials=1000, pruner="none", space=space,
           storage=storage, study=study, steps=8, worker=worker,
           heartbeat_interval=1, grace_period=2)
print("finished", res.n_finished, flush=True)
"""


def grid_space(points: int) -> Any:
    """The workers' space (no nap): for the single-worker reference."""
    from lrlab.tune import Family, Space

    def napping(lr: float, steps: int) -> Any:
        from lrlab.schedules import constant

        return constant(lr)

    import dataclasses

    space = Space(
        lr=(1e-3, 1.0), optimizers=("sgd", "adam"), schedules=("constant",), grid_points=points
    ).with_family(Family("napping", napping))
    return dataclasses.replace(space, schedules=("napping",))


def reference_best(points: int) -> tuple[tuple[float, str], float]:
    """One worker, in memory: the best point and its loss."""
    from lrlab.tune import tune

    res = tune(
        "breast_cancer", sampler="grid", trials=1000, pruner="none", space=grid_space(points),
        storage="memory", steps=8,
    )  # fmt: skip
    assert res.best is not None
    return (round(res.best.lr, 12), res.best.optimizer), float(res.best.value)


def _start(script: Path, storage: str, study: str, worker: int, points: int, nap: float) -> Any:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "LRLAB_NAP": str(nap)}
    return subprocess.Popen(
        [sys.executable, str(script), storage, study, str(worker), str(points)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _states(storage: str, study: str) -> Counter[str]:
    """How many trials of ``study`` are in each state (none while it does not exist yet)."""
    import optuna

    try:
        st = optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        return Counter()
    return Counter(t.state.name for t in st.get_trials(deepcopy=False))


def _until(what: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.1)


def run_round(
    storage: str,
    study: str,
    *,
    workers: int = 3,
    points: int = 3,
    nap: float = 0.0,
    victim_nap: float = 300.0,
    resume: bool = True,
    load: bool = True,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """One kill-and-resume round; returns the counts (see the module docstring)."""
    import optuna

    folder = Path(tempfile.mkdtemp(prefix="lrlab-kill-"))
    script = folder / "worker.py"
    script.write_text(WORKER)
    busy = (
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load else None
    )  # another process loads the CPU
    started = time.monotonic()
    victim = _start(script, storage, study, 0, points, victim_nap)
    procs = [victim]
    outputs: list[str] = []
    try:
        # The victim naps inside its first trial; the others start once it is there,
        # and it is killed once they have finished a trial beside it.
        _until(lambda: _states(storage, study)["RUNNING"] > 0, timeout)
        procs += [_start(script, storage, study, i, points, nap) for i in range(1, workers)]
        _until(lambda: _states(storage, study)["COMPLETE"] > 0, timeout)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        if resume:
            procs.append(_start(script, storage, study, workers, points, nap))
        for p in procs[1:]:
            out, err = p.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
            outputs.append(out + err)
            if p.returncode != 0:
                raise RuntimeError(f"a worker failed ({p.returncode}): {err[-2000:]}")
    finally:
        for p in [*procs, *([busy] if busy else [])]:
            if p.poll() is None:
                p.kill()
                p.wait()
    seconds = time.monotonic() - started
    st = optuna.load_study(study_name=study, storage=storage)
    return {**count(st, points), "seconds": round(seconds, 1)}


def count(st: Any, points: int) -> dict[str, Any]:
    """The counts of one study of a ``points`` x 2 grid."""
    trials = st.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    per_point = Counter((round(t.params["lr"], 12), t.params["optimizer"]) for t in finished)
    grid = {(round(p["lr"], 12), p["optimizer"]) for p in _grid(points)}
    retried = {t.system_attrs.get("failed_trial") for t in trials}
    retried |= {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    lost = [
        t.number
        for t in trials
        if t.state.name in ("RUNNING", "WAITING")
        or (
            t.state.name == "FAIL"
            and not t.user_attrs.get("lrlab_surplus")
            and t.number not in retried
        )
    ]
    best = min(finished, key=lambda t: (t.value, t.number)) if finished else None
    return {
        "trials": len(trials),
        "finished": len(finished),
        "grid": len(grid),
        "duplicated": sum(c - 1 for c in per_point.values() if c > 1),
        "missing": len(grid - set(per_point)),
        "lost": len(lost),
        "failed_and_retried": sum(t.state.name == "FAIL" and t.number in retried for t in trials),
        "surplus": sum(bool(t.user_attrs.get("lrlab_surplus")) for t in trials),
        "best": None
        if best is None
        else [[round(best.params["lr"], 12), best.params["optimizer"]], best.value],
    }


def _grid(points: int) -> list[dict[str, Any]]:
    import itertools

    values = grid_space(points).grid_values()
    return [
        {"lr": lr, "optimizer": opt}
        for lr, opt in itertools.product(values["lr"], values["optimizer"])
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--storage", default=None, help="default: a new SQLite file per round")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--points", type=int, default=4, help="LRs in the grid (x 2 optimizers)")
    ap.add_argument("--nap", type=float, default=0.3, help="seconds each trial naps")
    args = ap.parse_args()
    ref_point, ref_loss = reference_best(args.points)
    rounds = []
    for r in range(args.rounds):
        storage = args.storage or f"sqlite:///{tempfile.mkdtemp()}/kill.db"
        study = f"kill-{uuid.uuid4().hex[:10]}"
        row = run_round(storage, study, workers=args.workers, points=args.points, nap=args.nap)
        row["same_best"] = row["best"] is not None and (
            tuple(row["best"][0]) == ref_point and abs(row["best"][1] - ref_loss) <= 1e-9
        )
        rounds.append(row)
        print(json.dumps({"round": r, **row}), file=sys.stderr, flush=True)
        if args.storage:
            import optuna

            optuna.delete_study(study_name=study, storage=storage)
    total = {
        key: sum(int(r[key]) for r in rounds)
        for key in ("duplicated", "missing", "lost", "failed_and_retried", "surplus")
    }
    print(
        json.dumps(
            {
                "rounds": len(rounds),
                "storage": (args.storage or "sqlite").split("://")[0],
                "workers": args.workers,
                "grid": rounds[0]["grid"] if rounds else 0,
                **total,
                "same_best": sum(bool(r["same_best"]) for r in rounds),
                "seconds_per_round": round(sum(r["seconds"] for r in rounds) / len(rounds), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
