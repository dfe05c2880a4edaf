"""The rules of Intercom search windows: bounds, query bodies, page by page progress, state.

No I/O here: every rule about bounds, completeness and resumption is unit-tested directly; the
stream's loop only sends the requests and emits what `take_page` says.

A window is the range of `updated_at` one run reads: from (bookmark - lookback) to a signpost
frozen when the sync starts. Its state is written after every page (the provider cursor of the
next page and the last record emitted), so an interrupted run resumes inside the window; the
bookmark (`replication_key_value`) moves to the window's end only when the window is complete.

A long window (a first sync) is split into ranges read at once, each an ascending pass of its
own with its own cursor in the state; the bookmark moves only when every range is done. A
record changed during the run can then be listed by two ranges, its older version by the range
read later: `Newest` keeps the older one from being emitted after the newer.
"""

from __future__ import annotations

import itertools
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

from tap_intercom.timestamps import iso, parse_iso

DAY = 86400
#: Records this close to a window's end (or past it) are remembered by `Newest`: past the end
#: means changed during the run; the margin allows for the client's clock being ahead.
CHANGED_MARGIN = 3600
REPLICATION_KEY = "updated_at"
# Keys of an incremental stream's state besides the SDK's. Always written, null when idle:
# Meltano merges a new state onto the old one, so a key left out would come back.
WINDOW_KEYS = ("window_start", "window_end", "cursor", "last_id", "ranges")


def to_epoch(value: str | int | float | None) -> int | None:
    """Unix seconds of an ISO-8601 string or a number; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    return int(parse_iso(value).timestamp())


@dataclass
class Range:
    """One ascending pass over part of a window, with where it got to.

    An `inner` range ends where the next one starts: it emits what is below its `end` and
    leaves the rest to that range. The window's last range emits everything from its start on,
    as a window read in one pass does. `stopped_at` is set when a repeated cursor stopped the
    range short: the window's bookmark then goes no further (see `Window.bookmark`).
    """

    start: int
    end: int
    cursor: str | None = None
    last_id: str | None = None
    inner: bool = False
    done: bool = False
    stopped_at: int | None = None

    def to_state(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "cursor": self.cursor,
            "last_id": self.last_id,
            "done": self.done,
            "stopped_at": None if self.stopped_at is None else iso(self.stopped_at),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, inner: bool) -> Range:
        start, end = to_epoch(state.get("start")), to_epoch(state.get("end"))
        if start is None or end is None:
            msg = f"a range of the window has no start or end: {state!r}"
            raise ValueError(msg)
        return cls(
            start=start,
            end=end,
            cursor=state.get("cursor") or None,
            last_id=state.get("last_id") or None,
            inner=inner,
            done=bool(state.get("done")),
            stopped_at=to_epoch(state.get("stopped_at")),
        )


@dataclass
class Window:
    """The range of updated_at one run reads, [start, end], in one or more `ranges` read at
    once. A window of one range keeps its cursor in the state's `cursor` and `last_id` (as
    before ranges existed); a split window keeps them in `ranges`, one entry each."""

    start: int
    end: int
    ranges: list[Range] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ranges:
            self.ranges = [Range(self.start, self.end)]

    @classmethod
    def one(
        cls, start: int, end: int, cursor: str | None = None, last_id: str | None = None
    ) -> Window:
        """A window read in a single pass, perhaps from a saved cursor."""
        return cls(start, end, [Range(start, end, cursor=cursor, last_id=last_id)])

    @property
    def resuming(self) -> bool:
        return any(r.cursor or r.last_id or r.done for r in self.ranges)

    @property
    def complete(self) -> bool:
        return all(r.done for r in self.ranges)

    @property
    def bookmark(self) -> int:
        """Where the bookmark goes once every range is done: the window's end, or the earliest
        point a range was stopped short at (the next run reads on from there)."""
        stops = [r.stopped_at for r in self.ranges if r.stopped_at is not None]
        return min(stops, default=self.end)

    def to_state(self) -> dict[str, Any]:
        split = len(self.ranges) > 1
        only = self.ranges[0]
        return {
            "window_start": iso(self.start),
            "window_end": iso(self.end),
            "cursor": None if split else only.cursor,
            "last_id": None if split else only.last_id,
            "ranges": [r.to_state() for r in self.ranges] if split else None,
        }


def idle_state() -> dict[str, Any]:
    return dict.fromkeys(WINDOW_KEYS)


def split_points(
    samples: list[tuple[int, int]], total: int, parts: int, *, min_span: int
) -> list[int]:
    """Where to split a window into `parts` ranges holding about as many records each.

    `samples` are (x, n) pairs, ascending in x, n the search's count of records updated after
    x; `total` is the count over the whole window. Each point is the first sampled x past
    which fewer than its share of the records remain, moved down to a UTC midnight; points
    closer than `min_span` to the one before are dropped, so a range is at least that long.
    """
    points: list[int] = []
    for n in range(1, parts):
        above = total * (parts - n) / parts
        at = next((x for x, count in samples if count <= above), None)
        if at is None:
            break
        at -= at % DAY
        if not points or at - points[-1] >= min_span:
            points.append(at)
    return points


def brackets(samples: list[tuple[int, int]], total: int, parts: int) -> list[tuple[int, int]]:
    """The spans between two samples (or the oldest record and the first sample) in which a
    split point falls, for a finer count inside them: `samples` as for `split_points`, its
    first pair the oldest record's time with the whole count."""
    found: list[tuple[int, int]] = []
    for n in range(1, parts):
        above = total * (parts - n) / parts
        for (lo, _), (hi, count) in itertools.pairwise(samples):
            if count <= above:
                if (lo, hi) not in found:
                    found.append((lo, hi))
                break
    return found


