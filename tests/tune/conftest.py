"""A PostgreSQL cluster of the tests' own, with password authentication.

The shared server at 127.0.0.1:5432 trusts every local connection, so it accepts a
wrong password and cannot show what a rejected one prints.  ``pg_password`` starts a
cluster in a temporary folder on a spare loopback port with ``scram-sha-256`` for every
connection (``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/*/bin``; as the
``postgres`` user when the tests run as root, as CI does), and stops it at the end.
Without ``initdb`` the tests that need it are skipped, or fail under ``CI``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Cluster:
    port: int
    user: str
    password: str

    def url(self, user: str | None = None, password: str | None = None) -> str:
        return (
            f"postgresql://{user or self.user}:{password or self.password}"
            f"@127.0.0.1:{self.port}/postgres"
        )


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    return found[-1] if found else shutil.which(name)


def _version(path: str) -> tuple[int, ...]:
    part = path.split("/")[4]
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def _spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_password() -> Iterator[Cluster]:
    import pwd

    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    reason = None
    if initdb is None or pg_ctl is None:
        reason = "initdb/pg_ctl not found (install postgresql to test password authentication)"
    elif os.geteuid() == 0:  # the server refuses to run as root: it runs as postgres
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            reason = "running as root and there is no 'postgres' user to run initdb as"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert initdb is not None and pg_ctl is not None
    prefix: list[str] = []
    folder = tempfile.mkdtemp(prefix="lrlab-pg-")
    if os.geteuid() == 0:
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    password = f"Pw-{uuid.uuid4().hex}"
    pwfile = os.path.join(folder, "pw")
    with open(pwfile, "w") as f:
        f.write(password + "\n")
    if prefix:
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    data = os.path.join(folder, "data")
    port = _spare_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(
        [*prefix, initdb, "-D", data, "-U", "lrlab", "--auth=scram-sha-256", "--pwfile", pwfile,
         "-E", "UTF8", "--no-sync"],
        **run,
    )  # fmt: skip
    subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-w", "-t", "60", "-l", os.path.join(folder, "log"),
         "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
        **run,
    )  # fmt: skip
    try:
        yield Cluster(port, "lrlab", password)
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], **run)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Server:
    """A PostgreSQL server of one test module's own (trust authentication, any password
    accepted), which the test may stop and start again."""

    port: int
    data: str
    log: str
    prefix: list[str]
    pg_ctl: str

    def url(self, password: str = "") -> str:
        who = f"postgres:{password}" if password else "postgres"
        return f"postgresql+psycopg2://{who}@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *argv: str) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", self.data, *argv],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("-w", "-t", "60", "-l", self.log, "-o",
                  f"-p {self.port} -k {os.path.dirname(self.data)} "
                  "-c listen_addresses=127.0.0.1 -c fsync=off", "start")  # fmt: skip

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Server]:
    """A fresh PostgreSQL server on a spare port (``initdb`` and ``pg_ctl`` as the
    ``postgres`` user when root); skipped without them, failed under ``CI``."""
    import pwd

    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    reason = None if initdb and pg_ctl else "initdb/pg_ctl not found (install postgresql)"
    prefix: list[str] = []
    folder = tempfile.mkdtemp(prefix="lrlab-pg-")
    if reason is None and os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
            os.chown(folder, pw.pw_uid, pw.pw_gid)
            prefix = ["runuser", "-u", "postgres", "--"]
        except KeyError:
            reason = "running as root and there is no 'postgres' user to run initdb as"
    if reason is not None:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert initdb is not None and pg_ctl is not None
    data = os.path.join(folder, "data")
    subprocess.run(
        [*prefix, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
         "--no-sync"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    server = Server(_spare_port(), data, os.path.join(folder, "log"), prefix, pg_ctl)
    server.start()
    try:
        yield server
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
