"""The reconcile pass: whole listings that let the target mark what Intercom no longer holds.

With `reconcile: true` the contacts, conversations and tickets streams do not read their
incremental windows (their bookmarks stay as they were). Each lists the whole entity instead:

- contacts from `GET /contacts` (150 a page, `include_merge_history=true`, with the full tags
  and companies lists as in a normal run); every `merge_history` item of a user becomes a
  tombstone of the merged contact with `_sdc_merged_into_id`;
- conversations and tickets from an unfiltered search (created_at ascending, so updates during
  the pass do not reorder it), each hydrated again: parts that fell short in the archive are
  written whole, and the parts Intercom cannot give (its 500-part cap) are counted.

Each listing's records carry the pass's version and end with ACTIVATE_VERSION, sent only when
the listing ended normally. The version is a Unix time in milliseconds: the pass's start minus
`reconcile_margin_seconds`. The target marks a row deleted only when that row was not written
in this version AND was last written before that time, so a record created or changed after the
pass started (by the pass itself, a webhook follower or any other run) is never marked, and a
record written within the margin before it (which a lagging listing may not show yet) waits for
the next pass.

Pure apart from the pass functions, which talk to Intercom only through their stream.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

#: The entities the report covers, in its order (companies are full-table in every run).
ENTITIES = ("contacts", "companies", "conversations", "tickets")
#: The streams whose incremental read a reconcile run replaces by a whole listing.
PASS_STREAMS = frozenset({"contacts", "conversations", "tickets"})
#: Intercom returns at most this many parts of a conversation or ticket.
PARTS_CAP = 500


def pass_version(started_at: float, margin_seconds: int) -> int:
    """The ACTIVATE_VERSION of a pass started at `started_at` (Unix seconds), in ms."""
    return int(started_at * 1000) - margin_seconds * 1000


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_tombstones(contact: dict[str, Any], *, fallback_at: float) -> list[dict[str, Any]]:
    """Tombstones of the contacts merged into `contact`, from its `merge_history` (removed
    from the record: a normal run does not ask for it, so the archive's row stays alike)."""
    history = contact.pop("merge_history", None)
    if not isinstance(history, list):
        return []
    tombstones = []
    for item in history:
        source = item.get("source_contact_id") if isinstance(item, dict) else None
        if not source or str(source) == str(contact.get("id")):
            continue
        merged_at = item.get("merged_at")
        at = merged_at if isinstance(merged_at, int | float) and merged_at > 0 else fallback_at
        tombstones.append(
            {
                "id": str(source),
                "_sdc_deleted_at": iso(at),
                "_sdc_merged_into_id": str(contact["id"]),
            }
        )
    return tombstones


def is_tombstone(record: dict[str, Any]) -> bool:
    return bool(record.get("_sdc_deleted_at"))


def parts_state(record: dict[str, Any], parts_key: str) -> tuple[int, int]:
    """(parts Intercom says the record has, parts its GET returned) of a hydrated record."""
    listing = record.get(parts_key) if isinstance(record.get(parts_key), dict) else {}
    returned = listing.get("returned_count") if isinstance(listing, dict) else 0
    stated = listing.get("total_count") if isinstance(listing, dict) else 0
    statistics = record.get("statistics") if isinstance(record.get("statistics"), dict) else {}
    counted = statistics.get("count_conversation_parts") if statistics else None
    numbers = [n for n in (stated, counted) if isinstance(n, int)]
    return (max(numbers) if numbers else 0, returned if isinstance(returned, int) else 0)


@dataclass
class Tally:
    """One entity's figures in a pass."""

    entity: str
    listed: int = 0  # records Intercom's listing held
    sent: int = 0  # records written again (after hydration)
    merged: int = 0  # tombstones of merged contacts sent
    vanished: int = 0  # listed, then gone when fetched by id (deleted during the pass)
    over_cap: int = 0  # conversations/tickets with more parts than Intercom returns
    short: int = 0  # hydrations that returned fewer parts than Intercom counts, under the cap
    requests: int = 0
    complete: bool = False
    seconds: float = 0.0

    def count_parts(self, record: dict[str, Any], parts_key: str) -> None:
        stated, returned = parts_state(record, parts_key)
        if stated > PARTS_CAP:
            self.over_cap += 1
        elif returned < stated:
            self.short += 1


@dataclass
class Report:
    """The figures of one reconcile run, filled by the streams (from several threads)."""

    started_at: float
    margin_seconds: int
    tallies: dict[str, Tally] = field(default_factory=dict)
    finished_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def version(self) -> int:
        return pass_version(self.started_at, self.margin_seconds)

    def tally(self, entity: str) -> Tally:
        with self._lock:
            return self.tallies.setdefault(entity, Tally(entity))

    def rows(self) -> list[Tally]:
        return [self.tallies[e] for e in ENTITIES if e in self.tallies]

    def records(self) -> list[dict[str, Any]]:
        """The `reconcile_runs` records: one per entity the pass covered."""
        finished = self.finished_at if self.finished_at is not None else time.time()
        return [
            {
                "started_at": iso(self.started_at),
                "entity": t.entity,
                "finished_at": iso(finished),
                "version": self.version,
                "margin_seconds": self.margin_seconds,
                "complete": t.complete,
                "intercom_count": t.listed,
                "records_sent": t.sent,
                "merged_contacts": t.merged,
                "vanished": t.vanished,
                "parts_over_cap": t.over_cap,
                "parts_short": t.short,
                "requests": t.requests,
                "seconds": round(t.seconds, 3),
            }
            for t in self.rows()
        ]

    def table(self) -> str:
        """The summary table the log shows."""
        head: list[object] = ["entity", "complete", "intercom", "sent", "merged", "vanished"]
        head += ["over cap", "short", "requests", "seconds"]
        body: list[list[object]] = []
        for t in self.rows():
            row: list[object] = [t.entity, "yes" if t.complete else "NO", t.listed, t.sent]
            row += [t.merged, t.vanished, t.over_cap, t.short, t.requests, f"{t.seconds:.1f}"]
            body.append(row)
        rows = [[str(v) for v in row] for row in (head, *body)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        return "\n".join(
            "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows
        )


def request_bound(
    *,
    contacts: int,
    conversations: int,
    tickets: int,
    companies: int,
    page_size: int = 150,
    scroll_page_size: int = 100,
    full_lists: int = 0,
) -> int:
    """The most requests a reconcile of these streams may make: one per listing page (and one
    more for a listing's last, empty page), one GET per conversation and ticket, the companies
    scroll, and `full_lists`: one per tags or companies list of a contact that holds more than
    the inline ten (as in any run that reads that contact)."""

    def pages(n: int, size: int) -> int:
        return math.ceil(n / size) + 1

    return (
        pages(contacts, page_size)
        + full_lists
        + pages(conversations, page_size)
        + conversations
        + pages(tickets, page_size)
        + tickets
        + pages(companies, scroll_page_size)
        + 1  # the scroll's closing page
    )


class PassStream(Protocol):
    """What a pass uses of its stream (streams.incremental.SearchStream provides it)."""

    name: str
    requests: int

    @property
    def logger(self) -> logging.Logger: ...

    @property
    def page_size(self) -> int: ...

    def pages(
        self, path: str, *, records_key: str = ..., params: dict[str, Any] | None = ...
    ) -> Iterator[list[dict[str, Any]]]: ...

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def reconcile_pages(self, tally: Tally) -> Iterator[list[dict[str, Any]]]: ...

    def expand(self, records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]: ...


def search_body(per_page: int, cursor: str | None) -> dict[str, Any]:
    """An unfiltered search (Intercom requires a query: every record was created after 0),
    oldest created first: created_at never changes, so updates do not reorder the pages."""
    pagination: dict[str, Any] = {"per_page": per_page}
    if cursor:
        pagination["starting_after"] = cursor
    return {
        "query": {"field": "created_at", "operator": ">", "value": 0},
        "pagination": pagination,
        "sort": {"field": "created_at", "order": "ascending"},
    }


def _next_cursor(body: dict[str, Any]) -> str | None:
    pages = body.get("pages")
    following = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(following, dict) and following.get("starting_after"):
        return str(following["starting_after"])
    return None


def search_pages(
    stream: PassStream, path: str, records_key: str, tally: Tally
) -> Iterator[list[dict[str, Any]]]:
    """The pages of an unfiltered search. `tally.complete` is set when the listing ended
    normally (a last page without a cursor); a repeated cursor leaves it false."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        body = stream.post(path, search_body(stream.page_size, cursor))
        records = body.get(records_key) or []
        if records:
            yield records
        cursor = _next_cursor(body)
        if not records or cursor is None:
            tally.complete = True
            return
        if cursor in seen:
            stream.logger.warning(
                "%s: the search repeated a cursor; the reconcile listing is incomplete and "
                "marks nothing",
                stream.name,
            )
            return
        seen.add(cursor)


def contact_pages(stream: PassStream, tally: Tally) -> Iterator[list[dict[str, Any]]]:
    """Every contact from GET /contacts with its merge history."""
    params = {"per_page": stream.page_size, "include_merge_history": "true"}
    yield from stream.pages("/contacts", params=params)
    tally.complete = True


def run_pass(
    stream: PassStream, report: Report, *, parts_key: str | None
) -> Iterator[dict[str, Any]]:
    """One entity's whole listing, hydrated by the stream, with merge tombstones for contacts.

    The caller sends ACTIVATE_VERSION when `report.tally(stream.name).complete` is true.
    """
    tally = report.tally(stream.name)
    started, requests_before = time.monotonic(), stream.requests
    for page in stream.reconcile_pages(tally):
        tally.listed += len(page)
        tombstones: list[dict[str, Any]] = []
        for record in page:
            tombstones.extend(merge_tombstones(record, fallback_at=report.started_at))
        sent = 0
        for record in stream.expand(page):
            if parts_key:
                tally.count_parts(record, parts_key)
            sent += 1
            yield record
        tally.sent += sent
        tally.vanished += len(page) - sent
        for tombstone in tombstones:
            tally.merged += 1
            yield tombstone
        tally.requests = stream.requests - requests_before
        tally.seconds = time.monotonic() - started
    tally.requests = stream.requests - requests_before
    tally.seconds = time.monotonic() - started
