"""The path past one database's connections: a study through Optuna's gRPC storage proxy.

A server process runs ``optuna.storages.run_grpc_proxy_server`` in front of an RDB
storage (a SQLite file; Optuna only, so that it starts in seconds);
``tune(storage="grpc://127.0.0.1:PORT")`` runs a grid study through
``optuna.storages.GrpcStorageProxy``, and the database behind the proxy holds exactly
the study's trials.  Skipped when ``grpcio`` is not installed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

from lrlab.errors import UsageError
from lrlab.tune import Space, tune
from lrlab.tune.storage import open_storage

pytest.importorskip("grpc", reason="grpcio is not installed (pip install grpcio)")

SERVER = textwrap.dedent(
    """
    import sys
    import optuna

    optuna.storages.run_grpc_proxy_server(
        optuna.storages.get_storage(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2])
    )
    """
)


def _spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def objective(trial) -> float:  # type: ignore[no-untyped-def]
    return (trial.lr - 0.01) ** 2


def test_a_study_through_the_grpc_storage_proxy(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'behind.db'}"
    port = _spare_port()
    (tmp_path / "server.py").write_text(SERVER)
    server = subprocess.Popen(
        [sys.executable, str(tmp_path / "server.py"), db, str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:  # the server imports Optuna first
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "the proxy server did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        space = Space(lr=(1e-3, 1e-1), optimizers=("sgd",), schedules=("constant",), grid_points=3)
        proxy = f"grpc://127.0.0.1:{port}"
        store, shown = open_storage(proxy, tmp_path)  # waits for the server (10 s at most)
        assert isinstance(store, optuna.storages.GrpcStorageProxy) and shown == proxy
        res = tune(objective, steps=2, sampler="grid", pruner="none", trials=3, storage=proxy,
                   study="proxied", space=space)  # fmt: skip
        assert res.n_finished == 3 and res.storage == proxy
        assert res.best is not None and res.best.lr == pytest.approx(0.01, rel=1e-12)
        again = tune(objective, steps=2, sampler="grid", pruner="none", trials=3,
                     storage=proxy, study="proxied", space=space)  # fmt: skip
        assert again.n_finished == 3  # resumed through the proxy: nothing more ran
    finally:
        server.terminate()
        server.wait(timeout=30)
    behind = optuna.load_study(study_name="proxied", storage=db).trials
    done = [t for t in behind if t.state.name == "COMPLETE"]
    assert len(done) == 3 == len(behind)
    assert len({t.params["lr"] for t in done}) == 3  # each point once


def test_a_proxy_that_does_not_answer_is_one_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"could not be reached\. Received: storage='grpc://"):
        open_storage(f"grpc://127.0.0.1:{_spare_port()}", tmp_path)
    with pytest.raises(UsageError, match=r"must be grpc://HOST:PORT"):
        open_storage("grpc://127.0.0.1", tmp_path)
