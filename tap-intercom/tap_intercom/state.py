"""The state a run starts from: Meltano's wrapped form, another tap's bookmarks, corrupt values.

Pure: the tap hands over the parsed state and its stream names; nothing here does I/O.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# The bookmark keys the tap parses as date-times (see search.plan_windows).
DATE_KEYS = ("replication_key_value", "window_start", "window_end")
# Those of each range of a window read in ranges (search.Range.from_state).
RANGE_DATE_KEYS = ("start", "end", "stopped_at")
RESET_HINT = (
    "remove bookmarks.{stream} from the state to re-sync that stream from start_date "
    "(README: Re-syncing and clearing state)"
)


class StateError(ValueError):
    """The input state cannot be resumed from; the message names the stream and the fix."""


@dataclass
class StartState:
    """The input state reduced to this tap's streams, and what was left out."""

    state: dict[str, Any]
    foreign: list[str] = field(default_factory=list)

    @property
    def only_foreign(self) -> bool:
        """Bookmarks for streams this tap lacks and none for its own: another tap's state?"""
        return bool(self.foreign) and not self.state.get("bookmarks")


def unwrap(state: dict[str, Any]) -> dict[str, Any]:
    """The Singer state inside Meltano's `{"singer_state": ...}` (what `meltano state get`
    prints), or the state itself."""
    inner = state.get("singer_state")
    if isinstance(inner, dict) and "bookmarks" not in state:
        return inner
    return state


def start_state(state: dict[str, Any], streams: Iterable[str]) -> StartState:
    """Unwrap, keep the bookmarks of `streams`, and check their dates."""
    state = unwrap(state)
    bookmarks = state.get("bookmarks")
    if bookmarks is None:
        return StartState(dict(state))
    if not isinstance(bookmarks, dict):
        msg = f"the state's bookmarks must be an object, got {type(bookmarks).__name__}"
        raise StateError(msg)
    known = set(streams)
    own = {name: value for name, value in bookmarks.items() if name in known}
    for name, bookmark in own.items():
        check_bookmark(name, bookmark)
    return StartState({**state, "bookmarks": own}, sorted(set(bookmarks) - known))


def check_bookmark(stream: str, bookmark: object) -> None:
    """Raise StateError naming the stream, the key, the value and the reset when a date the
    tap will parse is not one."""
    if not isinstance(bookmark, dict):
        msg = f"The state of stream '{stream}' is not an object: {RESET_HINT.format(stream=stream)}"
        raise StateError(msg)
    for key in DATE_KEYS:
        _check_date(stream, key, bookmark.get(key))
    ranges = bookmark.get("ranges")
    if ranges is None:
        return
    if not isinstance(ranges, list):
        msg = (
            f"The state of stream '{stream}' has ranges={ranges!r}, which is not a list: "
            + RESET_HINT.format(stream=stream)
        )
        raise StateError(msg)
    for n, part in enumerate(ranges):
        if not isinstance(part, dict) or any(part.get(k) in (None, "") for k in ("start", "end")):
            msg = (
                f"The state of stream '{stream}' has a range (ranges[{n}]) without a start and "
                "an end: " + RESET_HINT.format(stream=stream)
            )
            raise StateError(msg)
        for key in RANGE_DATE_KEYS:
            _check_date(stream, f"ranges[{n}].{key}", part.get(key))


def _check_date(stream: str, key: str, value: object) -> None:
    if value is None or value == "" or _is_date_time(value):
        return
    msg = (
        f"The state of stream '{stream}' has {key}={value!r}, which is not a date-time: "
        + RESET_HINT.format(stream=stream)
    )
    raise StateError(msg)


def _is_date_time(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True  # Unix seconds, as older states held
    if not isinstance(value, str):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
