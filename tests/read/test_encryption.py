"""Encrypted archives (the target's `encryption_key`): every command, Datasette's client and
`serve` open them with the same key, from a file or the environment; a missing, wrong or
needless key is one line that never holds the key."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from intercom_archive import serve
from intercom_archive.archive import connect
from intercom_archive.encryption import KEY_VARIABLE, Secret
from tests.processes import child_pids
from tests.read.conftest import CLI, Synced, free_port, run_cli, synced_archive

KEY = "correct horse 'battery' staple-ß"


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    with synced_archive(
        tmp_path_factory.mktemp("encrypted"), target={"encryption_key": KEY}
    ) as synced:
        (synced.folder / "key").write_text(KEY + "\n")
        assert (
            run_cli(
                "views", "-d", str(synced.database), "--encryption-key-file", _key_file(synced)
            ).code
            == 0
        )
        yield synced


def _key_file(synced: Synced) -> str:
    return str(synced.folder / "key")


def test_the_archive_is_encrypted(encrypted: Synced) -> None:
    assert not encrypted.database.read_bytes().startswith(b"SQLite format 3")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(encrypted.database).execute("SELECT 1 FROM sqlite_master").fetchone()


def test_every_command_opens_it_with_the_key_from_a_file(encrypted: Synced) -> None:
    database, key = str(encrypted.database), _key_file(encrypted)
    views = run_cli("views", "-d", database, "--encryption-key-file", key, "--json")
    assert views.code == 0, views.err
    assert {v["status"] for v in views.json()["views"].values()} == {"created"}
    status = run_cli("status", "-d", database, "--encryption-key-file", key, "--json")
    assert status.code == 0, status.err
    assert status.json()["streams"]["conversations"]["rows"] > 0
    assert status.json()["stale_views"] == []
    hits = run_cli("search", "-d", database, "--encryption-key-file", key, "--json", "refund")
    assert hits.code == 0, hits.err
    conversation = hits.json()[0]["id"]
    thread = run_cli("conversation", "-d", database, "--encryption-key-file", key, conversation)
    assert thread.code == 0, thread.err
    assert "refund" in thread.out.lower()
    connection = connect(encrypted.database, key=Secret(KEY))
    try:
        email = connection.execute(
            "SELECT email FROM contacts WHERE email IS NOT NULL LIMIT 1"
        ).fetchone()[0]
    finally:
        connection.close()
    found = run_cli(
        "contact", "-d", database, "--encryption-key-file", key, "--email", email.upper()
    )
    assert found.code == 0, found.err
    assert email in found.out


def test_the_key_from_the_environment(encrypted: Synced, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    result = run_cli("status", "-d", str(encrypted.database), "--json")
    assert result.code == 0, result.err
    assert result.json()["committed_at"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "is encrypted (or not an SQLite file): set INTERCOM_ARCHIVE_ENCRYPTION_KEY"),
        ("not the key", "the key does not open"),
    ],
    ids=["missing key", "wrong key"],
)
def test_a_missing_or_wrong_key_is_one_line(
    encrypted: Synced, monkeypatch: pytest.MonkeyPatch, key: str | None, expected: str
) -> None:
    if key is None:
        monkeypatch.delenv(KEY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(KEY_VARIABLE, key)
    before = encrypted.database.read_bytes()
    for command in (["status"], ["search", "refund"], ["views"], ["serve", "--port", "1"]):
        result = run_cli(command[0], "-d", str(encrypted.database), *command[1:])
        assert result.code == 1
        assert result.out == ""
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err
        assert expected in lines[0]
        assert KEY not in result.err
        assert key is None or key not in result.err
    assert encrypted.database.read_bytes() == before, "a failed open writes nothing"


def test_a_key_for_a_plain_archive_is_one_line(
    archive: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    result = run_cli("status", "-d", str(archive.database))
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"intercom-archive: {archive.database} is not encrypted, but a key was given: "
        f"unset {KEY_VARIABLE} and drop --encryption-key-file"
    ]


def test_an_unreadable_key_file_is_one_line(encrypted: Synced) -> None:
    missing = encrypted.folder / "no-such-key"
    result = run_cli("status", "-d", str(encrypted.database), "--encryption-key-file", str(missing))
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"intercom-archive: cannot read the key file {missing}: No such file or directory"
    ]


def test_the_key_is_never_in_a_repr() -> None:
    assert KEY not in repr(Secret(KEY))
    assert KEY not in str(Secret(KEY))


def test_datasette_searches_the_encrypted_archive(encrypted: Synced) -> None:
    key = Secret(KEY)

    async def fetch() -> list[Any]:
        connection = connect(encrypted.database, key=key)
        try:
            app = serve.datasette_app(connection, encrypted.database, key)
        finally:
            connection.close()
        await app.invoke_startup()
        paths = (
            "/archive/conversation_parts.json?_search=refund&_shape=objects",
            "/archive/conversation_parts.json?_search=qwzxvbnmplk&_shape=objects",
            "/archive.json",
        )
        return [await app.client.get(path) for path in paths]

    found, nothing, listing = asyncio.run(fetch())
    assert found.status_code == 200, found.text[:300]
    rows = found.json()["rows"]
    assert rows
    assert all("refund" in (r["body"] or "").lower() for r in rows)
    assert nothing.json()["rows"] == []
    assert "conversations_enhanced" in {v["name"] for v in listing.json()["views"]}


def _wait_for(url: str, process: subprocess.Popen[str], seconds: float = 30) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1)
                body: bytes = response.read()
                return body
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_opens_the_encrypted_archive_and_sigterm_leaves_nothing_behind(
    encrypted: Synced,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "-d", str(encrypted.database), "--port", str(port)],
        env={**os.environ, KEY_VARIABLE: KEY},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/archive/conversation_parts.json?_search=refund"
        assert json.loads(_wait_for(url, process))["rows"]
        assert KEY not in Path(f"/proc/{process.pid}/cmdline").read_text()
        children = set(child_pids(process.pid))
        process.terminate()
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    out, err = process.communicate()
    # uvicorn shuts down, then re-raises the signal: the exit a service manager expects.
    assert process.returncode in (0, -signal.SIGTERM), err
    assert KEY not in out + err
    assert all(not Path(f"/proc/{child}").exists() for child in children)
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_datasette_imported_first_on_sqlite3_still_opens_it(encrypted: Synced) -> None:
    """In one process with other Datasette users (the target's tests import it plainly)."""
    script = (
        "import asyncio, sys, datasette.app\n"
        "from pathlib import Path\n"
        "from intercom_archive import serve\n"
        "from intercom_archive.archive import connect\n"
        "from intercom_archive.encryption import Secret\n"
        "path, key = Path(sys.argv[1]), Secret(sys.argv[2])\n"
        "async def main():\n"
        "    app = serve.datasette_app(connect(path, key=key), path, key)\n"
        "    await app.invoke_startup()\n"
        "    r = await app.client.get('/archive/conversation_parts.json?_search=refund')\n"
        "    print(r.status_code, len(r.json()['rows']))\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(encrypted.database), KEY],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status, rows = result.stdout.split()
    assert status == "200"
    assert int(rows) > 0
