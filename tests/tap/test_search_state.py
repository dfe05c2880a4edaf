"""Search state: written after every page, resumed inside a window, never past unread pages."""

from __future__ import annotations

import io
import json
import sys
import threading
from typing import Any

import pytest
import requests_mock

from tap_intercom import search, timestamps
from tap_intercom.errors import IntercomError
from tap_intercom.streams.incremental import SearchStream
from tests.tap.conftest import (
    API,
    NOW,
    NOW_ISO,
    RATE_HEADERS,
    bookmarked,
    json_bodies,
    make_config,
    run_tap,
    run_tap_failing,
)
from tests.tap.records import (
    LOOKBACK,
    WINDOW_KEYS,
    full_conversation,
    listed,
    mock_hydration,
    search_page,
)

STATE_KEYS = {"replication_key", "replication_key_value", "window_start", "window_end", "cursor"}


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


def conv_state(state: dict[str, Any]) -> dict[str, Any]:
    return dict(state["bookmarks"]["conversations"])


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
    # In the output, a STATE naming page n+1's cursor follows every record of pages 1..n and
    # comes before any record of page n+1 (the state is never ahead of its records).
    pages = {"c1": ["1", "2"], "c2": ["3", "4"]}
    following = {"c1": ["3", "4", "5"], "c2": ["5"]}
    for cursor in ("c1", "c2"):
        at = next(
            i
            for i, m in enumerate(run.messages)
            if m["type"] == "STATE"
            and m["value"]["bookmarks"].get("conversations", {}).get("cursor") == cursor
        )
        state = conv_state(run.messages[at]["value"])
        assert state["window_start"] == "2027-01-15T07:00:00Z"
        assert state["window_end"] == NOW_ISO
        assert state["last_id"] is None
        before = [m["record"]["id"] for m in run.messages[:at] if m["type"] == "RECORD"]
        assert set(pages[cursor]) <= set(before)
        assert not set(following[cursor]) & set(before)
    assert [r["id"] for r in run.records("conversations")] == ["1", "2", "3", "4", "5"]


def test_the_next_page_is_asked_for_while_this_page_is_written(
    api: requests_mock.Mocker, three_pages: SearchRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page n+1 is on its way before page n's records are all out (its answer is there when
    they are), and its records' hydrations start with it: each conversation is still fetched
    once. (requests_mock answers one request at a time, so the first hydration waits for the
    next page's request to be started, not answered.)"""
    next_page_started = threading.Event()
    next_page = SearchStream._next_page

    def spy(stream: SearchStream, part: search.Range, cursor: str) -> dict[str, Any]:
        next_page_started.set()
        return next_page(stream, part, cursor)

    monkeypatch.setattr(SearchStream, "_next_page", spy)
    first = full_conversation("1", NOW - 3600 + 60)

    def hydrate_first(request: Any, context: Any) -> dict[str, Any]:
        # Page 1's first record is not out until page 2 has been asked for.
        assert next_page_started.wait(10), "page 2 was not asked for while page 1 was written"
        context.headers.update(RATE_HEADERS)
        return first

    api.get(f"{API}/conversations/1", json=hydrate_first)
    run = run_tap(["conversations"], config=make_config(start_date="2027-01-15T07:00:00Z"))
    assert [r["id"] for r in run.records("conversations")] == ["1", "2", "3", "4", "5"]
    assert all(conv_state(state).get("cursor") != "c1" for state in three_pages.states_at_call[1])
    hydrations = [r.path for r in api.request_history if r.method == "GET"]
    assert sorted(hydrations) == [f"/conversations/{n}" for n in range(1, 6)]


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
    assert first["query"] == search.second_query(search.Range(old_start, old_end))
    assert "starting_after" not in second["pagination"]
    assert second["query"] == search.second_query(search.Range(old_end - LOOKBACK, NOW))
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
    state = bookmarked(
        "conversations", "updated_at", timestamps.iso(bookmark), **dict.fromkeys(WINDOW_KEYS)
    )
    api.post(f"{API}/conversations/search", json=search_page([], None))
    run_tap(["conversations"], config=make_config(start_date="2020-01-01"), state=state)
    (body,) = json_bodies(api, "/conversations/search")
    assert body["query"]["value"][0] == {
        "field": "updated_at",
        "operator": ">",
        "value": bookmark - LOOKBACK - 1,
    }


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
    assert second["query"] == search.second_query(search.Range(NOW - 3600 - LOOKBACK, NOW))
    assert run.bookmark("conversations")["replication_key_value"] == NOW_ISO


def test_a_refused_fresh_cursor_stops_the_run_without_closing_the_window(
    api: requests_mock.Mocker,
) -> None:
    """Only a cursor saved by an earlier run is read again from the window's start when
    refused. A 400 on a cursor Intercom has just given used to restart the window too; the
    restarted pass then met that cursor again, stopped on it as 'repeated', and closed the
    window (bookmark at its end) without reading anything past the first page."""
    api.post(
        f"{API}/conversations/search",
        [
            {
                "json": {
                    "conversations": [{"id": "1", "updated_at": NOW - 9}],
                    "pages": {"next": {"starting_after": "fresh"}},
                }
            },
            {"status_code": 400, "json": {"errors": [{"code": "bad_request", "message": "no"}]}},
            {
                "json": {
                    "conversations": [{"id": "1", "updated_at": NOW - 9}],
                    "pages": {"next": {"starting_after": "fresh"}},
                }
            },
        ],
    )
    api.get(f"{API}/conversations/1", json={"id": "1", "updated_at": NOW - 9})
    exc, stdout = run_tap_failing(["conversations"])
    assert isinstance(exc, IntercomError)
    assert exc.status == 400
    bodies = json_bodies(api, "/conversations/search")
    assert [b["pagination"].get("starting_after") for b in bodies] == [None, "fresh"]
    states = [m["value"] for m in map(json.loads, stdout.splitlines()) if m["type"] == "STATE"]
    last = states[-1]["bookmarks"]["conversations"]
    assert last["cursor"] == "fresh"
    assert last["window_end"] is not None
    assert last["replication_key_value"] is None
