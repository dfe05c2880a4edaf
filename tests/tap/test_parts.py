"""Hydrated records and their parts: one GET per record, counts not arrays, truncation, order."""

from __future__ import annotations

from typing import Any

import pytest
import requests_mock

from tap_intercom import timestamps
from tap_intercom.streams.conversations import ConversationPartsStream
from tap_intercom.streams.incremental import PartsStream
from tap_intercom.streams.tickets import TicketPartsStream
from tap_intercom.tap import TapIntercom
from tests.tap.conftest import (
    API,
    NOW,
    catalog_for,
    json_bodies,
    make_config,
    run_tap,
)
from tests.tap.records import full_conversation, listed, mock_hydration, search_page


def test_conversation_records_hold_part_counts_not_parts(api: requests_mock.Mocker) -> None:
    conv = full_conversation("7", NOW - 100, parts=3)
    api.post(f"{API}/conversations/search", json=search_page([listed("7", NOW - 100)], None))
    mock_hydration(api, [conv])
    run = run_tap(["conversations"])
    (record,) = run.records("conversations")
    assert record["conversation_parts"] == {
        "type": "conversation_part.list",
        "total_count": 3,
        "returned_count": 3,
        "truncated": False,
    }
    assert record["updated_at"] == timestamps.iso(NOW - 100)
    assert record["created_at"] == timestamps.iso(NOW - 600)


def test_parts_come_from_the_single_hydration_get(api: requests_mock.Mocker) -> None:
    convs = [full_conversation("1", NOW - 300, parts=2), full_conversation("2", NOW - 200, 3)]
    api.post(
        f"{API}/conversations/search",
        json=search_page([listed(c["id"], c["updated_at"]) for c in convs], None),
    )
    mock_hydration(api, convs)
    run = run_tap(["conversations", "conversation_parts"])
    gets = [r.path for r in api.request_history if r.method == "GET"]
    assert sorted(gets) == ["/conversations/1", "/conversations/2"]
    parts = run.records("conversation_parts")
    assert [(p["conversation_id"], p["id"]) for p in parts] == [
        ("1", "p0"),
        ("1", "p1"),
        ("2", "p0"),
        ("2", "p1"),
        ("2", "p2"),
    ]
    assert "conversation_updated_at" not in parts[0]
    assert parts[0]["created_at"] == timestamps.iso(NOW - 300)
    # Only one SCHEMA for the child, however many parents.
    assert len(run.of("SCHEMA", "conversation_parts")) == 1


def test_parts_only_selected_still_hydrates_once(api: requests_mock.Mocker) -> None:
    conv = full_conversation("1", NOW - 300, parts=2)
    api.post(f"{API}/conversations/search", json=search_page([listed("1", NOW - 300)], None))
    mock_hydration(api, [conv])
    run = run_tap(["conversation_parts"])
    assert run.records("conversations") == []
    assert len(run.records("conversation_parts")) == 2
    assert sum(1 for r in api.request_history if r.method == "GET") == 1


def test_600_parts_with_500_returned_is_truncated(api: requests_mock.Mocker) -> None:
    conv = full_conversation("9", NOW - 100, parts=500, count=600)
    api.post(f"{API}/conversations/search", json=search_page([listed("9", NOW - 100)], None))
    mock_hydration(api, [conv])
    run = run_tap(["conversations", "conversation_parts"])
    (record,) = run.records("conversations")
    assert record["conversation_parts"]["truncated"] is True
    assert record["conversation_parts"]["returned_count"] == 500
    assert len(run.records("conversation_parts")) == 500


def test_hydration_keeps_search_order_under_concurrency(api: requests_mock.Mocker) -> None:
    convs = [full_conversation(str(n), NOW - 1000 + n, parts=0) for n in range(40)]
    api.post(
        f"{API}/conversations/search",
        json=search_page([listed(c["id"], c["updated_at"]) for c in convs], None),
    )
    mock_hydration(api, convs)
    run = run_tap(["conversations"], config=make_config(hydration_workers=8))
    assert [r["id"] for r in run.records("conversations")] == [str(n) for n in range(40)]


def ticket(tid: str, updated_at: int, parts: int, total: int | None = None) -> dict[str, Any]:
    return {
        "type": "ticket",
        "id": tid,
        "created_at": updated_at - 50,
        "updated_at": updated_at,
        "ticket_parts": {
            "type": "ticket_part.list",
            "ticket_parts": [
                {"type": "ticket_part", "id": f"tp{n}", "created_at": updated_at}
                for n in range(parts)
            ],
            "total_count": parts if total is None else total,
        },
    }


def test_tickets_hydrate_once_and_split_their_parts(api: requests_mock.Mocker) -> None:
    tickets = [ticket("t1", NOW - 100, 2), ticket("t2", NOW - 50, 1, total=3)]
    api.post(
        f"{API}/tickets/search",
        json={"tickets": [{"id": t["id"], "updated_at": t["updated_at"]} for t in tickets]},
    )
    for t in tickets:
        api.get(f"{API}/tickets/{t['id']}", json=t)
    run = run_tap(["tickets", "ticket_parts"])
    gets = [r for r in api.request_history if r.method == "GET"]
    assert sorted(r.path for r in gets) == ["/tickets/t1", "/tickets/t2"]
    assert all(r.query == "" for r in gets)
    records = run.records("tickets")
    assert [r["ticket_parts"] for r in records] == [
        {"type": "ticket_part.list", "total_count": 2, "returned_count": 2, "truncated": False},
        {"type": "ticket_part.list", "total_count": 3, "returned_count": 1, "truncated": True},
    ]
    parts = run.records("ticket_parts")
    assert [(p["ticket_id"], p["id"]) for p in parts] == [
        ("t1", "tp0"),
        ("t1", "tp1"),
        ("t2", "tp0"),
    ]
    (body,) = json_bodies(api, "/tickets/search")
    assert body["sort"] == {"field": "updated_at", "order": "ascending"}
    assert run.bookmark("tickets")["replication_key_value"] == timestamps.iso(NOW)


@pytest.mark.parametrize(
    ("name", "parts_type"),
    [("conversation_parts", ConversationPartsStream), ("ticket_parts", TicketPartsStream)],
)
def test_a_parts_stream_links_to_its_parent_by_the_parents_one_declaration(
    name: str, parts_type: type[PartsStream]
) -> None:
    tap = TapIntercom(config=make_config(), catalog=catalog_for(name))
    parts = tap.streams[name]
    assert isinstance(parts, parts_type)
    (parent,) = [s for s in tap.streams.values() if parts in s.child_streams]
    assert isinstance(parent, parts.parent_stream_type)
    assert parts.parent_key == parent.part_parent_key
    assert parts.primary_keys == [parent.part_parent_key, "id"]
    assert parent.get_child_context({"id": 7}, None) == {parent.part_parent_key: "7"}
    assert parent.parts_streams() == [parts]
