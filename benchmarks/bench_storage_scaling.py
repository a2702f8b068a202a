"""How many workers one storage serves: lrlab workers on PostgreSQL, SQLite and a journal file.

For each storage and each worker count (1, 2, 4, 8, 16; 64 more with ``--full``) the
benchmark forks that many worker processes (forked from this one, so that none spends
seconds importing torch and Optuna), releases them at once, and each runs
:func:`lrlab.tune.tune` on one fresh grid study with a sleep-free arithmetic objective
(``(log10(lr) + 2)^2``, one step): the storage and the search's own bookkeeping are all
there is to time.  It reports per run:

* ``trials_per_s``: the study's target N over the wall time from the release to the last
  worker's end (opening the storage and the study included);
* ``ask_p50_ms``, ``ask_p99_ms``, ``tell_p50_ms``, ``tell_p99_ms``: one ``Study.ask`` and
  one tell (Optuna's ``_tell_with_warning``, what ``optimize`` calls), timed in every
  worker, pooled;
* ``client_cpu_ms_per_trial``: the workers' own CPU time over N (SQLAlchemy and Optuna's
  Python, lrlab's bookkeeping): with C cores, no storage can serve more than
  ``C / client_cpu`` trials per second from workers on the same machine;
* ``finished`` (must be N), ``duplicated`` (grid points finished more than once: must
  be 0), ``left_running`` (trials left RUNNING or WAITING: must be 0), ``surplus``
  (trials marked surplus, made unnecessary by another worker), ``errors``.

and, per storage, ``stops_scaling_at``: the worker count after which doubling the workers
gains less than 10% throughput (on this 2-core machine the workers' own CPU caps every
storage near 2; the ``ask``/``tell`` times say which storage slows down under contention).

``grpc`` runs the workers through Optuna's ``GrpcStorageProxy``
(``storage="grpc://..."``): one proxy server process (``run_grpc_proxy_server``) in
front of the same PostgreSQL database, the path Optuna gives past one database's
connections.

PostgreSQL is the server at ``127.0.0.1:5432`` (trust authentication, database
``test``); each run uses a fresh study name and deletes it afterwards.  It is skipped,
and said, when the server is not there.

Usage (JSON on stdout, the table and the verdicts on stderr)::

    python benchmarks/bench_storage_scaling.py --quick      # N = 64 per run
    python benchmarks/bench_storage_scaling.py              # N = 128
    python benchmarks/bench_storage_scaling.py --full       # N = 256, and 64 workers
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
GAIN = 1.10  # doubling the workers must gain at least this much to count as scaling


def objective(trial: Any) -> float:
    """Sleep-free arithmetic: the storage is the bottleneck."""
    return (math.log10(trial.lr) + 2.0) ** 2


def space_kwargs(n: int) -> dict[str, Any]:
    """A grid of exactly ``n`` points (``n`` even): n/2 rates x (sgd, adam)."""
    return {"optimizers": ("sgd", "adam"), "schedules": ("constant",), "grid_points": n // 2}


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``, or ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _worker(storage: str, study: str, index: int, n: int, go: Any, out: Any) -> None:
    """One worker process: time every ask and tell, wait for the release, run ``tune``."""
    import optuna
    from optuna.study import _optimize

    from lrlab.tune import Space, tune

    sys.stderr = open(os.devnull, "w")  # "resumed study ..." of every worker after the first
    asks: list[float] = []
    tells: list[float] = []
    ask, tell = optuna.study.Study.ask, _optimize._tell_with_warning

    def timed_ask(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return ask(self, *args, **kwargs)
        finally:
            asks.append(time.perf_counter() - t)

    def timed_tell(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return tell(*args, **kwargs)
        finally:
            tells.append(time.perf_counter() - t)

    optuna.study.Study.ask = timed_ask  # type: ignore[method-assign]
    _optimize._tell_with_warning = timed_tell
    go.wait()
    error = None
    cpu = time.process_time()
    try:
        tune(objective, steps=1, sampler="grid", pruner="none", trials=n, storage=storage,
             study=study, space=Space(**space_kwargs(n)), worker=index, quiet=True)  # fmt: skip
    except BaseException as exc:  # reported, not raised: the parent counts it
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
    cpu = time.process_time() - cpu  # this worker's own CPU (its threads' too)
    out.put({"index": index, "asks": asks, "tells": tells, "end": time.time(), "cpu": cpu,
             "error": error})  # fmt: skip


def _count(storage: str, study: str, n: int) -> dict[str, Any]:
    """What the study holds: finished trials, duplicated grid points, leftovers."""
    import optuna

    from lrlab.tune.storage import open_storage

    store, _ = open_storage(storage, ".")
    try:
        trials = optuna.load_study(study_name=study, storage=store).get_trials(deepcopy=False)
        finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
        points = Counter(t.system_attrs.get("grid_id") for t in finished)
        row = {
            "finished": len(finished),
            "duplicated": sum(c - 1 for c in points.values()),
            "missing": n - len(points),
            "left_running": sum(t.state.name in ("RUNNING", "WAITING") for t in trials),
            "surplus": sum(bool(t.user_attrs.get("lrlab_surplus")) for t in trials),
        }
        if storage.startswith(("postgresql", "grpc")):
            optuna.delete_study(study_name=study, storage=store)
    finally:
        engine = getattr(store, "engine", None)
        if engine is not None:  # no pooled connection may outlive this into a fork
            engine.dispose()
        if hasattr(store, "close"):  # a gRPC channel, likewise
            store.close()
    return row


def run(storage: str, workers: int, n: int, timeout: float) -> dict[str, Any]:
    """One study of ``n`` trials by ``workers`` forked workers on ``storage``."""
    ctx = mp.get_context("fork")
    study = f"scaling-{uuid.uuid4().hex[:10]}"
    go, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(storage, study, i, n, go, out)) for i in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5 + 0.05 * workers)  # every worker forked and waiting
    start = time.time()
    go.set()
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(reports) < workers and time.monotonic() < deadline:
        try:
            reports.append(out.get(timeout=1.0))
        except Exception:  # queue.Empty: a worker still runs
            if not any(p.is_alive() for p in procs) and out.empty():
                break
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()
    wall = max((r["end"] for r in reports), default=time.time()) - start
    asks = [a for r in reports for a in r["asks"]]
    tells = [t for r in reports for t in r["tells"]]
    errors = [r["error"] for r in reports if r["error"]] + (
        [f"{workers - len(reports)} workers did not report in {timeout:g} s"]
        if len(reports) < workers
        else []
    )
    row: dict[str, Any] = {
        "storage": "grpc-proxy+postgresql"
        if storage.startswith("grpc")
        else storage.split(":", 1)[0].split("+", 1)[0],
        "workers": workers,
        "trials": n,
        "wall_s": round(wall, 3),
        "trials_per_s": round(n / wall, 2) if wall > 0 else None,
        **{
            f"{what}_{name}_ms": None if (v := _percentile(vals, q)) is None else round(1e3 * v, 2)
            for what, vals in (("ask", asks), ("tell", tells))
            for name, q in (("p50", 50), ("p99", 99))
        },
        # the workers' own CPU per trial: when workers x this nears the cores x the wall
        # time, the clients, not the storage, are what stops the scaling
        "client_cpu_ms_per_trial": round(1e3 * sum(r["cpu"] for r in reports) / n, 1),
        "errors": errors,
    }
    row.update(_count(storage, study, n))
    return row


def stops_scaling(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per storage: the worker count after which doubling gains less than ``GAIN``."""
    verdicts: dict[str, Any] = {}
    for name in dict.fromkeys(r["storage"] for r in rows):
        mine = sorted((r for r in rows if r["storage"] == name), key=lambda r: r["workers"])
        at = mine[-1]["workers"]
        for a, b in itertools.pairwise(mine):
            if (b["trials_per_s"] or 0) < GAIN * (a["trials_per_s"] or 0):
                at = a["workers"]
                break
        best = max(mine, key=lambda r: r["trials_per_s"] or 0)
        verdicts[name] = {
            "stops_scaling_at": at,
            "best_workers": best["workers"],
            "best_trials_per_s": best["trials_per_s"],
        }
    return verdicts


