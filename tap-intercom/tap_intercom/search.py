"""Pure builders for Intercom search: windows, query bodies, and the state that resumes them.

No I/O here: every rule about bounds and resumption is unit-tested directly.

A window is the range of `updated_at` one run reads: from (bookmark - lookback) to a signpost
frozen when the sync starts. Its state is written after every page (the provider cursor of the
next page and the last record emitted), so an interrupted run resumes inside the window; the
bookmark (`replication_key_value`) moves to the window's end only when the window is complete.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

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
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return int(parsed.timestamp())


def to_iso(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Window:
    """One pass over [start, end] of updated_at, with where it got to."""

    start: int
    end: int
    cursor: str | None = None
    last_id: str | None = None

    def to_state(self) -> dict[str, Any]:
        return {
            "window_start": to_iso(self.start),
            "window_end": to_iso(self.end),
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


def next_cursor(body: dict[str, Any]) -> str | None:
    pages = body.get("pages")
    following = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(following, dict) and following.get("starting_after"):
        return str(following["starting_after"])
    return None


def after_last_id(records: list[dict[str, Any]], last_id: str | None) -> list[dict[str, Any]]:
    """The records of a resumed page after the last one already emitted (all if not found)."""
    if not last_id:
        return records
    for index, record in enumerate(records):
        if str(record.get("id")) == last_id:
            return records[index + 1 :]
    return records
