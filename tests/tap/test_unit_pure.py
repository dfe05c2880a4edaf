"""The pure modules: timestamps plans, search windows and bodies, page cursors, errors."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_intercom import errors, pagination, search, timestamps
from tap_intercom.progress import Progress
from tap_intercom.schemas import schema_dir
from tap_intercom.search import DAY, Window

# timestamps ------------------------------------------------------------------------------

NULLABLE_DT = {"type": ["string", "null"], "format": "date-time"}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "null"]},
        "created_at": NULLABLE_DT,
        "count": {"type": ["integer", "null"]},
        "source": {
            "type": ["object", "null"],
            "properties": {
                "delivered_at": NULLABLE_DT,
                "author": {
                    "type": ["object", "null"],
                    "properties": {"seen_at": NULLABLE_DT, "name": {"type": "string"}},
                },
            },
        },
        "tags": {
            "type": ["object", "null"],
            "properties": {
                "tags": {
                    "type": ["array", "null"],
                    "items": {
                        "type": ["object", "null"],
                        "properties": {"applied_at": NULLABLE_DT, "name": {"type": "string"}},
                    },
                }
            },
        },
        "stamps": {"type": ["array", "null"], "items": NULLABLE_DT},
        "first_reply": {"anyOf": [{"type": "null"}, NULLABLE_DT]},
        "custom_attributes": {"type": ["object", "null"], "additionalProperties": True},
        "plain": {"type": ["object", "null"], "properties": {"n": {"type": "integer"}}},
    },
}


def test_plan_covers_nested_objects_and_arrays_of_objects() -> None:
    plan = timestamps.build_plan(SCHEMA)
    assert plan == {
        "created_at": True,
        "source": {"delivered_at": True, "author": {"seen_at": True}},
        "tags": {"tags": {timestamps.ITEMS: {"applied_at": True}}},
        "stamps": {timestamps.ITEMS: True},
        "first_reply": True,
    }


def test_apply_plan_converts_everywhere_and_leaves_custom_attributes_alone() -> None:
    record = {
        "id": "1",
        "created_at": 1714564800,
        "count": 1714564800,
        "source": {"delivered_at": 0, "author": {"seen_at": 1714564801, "name": "x"}},
        "tags": {"tags": [{"applied_at": 1714564802, "name": "a"}, {"applied_at": None}]},
        "stamps": [1714564803, None],
        "first_reply": "1714564804",
        "custom_attributes": {"created_at": 1714564800, "renewal": 1714564800},
        "plain": {"n": 5},
    }
    out = timestamps.apply_plan(record, timestamps.build_plan(SCHEMA))
    assert out["created_at"] == "2024-05-01T12:00:00Z"
    assert out["count"] == 1714564800
    assert out["source"]["delivered_at"] == "1970-01-01T00:00:00Z"
    assert out["source"]["author"] == {"seen_at": "2024-05-01T12:00:01Z", "name": "x"}
    assert out["tags"]["tags"] == [
        {"applied_at": "2024-05-01T12:00:02Z", "name": "a"},
        {"applied_at": None},
    ]
    assert out["stamps"] == ["2024-05-01T12:00:03Z", None]
    assert out["first_reply"] == "2024-05-01T12:00:04Z"
    assert out["custom_attributes"] == {"created_at": 1714564800, "renewal": 1714564800}
    assert out["plain"] == {"n": 5}


def test_apply_plan_tolerates_missing_null_and_wrong_shapes() -> None:
    plan = timestamps.build_plan(SCHEMA)
    record = {"source": None, "tags": {"tags": None}, "stamps": "not-a-list"}
    assert timestamps.apply_plan(record, plan) == {
        "source": None,
        "tags": {"tags": None},
        "stamps": "not-a-list",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1714564800, "2024-05-01T12:00:00Z"),
        (1714564800.9, "2024-05-01T12:00:00Z"),
        ("1714564800", "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        (True, True),
        (None, None),
    ],
)
def test_to_iso(value: Any, expected: Any) -> None:
    assert timestamps.to_iso(value) == expected


@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_iso_round_trips_through_to_epoch(seconds: int) -> None:
    text = timestamps.to_iso(seconds)
    assert text == timestamps.iso(seconds)
    assert search.to_epoch(text) == seconds


def test_stream_schemas_plan_their_timestamps() -> None:
    schema = json.loads(schema_dir().joinpath("conversations.json").read_text())
    plan = timestamps.build_plan(schema)
    assert plan["created_at"] is True
    assert plan["updated_at"] is True
    assert "custom_attributes" not in plan


# search ----------------------------------------------------------------------------------

NOW = 1_800_000_000
LOOKBACK = 1800


def test_first_run_starts_at_start_date() -> None:
    windows = search.plan_windows({}, start_date=1_700_000_000, lookback=LOOKBACK, now=NOW)
    assert windows == [Window(start=1_700_000_000, end=NOW)]


def test_first_run_without_start_date_reads_everything() -> None:
    assert search.plan_windows({}, start_date=None, lookback=LOOKBACK, now=NOW) == [
        Window(start=0, end=NOW)
    ]


def test_later_run_starts_a_lookback_before_the_bookmark_ignoring_start_date() -> None:
    state = {"replication_key_value": timestamps.iso(1_750_000_000)}
    windows = search.plan_windows(state, start_date=1_760_000_000, lookback=LOOKBACK, now=NOW)
    assert windows == [Window(start=1_750_000_000 - LOOKBACK, end=NOW)]


def test_interrupted_window_is_resumed_first_then_a_fresh_one() -> None:
    state = {
        "replication_key_value": timestamps.iso(1_700_000_000),
        "window_start": timestamps.iso(1_699_998_200),
        "window_end": timestamps.iso(1_750_000_000),
        "cursor": "abc",
        "last_id": "42",
    }
    windows = search.plan_windows(state, start_date=None, lookback=LOOKBACK, now=NOW)
    assert windows == [
        Window(start=1_699_998_200, end=1_750_000_000, cursor="abc", last_id="42"),
        Window(start=1_750_000_000 - LOOKBACK, end=NOW),
    ]


def test_idle_state_keys_are_all_null() -> None:
    assert search.idle_state() == {
        "window_start": None,
        "window_end": None,
        "cursor": None,
        "last_id": None,
    }
    windows = search.plan_windows(
        {"replication_key_value": timestamps.iso(NOW - 60), **search.idle_state()},
        start_date=None,
        lookback=LOOKBACK,
        now=NOW,
    )
    assert windows == [Window(start=NOW - 60 - LOOKBACK, end=NOW)]


def test_window_state_round_trip() -> None:
    window = Window(start=1_700_000_000, end=1_700_086_400, cursor="c1", last_id="9")
    assert window.to_state() == {
        "window_start": "2023-11-14T22:13:20Z",
        "window_end": "2023-11-15T22:13:20Z",
        "cursor": "c1",
        "last_id": "9",
    }
    again = search.plan_windows(window.to_state(), start_date=None, lookback=0, now=NOW)[0]
    assert again == window


@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_contact_lower_bound_is_a_utc_midnight_at_least_two_days_before(start: int) -> None:
    bound = search.contact_lower_bound(start)
    assert bound % DAY == 0
    assert bound <= max(start - 2 * DAY, 0)
    assert bound > start - 3 * DAY


def test_contact_query_uses_the_day_aligned_bound() -> None:
    window = Window(start=1_714_564_800, end=NOW)  # 2024-05-01T12:00:00Z
    assert search.contact_query(window) == {
        "field": "updated_at",
        "operator": ">",
        "value": 1_714_348_800,  # 2024-04-29T00:00:00Z
    }


def test_second_query_bounds_sit_one_second_outside() -> None:
    assert search.second_query(Window(start=1000, end=2000)) == {
        "operator": "AND",
        "value": [
            {"field": "updated_at", "operator": ">", "value": 999},
            {"field": "updated_at", "operator": "<", "value": 2001},
        ],
    }
    assert search.second_query(Window(start=0, end=5))["value"][0]["value"] == 0


def test_search_body_shape() -> None:
    query = {"field": "updated_at", "operator": ">", "value": 1}
    assert search.search_body(query, per_page=150, cursor=None) == {
        "query": query,
        "pagination": {"per_page": 150},
        "sort": {"field": "updated_at", "order": "ascending"},
    }
    assert search.search_body(query, per_page=10, cursor="c2")["pagination"] == {
        "per_page": 10,
        "starting_after": "c2",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"pages": {"next": {"starting_after": "c9"}}}, "c9"),
        ({"pages": {"next": None}}, None),
        ({"pages": {"next": {"starting_after": ""}}}, None),
        ({"pages": {}}, None),
        ({}, None),
    ],
)
def test_next_cursor(body: dict[str, Any], expected: str | None) -> None:
    assert pagination.next_cursor(body) == expected


def test_after_last_id() -> None:
    records: list[dict[str, Any]] = [{"id": "1"}, {"id": 2}, {"id": "3"}]
    assert search.after_last_id(records, None) == records
    assert search.after_last_id(records, "1") == [{"id": 2}, {"id": "3"}]
    assert search.after_last_id(records, "2") == [{"id": "3"}]
    assert search.after_last_id(records, "3") == []
    assert search.after_last_id(records, "99") == records


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (1_700_000_000, 1_700_000_000),
        ("2023-11-14T22:13:20Z", 1_700_000_000),
        ("2023-11-14T22:13:20", 1_700_000_000),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000),
    ],
)
def test_to_epoch(value: Any, expected: int | None) -> None:
    assert search.to_epoch(value) == expected


# pagination ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"pages": {"next": {"starting_after": "abc"}}}, ("cursor", {"starting_after": "abc"})),
        (
            {"pages": {"next": "https://api.intercom.io/articles?page=3&per_page=50"}},
            ("link", {"page": "3", "per_page": "50"}),
        ),
        ({"pages": {"next": None}}, None),
        ({"pages": {"next": ""}}, None),
        ({"pages": {"next": {"starting_after": None}}}, None),
        ({"pages": "nonsense"}, None),
        ({"data": []}, None),
    ],
)
def test_next_page(body: dict[str, Any], expected: Any) -> None:
    assert pagination.next_page(body) == expected


class FakeGetter:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((path, dict(params) if params is not None else None))
        return self.pages[len(self.calls) - 1]


def _walk(getter: FakeGetter, caplog: pytest.LogCaptureFixture) -> list[list[dict[str, Any]]]:
    logger = logging.getLogger("tests.pagination")
    with caplog.at_level(logging.WARNING):
        return list(
            pagination.walk(getter, "/x", params={"per_page": 2}, records_key="data", logger=logger)
        )


def test_walk_follows_cursors_and_stops_on_empty_page(caplog: pytest.LogCaptureFixture) -> None:
    getter = FakeGetter(
        [
            {"data": [{"id": 1}], "pages": {"next": {"starting_after": "a"}}},
            {"data": [{"id": 2}], "pages": {"next": {"starting_after": "b"}}},
            {"data": [], "pages": {"next": {"starting_after": "c"}}},
        ]
    )
    assert _walk(getter, caplog) == [[{"id": 1}], [{"id": 2}]]
    assert getter.calls == [
        ("/x", {"per_page": 2}),
        ("/x", {"per_page": 2, "starting_after": "a"}),
        ("/x", {"per_page": 2, "starting_after": "b"}),
    ]


def test_walk_stops_without_a_cursor(caplog: pytest.LogCaptureFixture) -> None:
    getter = FakeGetter([{"data": [{"id": 1}], "pages": {"next": None}}])
    assert _walk(getter, caplog) == [[{"id": 1}]]
    assert len(getter.calls) == 1


def test_walk_stops_on_a_repeated_cursor_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    getter = FakeGetter(
        [
            {"data": [{"id": 1}], "pages": {"next": {"starting_after": "a"}}},
            {"data": [{"id": 2}], "pages": {"next": {"starting_after": "a"}}},
            {"data": [{"id": 3}], "pages": {"next": None}},
        ]
    )
    assert _walk(getter, caplog) == [[{"id": 1}], [{"id": 2}]]
    assert len(getter.calls) == 2
    assert any("repeated" in r.getMessage() for r in caplog.records)


def test_walk_follows_links_replacing_the_query(caplog: pytest.LogCaptureFixture) -> None:
    getter = FakeGetter(
        [
            {"data": [{"id": 1}], "pages": {"next": "https://h/x?page=2&per_page=2"}},
            {"data": [{"id": 2}], "pages": {"next": None}},
        ]
    )
    assert _walk(getter, caplog) == [[{"id": 1}], [{"id": 2}]]
    assert getter.calls[1] == ("/x", {"page": "2", "per_page": "2"})


# errors ----------------------------------------------------------------------------------


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "errors": [{"code": code, "message": message}]}


def test_classify_401() -> None:
    exc = errors.classify(401, _error_body("unauthorized", "Access Token Invalid"), "/admins")
    assert isinstance(exc, errors.AccessTokenRejected)
    assert "the access token was rejected" in str(exc)
    assert exc.status == 401


def test_classify_403_names_the_scope() -> None:
    body = _error_body("forbidden", "You do not have the required scope (read_admins)")
    exc = errors.classify(403, body, "/admins")
    assert isinstance(exc, errors.StreamUnavailable)
    assert exc.scope == "read_admins"
    assert "/admins" in str(exc)


def test_classify_403_plan_restricted_uses_the_code() -> None:
    body = _error_body("api_plan_restricted", "Active subscription needed.")
    exc = errors.classify(403, body, "/tickets/search")
    assert isinstance(exc, errors.StreamUnavailable)
    assert exc.scope == "api_plan_restricted"


def test_classify_404_and_others() -> None:
    assert isinstance(errors.classify(404, None, "/conversations/1"), errors.NotFound)
    version = errors.classify(400, _error_body("intercom_version_invalid", "x"), "/p")
    assert isinstance(version, errors.StreamUnavailable)
    other = errors.classify(400, "garbage", "/p")
    assert type(other) is errors.IntercomError
    assert "no error body" in str(other)


# progress --------------------------------------------------------------------------------


def test_progress_logs_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    progress = Progress("s", logging.getLogger("tests.progress"), clock=lambda: now[0])
    progress.total = 100
    with caplog.at_level(logging.INFO):
        progress.add(10, 1)
        now[0] = 5.0
        progress.add(10, 2)
        now[0] = 10.0
        progress.add(10, 3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["s: 30 records, 3 requests, 3 records/s, about 23s left of 100"]
