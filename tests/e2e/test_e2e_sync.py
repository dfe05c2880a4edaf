"""End-to-end: the real tap executable against the emulator, compared with its ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_intercom.timestamps import iso
from tests.e2e.conftest import tap_config
from tests.e2e.harness import run_tap
from tests.emulator import Emulator

pytestmark = pytest.mark.e2e

FULL_TABLE = [
    "admins",
    "teams",
    "tags",
    "segments",
    "subscription_types",
    "companies",
    "articles",
    "collections",
    "help_centers",
]


def test_full_sync_equals_truth(emulator: Emulator, tmp_path) -> None:
    run = run_tap(tmp_path, tap_config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    truth = emulator.truth()

    for stream in [*FULL_TABLE, "contacts", "conversations", "tickets"]:
        emitted = run.ids(stream)
        assert len(emitted) >= len(truth[stream]), stream
        assert set(emitted) == set(map(str, truth[stream])), stream

    # Values as well as ids: every record equals the API's own record, timestamps as ISO.
    admins = {str(a["id"]): a for a in emulator.workspace.records("admins")}
    for record in run.records["admins"]:
        assert record["email"] == admins[str(record["id"])]["email"]

    for stream in ("contacts", "conversations", "tickets"):
        latest = {str(r["id"]): r["updated_at"] for r in run.records[stream]}
        for rid, updated in truth[stream].items():
            assert latest[str(rid)] == _iso(updated), (stream, rid)

    parts: dict[str, set[str]] = {}
    for part in run.records["conversation_parts"]:
        parts.setdefault(part["conversation_id"], set()).add(str(part["id"]))
    for conversation_id, part_ids in truth["conversation_parts"].items():
        assert parts.get(str(conversation_id), set()) == set(map(str, part_ids))

    ticket_parts: dict[str, set[str]] = {}
    for part in run.records["ticket_parts"]:
        ticket_parts.setdefault(part["ticket_id"], set()).add(str(part["id"]))
    for ticket_id, part_ids in truth["ticket_parts"].items():
        assert ticket_parts.get(str(ticket_id), set()) == set(map(str, part_ids))

    # The conversation record keeps the count of its parts, not the parts.
    for record in run.records["conversations"]:
        assert "conversation_parts" not in record["conversation_parts"]
        assert record["conversation_parts"]["returned_count"] == len(
            truth["conversation_parts"][record["id"]]
        )

    # Full-table streams announce their complete pass after their last record.
    for stream in FULL_TABLE:
        positions = [i for i, m in enumerate(run.messages) if m.get("stream") == stream]
        kinds = [run.messages[i]["type"] for i in positions]
        assert kinds[-1] == "ACTIVATE_VERSION", stream
        assert "ACTIVATE_VERSION" not in kinds[:-1], stream


def _iso(seconds: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def test_every_deleted_conversation_is_a_tombstone_in_conversations(
    emulator: Emulator, tmp_path: Path
) -> None:
    run = run_tap(tmp_path, tap_config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    deleted = emulator.truth()["deleted_conversations"]
    assert deleted
    tombstones = run.tombstones["conversations"]
    assert {str(r["id"]): r["_sdc_deleted_at"] for r in tombstones} == {
        str(k): iso(v) for k, v in deleted.items()
    }
    # Keys and the deletion only: an archive keeps the conversation's data as it was.
    assert all(
        {k for k, v in r.items() if v is not None} == {"id", "_sdc_deleted_at"} for r in tombstones
    )
