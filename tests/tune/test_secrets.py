"""No password in any output: stdout, stderr, every file written, for every URL form.

The URLs point at a cluster with password authentication (``conftest.pg_password``), so
a right password opens the study and a wrong one is really rejected.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from lrlab.cli import main
from lrlab.tune.storage import redact, scrub

SLASHED = f"pa/ss/with/slashes-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def roles(pg_password):  # type: ignore[no-untyped-def]
    import psycopg2

    conn = psycopg2.connect(
        host="127.0.0.1",
        port=pg_password.port,
        user=pg_password.user,
        password=pg_password.password,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE ROLE slashy LOGIN SUPERUSER PASSWORD %s", (SLASHED,))
    conn.close()
    return pg_password


def _forms(c) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """``(url, its password)``: the plain form, ``?password=`` and unescaped slashes."""
    host = f"127.0.0.1:{c.port}/postgres"
    return [
        (f"postgresql://{c.user}:{c.password}@{host}", c.password),
        (f"postgresql://{c.user}@{host}?password={c.password}", c.password),
        (f"postgresql://slashy:{SLASHED}@{host}", SLASHED),
    ]


def _assert_hidden(secret: str, out: str, err: str, folder: Path | None) -> None:
    forms = {secret, quote(secret, safe=""), secret.split("/")[-1]}  # the unique tail too
    for form in forms:
        assert form not in out and form not in err, (form, out, err)
    if folder is not None:
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert files
        for p in files:
            data = p.read_bytes()
            for form in forms:
                assert form.encode() not in data, (form, p)


def _tune(url: str, out: Path, study: str) -> int:
    return main(
        ["tune", "--task", "breast_cancer", "--sampler", "random", "--trials", "2",
         "--steps", "5", "--storage", url, "--study", study, "--out", str(out), "--quiet"]
    )  # fmt: skip


def test_every_url_form_opens_and_hides_its_password(roles, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    for i, (url, secret) in enumerate(_forms(roles)):
        out = tmp_path / f"run{i}"
        assert _tune(url, out, f"s{i}") == 0
        o, e = capsys.readouterr()
        assert "2/2 trials finished" in o, o + e
        assert "***" in o
        _assert_hidden(secret, o, e, out)


def test_a_wrong_password_is_one_line_without_it(roles, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    for i, (url, secret) in enumerate(_forms(roles)):
        wrong = url.replace(secret, secret[::-1] + "X")
        assert _tune(wrong, tmp_path / f"bad{i}", f"b{i}") == 2
        o, e = capsys.readouterr()
        assert e.count("\n") == 1 and "Traceback" not in e, e
        assert "could not be reached" in e and "password authentication failed" in e, e
        _assert_hidden(secret[::-1] + "X", o, e, None)
        _assert_hidden(secret, o, e, None)


@pytest.mark.parametrize(
    ("url", "shown", "secret"),
    [
        ("postgresql://u@h:5/db?password=S3CRET", "postgresql://u@h:5/db?password=***", "S3CRET"),
        ("postgresql://u:pass/with/slashes@h/db", "postgresql://u:***@h/db", "pass/with/slashes"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db", "p@ss"),
        ("postgresql://u:p@ss@h/db", "postgresql://***@h/db", "p@ss"),
        (
            "mysql://u@h/db?passwd=S3CRET&charset=utf8",
            "mysql://u@h/db?charset=utf8&passwd=***",
            "S3CRET",
        ),
        ("postgresql://u:S3CRET@h:notaport/db", "postgresql://***", "S3CRET"),
    ],
)
def test_redact_reads_urls_as_sqlalchemy_does(url: str, shown: str, secret: str) -> None:
    assert redact(url).startswith(shown)
    assert secret not in redact(url)
    text = scrub(f"failed: {url} ({secret}; {quote(secret, safe='')})", url)
    assert secret not in text and quote(secret, safe="") not in text
