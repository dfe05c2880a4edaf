"""The requests and bookmarks of the streams beside search: activity logs, macros, paged
lists, call transcripts in batches, handling events, QA fields, and text/plain answers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock

from tap_intercom import client as client_module
from tap_intercom.errors import RetriesExhausted
from tap_intercom.settings import Settings, validate
from tap_intercom.streams import admin_activity, inbox_settings
from tests.tap.conftest import (
    API,
    NOW,
    NOW_ISO,
    FakeClock,
    json_bodies,
    make_config,
    run_tap,
    run_tap_failing,
)


@pytest.fixture(autouse=True)
def _frozen_now(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    class _Frozen:
        @staticmethod
        def time() -> float:
            return float(NOW)

    monkeypatch.setattr(admin_activity, "time", _Frozen)
    monkeypatch.setattr(inbox_settings, "time", _Frozen)


def _state(stream: str, key: str, value: str) -> dict[str, Any]:
    return {"bookmarks": {stream: {"replication_key": key, "replication_key_value": value}}}


# Activity logs -------------------------------------------------------------------------


def test_activity_logs_read_the_window_from_the_bookmark_minus_the_lookback(
    api: requests_mock.Mocker,
) -> None:
    api.get(
        f"{API}/admins/activity_logs",
        [
            {
                "json": {
                    "activity_logs": [{"id": "a", "created_at": NOW - 100}],
                    "pages": {"next": {"starting_after": "2"}},
                }
            },
            {"json": {"activity_logs": [{"id": "b", "created_at": NOW - 50}], "pages": {}}},
        ],
    )
    bookmark = NOW - 7200
    state = _state("admin_activity_logs", "created_at", "2027-01-15T06:00:00Z")
    run = run_tap(
        ["admin_activity_logs"], config=make_config(lookback_window_seconds=600), state=state
    )
    first, second = api.request_history
    assert first.qs == {
        "created_at_after": [str(bookmark - 600 - 1)],
        "created_at_before": [str(NOW + 1)],
    }
    assert second.qs["starting_after"] == ["2"]
    assert [r["id"] for r in run.records("admin_activity_logs")] == ["a", "b"]
    assert run.bookmark("admin_activity_logs")["replication_key_value"] == NOW_ISO


def test_activity_logs_first_run_starts_at_start_date(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/admins/activity_logs", json={"activity_logs": []})
    run_tap(["admin_activity_logs"], config=make_config(start_date="2026-01-01T00:00:00Z"))
    assert api.request_history[0].qs["created_at_after"] == [str(1_767_225_600 - 1)]


def test_an_interrupted_activity_window_keeps_the_bookmark(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/admins/activity_logs",
        [
            {
                "json": {
                    "activity_logs": [{"id": "a", "created_at": NOW - 100}],
                    "pages": {"next": {"starting_after": "2"}},
                }
            },
            {"status_code": 500, "text": "<html>"},
        ],
    )
    state = _state("admin_activity_logs", "created_at", "2027-01-15T06:00:00Z")
    _, stdout = run_tap_failing(["admin_activity_logs"], state=state)
    states = [json.loads(line)["value"] for line in stdout.splitlines() if '"STATE"' in line]
    for value in states:
        bookmark = value["bookmarks"]["admin_activity_logs"]
        assert bookmark["replication_key_value"] == "2027-01-15T06:00:00Z"


# Macros ------------------------------------------------------------------------------------


def test_macros_ask_for_changes_since_the_bookmark_and_follow_the_cursor(
    api: requests_mock.Mocker,
) -> None:
    api.get(
        f"{API}/macros",
        [
            {
                "json": {
                    "data": [{"id": "2", "updated_at": "2027-01-15T07:59:00.000Z"}],
                    "pages": {"next": {"starting_after": "WzE3OTk5OTk5NDAuMCwgIjIiXQ=="}},
                }
            },
            {
                "json": {
                    "data": [{"id": "1", "updated_at": "2027-01-15T07:00:00.000Z"}],
                    "pages": {"next": None},
                }
            },
        ],
    )
    state = _state("macros", "updated_at", "2027-01-15T06:00:00Z")
    run = run_tap(["macros"], config=make_config(lookback_window_seconds=600), state=state)
    first, second = api.request_history
    assert first.qs == {"per_page": ["150"], "updated_since": [str(NOW - 7200 - 600 - 1)]}
    assert parse_qs(urlsplit(second.url).query)["starting_after"] == [
        "WzE3OTk5OTk5NDAuMCwgIjIiXQ=="
    ]
    assert second.qs["updated_since"] == first.qs["updated_since"]
    assert [r["id"] for r in run.records("macros")] == ["2", "1"]
    assert run.bookmark("macros")["replication_key_value"] == NOW_ISO


def test_an_interrupted_macros_pass_does_not_move_the_bookmark(
    api: requests_mock.Mocker,
) -> None:
    api.get(
        f"{API}/macros",
        [
            {
                "json": {
                    "data": [{"id": "2", "updated_at": "2027-01-15T07:59:00.000Z"}],
                    "pages": {"next": {"starting_after": "c"}},
                }
            },
            {"status_code": 503, "text": "<html>"},
        ],
    )
    state = _state("macros", "updated_at", "2027-01-15T06:00:00Z")
    error, stdout = run_tap_failing(["macros"], state=state)
    assert isinstance(error, RetriesExhausted)
    states = [json.loads(line)["value"] for line in stdout.splitlines() if '"STATE"' in line]
    assert all(
        s["bookmarks"]["macros"]["replication_key_value"] == "2027-01-15T06:00:00Z" for s in states
    )


# Paged lists ---------------------------------------------------------------------------------


def test_content_snippets_and_calls_page_by_number_within_their_limits(
    api: requests_mock.Mocker,
) -> None:
    api.get(
        f"{API}/content_snippets",
        [
            {"json": {"data": [{"id": "s1"}], "page": 1, "total_pages": 2}},
            {"json": {"data": [{"id": "s2"}], "page": 2, "total_pages": 2}},
        ],
    )
    api.get(
        f"{API}/calls",
        [
            {"json": {"data": [{"id": "c1"}], "pages": {"page": 1, "total_pages": 2}}},
            {"json": {"data": [{"id": "c2"}], "pages": {"page": 2, "total_pages": 2}}},
        ],
    )
    run = run_tap(["content_snippets", "calls"])
    snippets = [r.qs for r in api.request_history if r.path == "/content_snippets"]
    calls = [r.qs for r in api.request_history if r.path == "/calls"]
    assert snippets == [{"page": ["1"], "per_page": ["50"]}, {"page": ["2"], "per_page": ["50"]}]
    assert calls == [{"page": ["1"], "per_page": ["25"]}, {"page": ["2"], "per_page": ["25"]}]
    assert [r["id"] for r in run.records("content_snippets")] == ["s1", "s2"]
    assert [r["id"] for r in run.records("calls")] == ["c1", "c2"]
    assert len(run.of("ACTIVATE_VERSION", "calls")) == 1


# Children of conversations, and the QA fields ------------------------------------------


def _conversation(cid: str) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": cid,
        "updated_at": NOW - 60,
        "conversation_parts": {"conversation_parts": [], "total_count": 0},
    }


def _mock_conversations(api: requests_mock.Mocker, ids: list[str]) -> None:
    listed = [
        {
            **_conversation(c),
            "monitor_evaluations": [{"monitor_id": "m", "result": "flagged"}] if c == "1" else [],
            "scorecards": [{"scorecard_id": "s", "score": 80.5}] if c == "2" else [],
        }
        for c in ids
    ]
    api.post(f"{API}/conversations/search", json={"conversations": listed, "pages": {}})
    for cid in ids:
        api.get(f"{API}/conversations/{cid}", json=_conversation(cid))


def test_qa_fields_are_asked_for_and_carried_into_the_hydrated_record(
    api: requests_mock.Mocker,
) -> None:
    _mock_conversations(api, ["1", "2", "3"])
    run = run_tap(["conversations"])
    search = next(r for r in api.request_history if r.path == "/conversations/search")
    assert search.qs == {"include_monitors": ["true"], "include_scorecards": ["true"]}
    records = {r["id"]: r for r in run.records("conversations")}
    assert records["1"]["monitor_evaluations"] == [{"monitor_id": "m", "result": "flagged"}]
    assert records["2"]["scorecards"] == [{"scorecard_id": "s", "score": 80.5}]
    assert records["3"]["monitor_evaluations"] == []
    assert records["3"]["scorecards"] == []


def test_call_transcripts_are_searched_20_conversations_at_a_time(
    api: requests_mock.Mocker,
) -> None:
    ids = [str(n) for n in range(1, 46)]
    _mock_conversations(api, ids)
    api.post(
        f"{API}/calls/search",
        json={
            "data": [
                {"id": "c1", "conversation_id": "1", "transcript": [{"text": "hi"}]},
                {
                    "id": "c2",
                    "conversation_id": "2",
                    "transcript": [],
                    "transcription_url": f"{API}/calls/c2/transcript",
                },
            ]
        },
    )
    api.get(
        f"{API}/calls/c2/transcript",
        text="[00:00:01] User: hello",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    run = run_tap(["conversations", "call_transcripts"])
    batches = [b["conversation_ids"] for b in json_bodies(api, "/calls/search")]
    assert batches == [ids[0:20], ids[20:40], ids[40:45]]
    transcript = next(r for r in api.request_history if r.path == "/calls/c2/transcript")
    assert transcript.headers["Accept"] == "text/plain"
    texts = {r["id"]: r.get("transcript_text") for r in run.records("call_transcripts")}
    assert texts["c2"] == "[00:00:01] User: hello"
    assert texts["c1"] is None


def test_handling_events_per_changed_conversation_with_their_key(
    api: requests_mock.Mocker,
) -> None:
    _mock_conversations(api, ["1", "2"])
    event = {
        "teammate": {"type": "admin", "id": 7, "name": "T"},
        "type": "paused",
        "timestamp": "2027-01-15T07:00:00Z",
        "reason": "Away",
    }
    api.get(f"{API}/conversations/1/handling_events", json={"handling_events": [event]})
    api.get(f"{API}/conversations/2/handling_events", json={"handling_events": []})
    run = run_tap(["conversations", "handling_events"])
    [record] = run.records("handling_events")
    assert (record["conversation_id"], record["teammate_id"], record["type"]) == (
        "1",
        "7",
        "paused",
    )
    schema = run.of("SCHEMA", "handling_events")[0]
    assert schema["key_properties"] == ["conversation_id", "timestamp", "type", "teammate_id"]


# text/plain ------------------------------------------------------------------------------


def test_a_text_answer_is_data_only_when_text_was_asked_for(
    api: requests_mock.Mocker,
) -> None:
    tap_client = client_module.IntercomClient(_settings(), "tok")
    text = {"Content-Type": "text/plain"}
    api.get(f"{API}/calls/9/transcript", text="line one\nline two", headers=text)
    assert tap_client.get_text("/calls/9/transcript") == "line one\nline two"
    # Asked for JSON, answered with text: a broken answer, retried and then given up.
    api.get(f"{API}/admins", text="not json", headers=text)
    with pytest.raises(RetriesExhausted, match="empty or truncated"):
        tap_client.get("/admins")
    # An empty text body is retried like an empty JSON one.
    api.get(
        f"{API}/calls/8/transcript",
        [{"text": "", "headers": text}, {"text": "ok", "headers": text}],
    )
    assert tap_client.get_text("/calls/8/transcript") == "ok"
    assert tap_client.retries >= 2


def _settings() -> Settings:
    return validate(make_config(), default_user_agent="tap-intercom/test")


def test_streams_2_15_lacks_are_skipped_with_the_version_named(
    api: requests_mock.Mocker,
) -> None:
    api.get(f"{API}/ticket_types", json={"type": "list", "data": [{"id": "t"}]})
    streams = ["macros", "content_snippets", "office_hours_schedules", "ticket_types"]
    run = run_tap(streams, config=make_config(api_version="2.15"))
    assert [r.path for r in api.request_history] == ["/ticket_types"]
    for stream in streams[:3]:
        assert "needs Intercom-Version 2.16" in run.tap.skipped[stream]
