"""End to end: the receiver, the emulator delivering to it, and the follow-mode pipeline
(tap-intercom | target-sqlite-archive), all started here. Every kind of change reaches the
archive within seconds while the pipeline runs, deletions and merges marked; a change whose
webhook was lost comes with the safety-net sync; SIGTERM ends the pipeline with exit 0 and the
last drain committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tap_intercom.timestamps import to_iso
from tests.emulator import Emulator, WebhookSettings
from tests.webhooks.follow_pipeline import (
    Follower,
    column,
    committed_position,
    follow_config,
    follow_spec,
    make_every_change,
    mirror_differences,
    rows,
    wait_for,
)
from tests.webhooks.receiver import SECRET, Receiver

SPEC = follow_spec(31)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Emulator, Receiver]]:
    receiver = Receiver(tmp_path / "queue.sqlite")
    settings = WebhookSettings(url=receiver.url, secret=SECRET, retry_delay=0.1)
    with Emulator(SPEC, webhooks=settings) as emu:
        yield emu, receiver
    receiver.kill()


def _synced(follower: Follower, database: Path) -> bool:
    """The first safety-net sync is committed (the follower then waits for changes)."""
    return follower.count("Run summary: no stream") >= 1 and committed_position(database) == 0


def test_every_change_reaches_the_archive_in_seconds_and_deletions_are_marked(
    live: tuple[Emulator, Receiver], tmp_path: Path
) -> None:
    emu, receiver = live
    database = tmp_path / "archive.sqlite"
    follower = Follower(tmp_path / "run", follow_config(emu, receiver), database)
    try:
        assert wait_for(lambda: _synced(follower, database), 90), follower.describe()
        assert wait_for(lambda: not mirror_differences(database, emu), 20), follower.describe()
        c = make_every_change(emu.workspace)
        assert emu.webhooks is not None
        assert emu.webhooks.wait_idle(30)
        # While the pipeline runs (the target's timer commits; nothing else arrives):
        assert wait_for(lambda: not mirror_differences(database, emu), 20), (
            "\n".join(mirror_differences(database, emu)) + follower.describe()
        )
    finally:
        follower.kill()
    truth = emu.truth()
    assert column(database, "contacts", "updated_at", c.updated) == to_iso(
        truth["contacts"][c.updated]
    )
    assert column(database, "contacts", "updated_at", c.created) == to_iso(
        truth["contacts"][c.created]
    )
    for table, rid in (
        ("contacts", c.archived), ("contacts", c.deleted), ("contacts", c.merged),
        ("conversations", c.deleted_conversation), ("tickets", c.deleted_ticket),
        ("companies", c.deleted_company),
    ):  # fmt: skip
        assert column(database, table, "_sdc_deleted_at", rid), (table, rid)
    assert column(database, "contacts", "_sdc_deleted_at", c.unarchived) is None
    assert column(database, "contacts", "_sdc_merged_into_id", c.merged) == c.merged_into
    assert column(database, "contacts", "_sdc_merged_into_id", c.deleted) is None
    marked_parts = rows(
        database,
        "SELECT count(*), count(_sdc_deleted_at) FROM conversation_parts WHERE conversation_id = ?",
        c.deleted_conversation,
    )
    assert marked_parts[0][0] > 0
    assert marked_parts[0][0] == marked_parts[0][1]
    listed = rows(
        database, "SELECT id FROM deleted_conversations WHERE id = ?", c.deleted_conversation
    )
    assert listed == [(c.deleted_conversation,)]
    assert column(database, "conversations", "state", c.closed) == "closed"
    redacted = rows(
        database,
        "SELECT redacted FROM conversation_parts WHERE conversation_id = ? AND id = ?",
        c.closed,
        c.redacted_part,
    )
    assert redacted == [(1,)]
    for conversation in (c.new_conversation, c.replied):
        assert column(database, "conversations", "updated_at", conversation) == to_iso(
            truth["conversations"][conversation]
        )
    assert column(database, "tickets", "updated_at", c.ticket) == to_iso(truth["tickets"][c.ticket])
    assert column(database, "companies", "updated_at", c.company) == to_iso(
        truth["companies"][c.company]
    )


def test_sigterm_exits_0_in_seconds_with_the_last_drain_committed(
    live: tuple[Emulator, Receiver], tmp_path: Path
) -> None:
    emu, receiver = live
    database = tmp_path / "archive.sqlite"
    # A long batch wait: only the shutdown can commit the last drain in time.
    follower = Follower(
        tmp_path / "run", follow_config(emu, receiver), database, batch_wait_seconds=120
    )
    try:
        assert wait_for(lambda: follower.count("Run summary: no stream") >= 1, 90), (
            follower.describe()
        )
        (changed,) = emu.workspace.update("tickets", count=1)
        assert emu.webhooks is not None
        assert emu.webhooks.wait_idle(30)
        queued = len(receiver.queued_ids())
        drained = f"queue position {queued}\n"
        assert wait_for(lambda: any(line.endswith(drained) for line in follower.tap_err), 20), (
            follower.describe()
        )
        assert committed_position(database) == 0  # not committed yet: the target holds it
        code_tap, code_target, seconds = follower.terminate()
    finally:
        follower.kill()
    assert (code_tap, code_target) == (0, 0), follower.describe()
    assert seconds < 10, seconds
    want = to_iso(emu.truth()["tickets"][changed])
    assert column(database, "tickets", "updated_at", changed) == want
    assert committed_position(database) == queued


def test_sigterm_inside_the_search_sync_exits_0_with_a_resumable_state(
    live: tuple[Emulator, Receiver], tmp_path: Path
) -> None:
    emu, receiver = live
    emu.configure(latency_ms=40)  # a sync that lasts long enough to be interrupted
    database = tmp_path / "archive.sqlite"
    follower = Follower(tmp_path / "run", follow_config(emu, receiver), database)
    try:
        assert wait_for(lambda: follower.count("contacts: reading updated_at") >= 1, 60), (
            follower.describe()
        )
        code_tap, code_target, seconds = follower.terminate()
    finally:
        follower.kill()
    assert (code_tap, code_target) == (0, 0), follower.describe()
    assert seconds < 10, seconds
    # The run's own handler (as in a scheduled run): the streams stop, the state goes out.
    assert follower.count("Gracefully shutting down") == 1, follower.describe()
    state = follower.committed_state()
    assert state is not None
    assert "webhook_queue" in state["bookmarks"]


def test_a_lost_webhook_is_caught_by_the_safety_net(
    live: tuple[Emulator, Receiver], tmp_path: Path
) -> None:
    emu, receiver = live
    database = tmp_path / "archive.sqlite"
    config = follow_config(emu, receiver, sync_interval_seconds=3)
    follower = Follower(tmp_path / "run", config, database)
    try:
        assert wait_for(lambda: _synced(follower, database), 90), follower.describe()
        assert emu.webhooks is not None
        emu.webhooks.configure(drop_rate=1.0)
        (lost,) = emu.workspace.update("conversations", count=1)
        (lost_contact,) = emu.workspace.update("contacts", count=1)
        assert len(emu.webhooks.dropped) == 2
        truth = emu.truth()
        want = to_iso(truth["conversations"][lost])
        want_contact = to_iso(truth["contacts"][lost_contact])
        # A safety-net sync (every 3 s here) that starts after the change reads it.
        assert wait_for(
            lambda: (
                column(database, "conversations", "updated_at", lost) == want
                and column(database, "contacts", "updated_at", lost_contact) == want_contact
            ),
            40,
        ), follower.describe()
        code_tap, code_target, _ = follower.terminate()
    finally:
        follower.kill()
    assert (code_tap, code_target) == (0, 0), follower.describe()
    assert receiver.queued_ids() == set()  # it never came through the queue
    # Each safety-net pass over the full-table companies has its own version, so a company
    # one pass no longer lists is marked even though an earlier pass wrote it.
    versions = {
        line.split("ACTIVATE_VERSION ")[1].split()[0]
        for line in follower.target_err
        if "ACTIVATE_VERSION" in line and "'companies'" in line
    }
    assert len(versions) >= 2, follower.describe()
