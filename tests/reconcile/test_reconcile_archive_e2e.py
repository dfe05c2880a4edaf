"""A reconcile in archive mode (reconcile_archive) through the real tap and target against the
emulator: an equal archive costs its listing pages; only what differs is fetched."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from target_sqlite_archive.encryption import Key, connect
from tests.emulator import Emulator
from tests.reconcile.test_reconcile_e2e import marked, parts_differences, report, sync
from tests.reliability.pipeline import run_pipeline, small_spec, tap_config, target_config

STREAMS = ("conversations", "conversation_parts", "tickets", "ticket_parts", "reconcile_runs")
HYDRATED = ("conversations", "tickets")
PARTS = {"conversations": ("conversation_parts", "conversation_id"),
         "tickets": ("ticket_parts", "ticket_id")}  # fmt: skip


@pytest.fixture
def emu() -> Any:
    with Emulator(small_spec(seed=23, long_conversations=1)) as emulator:
        yield emulator


def archive_reconcile(tmp: Path, emu: Emulator, database: Path, state: Any, **extra: Any) -> Any:
    return sync(
        tmp,
        emu,
        database,
        state=state,
        streams=STREAMS,
        reconcile=True,
        reconcile_margin_seconds=0,
        reconcile_archive=str(database),
        **extra,
    )


def live_ids(database: Path, table: str) -> set[str]:
    with sqlite3.connect(database) as db:
        query = f'SELECT id FROM "{table}" WHERE _sdc_deleted_at IS NULL'  # noqa: S608
        return {str(i) for (i,) in db.execute(query)}


def cut_parts(database: Path, entity: str, keep_out: int = 2) -> str:
    """Delete `keep_out` part rows of one record with more than that (a write that fell short)."""
    table, parent = PARTS[entity]
    with sqlite3.connect(database) as db:
        (record,) = db.execute(
            f'SELECT "{parent}" FROM "{table}" GROUP BY "{parent}" '  # noqa: S608
            f'HAVING count(*) > {keep_out} ORDER BY count(*), "{parent}" LIMIT 1'
        ).fetchone()
        db.execute(
            f'DELETE FROM "{table}" WHERE "{parent}" = ? AND id IN '  # noqa: S608
            f'(SELECT id FROM "{table}" WHERE "{parent}" = ? LIMIT {keep_out})',
            (record, record),
        )
    return str(record)


def test_an_equal_archive_costs_its_listing_pages(tmp_path: Path, emu: Emulator) -> None:
    database = tmp_path / "archive.sqlite"
    first = sync(tmp_path, emu, database, streams=STREAMS)
    emu.reset_stats()

    second = archive_reconcile(tmp_path, emu, database, first.state)

    truth = emu.truth()
    spent = emu.stats()["total"]
    # total/150 per entity (and a last, empty page at most): no record is fetched again.
    bound = sum(math.ceil(len(truth[e]) / 150) + 1 for e in HYDRATED)
    assert spent <= bound, (spent, bound)
    assert set(emu.stats()["routes"]) == {"POST /conversations/search", "POST /tickets/search"}
    figures = report(database)
    assert sum(figures[e]["requests"] for e in HYDRATED) == spent
    for entity in HYDRATED:
        row = figures[entity]
        assert row["mode"] == "archive"
        assert row["intercom_count"] == row["archive_count"] == len(truth[entity])
        assert row["records_sent"] == row["refetched_new"] == row["refetched_changed"] == 0
        assert row["refetched_short"] == row["tombstoned"] == row["confirmed_present"] == 0
        assert row["requests"] <= row["request_bound"] == math.ceil(len(truth[entity]) / 150) + 1
    assert figures["conversations"]["parts_over_cap"] == 1  # the long conversation, unfetched
    assert parts_differences(database, emu) == []
    assert "of 'conversations':" not in second.target_stderr  # no ACTIVATE_VERSION reached it
    assert "of 'tickets':" not in second.target_stderr
    assert "reconcile against the archive, which holds" in second.tap_stderr


def test_short_changed_new_and_deleted_records_are_fixed_and_counted(
    tmp_path: Path, emu: Emulator
) -> None:
    database = tmp_path / "archive.sqlite"
    first = sync(tmp_path, emu, database, streams=STREAMS)
    short = {entity: cut_parts(database, entity) for entity in HYDRATED}
    workspace = emu.workspace
    changed = workspace.update("conversations", count=1)
    (created,) = workspace.create("tickets", count=1)
    gone: dict[str, list[str]] = {}
    for entity in HYDRATED:
        spared = {short[entity], *changed}
        victim = sorted(live_ids(database, entity) - spared)[0]
        gone[entity] = workspace.delete(entity, ids=[victim])
    archived = {e: len(live_ids(database, e)) for e in HYDRATED}
    emu.reset_stats()

    archive_reconcile(tmp_path, emu, database, first.state)

    truth = emu.truth()
    for entity in HYDRATED:
        assert set(marked(database, entity)) == set(gone[entity]), entity
        assert live_ids(database, entity) == set(truth[entity]), entity
        table, parent = PARTS[entity]
        with sqlite3.connect(database) as db:
            query = f'SELECT id FROM "{table}" WHERE "{parent}" = ?'  # noqa: S608
            archived_parts = {str(i) for (i,) in db.execute(query, (short[entity],))}
        assert archived_parts == set(truth[table][short[entity]]), entity
    assert parts_differences(database, emu) == []
    assert created in live_ids(database, "tickets")
    figures = report(database)
    expected = {
        "conversations": {"refetched_new": 0, "refetched_changed": 1, "refetched_short": 1},
        "tickets": {"refetched_new": 1, "refetched_changed": 0, "refetched_short": 1},
    }
    for entity in HYDRATED:
        row = figures[entity]
        assert {k: row[k] for k in expected[entity]} == expected[entity], entity
        assert (row["tombstoned"], row["confirmed_present"]) == (1, 0), entity
        assert row["archive_count"] == archived[entity], entity
        assert row["intercom_count"] == len(truth[entity]), entity
        assert row["records_sent"] == sum(expected[entity].values()), entity
        assert row["requests"] <= row["request_bound"], entity
    # Listing pages, 2 refetches and 1 confirmation each, and the QA search of that one.
    assert emu.stats()["total"] == sum(figures[e]["requests"] for e in HYDRATED)
    assert figures["conversations"]["request_bound"] == 2 + 2 + 1 + 1
    assert figures["tickets"]["request_bound"] == 2 + 2 + 1


def test_a_record_a_lagging_listing_lacks_is_confirmed_not_marked(
    tmp_path: Path, emu: Emulator
) -> None:
    """A conversation and a ticket created just before the first sync are archived; then the
    search index lags behind their creation: absent from the listing, present by id."""
    workspace = emu.workspace
    late = {e: workspace.create(e, count=1)[0] for e in HYDRATED}
    database = tmp_path / "archive.sqlite"
    first = sync(tmp_path, emu, database, streams=STREAMS)
    assert all(i in live_ids(database, e) for e, i in late.items())
    emu.configure(search_lag=3600.0)
    emu.reset_stats()

    archive_reconcile(tmp_path, emu, database, first.state)

    figures = report(database)
    for entity, record_id in late.items():
        assert record_id not in marked(database, entity), entity
        row = figures[entity]
        assert (row["confirmed_present"], row["tombstoned"]) == (1, 0), entity
        assert row["intercom_count"] == len(emu.truth()[entity]) - 1, entity
        assert row["records_sent"] == 1, entity
    assert parts_differences(database, emu) == []


@pytest.mark.parametrize(
    ("archive", "why"),
    [
        ("missing.sqlite", "no file at"),
        ("not-an-archive.sqlite", "not an archive of target-sqlite-archive"),
    ],
)
def test_an_unreadable_archive_falls_back_to_the_whole_listing(
    tmp_path: Path, emu: Emulator, archive: str, why: str
) -> None:
    database = tmp_path / "archive.sqlite"
    first = sync(tmp_path, emu, database, streams=STREAMS)
    sqlite3.connect(tmp_path / "not-an-archive.sqlite").execute("CREATE TABLE t (x)").close()
    gone = emu.workspace.delete("tickets", count=1)
    emu.reset_stats()

    second = sync(
        tmp_path,
        emu,
        database,
        state=first.state,
        streams=STREAMS,
        reconcile=True,
        reconcile_margin_seconds=0,
        reconcile_archive=str(tmp_path / archive),
    )

    assert why in second.tap_stderr
    assert "fetching every record again instead" in second.tap_stderr
    figures = report(database)
    truth = emu.truth()
    for entity in HYDRATED:
        assert figures[entity]["mode"] == "listing"
        assert figures[entity]["records_sent"] == len(truth[entity])
    assert set(marked(database, "tickets")) == set(gone)  # by ACTIVATE_VERSION, as before
    assert "of 'tickets':" in second.target_stderr
    assert emu.stats()["total"] > sum(len(truth[e]) for e in HYDRATED)


def test_an_encrypted_archive_is_read_with_its_key(tmp_path: Path, emu: Emulator) -> None:
    key = "synthetic-e2e-archive-key-4b9d"
    database = tmp_path / "archive.sqlite"
    target = target_config(database, encryption_key=key)

    def piped(state: Any = None, **extra: Any) -> Any:
        result = run_pipeline(
            tmp_path, tap_config(emu, **extra), target, state=state, streams=STREAMS
        )
        assert result.ok, result.describe()
        return result

    first = piped()
    gone = emu.workspace.delete("tickets", count=1)
    emu.reset_stats()

    second = piped(
        first.state,
        reconcile=True,
        reconcile_margin_seconds=0,
        reconcile_archive=str(database),
        reconcile_archive_encryption_key=key,
    )

    assert key not in second.tap_stderr
    assert "reconcile against the archive, which holds" in second.tap_stderr
    truth = emu.truth()
    # The listing pages and the one confirmation (the deleted ticket's 404), nothing else.
    listing = sum(math.ceil(len(truth[e]) / 150) + 1 for e in HYDRATED)
    assert emu.stats()["total"] <= listing + 1
    db = connect(str(database), Key(key))
    try:
        rows = db.execute("SELECT entity, mode, tombstoned FROM reconcile_runs").fetchall()
        deleted = db.execute("SELECT id FROM tickets WHERE _sdc_deleted_at IS NOT NULL")
        marked_tickets = {str(i) for (i,) in deleted.fetchall()}
    finally:
        db.close()
    assert sorted(rows) == [("conversations", "archive", 0), ("tickets", "archive", 1)]
    assert marked_tickets == set(gone)
