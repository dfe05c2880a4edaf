"""The search window rules (pure): planned windows, query bounds, bodies, page steps, state."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tap_intercom import search, timestamps
from tap_intercom.search import DAY, Range, Window

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
        Window.one(1_699_998_200, 1_750_000_000, cursor="abc", last_id="42"),
        Window(start=1_750_000_000 - LOOKBACK, end=NOW),
    ]


def test_idle_state_keys_are_all_null() -> None:
    assert search.idle_state() == {
        "window_start": None,
        "window_end": None,
        "cursor": None,
        "last_id": None,
        "ranges": None,
    }
    windows = search.plan_windows(
        {"replication_key_value": timestamps.iso(NOW - 60), **search.idle_state()},
        start_date=None,
        lookback=LOOKBACK,
        now=NOW,
    )
    assert windows == [Window(start=NOW - 60 - LOOKBACK, end=NOW)]


def test_window_state_round_trip() -> None:
    window = Window.one(1_700_000_000, 1_700_086_400, cursor="c1", last_id="9")
    assert window.to_state() == {
        "window_start": "2023-11-14T22:13:20Z",
        "window_end": "2023-11-15T22:13:20Z",
        "cursor": "c1",
        "last_id": "9",
        "ranges": None,
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
    assert search.contact_query(window.ranges[0]) == {
        "field": "updated_at",
        "operator": ">",
        "value": 1_714_348_800,  # 2024-04-29T00:00:00Z
    }


def test_second_query_bounds_sit_one_second_outside() -> None:
    assert search.second_query(Range(1000, 2000)) == {
        "operator": "AND",
        "value": [
            {"field": "updated_at", "operator": ">", "value": 999},
            {"field": "updated_at", "operator": "<", "value": 2001},
        ],
    }
    assert search.second_query(Range(0, 5))["value"][0]["value"] == 0


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
    window = Range(100, 500)
    step = search.take_page(
        window, _page(("a", 120), ("b", 300)), "c1", seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in step.emit] == ["a", "b"]
    assert (step.follow, step.stopped_at, step.newest, step.skipped_old) == ("c1", None, 300, 0)
    assert not step.repeated_cursor


def test_take_page_without_a_cursor_closes_the_window_at_its_end() -> None:
    window = Range(100, 500)
    step = search.take_page(window, _page(("a", 120)), None, seen_cursors={"c1"}, newest=400)
    assert (step.follow, step.stopped_at, step.newest) == (None, None, 400)


def test_an_empty_page_closes_the_window_at_its_end() -> None:
    step = search.take_page(Range(100, 500), [], "c2", seen_cursors=set(), newest=250)
    assert (step.emit, step.follow, step.stopped_at, step.newest) == ([], None, None, 250)


def test_take_page_drops_records_before_the_window_and_counts_them() -> None:
    step = search.take_page(
        Range(100, 500), _page(("old", 40), ("a", 100)), None, seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in step.emit] == ["a"]
    assert (step.skipped_old, step.newest) == (1, 100)


def test_take_page_skips_what_a_resumed_window_already_emitted() -> None:
    window = Range(100, 500, cursor="c1", last_id="b")
    step = search.take_page(
        window, _page(("a", 120), ("b", 130), ("c", 140)), None, seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in step.emit] == ["c"]
    assert step.newest == 140


def test_a_repeated_cursor_closes_the_window_at_the_newest_record_read() -> None:
    step = search.take_page(
        Range(100, 500), _page(("a", 220)), "c1", seen_cursors={"c1"}, newest=180
    )
    assert step.repeated_cursor
    assert (step.follow, step.stopped_at) == (None, 220)


def test_a_repeated_cursor_before_any_record_closes_at_the_window_start() -> None:
    step = search.take_page(
        Range(100, 500), _page(("old", 50)), "c1", seen_cursors={"c1"}, newest=0
    )
    assert (step.follow, step.stopped_at, step.repeated_cursor) == (None, 100, True)


# Windows read in ranges at once (a first sync of a large workspace).


def test_split_points_give_each_range_its_share_of_the_records() -> None:
    # 1,000 records spread evenly over 100 days: counts after each tenth of the span.
    start = 1_700_006_400 - 1_700_006_400 % DAY
    samples = [(start + n * 10 * DAY, 1000 - n * 100) for n in range(1, 10)]
    points = search.split_points(samples, 1000, 4, min_span=7 * DAY)
    # A point is the first sample with at most its share left past it, on a UTC midnight.
    assert points == [start + 30 * DAY, start + 50 * DAY, start + 80 * DAY]
    assert all(p % DAY == 0 for p in points)


def test_split_points_follow_where_the_records_are() -> None:
    # Nine tenths of the records in the last tenth of the span.
    start = 1_700_006_400 - 1_700_006_400 % DAY
    samples = [(start + n * 10 * DAY, 1000 if n < 9 else 100) for n in range(1, 10)]
    assert search.split_points(samples, 1000, 4, min_span=7 * DAY) == [start + 90 * DAY]


def test_split_points_keep_ranges_at_least_min_span_long() -> None:
    start = 1_700_006_400 - 1_700_006_400 % DAY
    samples = [(start + n * DAY, 1000 - n * 100) for n in range(1, 10)]
    assert search.split_points(samples, 1000, 4, min_span=30 * DAY) == [start + 3 * DAY]
    assert search.split_points([], 1000, 4, min_span=DAY) == []


def test_ranges_cut_the_window_and_only_the_last_is_open() -> None:
    parts = search.ranges(100, 1000, [50, 300, 600, 1000, 2000])
    assert [(r.start, r.end, r.inner) for r in parts] == [
        (100, 300, True),
        (300, 600, True),
        (600, 1000, False),
    ]
    assert search.ranges(100, 1000, []) == [Range(100, 1000)]


def test_a_split_window_keeps_each_range_in_the_state_and_resumes_them() -> None:
    window = Window(1_700_000_000, NOW, search.ranges(1_700_000_000, NOW, [1_750_003_200]))
    window.ranges[0].cursor, window.ranges[0].last_id = "c7", "71"
    window.ranges[1].done = True
    state = window.to_state()
    assert (state["cursor"], state["last_id"]) == (None, None)
    assert state["ranges"] == [
        {
            "start": timestamps.iso(1_700_000_000),
            "end": timestamps.iso(1_750_003_200),
            "cursor": "c7",
            "last_id": "71",
            "done": False,
            "stopped_at": None,
        },
        {
            "start": timestamps.iso(1_750_003_200),
            "end": timestamps.iso(NOW),
            "cursor": None,
            "last_id": None,
            "done": True,
            "stopped_at": None,
        },
    ]
    resumed, fresh = search.plan_windows(state, start_date=None, lookback=LOOKBACK, now=NOW + 60)
    assert resumed == window
    assert resumed.resuming
    assert not resumed.complete
    assert fresh == Window(NOW - LOOKBACK, NOW + 60)


def test_a_window_is_bookmarked_at_its_end_or_where_a_range_stopped_short() -> None:
    window = Window(100, 1000, search.ranges(100, 1000, [400, 700]))
    for part in window.ranges:
        part.done = True
    assert window.complete
    assert window.bookmark == 1000
    window.ranges[2].stopped_at = 800
    window.ranges[1].stopped_at = 450
    assert window.bookmark == 450


def test_an_inner_range_leaves_what_reaches_past_its_end_to_the_next_range() -> None:
    part = Range(100, 500, inner=True)
    step = search.take_page(
        part,
        _page(("old", 90), ("a", 120), ("b", 499), ("c", 500), ("d", 700)),
        "c1",
        seen_cursors=set(),
        newest=0,
    )
    assert [r["id"] for r in step.emit] == ["a", "b"]
    assert (step.skipped_old, step.skipped_later, step.newest, step.follow) == (1, 2, 499, "c1")
    last = search.take_page(
        Range(500, 900), _page(("c", 500), ("e", 950)), None, seen_cursors=set(), newest=0
    )
    assert [r["id"] for r in last.emit] == ["c", "e"]  # the last range is open past its end


def test_an_inner_contact_range_is_bounded_above_by_whole_days() -> None:
    part = Range(1_714_564_800, 1_730_000_000, inner=True)
    assert search.contact_query(part) == {
        "operator": "AND",
        "value": [
            {"field": "updated_at", "operator": ">", "value": 1_714_348_800},
            {"field": "updated_at", "operator": "<", "value": 1_730_246_400},
        ],
    }
    assert search.contact_query(Range(1_714_564_800, NOW)) == search.contact_query(
        Window(1_714_564_800, NOW).ranges[0]
    )


@given(
    st.integers(min_value=0, max_value=4_102_444_800),
    st.integers(min_value=-14 * 3600, max_value=14 * 3600),
)
def test_contact_upper_bound_holds_the_whole_range_in_any_time_zone(end: int, offset: int) -> None:
    """`< bound` matches what is before the start of bound's day in the workspace's zone: that
    start must lie after the range's end, whatever the zone's offset from UTC."""
    bound = search.contact_upper_bound(end)
    local_day_start = bound - (bound + offset) % DAY
    assert local_day_start > end
    assert bound % DAY == 0
    assert bound <= end + 4 * DAY


def test_newest_drops_an_older_version_listed_after_a_newer_one() -> None:
    newest = search.Newest(since=1000)
    assert not newest.older({"id": "a", "updated_at": 1200})  # changed during the run
    assert newest.older({"id": "a", "updated_at": 300})  # its old version, from an earlier range
    assert not newest.older({"id": "b", "updated_at": 300})
    assert not newest.older({"id": "a", "updated_at": 1300})  # newer again: kept
    assert newest.older({"id": "a", "updated_at": 1200})


def test_brackets_are_the_spans_where_the_split_points_fall() -> None:
    samples = [(0, 1000), (10, 900), (20, 400), (30, 300), (40, 100)]
    assert search.brackets(samples, 1000, 4) == [(10, 20), (30, 40)]
    assert search.brackets(samples[:1], 1000, 4) == []
