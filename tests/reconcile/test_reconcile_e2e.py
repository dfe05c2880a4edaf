"""A reconcile through the real tap and target against the emulator: what no run saw is marked."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tap_intercom import reconcile
from tests.e2e.harness import DEFAULT_STREAMS, run_tap
from tests.emulator import Emulator
from tests.reliability.pipeline import (
    archive_differences,
    run_pipeline,
    small_spec,
    tap_config,
    target_config,
)
from tests.target.harness import run

STREAMS = (*DEFAULT_STREAMS, "reconcile_runs")


def sync(
    tmp: Path,
    emu: Emulator,
    database: Path,
    *,
    state: Any = None,
    streams: tuple[str, ...] = STREAMS,
    **extra: Any,
) -> Any:
    result = run_pipeline(
        tmp, tap_config(emu, **extra), target_config(database), state=state, streams=streams
    )
    assert result.ok, result.describe()
    return result


def reconcile_run(
    tmp: Path, emu: Emulator, database: Path, state: Any, streams: tuple[str, ...] = STREAMS
) -> Any:
    return sync(
        tmp, emu, database, state=state, streams=streams, reconcile=True, reconcile_margin_seconds=0
    )


def marked(database: Path, table: str) -> dict[str, tuple[str | None, ...]]:
    with sqlite3.connect(database) as db:
        columns = {r[1] for r in db.execute(f'PRAGMA table_info("{table}")')}
        merged = "_sdc_merged_into_id" if "_sdc_merged_into_id" in columns else "NULL"
        query = f'SELECT id, _sdc_deleted_at, {merged} FROM "{table}"'  # noqa: S608
        return {str(i): (d, m) for i, d, m in db.execute(query) if d is not None}


def report(database: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        return {r["entity"]: dict(r) for r in db.execute("SELECT * FROM reconcile_runs")}


def assert_equal_but_parts_of(database: Path, emu: Emulator, deleted_tickets: list[str]) -> None:
    """The archive's live rows are the truth; the parts of deleted tickets stay (a pass does not
    mark parts: the 500 most recent are all a GET returns, so older archived ones are not gone)."""
    problems = archive_differences(database, emu)
    parts = [p for p in problems if p.startswith("ticket_parts:")]
    assert [p for p in problems if p not in parts] == []
    with sqlite3.connect(database) as db:
        orphans = {str(t) for (t,) in db.execute("SELECT DISTINCT ticket_id FROM ticket_parts")}
    assert orphans - set(emu.truth()["ticket_parts"]) <= set(deleted_tickets)


def parts_differences(database: Path, emu: Emulator) -> list[str]:
    problems = archive_differences(database, emu)
    return [p for p in problems if p.startswith(("conversations:", "conversation_parts:"))]


@pytest.fixture
def emu() -> Any:
    with Emulator(small_spec(seed=19, long_conversations=1)) as emulator:
        yield emulator


def test_deletions_no_run_saw_are_marked_and_the_report_is_the_truth(
    tmp_path: Path, emu: Emulator
) -> None:
    database = tmp_path / "archive.sqlite"
    first = sync(tmp_path, emu, database)
    workspace = emu.workspace
    gone_contacts = workspace.delete("contacts", count=3)
    gone_tickets = workspace.delete("tickets", count=2)
    gone_companies = workspace.delete("companies", count=1)
    emu.reset_stats()

    second = reconcile_run(tmp_path, emu, database, first.state)

    assert set(marked(database, "contacts")) == set(gone_contacts)
    assert set(marked(database, "tickets")) == set(gone_tickets)
    assert set(marked(database, "companies")) == set(gone_companies)
    assert_equal_but_parts_of(database, emu, gone_tickets)
    truth = emu.truth()
    figures = report(database)
    for entity in reconcile.ENTITIES:
        assert figures[entity]["intercom_count"] == len(truth[entity]), entity
        assert figures[entity]["complete"] == 1, entity
    assert figures["contacts"]["merged_contacts"] == 0
    assert figures["conversations"]["parts_over_cap"] == 1  # the long conversation
    assert figures["conversations"]["parts_short"] == 0
    # The bookmarks are what the daily run left: a reconcile moves none of them.
    assert second.state["bookmarks"]["contacts"] == first.state["bookmarks"]["contacts"]
    assert "Reconcile summary:" in second.tap_stderr


def test_archived_and_merged_contacts_no_run_saw_are_marked(tmp_path: Path, emu: Emulator) -> None:
    """Archived contacts leave the listing and answer 404; a merged lead leaves it too, and the
    pass records the user it went into."""
    database = tmp_path / "archive.sqlite"
    streams = ("contacts", "reconcile_runs")
    first = sync(tmp_path, emu, database, streams=streams)
    workspace = emu.workspace
    (archived,) = workspace.archive(count=1)
    lead, user = workspace.merge()

    second = reconcile_run(tmp_path, emu, database, first.state, streams)

    assert second.ok
    found = marked(database, "contacts")
    assert set(found) == {archived, lead}
    assert found[lead][1] == user
    assert found[archived][1] is None
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id FROM contacts WHERE _sdc_deleted_at IS NULL")
        live = {str(i) for (i,) in rows}
    assert live == set(emu.truth()["contacts"])
    figures = report(database)["contacts"]
    assert figures["merged_contacts"] == 1
    assert figures["intercom_count"] == len(emu.truth()["contacts"])


def test_a_contact_written_while_the_pass_runs_is_not_marked(tmp_path: Path, emu: Emulator) -> None:
    """The pass lists before the contact exists; a follower writes it before the target reads
    the pass's ACTIVATE_VERSION: the order a webhook follower meets during a real pass."""
    database = tmp_path / "archive.sqlite"
    first = sync(tmp_path, emu, database, streams=("contacts",))
    gone = emu.workspace.delete("contacts", count=1)
    config = tap_config(emu, reconcile=True, reconcile_margin_seconds=0)
    the_pass = run_tap(tmp_path, config, state=first.state, streams=("contacts",))
    assert the_pass.returncode == 0, the_pass.stderr[-2000:]
    (created,) = emu.workspace.create("contacts", count=1)
    assert created not in the_pass.ids("contacts")
    sync(
        tmp_path, emu, database, state=first.state, streams=("contacts",)
    )  # the follower: a normal run writes it
    run(database, the_pass.messages)  # the target reads the pass only now
    assert set(marked(database, "contacts")) == set(gone)