PROXY = """
import sys
import optuna
from lrlab.tune.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.ERROR)
rdb, _ = open_storage(sys.argv[1], ".")
optuna.storages.run_grpc_proxy_server(optuna.storages.get_storage(rdb), host="127.0.0.1",
                                      port=int(sys.argv[2]))
"""


def _proxy(backend: str, folder: Path) -> tuple[Any, str]:
    """Start Optuna's gRPC proxy server in front of ``backend``; ``(process, grpc URL)``."""
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    script = folder / "proxy.py"
    script.write_text(PROXY)
    proc = subprocess.Popen([sys.executable, str(script), backend, str(port)],
                            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return proc, f"grpc://127.0.0.1:{port}"


def _pg_up() -> bool:
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(PG, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="N = 64 trials per run")
    mode.add_argument("--full", action="store_true", help="N = 256, and 64 workers")
    parser.add_argument(
        "--storages",
        default="postgresql,sqlite,journal,grpc",
        help="grpc: Optuna's GrpcStorageProxy in front of the PostgreSQL server",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    args = parser.parse_args(argv)
    import optuna  # imported before the forks: the workers start at once
    import torch  # noqa: F401

    import lrlab.tune  # noqa: F401

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    n = 64 if args.quick else 256 if args.full else 128
    counts = [1, 2, 4, 8, 16] + ([64] if args.full else [])
    folder = Path(tempfile.mkdtemp(prefix="lrlab-scaling-"))
    urls = {
        "postgresql": PG,
        "sqlite": f"sqlite:///{folder / 'scaling.db'}",
        "journal": f"journal:{folder / 'scaling.log'}",
    }
    skipped = []
    rows = []
    for name in args.storages.split(","):
        if name in ("postgresql", "grpc") and not _pg_up():
            skipped.append(f"{name}: no PostgreSQL server at {PG}")
            continue
        proxy = None
        if name == "grpc":  # Optuna's gRPC proxy in front of the PostgreSQL server
            try:
                import grpc  # noqa: F401
            except ImportError:
                skipped.append("grpc: grpcio is not installed")
                continue
            proxy, urls["grpc"] = _proxy(PG, folder)
        for k in counts:
            row = run(urls[name], k, n, args.timeout)
            rows.append(row)
            print(
                f"{row['storage']:>10} {k:>3} workers: {row['trials_per_s']:>7} trials/s, "
                f"client CPU {row['client_cpu_ms_per_trial']} ms/trial, "
                f"ask p99 {row['ask_p99_ms']} ms, tell p99 {row['tell_p99_ms']} ms, "
                f"finished {row['finished']}/{n}, duplicated {row['duplicated']}, "
                f"left running {row['left_running']}, errors {len(row['errors'])}",
                file=sys.stderr,
                flush=True,
            )
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
    verdicts = stops_scaling(rows)
    for name, v in verdicts.items():
        print(
            f"{name}: stops scaling after {v['stops_scaling_at']} workers "
            f"(best {v['best_trials_per_s']} trials/s with {v['best_workers']})",
            file=sys.stderr,
        )
    ok = all(
        r["finished"] == n and r["duplicated"] == 0 and r["left_running"] == 0 and not r["errors"]
        for r in rows
    )
    report = {
        "benchmark": "storage_scaling",
        "mode": "quick" if args.quick else "full" if args.full else "default",
        "cpus": os.cpu_count(),
        "optuna": optuna.__version__,
        "trials_per_run": n,
        "rows": rows,
        "verdicts": verdicts,
        "skipped": skipped,
        "all_exact": ok,
    }
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
