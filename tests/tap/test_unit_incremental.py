"""Incremental search streams with requests-mock: per-page state, resumption, hydration, parts,
and the day-aligned contact search."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest
import requests_mock

from tap_intercom import search, timestamps
from tap_intercom.search import DAY
from tests.tap.conftest import (
    API,
    NOW,
    NOW_ISO,
    RATE_HEADERS,
    json_bodies,
    make_config,
    run_tap,
)

STATE_KEYS = {"replication_key", "replication_key_value", "window_start", "window_end", "cursor"}
WINDOW_KEYS = ("window_start", "window_end", "cursor", "last_id")
LOOKBACK = 1800


def part(cid: str, n: int, created_at: int) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": f"p{n}",
        "part_type": "comment",
        "body": f"part {n} of {cid}",
        "created_at": created_at,
        "updated_at": created_at,
    }


def full_conversation(
    cid: str, updated_at: int, parts: int = 2, count: int | None = None
) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": cid,
        "created_at": updated_at - 500,
        "updated_at": updated_at,
        "title": f"conversation {cid}",
        "statistics": {"count_conversation_parts": parts if count is None else count},
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [part(cid, n, updated_at - n) for n in range(parts)],
            "total_count": parts,
        },
    }


def listed(cid: str, updated_at: int) -> dict[str, Any]:
    return {"type": "conversation", "id": cid, "updated_at": updated_at}


def search_page(
    records: list[dict[str, Any]], cursor: str | None, key: str = "conversations"
) -> dict[str, Any]:
    pages: dict[str, Any] = {"type": "pages", "per_page": 150}
    if cursor:
        pages["next"] = {"per_page": 150, "starting_after": cursor}
    return {"type": "conversation.list", key: records, "pages": pages, "total_count": 99}


def states_written_so_far() -> list[dict[str, Any]]:
    """STATE messages already on stdout (the run writes into a StringIO while it runs)."""
    stdout = sys.stdout
    assert isinstance(stdout, io.StringIO)
    text = stdout.getvalue()
    messages = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [m["value"] for m in messages if m["type"] == "STATE"]


class SearchRecorder:
    """Answers the search with fixed pages and notes the state already written at each call."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.states_at_call: list[list[dict[str, Any]]] = []

    def __call__(self, request: Any, context: Any) -> dict[str, Any]:
        self.states_at_call.append(states_written_so_far())
        context.headers.update(RATE_HEADERS)
        return self.pages[len(self.states_at_call) - 1]


def mock_hydration(api: requests_mock.Mocker, conversations: list[dict[str, Any]]) -> None:
    for conv in conversations:
        api.get(f"{API}/conversations/{conv['id']}", json=conv, headers=RATE_HEADERS)


def conv_state(state: dict[str, Any]) -> dict[str, Any]:
    return dict(state["bookmarks"]["conversations"])


# Conversations: state ---------------------------------------------------------------------


@pytest.fixture
def three_pages(api: requests_mock.Mocker) -> SearchRecorder:
    start = NOW - 3600
    convs = [full_conversation(str(n), start + 60 * n) for n in range(1, 6)]
    recorder = SearchRecorder(
        [
            search_page([listed(c["id"], c["updated_at"]) for c in convs[:2]], "c1"),
            search_page([listed(c["id"], c["updated_at"]) for c in convs[2:4]], "c2"),
            search_page([listed(c["id"], c["updated_at"]) for c in convs[4:]], None),
        ]
    )
    api.post(f"{API}/conversations/search", json=recorder)
    mock_hydration(api, convs)
    return recorder


