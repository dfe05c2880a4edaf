"""The reconcile pass's pure rules: its version, merge tombstones, parts, report and bound."""

from __future__ import annotations

from typing import Any

from tap_intercom import reconcile


def test_the_version_is_the_pass_start_in_ms_less_the_margin() -> None:
    assert reconcile.pass_version(1_700_000_000.25, 0) == 1_700_000_000_250
    assert reconcile.pass_version(1_700_000_000.25, 1800) == 1_700_000_000_250 - 1_800_000


def test_merge_history_becomes_tombstones_and_leaves_the_record() -> None:
    user: dict[str, Any] = {
        "id": "u1",
        "role": "user",
        "merge_history": [
            {"type": "merge_history", "source_contact_id": "l1", "merged_at": 1_700_000_000},
            {"type": "merge_history", "source_contact_id": "l2", "merged_at": None},
            {"type": "merge_history", "source_contact_id": "u1"},  # never itself
            {"type": "merge_history"},
        ],
    }
    tombstones = reconcile.merge_tombstones(user, fallback_at=1_800_000_000)
    assert tombstones == [
        {"id": "l1", "_sdc_deleted_at": "2023-11-14T22:13:20Z", "_sdc_merged_into_id": "u1"},
        {"id": "l2", "_sdc_deleted_at": "2027-01-15T08:00:00Z", "_sdc_merged_into_id": "u1"},
    ]
    assert "merge_history" not in user
    assert reconcile.merge_tombstones({"id": "lead"}, fallback_at=0) == []


def test_parts_over_the_cap_are_reported_apart_from_short_hydrations() -> None:
    tally = reconcile.Tally("conversations")

    def conversation(stated: int, returned: int) -> dict[str, Any]:
        return {
            "statistics": {"count_conversation_parts": stated},
            "conversation_parts": {"total_count": min(stated, 500), "returned_count": returned},
        }

    tally.count_parts(conversation(700, 500), "conversation_parts")
    tally.count_parts(conversation(12, 12), "conversation_parts")
    tally.count_parts(conversation(12, 10), "conversation_parts")
    tally.count_parts({"ticket_parts": {"total_count": 3, "returned_count": 3}}, "ticket_parts")
    assert (tally.over_cap, tally.short) == (1, 1)


def test_the_report_has_one_record_per_entity_and_a_table() -> None:
    report = reconcile.Report(started_at=1_700_000_000.0, margin_seconds=60)
    report.finished_at = 1_700_000_100.0
    contacts = report.tally("contacts")
    contacts.listed, contacts.sent, contacts.merged, contacts.complete = 10, 10, 2, True
    report.tally("tickets").listed = 3
    records = report.records()
    assert [r["entity"] for r in records] == ["contacts", "tickets"]
    assert records[0] == {
        "started_at": "2023-11-14T22:13:20Z",
        "entity": "contacts",
        "finished_at": "2023-11-14T22:15:00Z",
        "version": 1_700_000_000_000 - 60_000,
        "margin_seconds": 60,
        "complete": True,
        "intercom_count": 10,
        "records_sent": 10,
        "merged_contacts": 2,
        "vanished": 0,
        "parts_over_cap": 0,
        "parts_short": 0,
        "requests": 0,
        "seconds": 0.0,
    }
    lines = report.table().splitlines()
    assert lines[0].split()[:3] == ["entity", "complete", "intercom"]
    assert lines[1].split()[:4] == ["contacts", "yes", "10", "10"]
    assert lines[2].split()[:2] == ["tickets", "NO"]


def test_the_unfiltered_search_is_ordered_by_creation() -> None:
    body = reconcile.search_body(150, "abc")
    assert body["sort"] == {"field": "created_at", "order": "ascending"}
    assert body["pagination"] == {"per_page": 150, "starting_after": "abc"}
    assert "starting_after" not in reconcile.search_body(150, None)["pagination"]


def test_the_request_bound() -> None:
    # 301 contacts: 3 pages + 1; 150 conversations: 1 page + 1 + 150 GETs; no tickets: 1 empty
    # page; 100 companies: 1 scroll page + 1 + the closing page.
    assert reconcile.request_bound(contacts=301, conversations=150, tickets=0, companies=100) == (
        4 + 152 + 1 + 3
    )
