"""The raw versions' codec: new rows are zstd and say so; an archive written before the codec
column (format 1: zlib rows, no column) is upgraded in place and reads back, old rows and new.

The committed format-1 fixture is upgraded in test_upgrade.py; here an archive of this run is
turned back into format 1, so each step is seen on a small, known archive."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import typing as t
import zlib
from pathlib import Path

import zstandard

from target_sqlite_archive.codec import decompress
from tests.target.harness import opened, record, rows, run, schema

PROPERTIES = {"id": {"type": "integer"}, "name": {"type": "string"}}
README = Path(__file__).resolve().parents[2] / "target-sqlite-archive" / "README.md"


def readme_raw_texts(database: Path, stream: str) -> list[str]:
    """The texts the README's recipe for reading raw versions gives, run as it is written
    (its file name and stream replaced)."""
    after = README.read_text().split("Reading raw versions back (Python)", 1)[1]
    recipe = after.split("```python\n", 1)[1].split("```", 1)[0]
    assert "'contacts'" in recipe
    assert '"archive.sqlite"' in recipe
    recipe = recipe.replace('"archive.sqlite"', repr(str(database)))
    recipe = recipe.replace("'contacts'", "'" + stream + "'")
    namespace: dict[str, t.Any] = {}
    exec(compile(recipe, str(README), "exec"), namespace)  # noqa: S102
    namespace["db"].close()
    return t.cast("list[str]", namespace["texts"])


def _as_previous_format(database: Path) -> None:
    """Turn an archive into what the target wrote before the codec column (format 1): same
    tables, the raw column zlib-compressed, no codec column."""
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as conn:
        rows = conn.execute("SELECT version_id, codec, raw FROM _archive_raw").fetchall()
        conn.execute("BEGIN")
        for version_id, codec, raw in rows:
            old = zlib.compress(decompress(codec, raw), 1)
            conn.execute("UPDATE _archive_raw SET raw = ? WHERE version_id = ?", (old, version_id))
        conn.execute("ALTER TABLE _archive_raw DROP COLUMN codec")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("COMMIT")
        columns = [r[1] for r in conn.execute("PRAGMA table_info(_archive_raw)")]
    assert "codec" not in columns


def test_new_raw_rows_are_zstd_frames_any_zstd_decoder_reads(database: Path) -> None:
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "déjà vu 🙂"})])
    [(codec, raw)] = rows(database, "SELECT codec, raw FROM _archive_raw")
    assert codec == "zstd"
    # The README's recipe: a plain zstd decoder, no size given (the frame records it).
    text = zstandard.ZstdDecompressor().decompress(raw).decode()
    assert json.loads(text) == {"id": 1, "name": "déjà vu 🙂"}


def test_an_archive_of_the_previous_format_is_upgraded_and_reads_back(database: Path) -> None:
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "first"})])
    _as_previous_format(database)

    # Read as it is (the reader upgrades it on opening): the old row is zlib, and says so.
    with opened(database) as store:
        assert [raw for _at, raw in store.raw_versions("s")] == ['{"id": 1, "name": "first"}']
    # Written to again: the new version is zstd beside the old zlib one.
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "second"})])
    assert [c for (c,) in rows(database, "SELECT codec FROM _archive_raw ORDER BY 1")] == [
        "zlib",
        "zstd",
    ]
    with opened(database) as store:
        texts = [json.loads(raw)["name"] for _at, raw in store.raw_versions("s", "[1]")]
        assert texts == ["first", "second"]
        assert store.read_records("s") == {"[1]": {"id": 1, "name": "second"}}
    # The README's recipe in SQL terms works on both rows.
    for codec, raw in rows(database, "SELECT codec, raw FROM _archive_raw"):
        text = (
            zlib.decompress(raw)
            if codec == "zlib"
            else zstandard.ZstdDecompressor().decompress(raw)
        )
        assert json.loads(text)["id"] == 1
    # And the README's recipe as written reads both.
    assert [json.loads(text)["name"] for text in readme_raw_texts(database, "s")] == [
        "first",
        "second",
    ]


def test_opening_an_upgraded_archive_again_changes_nothing(database: Path) -> None:
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "a"})])
    _as_previous_format(database)
    for _ in range(2):
        with opened(database):
            pass
    columns = [r[1] for r in rows(database, "PRAGMA table_info(_archive_raw)")]
    assert columns.count("codec") == 1
    assert rows(database, "PRAGMA user_version") == [(2,)]
