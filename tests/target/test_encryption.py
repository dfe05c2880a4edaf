"""The archive encrypted at rest, through the target's CLI: no plaintext in the file, its WAL or
a journal; it opens with the key (and only with it); each wrong opening is one line and writes
nothing; a plain archive is encrypted in place and a key rotated; a kill -9 mid-batch leaves an
encrypted archive that opens and passes its integrity check; the key is never printed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import pytest

from target_sqlite_archive.batch import StoreSettings
from target_sqlite_archive.encryption import (
    DATABASE_ERRORS,
    ArchiveKeyError,
    Key,
    connect,
    file_kind,
)
from target_sqlite_archive.reader import ArchiveReader, open_for_reading
from target_sqlite_archive.settings import validate

CLI = "from target_sqlite_archive.target import TargetSqliteArchive; TargetSqliteArchive.cli()"
KEY = "correct horse battery staple 7f3c"
EMAIL = "quokka.marmalade@example.test"
WORD = "zanzibarquill"
PROPERTIES = {"id": {"type": "integer"}, "email": {"type": "string"}, "body": {"type": "string"}}


def _messages(count: int = 50) -> str:
    lines = [
        {
            "type": "SCHEMA",
            "stream": "contacts",
            "schema": {"type": "object", "properties": PROPERTIES},
            "key_properties": ["id"],
        }
    ]
    for n in range(count):
        body = f"note {n}: {WORD} asked about the invoice"
        lines.append(
            {
                "type": "RECORD",
                "stream": "contacts",
                "record": {"id": n, "email": EMAIL, "body": body},
            }
        )
    lines.append({"type": "STATE", "value": {"bookmarks": {"contacts": {"n": count}}}})
    return "".join(json.dumps(line) + "\n" for line in lines)


def _target(
    database: Path,
    messages: str,
    settings: dict[str, t.Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    **config: t.Any,
) -> subprocess.CompletedProcess[str]:
    path = database.parent / "target-config.json"
    path.write_text(json.dumps({"database": str(database), **(settings or {}), **config}))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_SQLITE")}
    environment["TARGET_SQLITE_ARCHIVE_LOGLEVEL"] = "DEBUG"
    command = [sys.executable, "-c", CLI, "--config", str(path)]
    if env:
        environment.update(env)
        command += ["--config", "ENV"]
    return subprocess.run(
        command, input=messages, capture_output=True, text=True, timeout=120, env=environment
    )


def _files(database: Path) -> dict[str, bytes]:
    """The archive and every side file SQLite may leave beside it."""
    found = {}
    for suffix in ("", "-wal", "-journal", "-shm"):
        path = Path(f"{database}{suffix}")
        if path.exists():
            found[suffix or "main"] = path.read_bytes()
    return found


def _assert_no_plaintext(database: Path) -> None:
    files = _files(database)
    assert "main" in files
    for name, content in files.items():
        assert EMAIL.encode() not in content, name
        assert WORD.encode() not in content, name


def _error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if "ERROR" in line]


def _digest(database: Path) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in _files(database).items()}


def test_an_encrypted_archive_holds_no_plaintext_and_opens_with_its_key(tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "archive.sqlite"
    plain.parent.mkdir()
    assert _target(plain, _messages()).returncode == 0
    # The check can see plaintext: the plain archive holds the email and the word.
    assert EMAIL.encode() in plain.read_bytes()

    database = tmp_path / "archive.sqlite"
    done = _target(database, _messages(), encryption_key=KEY)
    assert done.returncode == 0, done.stderr
    assert file_kind(database) == "encrypted"
    _assert_no_plaintext(database)
    assert KEY not in done.stdout + done.stderr

    conn = connect(str(database), Key(KEY))
    try:
        assert conn.execute("SELECT count(*), min(email) FROM contacts").fetchone() == (50, EMAIL)
        assert conn.execute("PRAGMA cipher_page_size").fetchone()[0] == "8192"
    finally:
        conn.close()
    other = open_for_reading(str(database), KEY)  # what intercom-archive calls
    try:
        assert other.execute("SELECT count(*) FROM contacts").fetchone() == (50,)
        with pytest.raises(DATABASE_ERRORS):
            other.execute("DELETE FROM contacts")
    finally:
        other.close()
    with pytest.raises(ArchiveKeyError, match="does not open it"):
        open_for_reading(str(database), "wrong")
    reader = ArchiveReader(str(database), encryption_key=Key(KEY))
    try:
        assert reader.load_state() == {"bookmarks": {"contacts": {"n": 50}}}
        assert len(reader.read_records("contacts")) == 50
    finally:
        reader.close()


def test_the_key_can_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    env = {"TARGET_SQLITE_ARCHIVE_ENCRYPTION_KEY": KEY}
    assert _target(database, _messages(), env=env).returncode == 0
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    done = _target(database, _messages(5), encryption_key_file=str(key_file))
    assert done.returncode == 0, done.stderr
    assert file_kind(database) == "encrypted"
    assert KEY not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ({"encryption_key": KEY}, {"encryption_key": "not the key"}, "does not open it"),
        ({"encryption_key": KEY}, {}, "is encrypted"),
        ({}, {"encryption_key": KEY}, "is not encrypted but encryption_key is set"),
    ],
    ids=["wrong-key", "missing-key", "plain-with-key"],
)
def test_a_wrong_opening_is_one_line_and_writes_nothing(
    tmp_path: Path, first: dict[str, str], second: dict[str, str], expected: str
) -> None:
    database = tmp_path / "archive.sqlite"
    assert _target(database, _messages(), first).returncode == 0
    before = _digest(database)
    # A batch of one: the failure surfaces while input lines are read, not only at the end.
    done = _target(database, _messages(3), {**second, "batch_size_rows": 1})
    assert done.returncode == 1
    errors = _error_lines(done)
    assert len(errors) == 1, done.stderr
    assert expected in errors[0]
    assert str(database) in errors[0]
    assert "Traceback" not in done.stderr
    assert "file is not a database" not in done.stderr
    assert _digest(database) == before, "the archive changed"
    assert KEY not in done.stdout + done.stderr
    assert done.stdout == "", "a state was emitted for data not written"


def test_a_plain_archive_is_encrypted_in_place_and_the_key_rotated(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    assert _target(database, _messages()).returncode == 0
    # What a crash during an earlier encrypt leaves: the original whole, a partial copy beside.
    Path(f"{database}.encrypting").write_bytes(b"partial copy of an interrupted export")
    env = {**os.environ, "TARGET_SQLITE_ARCHIVE_ENCRYPTION_KEY": KEY}
    module = [sys.executable, "-m", "target_sqlite_archive.encryption"]
    done = subprocess.run(
        [*module, "encrypt", str(database)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert file_kind(database) == "encrypted"
    _assert_no_plaintext(database)
    assert not Path(f"{database}.encrypting").exists()
    # The target goes on with the key: the same archive, its rows and state kept.
    assert _target(database, _messages(60), encryption_key=KEY).returncode == 0

    new = "a brand new key 91"
    done = subprocess.run(
        [*module, "rekey", str(database)],
        env={**env, "TARGET_SQLITE_ARCHIVE_NEW_ENCRYPTION_KEY": new},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr
    assert new not in done.stdout + done.stderr
    assert _target(database, _messages(1), encryption_key=KEY).returncode == 1
    conn = connect(str(database), Key(new))
    try:
        assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 60
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    # Encrypting twice is refused, in one line.
    again = subprocess.run(
        [*module, "encrypt", str(database)], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 1
    assert "is not a plain SQLite archive" in again.stderr


def test_a_kill_mid_batch_leaves_an_encrypted_archive_that_opens_whole(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    config = tmp_path / "kill-config.json"
    config.write_text(
        json.dumps({"database": str(database), "encryption_key": KEY, "batch_size_rows": 2000})
    )
    target = subprocess.Popen(
        [sys.executable, "-c", CLI, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own group: the kill reaches the writer process too
    )
    assert target.stdin is not None
    assert target.stdout is not None

    def feed(pipe: t.IO[str]) -> None:
        try:
            pipe.write(_messages(0).rsplit("\n", 2)[0] + "\n")  # the schema only
            for n in range(200_000):
                record = {"id": n, "email": EMAIL, "body": f"{WORD} {n}"}
                pipe.write(json.dumps({"type": "RECORD", "stream": "contacts", "record": record}))
                pipe.write("\n")
                if n % 500 == 0:
                    pipe.write(json.dumps({"type": "STATE", "value": {"n": n}}) + "\n")
            pipe.close()
        except (BrokenPipeError, ValueError):
            pass  # killed, as intended

    feeder = threading.Thread(target=feed, args=(target.stdin,), daemon=True)
    feeder.start()
    states = 0
    deadline = time.monotonic() + 90
    while states < 3 and time.monotonic() < deadline:
        if target.stdout.readline():
            states += 1
    # kill -9 of the target and its writer process mid-batch (one is always being read or
    # committed): the writer's WAL stays as it was, uncheckpointed.
    os.killpg(target.pid, signal.SIGKILL)
    target.wait(timeout=30)
    assert states == 3, "the target emitted too few states before the kill"
    time.sleep(0.5)
    assert "-wal" in _files(database), "no WAL left to look into"
    _assert_no_plaintext(database)
    conn = connect(str(database), Key(KEY))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] >= 2000
    finally:
        conn.close()


def test_the_key_is_in_no_repr(tmp_path: Path) -> None:
    settings = validate({"database": str(tmp_path / "a.sqlite"), "encryption_key": KEY})
    assert settings.encryption_key == Key(KEY)
    store = StoreSettings(settings.database, 30.0, 1, settings.encryption_key)
    for shown in (repr(settings), repr(store), repr(settings.encryption_key), str(store)):
        assert KEY not in shown
        assert "correct horse" not in shown


def test_a_trained_dictionary_is_encrypted_with_the_rows_it_compresses(tmp_path: Path) -> None:
    """A zstd dictionary is made of the records' common text (the email, the word): in an
    encrypted archive it is a row like any other, so it is never on disk in the clear."""
    padding = " ".join(f"line {k} of the thread" for k in range(20))
    messages = _messages(400).replace(
        'asked about the invoice"', f'asked about the invoice {padding}"'
    )
    database = tmp_path / "archive.sqlite"
    done = _target(database, messages, encryption_key=KEY)
    assert done.returncode == 0, done.stderr
    _assert_no_plaintext(database)
    reader = ArchiveReader(str(database), encryption_key=Key(KEY))
    try:
        [(stream,)] = reader.conn.execute("SELECT stream FROM _archive_dictionaries").fetchall()
        assert stream == "contacts"
        [(codec,)] = reader.conn.execute("SELECT DISTINCT codec FROM _archive_raw").fetchall()
        assert codec == "zstd-dict"
        texts = [json.loads(raw) for _at, raw in reader.raw_versions("contacts")]
    finally:
        reader.close()
    assert [r["id"] for r in texts] == list(range(400))
    assert all(r["email"] == EMAIL and padding in r["body"] for r in texts)
