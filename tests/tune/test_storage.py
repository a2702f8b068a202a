"""Storages: the default SQLite file, journal files, URLs with passwords never shown."""

from __future__ import annotations

import optuna
import pytest

from lrlab.errors import UsageError
from lrlab.tune.storage import open_storage, redact, scrub


def test_redact_and_scrub() -> None:
    url = "postgresql://alice:pa55word@db:5432/x"
    assert redact(url) == "postgresql://alice:***@db:5432/x"
    assert redact("postgresql://alice@db/x") == "postgresql://alice@db/x"
    assert "pa55word" not in scrub(f"could not connect to {url}; pa55word rejected", url)


def test_default_is_a_sqlite_file_in_the_run_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, shown = open_storage(None, tmp_path / "runs")
    assert isinstance(store, optuna.storages.RDBStorage)
    assert shown == f"sqlite:///{(tmp_path / 'runs' / 'lrlab-studies.db').as_posix()}"
    assert (tmp_path / "runs" / "lrlab-studies.db").exists()


def test_journal_and_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = open_storage(f"journal:{tmp_path / 'j' / 'study.log'}", tmp_path)
    assert isinstance(store, optuna.storages.JournalStorage)
    study = optuna.create_study(storage=store, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert (tmp_path / "j" / "study.log").stat().st_size > 0
    assert isinstance(open_storage("memory", tmp_path)[0], optuna.storages.InMemoryStorage)


def test_unknown_scheme(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"Received: storage='redis://u:\*\*\*@h/0'"):
        open_storage("redis://u:topsecret@h/0", tmp_path)


def test_unreachable_server_hides_the_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        open_storage("postgresql://postgres:topsecret@127.0.0.1:1/test", tmp_path)
    text = str(info.value)
    assert "could not be reached" in text
    assert "topsecret" not in text and "***" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.postgres
def test_postgres_url_opens(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, shown = open_storage("postgresql://postgres:anything@127.0.0.1:5432/test", tmp_path)
    assert isinstance(store, optuna.storages.RDBStorage)
    assert shown == "postgresql://postgres:***@127.0.0.1:5432/test"
