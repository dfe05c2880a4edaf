"""Bad input to target-sqlite-archive, through its CLI: a clear error naming the input line
(never quoting it), or correct storage; committed data intact, and the next run completes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from target_sqlite_archive.reader import ArchiveReader
from tests.reliability.pipeline import TARGET, integrity_ok

SECRET_EMAIL = "dana.secret@example.org"
PROPS = {"id": {"type": "integer"}, "n": {"type": "integer"}, "email": {"type": "string"}}


def _schema(stream: str, properties: dict[str, Any], keys: list[str] | None = None) -> str:
    return json.dumps(
        {
            "type": "SCHEMA",
            "stream": stream,
            "schema": {"type": "object", "properties": properties},
            "key_properties": ["id"] if keys is None else keys,
        }
    )


def _record(stream: str, record: dict[str, Any]) -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def _state(value: Any) -> str:
    return json.dumps({"type": "STATE", "value": value})


def run_target(
    database: Path,
    lines: list[str],
    env: dict[str, str] | None = None,
    config_dir: Path | None = None,
    **config: Any,
) -> subprocess.CompletedProcess[str]:
    config_path = (config_dir or database.parent) / "target-config.json"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps({"database": str(database), **config}))
    return subprocess.run(
        [TARGET, "--config", str(config_path)],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if "| ERROR" in line]


def _ids(database: Path, table: str = "s") -> list[int]:
    with sqlite3.connect(database) as db:
        return [r[0] for r in db.execute(f'SELECT id FROM "{table}" ORDER BY id')]  # noqa: S608


def _stored_state(database: Path) -> Any:
    store = ArchiveReader(str(database))
    try:
        return store.load_state()
    finally:
        store.close()


def _good(first: int, last: int) -> list[str]:
    lines = [_schema("s", PROPS)]
    for i in range(first, last + 1):
        lines.append(_record("s", {"id": i, "n": i, "email": f"user{i}@example.org"}))
    lines.append(_state({"upto": last}))
    return lines


BAD_LINES = {
    "malformed JSON": (
        '{"type": "RECORD", "stream": "s", "record": {"id": 9, "email": "' + SECRET_EMAIL,
        "Input line 5 is not valid JSON",
    ),
    "RECORD before its SCHEMA": (
        _record("t", {"id": 9, "email": SECRET_EMAIL}),
        "Input line 5: A record for stream 't' was encountered before a corresponding schema",
    ),
    "record violating its schema": (
        _record("s", {"id": 9, "n": "nine", "email": SECRET_EMAIL}),
        "Input line 5: Record Message Validation Error: data.n must be integer",
    ),
    "record without its key": (
        _record("s", {"n": 9, "email": SECRET_EMAIL}),
        "Input line 5: Record is missing one or more key_properties",
    ),
    "unknown message type": (
        json.dumps({"type": "GREETING", "stream": "s", "text": SECRET_EMAIL}),
        "Input line 5: Unknown message type 'GREETING'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_bad_line_stops_the_run_naming_its_number_and_keeps_what_was_committed(
    tmp_path: Path, case: str
) -> None:
    database = tmp_path / "archive.sqlite"
    assert run_target(database, _good(1, 2)).returncode == 0
    bad, expected = BAD_LINES[case]
    # Line 1 the schema, 2-4 records 3-5 (each committed at once), 5 the bad line.
    lines = [*_good(3, 5)[:-1], bad, _record("s", {"id": 10, "n": 10}), _state({"upto": 10})]
    done = run_target(database, lines, batch_size_rows=1)
    assert done.returncode != 0
    errors = _errors(done)
    assert errors, done.stderr
    assert expected in errors[-1], errors
    # The line's content (customer data) is not repeated in the logs.
    assert SECRET_EMAIL not in done.stderr + done.stdout
    assert "Traceback" not in "\n".join(errors)
    # Committed data is intact; nothing after the bad line was written.
    assert integrity_ok(database)
    # Records 3-5 may or may not have been committed (no state covering them was emitted);
    # the bad line and everything after it never are.
    ids = _ids(database)
    assert ids[:2] == [1, 2]
    assert set(ids) <= {1, 2, 3, 4, 5}
    assert _stored_state(database) == {"upto": 2}
    assert done.stdout.strip() == ""  # no state was passed on for data not committed
    # The next run, on good input, completes.
    again = run_target(database, _good(3, 12))
    assert again.returncode == 0, again.stderr[-2000:]
    assert _ids(database) == list(range(1, 13))
    assert _stored_state(database) == {"upto": 12}


def test_a_10_mb_record_is_stored_whole(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    big = "".join(chr(0x41 + i % 26) for i in range(10 * 1024 * 1024))
    nested = {"id": 1, "body": big, "parts": [{"text": big[: 1024 * 1024]}] * 3}
    schema = {
        "id": {"type": "integer"},
        "body": {"type": "string"},
        "parts": {"type": "array", "items": {"type": "object", "properties": {"text": {}}}},
    }
    done = run_target(database, [_schema("big", schema), _record("big", nested), _state(1)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["1"]
    assert integrity_ok(database)
    store = ArchiveReader(str(database))
    try:
        records = store.read_records("big")
        assert records['["1"]' if '["1"]' in records else "[1]"] == nested
        [(_at, raw)] = store.raw_versions("big")
        assert json.loads(raw) == nested
    finally:
        store.close()


def test_a_schema_change_mid_stream_keeps_every_value(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    v1 = {"id": {"type": "integer"}, "n": {"type": "integer"}, "tags": {"type": "array"}}
    v2 = {
        "id": {"type": "integer"},
        "n": {"type": "string"},  # the type changes
        "added": {"type": "object", "properties": {"x": {"type": "boolean"}}},
    }
    sent: dict[float, dict[str, Any]] = {
        1: {"id": 1, "n": 1, "tags": ["a", "b"]},
        2: {"id": 2, "n": 2},
        3: {"id": 3, "n": "0123", "added": {"x": True}},
        2.5: {"id": 2, "n": "two", "added": {"x": False}},  # an update under the new schema
    }
    lines = [
        _schema("s", v1),
        _record("s", sent[1]),
        _record("s", sent[2]),
        _state(1),
        _schema("s", v2),
        _record("s", sent[3]),
        _record("s", sent[2.5]),
        _state(2),
    ]
    done = run_target(database, lines, batch_size_rows=2)
    assert done.returncode == 0, done.stderr[-2000:]
    assert integrity_ok(database)
    store = ArchiveReader(str(database))
    try:
        records = {json.loads(k)[0]: v for k, v in store.read_records("s").items()}
        raw = {json.loads(r)["id"]: json.loads(r) for _at, r in store.raw_versions("s")}
        history = [json.loads(r) for _at, r in store.raw_versions("s", "[2]")]
    finally:
        store.close()
    assert records == {1: sent[1], 2: sent[2.5], 3: sent[3]}
    assert raw[3]["n"] == "0123"  # never converted to 123
    assert history == [sent[2], sent[2.5]]


AWKWARD = [
    "select",
    "from",
    "order",
    "group",
    "table",
    "where",
    'say "hi"',
    "it's",
    "a;b--c",
    "größe",
    "日本語の名前",
    "emoji 🎉",
    "",
    "x" * 300,
    "Name",
    "name",
    "NAME",
    "_sdc_id",
    "[brackets]",
    "back`tick",
]


def test_awkward_property_names_are_stored_and_read_back(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite"
    properties: dict[str, Any] = {"id": {"type": "integer"}}
    properties.update({name: {"type": "string"} for name in AWKWARD})
    properties["nested"] = {
        "type": "object",
        "properties": {name: {"type": "integer"} for name in AWKWARD},
    }
    properties["list"] = {
        "type": "array",
        "items": {"type": "object", "properties": {name: {"type": "string"} for name in AWKWARD}},
    }
    records = []
    for i in range(1, 4):
        record: dict[str, Any] = {"id": i}
        record.update({name: f"{i}:{name}" for name in AWKWARD})
        record["nested"] = {name: i * 100 + k for k, name in enumerate(AWKWARD)}
        record["list"] = [{name: f"{i}/{j}/{name}" for name in AWKWARD} for j in range(2)]
        records.append(record)
    # Stream names are data too: a keyword and one equal to another but for case.
    lines = []
    for stream in ("select", "Select", "naïve ☃"):
        lines.append(_schema(stream, properties))
        lines += [_record(stream, r) for r in records]
    lines.append(_state("done"))
    done = run_target(database, lines, batch_size_rows=2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert integrity_ok(database)
    store = ArchiveReader(str(database))
    try:
        for stream in ("select", "Select", "naïve ☃"):
            stored = {json.loads(k)[0]: v for k, v in store.read_records(stream).items()}
            assert stored == {r["id"]: r for r in records}, stream
    finally:
        store.close()
