"""Full-table streams: ACTIVATE_VERSION after the last record, versions on records, the
companies scroll, version gating, and the per-parent and deleted-id streams."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import requests_mock

from tap_intercom import timestamps
from tap_intercom.streams import companies
from tap_intercom.tap import TapIntercom
from tests.tap.conftest import (
    API,
    NOW,
    NOW_ISO,
    FakeClock,
    bookmarked,
    catalog_for,
    make_config,
    paths,
    run_tap,
)

SCOPE_403 = {
    "type": "error.list",
    "errors": [{"code": "forbidden", "message": "You do not have the required scope (read_tags)"}],
}


FULL_TABLE = [
    ("admins", "/admins", "admins"),
    ("teams", "/teams", "teams"),
    ("tags", "/tags", "data"),
    ("segments", "/segments", "segments"),
    ("subscription_types", "/subscription_types", "data"),
    ("articles", "/articles", "data"),
    ("collections", "/help_center/collections", "data"),
    ("help_centers", "/help_center/help_centers", "data"),
]


@pytest.mark.parametrize(("stream", "path", "key"), FULL_TABLE)
def test_activate_version_follows_the_last_record(
    api: requests_mock.Mocker, stream: str, path: str, key: str
) -> None:
    api.get(f"{API}{path}", json={key: [{"id": "1"}, {"id": "2"}]})
    run = run_tap([stream])
    kinds = [m["type"] for m in run.messages if m.get("stream") == stream]
    assert kinds == ["SCHEMA", "RECORD", "RECORD", "ACTIVATE_VERSION"]
    (activate,) = run.of("ACTIVATE_VERSION", stream)
    versions = {m["version"] for m in run.of("RECORD", stream)}
    assert versions == {activate["version"]}


def test_activate_version_even_for_an_empty_list(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/tags", json={"data": []})
    run = run_tap(["tags"])
    assert len(run.of("ACTIVATE_VERSION", "tags")) == 1


def test_no_activate_version_when_skipped_for_403(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/tags", status_code=403, json=SCOPE_403)
    api.get(f"{API}/teams", json={"teams": [{"id": "9"}]})
    run = run_tap(["tags", "teams"])
    assert run.of("ACTIVATE_VERSION", "tags") == []
    assert run.of("RECORD", "tags") == []
    assert len(run.of("ACTIVATE_VERSION", "teams")) == 1
    assert "read_tags" in run.tap.skipped["tags"]


def test_no_activate_version_before_the_first_record_when_the_sdk_setting_is_on(
    api: requests_mock.Mocker,
) -> None:
    """The SDK's own emit_activate_version_messages would announce a version at the start,
    before any record: a pass that then fails would tell a target that every row vanished."""
    api.get(f"{API}/tags", json={"data": [{"id": "1"}]})
    run = run_tap(["tags"], config=make_config(emit_activate_version_messages=True))
    kinds = [m["type"] for m in run.messages if m.get("stream") == "tags"]
    assert kinds.index("ACTIVATE_VERSION") > kinds.index("RECORD")


def test_records_are_converted_timestamps(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/segments",
        json={"segments": [{"id": "s", "created_at": NOW, "updated_at": NOW, "count": 3}]},
    )
    run = run_tap(["segments"])
    (record,) = run.records("segments")
    assert record["created_at"] == NOW_ISO
    assert record["updated_at"] == NOW_ISO
    assert record["count"] == 3
    assert api.request_history[0].query == "include_count=true"


def test_conversation_attributes_skipped_on_2_15_without_activate_version(
    api: requests_mock.Mocker,
) -> None:
    api.get(f"{API}/data_attributes", json={"data": [{"name": "email"}]})
    run = run_tap(["data_attributes"], config=make_config(api_version="2.15"))
    assert paths(api) == ["GET /data_attributes", "GET /data_attributes"]
    assert len(run.records("data_attributes")) == 2
    assert run.of("ACTIVATE_VERSION") == []


def test_deleted_conversations_needs_2_16(api: requests_mock.Mocker) -> None:
    run = run_tap(["deleted_conversations"], config=make_config(api_version="2.15"))
    assert api.call_count == 0
    assert "2.16" in run.tap.skipped["deleted_conversations"]


# Companies scroll -------------------------------------------------------------------------


def test_companies_scroll_passes_the_scroll_param(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/companies/scroll",
        [
            {"json": {"data": [{"id": "a"}], "scroll_param": "s1"}},
            {"json": {"data": [{"id": "b"}], "scroll_param": "s2"}},
            {"json": {"data": [], "scroll_param": "s3"}},
        ],
    )
    run = run_tap(["companies"])
    assert [r.query for r in api.request_history] == ["", "scroll_param=s1", "scroll_param=s2"]
    assert [r["id"] for r in run.records("companies")] == ["a", "b"]
    kinds = [m["type"] for m in run.messages if m.get("stream") == "companies"]
    assert kinds[-1] == "ACTIVATE_VERSION"


def test_the_next_scroll_page_is_asked_for_while_this_page_is_written(
    api: requests_mock.Mocker,
) -> None:
    asked: list[str] = []
    second_asked = threading.Event()

    def second(request: Any, _context: Any) -> dict[str, Any]:
        asked.append(request.query)
        second_asked.set()
        return {"data": [{"id": "c"}], "scroll_param": "s2"}

    api.get(
        f"{API}/companies/scroll",
        [
            {"json": {"data": [{"id": "a"}, {"id": "b"}], "scroll_param": "s1"}},
            {"json": second},
            {"json": {"data": [], "scroll_param": "s3"}},
        ],
    )
    tap = TapIntercom(config=make_config(), state={}, catalog=catalog_for("companies"))
    stream = tap.streams["companies"]
    assert isinstance(stream, companies.CompaniesStream)
    records = stream.list_records()
    assert next(records)["id"] == "a"
    # The first page's records are not all taken yet, and the second page is on its way.
    assert second_asked.wait(timeout=5)
    assert [r["id"] for r in records] == ["b", "c"]
    # One page ahead at most, in order, each asked for once.
    assert [r.query for r in api.request_history] == ["", "scroll_param=s1", "scroll_param=s2"]


def test_companies_waits_while_another_scroll_is_open(
    api: requests_mock.Mocker, clock: FakeClock
) -> None:
    exists = {
        "status_code": 400,
        "json": {"errors": [{"code": "scroll_exists", "message": "scroll already exists"}]},
    }
    api.get(
        f"{API}/companies/scroll",
        [exists, exists, {"json": {"data": [{"id": "a"}]}}],
    )
    run = run_tap(["companies"])
    assert api.call_count == 3
    assert clock.sleeps.count(companies.SCROLL_EXISTS_WAIT_SECONDS) == 2
    assert [r["id"] for r in run.records("companies")] == ["a"]


def test_a_lost_scroll_page_restarts_the_scroll_instead_of_skipping_it(
    api: requests_mock.Mocker, clock: FakeClock
) -> None:
    # The second page's answer is cut: Intercom has advanced the scroll all the same, so asking
    # again with s1 would return the third page and lose the second. The scroll starts over.
    api.get(
        f"{API}/companies/scroll",
        [
            {"json": {"data": [{"id": "a"}], "scroll_param": "s1"}},
            {"text": '{"data": [{"id": "b"'},
            {"json": {"data": [{"id": "a"}], "scroll_param": "t1"}},
            {"json": {"data": [{"id": "b"}], "scroll_param": "t2"}},
            {"json": {"data": [], "scroll_param": "t3"}},
        ],
    )
    run = run_tap(["companies"])
    assert [r.query for r in api.request_history] == [
        "",
        "scroll_param=s1",
        "",
        "scroll_param=t1",
        "scroll_param=t2",
    ]
    assert {r["id"] for r in run.records("companies")} == {"a", "b"}


def test_a_broken_scroll_restarts_from_the_beginning(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/companies/scroll",
        [
            {"json": {"data": [{"id": "a"}], "scroll_param": "s1"}},
            {
                "status_code": 404,
                "json": {"errors": [{"code": "not_found", "message": "scroll expired"}]},
            },
            {"json": {"data": [{"id": "a"}, {"id": "b"}]}},
        ],
    )
    run = run_tap(["companies"])
    assert [r.query for r in api.request_history] == ["", "scroll_param=s1", ""]
    assert [r["id"] for r in run.records("companies")] == ["a", "a", "b"]
    assert len(run.of("ACTIVATE_VERSION", "companies")) == 1


# Children of contacts, and deleted conversations ------------------------------------------


def test_notes_and_events_per_changed_contact(api: requests_mock.Mocker) -> None:
    api.post(
        f"{API}/contacts/search",
        json={"data": [{"id": "c1", "updated_at": NOW - 5}, {"id": "c2", "updated_at": NOW - 4}]},
    )
    api.get(f"{API}/contacts/c1/notes", json={"data": [{"id": "n1", "created_at": NOW}]})
    api.get(f"{API}/contacts/c2/notes", json={"data": []})
    api.get(
        f"{API}/events",
        json={"events": [{"event_name": "login", "created_at": NOW}]},
    )
    run = run_tap(["contacts", "notes", "events"], config=make_config(page_size=20))
    assert [(n["id"], n["contact_id"]) for n in run.records("notes")] == [("n1", "c1")]
    events = [r for r in api.request_history if r.path == "/events"]
    assert [r.qs["intercom_user_id"] for r in events] == [["c1"], ["c2"]]
    assert all(r.qs["type"] == ["user"] and r.qs["per_page"] == ["20"] for r in events)
    assert [e["intercom_user_id"] for e in run.records("events")] == ["c1", "c2"]


def test_deleted_conversations_stop_at_the_known_ones(api: requests_mock.Mocker) -> None:
    bookmark = NOW - 86400
    state = bookmarked("deleted_conversations", "deleted_at", timestamps.iso(bookmark))
    api.get(
        f"{API}/conversations/deleted",
        [
            {
                "json": {
                    "conversations": [
                        {"id": "d3", "deleted_at": NOW - 10},
                        {"id": "d2", "deleted_at": bookmark - 100},
                    ],
                    "pages": {"next": f"{API}/conversations/deleted?page=2"},
                }
            },
            {
                "json": {
                    "conversations": [
                        {"id": "d1", "deleted_at": bookmark - 5000},
                        {"id": "d0", "deleted_at": bookmark - 9000},
                    ],
                    "pages": {"next": f"{API}/conversations/deleted?page=3"},
                }
            },
        ],
    )
    run = run_tap(["deleted_conversations"], state=state)
    assert [r["id"] for r in run.records("deleted_conversations")] == ["d3", "d2"]
    assert api.request_history[0].qs == {"per_page": ["60"], "order": ["desc"]}
    assert api.call_count == 2
    final = run.bookmark("deleted_conversations")
    assert final["replication_key_value"] == timestamps.iso(NOW - 10)


def test_a_scroll_recovered_after_exhausted_retries_logs_no_error(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(
        f"{API}/companies/scroll",
        [
            {"json": {"data": [{"id": "a"}], "scroll_param": "s1"}},
            {"status_code": 500, "text": "<html>oops</html>"},
            {"status_code": 500, "text": "<html>oops</html>"},
            {"status_code": 500, "text": "<html>oops</html>"},
            {"json": {"data": [{"id": "a"}, {"id": "b"}]}},
        ],
    )
    with caplog.at_level(logging.INFO):
        run = run_tap(["companies"], config=make_config(max_retries=3))
    assert [r["id"] for r in run.records("companies")] == ["a", "a", "b"]
    assert api.call_count == 5
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("scroll broke" in r.getMessage() for r in caplog.records)


def test_a_5xx_burst_on_the_first_scroll_page_is_retried_with_backoff(
    api: requests_mock.Mocker, clock: FakeClock
) -> None:
    """Opening a scroll is safe to replay (a lost answer leaves a scroll open, which the next
    try meets as scroll_exists and waits out), so a short 5xx burst gets the client's usual
    max_retries with backoff, like every other stream, not four immediate restarts."""
    burst = [{"status_code": 502, "text": "<html>Bad Gateway</html>"}] * 5
    api.get(f"{API}/companies/scroll", [*burst, {"json": {"data": [{"id": "a"}]}}])
    run = run_tap(["companies"], config=make_config(max_retries=8))
    assert [r["id"] for r in run.records("companies")] == ["a"]
    assert api.call_count == 6
    assert sum(clock.sleeps) > 0  # backed off between tries instead of hammering


def test_forbidden_conversation_attributes_keep_the_rest_without_activate_version(
    api: requests_mock.Mocker,
) -> None:
    api.get(f"{API}/data_attributes", json={"data": [{"name": "email"}]})
    api.get(
        f"{API}/conversations/attributes",
        status_code=403,
        json={"errors": [{"code": "forbidden", "message": "required scope (read_conversations)"}]},
    )
    run = run_tap(["data_attributes"])
    assert [r["model"] for r in run.records("data_attributes")] == ["contact", "company"]
    assert run.of("ACTIVATE_VERSION") == []
    assert "data_attributes" not in run.tap.skipped