def test_state_after_every_search_page(
    api: requests_mock.Mocker, three_pages: SearchRecorder
) -> None:
    run = run_tap(["conversations"], config=make_config(start_date="2027-01-15T07:00:00Z"))
    bodies = json_bodies(api, "/conversations/search")
    assert [b["pagination"].get("starting_after") for b in bodies] == [None, "c1", "c2"]
    # Before the request for page n+1, a STATE with that page's cursor is already out.
    for call, cursor in ((1, "c1"), (2, "c2")):
        latest = conv_state(three_pages.states_at_call[call][-1])
        assert latest["cursor"] == cursor
        assert latest["window_start"] == "2027-01-15T07:00:00Z"
        assert latest["window_end"] == NOW_ISO
        assert latest["last_id"] is None
        assert len(three_pages.states_at_call[call]) > len(three_pages.states_at_call[call - 1])
    assert [r["id"] for r in run.records("conversations")] == ["1", "2", "3", "4", "5"]


def test_every_state_message_holds_every_key(
    api: requests_mock.Mocker, three_pages: SearchRecorder
) -> None:
    """Meltano merges a new state onto the old one: a key left out would come back."""
    run = run_tap(["conversations"], config=make_config(start_date="2027-01-15T07:00:00Z"))
    states = [conv_state(value) for value in run.states()]
    assert len(states) >= 4
    for state in states:
        assert STATE_KEYS | {"last_id"} <= state.keys(), state
    assert states[0]["replication_key_value"] is None


def test_final_state_moves_the_bookmark_to_the_window_end(
    api: requests_mock.Mocker, three_pages: SearchRecorder
) -> None:
    run = run_tap(["conversations"], config=make_config(start_date="2027-01-15T07:00:00Z"))
    final = run.bookmark("conversations")
    assert final["replication_key"] == "updated_at"
    assert final["replication_key_value"] == NOW_ISO
    for key in WINDOW_KEYS:
        assert key in final
        assert final[key] is None


def test_first_state_of_a_run_opens_the_window(
    api: requests_mock.Mocker, three_pages: SearchRecorder
) -> None:
    run_tap(["conversations"], config=make_config(start_date="2027-01-15T07:00:00Z"))
    first = conv_state(three_pages.states_at_call[0][-1])
    assert first["window_start"] == "2027-01-15T07:00:00Z"
    assert first["window_end"] == NOW_ISO
    assert first["cursor"] is None
    assert first["last_id"] is None


def test_resume_uses_the_saved_cursor_and_skips_emitted_records(
    api: requests_mock.Mocker,
) -> None:
    old_start, old_end = NOW - 7200, NOW - 3600
    state = {
        "bookmarks": {
            "conversations": {
                "replication_key": "updated_at",
                "replication_key_value": timestamps.iso(old_start + LOOKBACK),
                "window_start": timestamps.iso(old_start),
                "window_end": timestamps.iso(old_end),
                "cursor": "saved-cursor",
                "last_id": "11",
            }
        }
    }
    resumed = [
        full_conversation(cid, old_start + 100 + n) for n, cid in enumerate(["10", "11", "12"])
    ]
    fresh = [full_conversation("20", NOW - 60)]
    api.post(
        f"{API}/conversations/search",
        [
            {"json": search_page([listed(c["id"], c["updated_at"]) for c in resumed], None)},
            {"json": search_page([listed(c["id"], c["updated_at"]) for c in fresh], None)},
        ],
    )
    mock_hydration(api, resumed + fresh)
    run = run_tap(["conversations"], state=state)

    first, second = json_bodies(api, "/conversations/search")
    assert first["pagination"] == {"per_page": 150, "starting_after": "saved-cursor"}
    assert first["query"] == search.second_query(search.Window(old_start, old_end))
    assert "starting_after" not in second["pagination"]
    assert second["query"] == search.second_query(search.Window(old_end - LOOKBACK, NOW))
    # "10" and "11" were emitted before the interruption.
    assert [r["id"] for r in run.records("conversations")] == ["12", "20"]
    hydrated = sorted(r.path for r in api.request_history if r.method == "GET")
    assert hydrated == ["/conversations/12", "/conversations/20"]
    assert run.bookmark("conversations")["replication_key_value"] == NOW_ISO


