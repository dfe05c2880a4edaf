"""Walking Intercom's list pages: cursor (`pages.next.starting_after`) or link (`pages.next` URL).

Cursors are stateless on Intercom's side, so a walk stops on an empty page, on a page without a
next cursor, and on a cursor it has already followed (a loop would otherwise never end).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit


class _Getter(Protocol):
    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...


def next_cursor(body: dict[str, Any]) -> str | None:
    """The `pages.next.starting_after` cursor of a page, if it has one."""
    pages = body.get("pages")
    following = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(following, dict) and following.get("starting_after"):
        return str(following["starting_after"])
    return None


def next_page(body: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """What to ask for next: ("cursor", {starting_after}) or ("link", query of the next URL)."""
    cursor = next_cursor(body)
    if cursor is not None:
        return "cursor", {"starting_after": cursor}
    pages = body.get("pages")
    following = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(following, str) and following:
        return "link", dict(parse_qsl(urlsplit(following).query))
    return None


def walk(
    client: _Getter,
    path: str,
    *,
    params: dict[str, Any] | None,
    records_key: str,
    logger: logging.Logger,
) -> Iterator[list[dict[str, Any]]]:
    """Yield each page's records until the list ends."""
    query = dict(params or {})
    seen: set[str] = set()
    while True:
        body = client.get(path, query)
        records = body.get(records_key) or []
        if not records:
            return
        yield records
        following = next_page(body)
        if following is None:
            return
        kind, extra = following
        marker = repr(sorted(extra.items()))
        if marker in seen:
            logger.warning("%s: the API repeated a page cursor; stopping this list there", path)
            return
        seen.add(marker)
        query = extra if kind == "link" else {**query, **extra}
