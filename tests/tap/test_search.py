"""The search window rules (pure): planned windows, query bounds, bodies, page steps, state."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tap_intercom import search, timestamps
from tap_intercom.search import DAY, Window

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


def test_after_last_id() -> None:
    records: list[dict[str, Any]] = [{"id": "1"}, {"id": 2}, {"id": "3"}]
    assert search.after_last_id(records, None) == records
    assert search.after_last_id(records, "1") == [{"id": 2}, {"id": "3"}]
    assert search.after_last_id(records, "2") == [{"id": "3"}]
    assert search.after_last_id(records, "3") == []
    assert search.after_last_id(records, "99") == records


def _page(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"id": rid, "updated_at": at} for rid, at in pairs]


def test_take_page_follows_the_cursor_and_tracks_the_newest() -> None:
    window = Window(start=100, end=500)
    step = search.take_page(
        window, _page(("a", 120), ("b", 300)), "c1", seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in step.emit] == ["a", "b"]
    assert (step.follow, step.close_at, step.newest, step.skipped_old) == ("c1", None, 300, 0)
    assert not step.repeated_cursor


def test_take_page_without_a_cursor_closes_the_window_at_its_end() -> None:
    window = Window(start=100, end=500)
    step = search.take_page(window, _page(("a", 120)), None, seen_cursors={"c1"}, newest=400)
    assert (step.follow, step.close_at, step.newest) == (None, 500, 400)


def test_an_empty_page_closes_the_window_at_its_end() -> None:
    step = search.take_page(Window(100, 500), [], "c2", seen_cursors=set(), newest=250)
    assert (step.emit, step.follow, step.close_at, step.newest) == ([], None, 500, 250)


def test_take_page_drops_records_before_the_window_and_counts_them() -> None:
    step = search.take_page(
        Window(100, 500), _page(("old", 40), ("a", 100)), None, seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in step.emit] == ["a"]
    assert (step.skipped_old, step.newest) == (1, 100)


def test_take_page_skips_what_a_resumed_window_already_emitted() -> None:
    window = Window(start=100, end=500, cursor="c1", last_id="b")
    step = search.take_page(
        window, _page(("a", 120), ("b", 130), ("c", 140)), None, seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in step.emit] == ["c"]
    assert step.newest == 140


def test_a_repeated_cursor_closes_the_window_at_the_newest_record_read() -> None:
    step = search.take_page(
        Window(100, 500), _page(("a", 220)), "c1", seen_cursors={"c1"}, newest=180
    )
    assert step.repeated_cursor
    assert (step.follow, step.close_at) == (None, 220)


def test_a_repeated_cursor_before_any_record_closes_at_the_window_start() -> None:
    step = search.take_page(
        Window(100, 500), _page(("old", 50)), "c1", seen_cursors={"c1"}, newest=0
    )
    assert (step.follow, step.close_at, step.repeated_cursor) == (None, 100, True)
