"""The archive a plain `tap-intercom | target-sqlite-archive` writes with only `database` set
has the keys, links, indexes and full-text tables `meltano run` gives, and no empty table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.emulator import Emulator
from tests.reliability.pipeline import run_pipeline, small_spec, tap_config
from tests.reliability.test_secrets import TOKEN, Meltano
from tests.reliability.test_secrets import meltano as meltano  # the fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _layout(database: Path) -> dict[str, tuple[str, object]]:
    """Per table: its DDL with its indexes, and its foreign keys (the archive's own data aside)."""
    db = sqlite3.connect(database)
    layout: dict[str, tuple[str, object]] = {}
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if table.startswith(("_archive_raw", "_archive_state", "sqlite_")):
            continue
        ddl = sorted(
            (kind, name, sql or "")
            for kind, name, sql in db.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ?", (table,)
            )
        )
        links = sorted(db.execute(f'PRAGMA foreign_key_list("{table}")').fetchall())
        layout[table] = (repr(ddl), links)
    db.close()
    return layout


def _empty_tables(database: Path) -> list[str]:
    db = sqlite3.connect(database)
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith(("_archive_", "sqlite_")) and "_fts" not in name
    ]
    empty = [t for t in tables if not db.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]  # noqa: S608
    db.close()
    return empty


def test_a_plain_pipe_gives_the_archive_meltano_gives(meltano: Meltano, tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "archive.sqlite"
    with Emulator(small_spec(seed=31), token=TOKEN) as emu:
        done = meltano.run(emu.url, debug=False, suffix="layout")
        assert done.returncode == 0, done.stderr[-3000:]
        run = run_pipeline(tmp_path, tap_config(emu), {"database": str(plain)})
        assert run.ok, run.describe()
    ours, meltanos = _layout(plain), _layout(meltano.database)
    # Meltano's demo selects more streams than the plain run: the tables of both must agree.
    common = ours.keys() & meltanos.keys()
    streams = ("contacts", "conversations", "conversation_parts", "tickets")
    assert {*streams, "conversation_parts_fts", "contacts__tags__data"} <= common
    assert {t: ours[t] for t in common} == {t: meltanos[t] for t in common}
    for database in (plain, meltano.database):
        assert _empty_tables(database) == [], database
        db = sqlite3.connect(database)
        keys = [r[1] for r in db.execute('PRAGMA table_info("conversation_parts")') if r[5]]
        assert keys == ["conversation_id", "id"]
        assert db.execute("SELECT count(*) FROM conversation_parts_fts").fetchone()[0] > 0
        db.close()
