"""The rules of Intercom search windows: bounds, query bodies, page by page progress, state.

No I/O here: every rule about bounds, completeness and resumption is unit-tested directly; the
stream's loop only sends the requests and emits what `take_page` says.

A window is the range of `updated_at` one run reads: from (bookmark - lookback) to a signpost
frozen when the sync starts. Its state is written after every page (the provider cursor of the
next page and the last record emitted), so an interrupted run resumes inside the window; the
bookmark (`replication_key_value`) moves to the window's end only when the window is complete.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from tap_intercom.timestamps import iso, parse_iso

DAY = 86400
REPLICATION_KEY = "updated_at"
# Keys of an incremental stream's state besides the SDK's. Always written, null when idle:
# Meltano merges a new state onto the old one, so a key left out would come back.
WINDOW_KEYS = ("window_start", "window_end", "cursor", "last_id")


def to_epoch(value: str | int | float | None) -> int | None:
    """Unix seconds of an ISO-8601 string or a number; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    return int(parse_iso(value).timestamp())


@dataclass
class Window:
    """One pass over [start, end] of updated_at, with where it got to."""

    start: int
    end: int
    cursor: str | None = None
    last_id: str | None = None

    def to_state(self) -> dict[str, Any]:
        return {
            "window_start": iso(self.start),
            "window_end": iso(self.end),
            "cursor": self.cursor,
            "last_id": self.last_id,
        }


def idle_state() -> dict[str, Any]:
    return dict.fromkeys(WINDOW_KEYS)


def plan_windows(
    state: dict[str, Any],
    *,
    start_date: int | None,
    lookback: int,
    now: int,
) -> list[Window]:
    """The windows this run reads: an interrupted one first, then a fresh one up to now."""
    windows: list[Window] = []
    bookmark = to_epoch(state.get("replication_key_value"))
    open_start, open_end = to_epoch(state.get("window_start")), to_epoch(state.get("window_end"))
    if open_start is not None and open_end is not None:
        windows.append(
            Window(
                start=open_start,
                end=open_end,
                cursor=state.get("cursor") or None,
                last_id=state.get("last_id") or None,
            )
        )
        bookmark = max(bookmark or 0, open_end)
    # start_date only seeds the first run; afterwards the bookmark rules.
    start = start_date or 0 if bookmark is None else max(bookmark - lookback, 0)
    windows.append(Window(start=start, end=max(now, start)))
    return windows


def contact_lower_bound(window_start: int) -> int:
    """The `updated_at >` value for contact search, which compares calendar days.

    Intercom matches a contact date filter by day in the workspace's time zone (unknown here),
    and `>` matches from the start of the NEXT day. Two days back from the UTC midnight before
    the window start covers every time zone (offsets are within 14 hours); the records before
    the window start are then skipped on the client.
    """
    return max(window_start - window_start % DAY - 2 * DAY, 0)


def contact_query(window: Window) -> dict[str, Any]:
    return {"field": REPLICATION_KEY, "operator": ">", "value": contact_lower_bound(window.start)}


def second_query(window: Window) -> dict[str, Any]:
    """Conversations and tickets compare seconds; whether `>` includes its value is not
    documented, so the bounds sit one second outside the window and both ends are inclusive."""
    return {
        "operator": "AND",
        "value": [
            {"field": REPLICATION_KEY, "operator": ">", "value": max(window.start - 1, 0)},
            {"field": REPLICATION_KEY, "operator": "<", "value": window.end + 1},
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
    """What one search page means for its window.

    `follow` is the cursor of the next page; when it is None the window ends after this page
    and `close_at` is where its bookmark goes.
    """

    emit: list[dict[str, Any]]
    skipped_old: int
    newest: int
    follow: str | None
    close_at: int | None
    repeated_cursor: bool = False


def take_page(
    window: Window,
    records: list[dict[str, Any]],
    cursor: str | None,
    *,
    seen_cursors: Set[str],
    newest: int,
) -> PageStep:
    """The next step of a window from its latest page.

    `records` is the page as listed, `cursor` the next page's cursor Intercom gave with it,
    `seen_cursors` the cursors already followed in this window and `newest` the highest
    updated_at read in the window so far.
    """
    if not records:
        return PageStep(emit=[], skipped_old=0, newest=newest, follow=None, close_at=window.end)
    fresh = after_last_id(records, window.last_id)
    # Contact search matches whole days, so a page may start before the window: those are
    # read again by the window that holds them.
    emit = [r for r in fresh if (r.get(REPLICATION_KEY) or 0) >= window.start]
    newest = max([newest, *(int(r.get(REPLICATION_KEY) or 0) for r in emit)])
    skipped_old = len(fresh) - len(emit)
    if cursor is None:
        return PageStep(emit, skipped_old, newest, follow=None, close_at=window.end)
    if cursor in seen_cursors:
        # The rest of the window cannot be paged. Closing it at its end would skip the unread
        # pages for good: the bookmark stops at the newest record read, so the next run (from
        # there minus the lookback) reads them.
        return PageStep(
            emit,
            skipped_old,
            newest,
            follow=None,
            close_at=max(newest, window.start),
            repeated_cursor=True,
        )
    return PageStep(emit, skipped_old, newest, follow=cursor, close_at=None)