def test_a_conversation_whose_archived_parts_fell_short_is_complete_again(
    tmp_path: Path, emu: Emulator
) -> None:
    database = tmp_path / "archive.sqlite"
    streams = ("conversations", "conversation_parts")
    first = sync(tmp_path, emu, database, streams=streams)
    with sqlite3.connect(database) as db:
        (conversation,) = db.execute(
            "SELECT conversation_id FROM conversation_parts GROUP BY conversation_id "
            "HAVING count(*) > 2 ORDER BY conversation_id LIMIT 1"
        ).fetchone()
        db.execute(
            "DELETE FROM conversation_parts WHERE conversation_id = ? AND id IN "
            "(SELECT id FROM conversation_parts WHERE conversation_id = ? LIMIT 2)",
            (conversation, conversation),
        )
    assert parts_differences(database, emu)
    reconcile_run(tmp_path, emu, database, first.state, streams)
    assert parts_differences(database, emu) == []


def test_an_equal_archive_costs_no_more_than_the_bound(tmp_path: Path, emu: Emulator) -> None:
    database = tmp_path / "archive.sqlite"
    streams = ("companies", "contacts", "conversations", "conversation_parts", "tickets",
               "ticket_parts", "reconcile_runs")  # fmt: skip
    first = run_pipeline(tmp_path, tap_config(emu), target_config(database), streams=streams)
    assert first.ok, first.describe()
    emu.reset_stats()
    result = run_pipeline(
        tmp_path,
        tap_config(emu, reconcile=True, reconcile_margin_seconds=0),
        target_config(database),
        state=first.state,
        streams=streams,
    )
    assert result.ok, result.describe()
    truth = emu.truth()
    full_lists = sum(
        1
        for c in emu.workspace.records("contacts")
        for k in ("tags", "companies")
        if (c.get(k) or {}).get("has_more")
    )
    bound = reconcile.request_bound(
        contacts=len(truth["contacts"]),
        conversations=len(truth["conversations"]),
        tickets=len(truth["tickets"]),
        companies=len(truth["companies"]),
        full_lists=full_lists,
    )
    spent = emu.stats()["total"]
    assert spent <= bound, (spent, bound)
    figures = report(database)
    assert sum(f["requests"] for f in figures.values()) == spent
    assert all(f["vanished"] == 0 and f["complete"] for f in figures.values())
    with sqlite3.connect(database) as db:
        live = {
            t: db.execute(f'SELECT count(*) FROM "{t}" WHERE _sdc_deleted_at IS NULL').fetchone()[0]  # noqa: S608
            for t in reconcile.ENTITIES
        }
    assert live == {t: figures[t]["intercom_count"] for t in reconcile.ENTITIES}
