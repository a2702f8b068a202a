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
``"journal:path.log"``
    an append-only :class:`optuna.storages.JournalStorage` file, safe for
    several processes on one machine (no heartbeat: a killed trial stays
    ``RUNNING``).

Passwords in URLs are never printed: :func:`redact` replaces them with ``***``,
reading the URL with SQLAlchemy (the library that opens it), so that
``?password=...`` and ``user:pass/with/slashes@host`` are hidden too.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

from lrlab.errors import UsageError

__all__ = ["has_heartbeat", "open_storage", "reason", "redact", "scrub"]

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
) -> tuple[Any, str]:
    """Open ``storage`` (see the module docstring); returns ``(storage, shown_name)``.

    Raises:
        UsageError: the URL is malformed or the storage cannot be reached; the
            message shows the URL with its password redacted.
    """
    import optuna

    if storage is None:
        folder = Path(run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(folder / 'lrlab-studies.db').as_posix()}"
    if not isinstance(storage, str) or not storage:
        raise UsageError(
            "Argument `storage` must be None, 'memory', a database URL or 'journal:PATH'. "
            f"Received: storage={storage!r}"
        )
    if storage == "memory":
        return optuna.storages.InMemoryStorage(), "memory"
    shown = redact(storage)
    if storage.startswith("journal:"):
        return _journal(storage, shown), shown
    return _rdb(storage, shown, heartbeat_interval, grace_period), shown


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


def _rdb(storage: str, shown: str, heartbeat_interval: int, grace_period: int | None) -> Any:
    """The :class:`optuna.storages.RDBStorage` of a database URL, with heartbeats."""
    import optuna

    scheme = storage.split("://", 1)[0].split("+", 1)[0] if "://" in storage else ""
    if scheme not in _RDB_SCHEMES:
        raise UsageError(
            "Argument `storage` must be None, 'memory', 'journal:PATH' or a database URL "
            f"({', '.join(s + '://' for s in _RDB_SCHEMES)}). Received: storage={shown!r}"
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
                rdb = optuna.storages.RDBStorage(
                    storage,
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
            raise UsageError(
                f"Argument `storage` could not be reached. Received: storage={shown!r} "
                f"({type(exc).__name__}: {reason(exc, storage)})"
            ) from None
    return rdb
