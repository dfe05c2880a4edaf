"""Content for teammates: internal articles and content snippets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from typing_extensions import override

from tap_intercom.streams.base import FullTableStream, IntercomStream

#: GET /content_snippets takes at most 50 per page.
SNIPPETS_MAX_PER_PAGE = 50


def numbered_pages(
    stream: IntercomStream, path: str, *, per_page: int, records_key: str = "data"
) -> Iterator[list[dict[str, Any]]]:
    """The pages of a list paged by number: `total_pages` at the top (content snippets) or in
    `pages` (calls); it ends at the last page or on an empty one."""
    page = 1
    while True:
        body = stream.get(path, {"page": page, "per_page": per_page})
        records = body.get(records_key) or []
        if not records:
            return
        stream.progress.add(len(records), stream.requests)
        yield records
        pages = body.get("pages") if isinstance(body.get("pages"), dict) else body
        total = pages.get("total_pages") if isinstance(pages, dict) else None
        if not isinstance(total, int) or page >= total:
            return
        page += 1


class InternalArticlesStream(FullTableStream):
    """GET /internal_articles: one list (the spec documents no paging parameters; a
    `pages.next` cursor is followed if Intercom sends one)."""

    name = "internal_articles"
    path = "/internal_articles"
    primary_keys: ClassVar[list[str]] = ["id"]


class ContentSnippetsStream(FullTableStream):
    """GET /content_snippets by page number, 50 a page at most."""

    name = "content_snippets"
    path = "/content_snippets"
    #: Not in the 2.15 description: 2.16 added the endpoint.
    min_version = "2.16"
    primary_keys: ClassVar[list[str]] = ["id"]

    @override
    def list_records(self) -> Iterator[dict[str, Any]]:
        per_page = min(self.page_size, SNIPPETS_MAX_PER_PAGE)
        for page in numbered_pages(self, self.path, per_page=per_page):
            yield from page
