"""Memory stays bounded: a job is cut by its records' JSON size as well as by rows, and the
writer's SQLite page cache is the `cache_size_mb` setting."""

from __future__ import annotations

import json
from pathlib import Path

from target_sqlite_archive.batch import StoreSettings
from target_sqlite_archive.writer import _open
from tests.target.harness import record, rows, run, schema, state

PROPS = {"id": {"type": "integer"}, "note": {"type": "string"}}


def _data(n: int) -> dict[str, object]:
    # Two-digit ids: every record's JSON text has the same length.
    return {"id": 10 + n, "note": "x" * 90}


def test_pending_json_of_all_streams_reaching_batch_size_mb_commits(database: Path) -> None:
    size = len(json.dumps(_data(0)))
    messages: list = [schema("a", PROPS), schema("b", PROPS)]
    for n in range(20):
        messages += [record("ab"[n % 2], _data(n)), state({"n": n})]
    # Four and a half records' worth: the fifth pending record, whichever stream it is in,
    # fills the job; no stream comes near batch_size_rows.
    result = run(database, messages, batch_size_mb=4.5 * size / 1_000_000, batch_size_rows=1000)
    # Each commit carries the state before the record that filled the job; the state right
    # after it has nothing pending before it and passes on at once.
    expected = [{"n": n} for end in (4, 9, 14, 19) for n in (end - 1, end)]
    assert result.states == expected
    assert rows(database, "SELECT count(*) FROM a") == [(10,)]
    assert rows(database, "SELECT count(*) FROM b") == [(10,)]


def test_below_batch_size_mb_nothing_is_committed_before_the_end(database: Path) -> None:
    size = len(json.dumps(_data(0)))
    messages: list = [schema("a", PROPS)]
    for n in range(20):
        messages += [record("a", _data(n)), state({"n": n})]
    result = run(database, messages, batch_size_mb=20.5 * size / 1_000_000)
    assert result.states == [{"n": 19}]


def test_the_writer_page_cache_is_the_setting(tmp_path: Path) -> None:
    settings = StoreSettings(str(tmp_path / "archive.sqlite"), 30, 1, cache_size_mb=8)
    store = _open(settings)
    try:
        # Negative: KiB. 8 MB is 7,812.5 KiB.
        assert store.conn.execute("PRAGMA cache_size").fetchone() == (-7812,)
    finally:
        store.close()