def test_a_refused_saved_cursor_restarts_the_window(api: requests_mock.Mocker) -> None:
    state = {
        "bookmarks": {
            "conversations": {
                "replication_key_value": timestamps.iso(NOW - 3600),
                "window_start": timestamps.iso(NOW - 5400),
                "window_end": timestamps.iso(NOW - 3600),
                "cursor": "expired",
                "last_id": "3",
            }
        }
    }
    api.post(
        f"{API}/conversations/search",
        [
            {
                "status_code": 400,
                "json": {"errors": [{"code": "invalid_cursor", "message": "bad cursor"}]},
            },
            {"json": search_page([], None)},
            {"json": search_page([], None)},
        ],
    )
    run = run_tap(["conversations"], state=state)
    bodies = json_bodies(api, "/conversations/search")
    assert [b["pagination"].get("starting_after") for b in bodies] == ["expired", None, None]
    assert run.bookmark("conversations")["replication_key_value"] == NOW_ISO


def test_later_run_starts_a_lookback_before_the_bookmark(api: requests_mock.Mocker) -> None:
    bookmark = NOW - 86400
    state = {
        "bookmarks": {
            "conversations": {
                "replication_key": "updated_at",
                "replication_key_value": timestamps.iso(bookmark),
                **dict.fromkeys(WINDOW_KEYS),
            }
        }
    }
    api.post(f"{API}/conversations/search", json=search_page([], None))
    run_tap(["conversations"], config=make_config(start_date="2020-01-01"), state=state)
    (body,) = json_bodies(api, "/conversations/search")
    assert body["query"]["value"][0] == {
        "field": "updated_at",
        "operator": ">",
        "value": bookmark - LOOKBACK - 1,
    }


# Conversations: records and parts ---------------------------------------------------------


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


# Contacts -------------------------------------------------------------------------------


def contact(cid: str, updated_at: int, **extra: Any) -> dict[str, Any]:
    return {"type": "contact", "id": cid, "role": "user", "updated_at": updated_at, **extra}


def contacts_state(bookmark: int) -> dict[str, Any]:
    return {
        "bookmarks": {
            "contacts": {
                "replication_key": "updated_at",
                "replication_key_value": timestamps.iso(bookmark),
                **dict.fromkeys(WINDOW_KEYS),
            }
        }
    }


def test_contact_search_is_day_aligned_and_old_records_are_dropped(
    api: requests_mock.Mocker,
) -> None:
    bookmark = NOW - 7200
    window_start = bookmark - LOOKBACK
    api.post(
        f"{API}/contacts/search",
        json={
            "type": "list",
            "data": [
                contact("old-1", window_start - 86400),
                contact("old-2", window_start - 1),
                contact("edge", window_start),
                contact("new", NOW - 5),
            ],
            "pages": {"type": "pages"},
        },
    )
    run = run_tap(["contacts"], state=contacts_state(bookmark))
    (body,) = json_bodies(api, "/contacts/search")
    bound = body["query"]["value"]
    assert body["query"]["field"] == "updated_at"
    assert body["query"]["operator"] == ">"
    assert bound % DAY == 0
    assert bound <= window_start - 2 * DAY
    assert body["pagination"] == {"per_page": 150}
    assert body["sort"] == {"field": "updated_at", "order": "ascending"}
    assert [r["id"] for r in run.records("contacts")] == ["edge", "new"]
    final = run.bookmark("contacts")
    assert final["replication_key_value"] == NOW_ISO
    assert all(final[key] is None for key in WINDOW_KEYS)


def test_contact_with_more_tags_gets_all_of_them(api: requests_mock.Mocker) -> None:
    inline = [{"type": "tag", "id": str(n)} for n in range(10)]
    every = [{"type": "tag", "id": str(n)} for n in range(13)]
    api.post(
        f"{API}/contacts/search",
        json={
            "data": [
                contact(
                    "c1",
                    NOW - 5,
                    tags={"type": "list", "data": inline, "has_more": True, "total_count": 13},
                ),
                contact("c2", NOW - 4, tags={"type": "list", "data": [], "has_more": False}),
            ]
        },
    )
    api.get(f"{API}/contacts/c1/tags", json={"type": "list", "data": every})
    run = run_tap(["contacts"])
    assert [r.path for r in api.request_history if r.method == "GET"] == ["/contacts/c1/tags"]
    first, second = run.records("contacts")
    # Every item in the inline list's own shape, whether it came inline or fetched.
    assert first["tags"]["data"] == [
        {"type": "tag", "id": str(n), "url": f"/tags/{n}"} for n in range(13)
    ]
    assert first["tags"]["has_more"] is False
    assert first["tags"]["total_count"] == 13
    assert second["tags"]["data"] == []