def ranges(start: int, end: int, points: list[int]) -> list[Range]:
    """[start, end] cut at `points` (those inside it), the last range open to the end."""
    bounds = [start, *(p for p in points if start < p < end), end]
    last = len(bounds) - 2
    return [Range(lo, hi, inner=n < last) for n, (lo, hi) in enumerate(itertools.pairwise(bounds))]


def plan_windows(
    state: dict[str, Any],
    *,
    start_date: int | None,
    lookback: int,
    now: int,
) -> list[Window]:
    """The windows this run reads: an interrupted one first (in its saved ranges), then a
    fresh one up to now, in one range until the stream splits it (`split_points`)."""
    windows: list[Window] = []
    bookmark = to_epoch(state.get("replication_key_value"))
    open_start, open_end = to_epoch(state.get("window_start")), to_epoch(state.get("window_end"))
    if open_start is not None and open_end is not None:
        saved = state.get("ranges")
        if isinstance(saved, list) and saved:
            last = len(saved) - 1
            ranges = [Range.from_state(r, inner=n < last) for n, r in enumerate(saved)]
            windows.append(Window(open_start, open_end, ranges))
        else:
            windows.append(
                Window.one(
                    open_start,
                    open_end,
                    cursor=state.get("cursor") or None,
                    last_id=state.get("last_id") or None,
                )
            )
        bookmark = max(bookmark or 0, open_end)
    # start_date only seeds the first run; afterwards the bookmark rules.
    start = start_date or 0 if bookmark is None else max(bookmark - lookback, 0)
    windows.append(Window(start, max(now, start)))
    return windows


def contact_lower_bound(window_start: int) -> int:
    """The `updated_at >` value for contact search, which compares calendar days.

    Intercom matches a contact date filter by day in the workspace's time zone (unknown here),
    and `>` matches from the start of the NEXT day. Two days back from the UTC midnight before
    the window start covers every time zone (offsets are within 14 hours); the records before
    the window start are then skipped on the client.
    """
    return max(window_start - window_start % DAY - 2 * DAY, 0)


def contact_upper_bound(range_end: int) -> int:
    """The `updated_at <` value that ends an inner range's contact search: `<` matches what is
    before the start of its value's day in the workspace's time zone, so a UTC midnight three
    days after the range's end (its day starts more than two days after it, whatever the zone)
    still holds every record below the end; the rest is skipped on the client."""
    return range_end - range_end % DAY + 3 * DAY


def contact_query(part: Range) -> dict[str, Any]:
    lower = {"field": REPLICATION_KEY, "operator": ">", "value": contact_lower_bound(part.start)}
    if not part.inner:
        return lower
    upper = {"field": REPLICATION_KEY, "operator": "<", "value": contact_upper_bound(part.end)}
    return {"operator": "AND", "value": [lower, upper]}


