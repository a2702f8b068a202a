"""Where a study lives: a SQLite file by default, any Optuna storage URL, or a journal file.

``storage`` accepted by :func:`lrlab.tune.tune`:

``None``
    ``sqlite:///<run_dir>/lrlab-studies.db`` -- a file in a local run folder,
    so a study survives a crash and resumes by name.
``"memory"``
    an in-process :class:`optuna.storages.InMemoryStorage` (nothing persists).
``"sqlite:///path.db"``, ``"postgresql://user:pw@host/db"``, ``"mysql://..."``
    an :class:`optuna.storages.RDBStorage` with a heartbeat: a worker that is
    killed mid-trial leaves a trial that the next worker marks ``FAIL`` once
    its heartbeat is older than the grace period (``grace_period`` seconds, at
    least four heartbeat intervals), or once it has had no heartbeat at all for
    that long (a worker killed before its trial's first beat), and re-enqueues
    with :class:`optuna.storages.RetryHeartbeatStaleTrialCallback`.  SQLite connections
    wait up to 60 s on a lock instead of failing with "database is locked".
    A database that goes away (a restart, a failover, a dropped connection) is
    waited for: every storage operation is retried with exponential backoff
    (0.1 s doubling to 2 s) for up to ``storage_retry_s`` seconds of one outage,
    then the search goes on where it was; a storage that does not answer in that
    time raises :class:`StorageUnavailable` (one line naming the storage, its
    password redacted), and a rerun resumes the study.  A SQLite file that cannot
    be written (read-only, or in a folder that cannot be written) is refused
    before any training.
``"journal:path.log"``
    an append-only :class:`optuna.storages.JournalStorage` file, safe for
    several processes on one machine (no heartbeat: a killed trial stays
    ``RUNNING``).
``"grpc://host:port"``
    an :class:`optuna.storages.GrpcStorageProxy` (Optuna >= 4.2, needs ``grpcio``):
    many workers talk to one proxy server (``optuna.storages.run_grpc_proxy_server``)
    in front of the RDB, instead of each holding database connections.  No heartbeat
    passes through the proxy: as on a journal, a killed worker's trial stays
    ``RUNNING`` and a worker stops instead of waiting on others' trials.

Passwords in URLs are never printed: :func:`redact` replaces them with ``***``,
reading the URL with SQLAlchemy (the library that opens it), so that
``?password=...`` and ``user:pass/with/slashes@host`` are hidden too.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrlab.errors import UsageError

__all__ = [
    "RETRIED_METHODS",
    "Retry",
    "StorageUnavailable",
    "has_heartbeat",
    "lost_database",
    "open_storage",
    "reason",
    "redact",
    "scrub",
    "unavailable",
]

#: The least grace period, in heartbeat intervals.
GRACE_BEATS = 4
_RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "oracle", "mssql")


#: Query parameters that carry a secret (libpq, MySQL drivers, cloud connectors).
_SECRET_KEYS = frozenset(
    {"password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "access_token"}
)


def _secrets(url: str) -> tuple[str | None, list[str]]:
    """``(redacted url, the secrets in it)``, parsed as SQLAlchemy parses it to connect.

    The URL's password (``user:pass/with/slashes@host`` too), the values of the
    query's secret parameters (``?password=...``), and when the text holds more
    than one ``@`` before its query, everything before the last one.  A URL
    that SQLAlchemy cannot read is ``None`` with what a reader would take for the
    password, and all the rest.
    """
    from sqlalchemy.engine import make_url

    head, _, rest = url.partition("://")
    userinfo, _, host = rest.split("?", 1)[0].rpartition("@")
    try:
        parsed = make_url(url)
    except Exception:  # sqlalchemy.exc.ArgumentError, ValueError (a bad port), ...
        return None, [rest, userinfo.partition(":")[2]]
    secrets = [parsed.password] if parsed.password else []
    hide = {}
    for key, value in parsed.query.items():
        if key.lower() in _SECRET_KEYS:
            values = [value] if isinstance(value, str) else list(value)
            secrets.extend(v for v in values if v)
            hide[key] = "***"
    shown = parsed.update_query_dict(hide).render_as_string(hide_password=True)
    shown = shown.replace("%2A%2A%2A", "***")
    if userinfo.count("@") or (":" in userinfo and not parsed.password):
        # an unescaped '@' (or a ':' SQLAlchemy did not read as a password): no
        # reading of who the user is can be trusted, so none of it is shown
        secrets.append(userinfo.partition(":")[2] or userinfo)
        shown = f"{head}://***@{host}"
    return shown, secrets


def redact(url: str) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``.

    The URL is read by SQLAlchemy, which opens it; what it cannot read is
    shown only up to its scheme.

    >>> redact("postgresql://bob:s3cret@db.example:5432/test")
    'postgresql://bob:***@db.example:5432/test'
    >>> redact("postgresql://bob@db/test?password=s3cret")
    'postgresql://bob@db/test?password=***'
    >>> redact("postgresql://bob:pass/with/slashes@db/test")
    'postgresql://bob:***@db/test'
    >>> redact("sqlite:///runs/a.db")
    'sqlite:///runs/a.db'
    >>> redact("postgresql://bob:s3cret@db:port/test")
    'postgresql://***'
    """
    if "://" not in url:
        return url
    shown, _ = _secrets(url)
    return f"{url.partition('://')[0]}://***" if shown is None else shown


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` redacted and each of its secrets replaced by ``***``.

    A URL SQLAlchemy cannot read hides everything after its scheme, wherever
    that appears in ``text``.
    """
    from urllib.parse import quote

    secrets = _secrets(url)[1] if "://" in url else []
    text = text.replace(url, redact(url))
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe="")}:
            # a whole token only: a password "p" must not turn "postgresql" into "***ostgresql"
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", "***", text)
    return text


def reason(exc: BaseException, url: str | None) -> str:
    """The first line of ``exc``'s message (else its type's name), ``url``'s secrets scrubbed."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if url is None else scrub(text, url)


class StorageUnavailable(ConnectionError):
    """The storage did not answer for ``storage_retry_s`` seconds of one outage.

    Its message is one line naming the storage (password redacted) and the last
    error; the study is left as it was (a trial that was running is failed as stale
    by the next worker's reaper and retried), so a rerun resumes it.  The CLI exits 1.
    """


def lost_database(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it arose from) is a lost or refused database
    connection: SQLAlchemy's ``OperationalError``, ``InterfaceError``,
    ``DisconnectionError`` or ``PendingRollbackError`` (a session whose connection died)."""
    seen = 0
    while exc is not None and seen < 20:
        cls = type(exc)
        if cls.__module__.startswith("sqlalchemy") and any(
            base.__name__ in _LOST for base in cls.__mro__
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


_LOST = ("OperationalError", "InterfaceError", "DisconnectionError", "PendingRollbackError")


def unavailable(exc: BaseException | None) -> StorageUnavailable | None:
    """The :class:`StorageUnavailable` that ``exc`` is or arose from, if any (Optuna's
    bookkeeping may raise an error of its own on top of it)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, StorageUnavailable):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class Retry:
    """Retry a storage operation while the database is away, for a bounded time.

    ``call(fn, ...)`` runs ``fn``; while it fails with a lost connection
    (:func:`lost_database`) it is run again after ``0.1 s, 0.2 s, ... , 2 s, 2 s ...``
    until ``seconds`` have passed since its first failure; then
    :class:`StorageUnavailable` is raised, and every later call (of any thread) raises
    it at once, without waiting again.  A call made inside another (Optuna's
    ``create_new_trial`` calls ``_create_new_trial``) is not retried by itself: the
    outer call is.  ``recent(s)`` says whether an outage is under way or ended less
    than ``s`` seconds ago (the reaper waits that long: the living workers'
    heartbeats missed the outage too).
    """

    #: The first pause and the longest one, in seconds.
    FIRST, LONGEST = 0.1, 2.0

    def __init__(self, seconds: float, shown: str, url: str) -> None:
        self.seconds, self.shown, self.url = float(seconds), shown, url
        self._local = threading.local()
        self._lock = threading.Lock()
        self.gone: str | None = None
        self.failing = 0  # calls now waiting for the database
        self.recovered_at: float | None = None
        self.outages = 0  # calls that failed and then went through

    def __getstate__(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "shown": self.shown, "url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["seconds"], state["shown"], state["url"])  # type: ignore[misc]

    def recent(self, seconds: float) -> bool:
        """Whether an outage is under way or ended less than ``seconds`` ago."""
        at = self.recovered_at
        return self.failing > 0 or (at is not None and time.monotonic() - at < seconds)

    def call(
        self, fn: Callable[..., Any], *args: Any, on_retry: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        """``fn(*args, **kwargs)``, retried while the database is away (see the class)."""
        if getattr(self._local, "depth", 0):
            return fn(*args, **kwargs)
        if self.gone is not None:
            raise StorageUnavailable(self.gone)
        self._local.depth = 1
        try:
            return self._attempts(fn, args, kwargs, on_retry)
        finally:
            self._local.depth = 0

    def _attempts(
        self, fn: Callable[..., Any], args: Any, kwargs: Any, on_retry: Callable[[], None] | None
    ) -> Any:
        start: float | None = None
        pause = self.FIRST
        try:
            while True:
                try:
                    out = fn(*args, **kwargs)
                except Exception as exc:
                    if not lost_database(exc):
                        raise
                    now = time.monotonic()
                    if start is None:
                        start = now
                        with self._lock:
                            self.failing += 1
                    if now - start >= self.seconds:
                        raise self._give_up(exc) from exc
                    if on_retry is not None:
                        on_retry()
                    time.sleep(min(pause, max(0.0, start + self.seconds - now)))
                    pause = min(2 * pause, self.LONGEST)
                    continue
                if start is not None:
                    self.recovered_at = time.monotonic()
                    self.outages += 1
                return out
        finally:
            if start is not None:
                with self._lock:
                    self.failing -= 1

    def _give_up(self, exc: BaseException) -> StorageUnavailable:
        root: BaseException = exc
        while root.__cause__ is not None and lost_database(root.__cause__):
            root = root.__cause__  # the driver's own words, not Optuna's wrapper
        self.gone = (
            f"the storage {self.shown} did not answer for {self.seconds:g} s "
            f"({type(root).__name__}: {reason(root, self.url)}); rerun to resume the study"
        )
        return StorageUnavailable(self.gone)


#: The methods of Optuna's ``RDBStorage`` that talk to the database, retried by
#: :class:`Retry` (the underscored ones are what Optuna's per-process cache calls;
#: ``tests/tune/test_outage.py`` checks that each still exists).
RETRIED_METHODS = (
    "create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "get_trial_user_attrs",
    "get_trial_system_attrs", "get_all_studies", "create_new_trial", "_create_new_trial",
    "set_trial_param", "_set_trial_param", "get_trial_param", "set_trial_intermediate_value",
    "set_trial_user_attr", "set_trial_system_attr", "get_trial_id_from_study_id_trial_number",
    "get_trial", "get_all_trials", "_get_trials", "get_best_trial", "_get_best_trial_id",
    "_get_stale_trial_ids",
)  # fmt: skip


def _retried(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self.retry.call(fn, self, *args, on_retry=self.scoped_session.remove, **kwargs)

    return method


@functools.cache
def _retrying_rdb() -> type:
    """``RetryingRDBStorage``: Optuna's ``RDBStorage`` whose database operations
    :class:`Retry` (made on first use: Optuna is imported late)."""
    import optuna

    RDB = optuna.storages.RDBStorage

    def __init__(self: Any, url: str, *, retry: Retry, **kwargs: Any) -> None:
        self.retry = retry
        RDB.__init__(self, url, **kwargs)

    def set_trial_state_values(
        self: Any, trial_id: int, state: Any, values: Any = None
    ) -> bool:  # fmt: skip
        """A retry of a write that went through before its answer was lost finds the
        trial finished: as this call asked, it is this call's own."""
        tries = []

        def once() -> bool:
            tries.append(1)
            try:
                return bool(RDB.set_trial_state_values(self, trial_id, state=state, values=values))
            except optuna.exceptions.UpdateFinishedTrialError:
                if len(tries) > 1:
                    now = RDB.get_trial(self, trial_id)
                    same = values is None or list(now.values or []) == list(values)
                    if now.state == state and same:
                        return True
                raise

        return bool(self.retry.call(once, on_retry=self.scoped_session.remove))

    def record_heartbeat(self: Any, trial_id: int) -> None:
        """Beat, retried; never raises (the heartbeat thread would die with a traceback:
        the trial's own storage calls say that the storage is gone)."""
        try:
            self.retry.call(RDB.record_heartbeat, self, trial_id,
                            on_retry=self.scoped_session.remove)  # fmt: skip
        except StorageUnavailable:
            pass

    def _get_stale_trial_ids(self: Any, study_id: int) -> list[int]:
        """Optuna's stale trials (Optuna's ``optimize`` and lrlab's reaper fail them), but
        none while the database is away or for one grace period after it came back: the
        living workers' heartbeats missed the outage too, and need that long to beat."""
        ids = self.retry.call(RDB._get_stale_trial_ids, self, study_id,
                              on_retry=self.scoped_session.remove)  # fmt: skip
        return [] if self.retry.recent(self.grace_period or 0) else list(ids)

    namespace: dict[str, Any] = {name: _retried(getattr(RDB, name)) for name in RETRIED_METHODS}
    namespace.update(
        __init__=__init__,
        set_trial_state_values=set_trial_state_values,
        record_heartbeat=record_heartbeat,
        _get_stale_trial_ids=_get_stale_trial_ids,
        __doc__="Optuna's RDBStorage whose database operations are retried (lrlab.tune.storage).",
        __module__=__name__,
    )
    return type("RetryingRDBStorage", (RDB,), namespace)


def _unwritable_text(text: str) -> bool:
    """Whether SQLite's message says that the file (or its folder) cannot be written."""
    text = text.lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _unwritable(exc: BaseException, shown: str) -> UsageError:
    """The one line for a SQLite file that cannot be written."""
    root = exc.__cause__ or exc.__context__ or exc
    text = " ".join(str(getattr(root, "orig", None) or root).split()).split(" [SQL:")[0]
    return UsageError(
        "Argument `storage` must be a SQLite file lrlab can write (the study is written as "
        f"it runs; SQLite says: {text}). Received: storage={shown!r}"
    )


def _sqlite_writable(rdb: Any, shown: str) -> None:
    """Refuse a SQLite file that cannot be written, before any training: a write is
    tried in a transaction and rolled back (a read-only or immutable file, a folder
    where SQLite cannot create its journal; as root, file modes do not say it)."""
    raw = rdb.engine.raw_connection()
    try:
        con = raw.driver_connection
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE lrlab_write_probe (x INTEGER)")
        except Exception as exc:
            if "locked" in str(exc).lower():  # another worker writes: it can be written
                return
            raise _unwritable(exc, shown) from None
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")
    finally:
        raw.close()


def _pg_driver(url: str) -> str:
    """Name the psycopg2 driver when the URL names none and psycopg 3 is missing.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3; many machines
    (these included) carry only ``psycopg2-binary``.
    """
    import importlib.util

    head, rest = url.split("://", 1)
    if "+" in head or importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is None:
        return url
    return f"postgresql+psycopg2://{rest}"


def _schema_race(exc: Exception) -> bool:
    """Whether ``exc`` comes from several workers creating the tables at the same moment."""
    name = type(exc).__name__
    text = str(exc).lower()
    return name == "IntegrityError" or (
        name in ("OperationalError", "ProgrammingError")
        and ("already exists" in text or "locked" in text)
    )


def has_heartbeat(storage: Any) -> bool:
    """Whether ``storage`` records heartbeats (only RDB storages do)."""
    import optuna

    return isinstance(storage, optuna.storages.RDBStorage)


def open_storage(
    storage: str | None,
    run_dir: str | Path,
    *,
    heartbeat_interval: int = 5,
    grace_period: int | None = None,
    storage_retry_s: float = 60.0,
    writable: bool = False,
) -> tuple[Any, str]:
    """Open ``storage`` (see the module docstring); returns ``(storage, shown_name)``.

    A database URL opens a ``RetryingRDBStorage`` (Optuna's ``RDBStorage``) whose
    operations are retried for ``storage_retry_s`` seconds of an outage (see
    :class:`Retry`); it must answer when it is opened.  With ``writable`` a SQLite
    file is written to once (and rolled back) to show that it can be.

    Raises:
        UsageError: the URL is malformed, the storage cannot be reached, or (with
            ``writable``) the SQLite file cannot be written; the message shows the
            URL with its password redacted.
    """
    import optuna

    if storage is None:
        folder = Path(run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(folder / 'lrlab-studies.db').as_posix()}"
    if not isinstance(storage, str) or not storage:
        raise UsageError(
            "Argument `storage` must be None, 'memory', a database URL, 'journal:PATH' or "
            f"'grpc://HOST:PORT'. Received: storage={storage!r}"
        )
    if storage == "memory":
        return optuna.storages.InMemoryStorage(), "memory"
    shown = redact(storage)
    if storage.startswith("journal:"):
        return _journal(storage, shown), shown
    if storage.startswith("grpc://"):
        return _grpc(storage, shown), shown
    rdb = _rdb(storage, shown, heartbeat_interval, grace_period, Retry(storage_retry_s, shown,
               storage))  # fmt: skip
    if writable and storage.startswith("sqlite"):
        _sqlite_writable(rdb, shown)
    return rdb, shown


def _journal(storage: str, shown: str) -> Any:
    """The :class:`optuna.storages.JournalStorage` of ``"journal:PATH"``."""
    import optuna

    path = Path(storage[len("journal:") :])
    if not path.name:
        raise UsageError(
            f"Argument `storage` must name a journal file. Received: storage={shown!r}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise UsageError(
            f"Argument `storage` could not be opened. Received: storage={shown!r} "
            f"({type(exc).__name__}: {scrub(str(exc), storage)})"
        ) from None


def _grpc(storage: str, shown: str) -> Any:
    """The :class:`optuna.storages.GrpcStorageProxy` of ``"grpc://host:port"``, once its
    server answers (within 10 s)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(storage)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host = port = None
    if not host or port is None:
        raise UsageError(
            f"Argument `storage` must be grpc://HOST:PORT for a gRPC proxy. Received: "
            f"storage={shown!r}"
        )
    import socket

    import optuna

    try:
        socket.create_connection((host, port), timeout=10).close()  # refused: at once
    except OSError as exc:
        raise UsageError(
            f"Argument `storage` could not be reached. Received: storage={shown!r} "
            f"({type(exc).__name__}: {exc})"
        ) from None
    try:
        with warnings.catch_warnings():  # experimental since Optuna 4.2
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            from optuna.storages import GrpcStorageProxy

            proxy = GrpcStorageProxy(host=host, port=port)
    except ImportError as exc:  # grpcio is missing
        raise UsageError(
            f"Argument `storage` names a gRPC proxy, which needs grpcio (pip install grpcio; "
            f"{exc}). Received: storage={shown!r}"
        ) from None
    try:
        proxy.wait_server_ready(timeout=10)
    except ConnectionError as exc:  # the port answers, the gRPC server does not
        proxy.close()
        raise UsageError(
            f"Argument `storage` could not be reached. Received: storage={shown!r} "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return proxy


def _rdb(
    storage: str, shown: str, heartbeat_interval: int, grace_period: int | None, retry: Retry
) -> Any:
    """The ``RetryingRDBStorage`` (:class:`optuna.storages.RDBStorage`) of a database URL,
    with heartbeats."""
    import optuna

    scheme = storage.split("://", 1)[0].split("+", 1)[0] if "://" in storage else ""
    if scheme not in _RDB_SCHEMES:
        raise UsageError(
            "Argument `storage` must be None, 'memory', 'journal:PATH', 'grpc://HOST:PORT' or a "
            f"database URL ({', '.join(s + '://' for s in _RDB_SCHEMES)}). "
            f"Received: storage={shown!r}"
        )
    engine_kwargs: dict[str, Any] = {}
    if scheme == "sqlite":
        engine_kwargs = {"connect_args": {"timeout": 60}}
        db = storage.split("sqlite:///", 1)[-1]
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
    elif scheme in ("postgresql", "postgres"):
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
        storage = _pg_driver(storage)
    # A healthy trial's heartbeat can come seconds late on a loaded machine (a SQLite
    # writer waits for the readers' locks; SQLite's clock has whole seconds): fail a
    # trial as stale only after it missed at least four heartbeats.
    grace = max(grace_period or 0, GRACE_BEATS * heartbeat_interval)
    for attempt in range(8):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = _retrying_rdb()(
                    storage,
                    retry=retry,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=3
                    ),
                )
            break
        except Exception as exc:  # sqlalchemy errors of every kind: unreachable, bad auth, driver
            if attempt < 7 and _schema_race(exc):
                time.sleep(0.25 * (attempt + 1))  # another worker is creating the tables
                continue
            if scheme == "sqlite" and _unwritable_text(str(exc)):
                raise _unwritable(exc, shown) from None
            raise UsageError(
                f"Argument `storage` could not be reached. Received: storage={shown!r} "
                f"({type(exc).__name__}: {reason(exc, storage)})"
            ) from None
    return rdb