def test_contact_with_more_companies_pages_through_them(api: requests_mock.Mocker) -> None:
    api.post(
        f"{API}/contacts/search",
        json={
            "data": [
                contact(
                    "c1",
                    NOW - 5,
                    companies={"type": "list", "data": [{"id": "a"}], "has_more": True},
                )
            ]
        },
    )
    api.get(
        f"{API}/contacts/c1/companies",
        [
            {"json": {"companies": [{"id": "a"}], "pages": {"next": {"starting_after": "x"}}}},
            {"json": {"companies": [{"id": "b"}], "pages": {}}},
        ],
    )
    run = run_tap(["contacts"])
    (record,) = run.records("contacts")
    assert [c["id"] for c in record["companies"]["data"]] == ["a", "b"]
    assert record["companies"]["has_more"] is False


def test_an_interrupted_first_run_resumes_from_a_null_bookmark(
    api: requests_mock.Mocker,
) -> None:
    state = {
        "bookmarks": {
            "conversations": {
                "replication_key": "updated_at",
                "replication_key_value": None,
                "window_start": timestamps.iso(NOW - 86400),
                "window_end": timestamps.iso(NOW - 3600),
                "cursor": "half-way",
                "last_id": None,
            }
        }
    }
    api.post(f"{API}/conversations/search", json=search_page([], None))
    run = run_tap(["conversations"], state=state)
    first, second = json_bodies(api, "/conversations/search")
    assert first["pagination"]["starting_after"] == "half-way"
    assert second["query"] == search.second_query(search.Window(NOW - 3600 - LOOKBACK, NOW))
    assert run.bookmark("conversations")["replication_key_value"] == NOW_ISO


def test_a_refused_tags_list_keeps_the_inline_ten_and_is_asked_once(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    inline = [{"type": "tag", "id": str(n)} for n in range(10)]
    api.post(
        f"{API}/contacts/search",
        json={
            "data": [
                contact(f"c{n}", NOW - 5, tags={"data": inline, "has_more": True}) for n in range(3)
            ]
        },
    )
    api.get(
        requests_mock.ANY,
        status_code=403,
        json={"errors": [{"code": "forbidden", "message": "required scope (read_tags)"}]},
    )
    with caplog.at_level(logging.WARNING):
        run = run_tap(["contacts"], config=make_config(hydration_workers=1))
    records = run.records("contacts")
    assert [r["id"] for r in records] == ["c0", "c1", "c2"]
    assert all(r["tags"]["has_more"] is True and len(r["tags"]["data"]) == 10 for r in records)
    assert sum(1 for r in api.request_history if r.method == "GET") == 1
    assert "contacts" not in run.tap.skipped
    warned = [r.getMessage() for r in caplog.records if "read_tags" in r.getMessage()]
    assert len(warned) == 1


def test_run_summary_counts_requests_retries_and_429s(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(f"{API}/conversations/search", json=search_page([], None))
    api.get(
        f"{API}/teams",
        [
            {"status_code": 429, "headers": {**RATE_HEADERS, "X-RateLimit-Remaining": "0"}},
            {"status_code": 502, "text": "<html></html>"},
            {"json": {"teams": []}},
        ],
    )
    with caplog.at_level(logging.INFO):
        run_tap(["teams", "conversations"])
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Run summary")]
    assert "Run summary: 4 requests, 2 retried, 1 answered 429" in summary
    assert "Run summary: no stream was skipped" in summary