def second_query(part: Range) -> dict[str, Any]:
    """Conversations and tickets compare seconds; whether `>` includes its value is not
    documented, so the bounds sit one second outside the range and both ends are inclusive."""
    return {
        "operator": "AND",
        "value": [
            {"field": REPLICATION_KEY, "operator": ">", "value": max(part.start - 1, 0)},
            {"field": REPLICATION_KEY, "operator": "<", "value": part.end + 1},
        ],
    }


def search_body(query: dict[str, Any], *, per_page: int, cursor: str | None) -> dict[str, Any]:
    pagination: dict[str, Any] = {"per_page": per_page}
    if cursor:
        pagination["starting_after"] = cursor
    return {
        "query": query,
        "pagination": pagination,
        "sort": {"field": REPLICATION_KEY, "order": "ascending"},
    }


def after_last_id(records: list[dict[str, Any]], last_id: str | None) -> list[dict[str, Any]]:
    """The records of a resumed page after the last one already emitted (all if not found)."""
    if not last_id:
        return records
    for index, record in enumerate(records):
        if str(record.get("id")) == last_id:
            return records[index + 1 :]
    return records


@dataclass(frozen=True)
class PageStep:
    """What one search page means for its range.

    `follow` is the cursor of the next page; when it is None the range is done after this page
    and, if `repeated_cursor`, `stopped_at` is as far as the bookmark may go.
    """

    emit: list[dict[str, Any]]
    skipped_old: int
    newest: int
    follow: str | None
    stopped_at: int | None = None
    skipped_later: int = 0

    @property
    def repeated_cursor(self) -> bool:
        return self.stopped_at is not None


def take_page(
    part: Range,
    records: list[dict[str, Any]],
    cursor: str | None,
    *,
    seen_cursors: Set[str],
    newest: int,
) -> PageStep:
    """The next step of a range from its latest page.

    `records` is the page as listed, `cursor` the next page's cursor Intercom gave with it,
    `seen_cursors` the cursors already followed in this range and `newest` the highest
    updated_at read in the range so far.
    """
    if not records:
        return PageStep(emit=[], skipped_old=0, newest=newest, follow=None)
    fresh = after_last_id(records, part.last_id)
    # Contact search matches whole days, so a page may start before the range: those are
    # read again by the range or window that holds them. An inner range's page may reach past
    # its end: those belong to the next range.
    emit = [r for r in fresh if (r.get(REPLICATION_KEY) or 0) >= part.start]
    skipped_old = len(fresh) - len(emit)
    skipped_later = 0
    if part.inner:
        below = [r for r in emit if (r.get(REPLICATION_KEY) or 0) < part.end]
        skipped_later, emit = len(emit) - len(below), below
    newest = max([newest, *(int(r.get(REPLICATION_KEY) or 0) for r in emit)])
    if cursor is None:
        return PageStep(emit, skipped_old, newest, follow=None, skipped_later=skipped_later)
    if cursor in seen_cursors:
        # The rest of the range cannot be paged. Closing it at its end would skip the unread
        # pages for good: the bookmark stops at the newest record read, so the next run (from
        # there minus the lookback) reads them.
        return PageStep(
            emit,
            skipped_old,
            newest,
            follow=None,
            stopped_at=max(newest, part.start),
            skipped_later=skipped_later,
        )
    return PageStep(emit, skipped_old, newest, follow=cursor, skipped_later=skipped_later)


class Newest:
    """The newest updated_at emitted per record, for records at or past `since` (those changed
    while the run reads): a split window's ranges are read at once, so an older version listed
    by one range can come after a newer one listed by another, and is then not emitted."""

    def __init__(self, since: int) -> None:
        self.since = since
        self._seen: dict[str, int] = {}

    def older(self, record: dict[str, Any]) -> bool:
        """Whether a newer version of `record` was already emitted; else note this one."""
        at = int(record.get(REPLICATION_KEY) or 0)
        key = str(record.get("id"))
        if at < self.since:
            return self._seen.get(key, -1) > at
        if self._seen.get(key, -1) > at:
            return True
        self._seen[key] = at
        return False
