"""The reconcile pass: whole listings that let the target mark what Intercom no longer holds.

With `reconcile: true` the contacts, conversations and tickets streams do not read their
incremental windows (their bookmarks stay as they were). Each lists the whole entity instead:

- contacts from `GET /contacts` (150 a page, `include_merge_history=true`, with the full tags
  and companies lists as in a normal run); every `merge_history` item of a user becomes a
  tombstone of the merged contact with `_sdc_merged_into_id`;
- conversations and tickets from an unfiltered search (created_at ascending, so updates during
  the pass do not reorder it), each hydrated again: parts that fell short in the archive are
  written whole, and the parts Intercom cannot give (its 500-part cap) are counted.

With `reconcile_archive` (archive mode, `run_archive_pass`) conversations and tickets are
checked against a snapshot of the archive read when their pass starts
(tap_intercom.archive_snapshot) instead: a listed record is hydrated only when the archive
lacks it, holds an older `updated_at`, or holds fewer parts than Intercom states (`refetch`);
an archived id the whole listing lacks is fetched by id, a 404 written as a tombstone. Nothing
equal is sent, so those listings end without ACTIVATE_VERSION (it would mark the equal rows).

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
from typing import Any, Literal, Protocol

from tap_intercom.search import to_epoch

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


@dataclass(frozen=True)
class Archived:
    """What the archive holds of one live conversation or ticket (archive_snapshot reads it)."""

    updated_at: int | None  # Unix seconds
    parts: int  # its live archived parts
    stated: int  # the part count Intercom stated when it was archived


Refetch = Literal["new", "changed", "short"]


def stated_in_listing(record: dict[str, Any]) -> int | None:
    """The part count a search record states (conversations carry their statistics)."""
    statistics = record.get("statistics")
    counted = statistics.get("count_conversation_parts") if isinstance(statistics, dict) else None
    return counted if isinstance(counted, int) and not isinstance(counted, bool) else None


def stated_parts(record: dict[str, Any], archived: Archived) -> int:
    """Parts Intercom says a listed record has: the listing's count, else the archived one."""
    listed = stated_in_listing(record)
    return archived.stated if listed is None else listed


def refetch(record: dict[str, Any], archived: Archived | None) -> Refetch | None:
    """Why a listed record must be hydrated again in archive mode, or None when the archive
    already equals it: not archived (`new`), changed since (`changed`: the listing's
    updated_at is newer), or short of parts under the cap (`short`)."""
    if archived is None:
        return "new"
    listed_at = to_epoch(record.get("updated_at"))
    if listed_at is not None and (archived.updated_at is None or listed_at > archived.updated_at):
        return "changed"
    if archived.parts < min(stated_parts(record, archived), PARTS_CAP):
        return "short"
    return None


def tombstone(record_id: str, at: float) -> dict[str, Any]:
    """A record gone from Intercom (its GET answered 404), as deleted_conversations writes."""
    return {"id": record_id, "_sdc_deleted_at": iso(at)}


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
    #: "listing" (every record sent, ended by ACTIVATE_VERSION) or "archive" (checked against
    #: the archive: only what differs is sent, no ACTIVATE_VERSION).
    mode: str = "listing"
    archived: int | None = None  # live records the archive held (archive mode)
    new: int = 0  # listed, not in the archive: hydrated
    changed: int = 0  # listed with a newer updated_at than the archive's: hydrated
    refetched_short: int = 0  # the archive held fewer parts than Intercom states: hydrated
    tombstoned: int = 0  # archived, absent from the listing, and answered 404
    confirmed: int = 0  # archived, absent from the listing, and answered 200 (a lagging listing)
    bound: int | None = None  # the most requests the pass may make (archive mode)

    def count_parts(self, record: dict[str, Any], parts_key: str) -> None:
        stated, returned = parts_state(record, parts_key)
        if stated > PARTS_CAP:
            self.over_cap += 1
        elif returned < stated:
            self.short += 1

    def count_refetch(self, reason: Refetch) -> None:
        if reason == "new":
            self.new += 1
        elif reason == "changed":
            self.changed += 1
        else:
            self.refetched_short += 1


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
                "mode": t.mode,
                "archive_count": t.archived,
                "refetched_new": t.new,
                "refetched_changed": t.changed,
                "refetched_short": t.refetched_short,
                "tombstoned": t.tombstoned,
                "confirmed_present": t.confirmed,
                "request_bound": t.bound,
            }
            for t in self.rows()
        ]

    def table(self) -> str:
        """The summary table the log shows."""
        head: list[object] = ["entity", "complete", "intercom", "archive", "sent", "new"]
        head += ["changed", "short", "tombstoned", "present", "merged", "vanished", "over cap"]
        head += ["cut short", "requests", "bound", "seconds"]
        body: list[list[object]] = []
        for t in self.rows():
            archive = "-" if t.archived is None else t.archived
            row: list[object] = [t.entity, "yes" if t.complete else "NO", t.listed, archive]
            row += [t.sent, t.new, t.changed, t.refetched_short, t.tombstoned, t.confirmed]
            row += [t.merged, t.vanished, t.over_cap, t.short, t.requests]
            row += ["-" if t.bound is None else t.bound, f"{t.seconds:.1f}"]
            body.append(row)
        rows = [[str(v) for v in row] for row in (head, *body)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        return "\n".join(
            "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows
        )


def _pages(n: int, size: int) -> int:
    """Listing pages of n records: one more for a last, empty page."""
    return math.ceil(n / size) + 1


def request_bound(
    *,
    contacts: int,
    conversations: int,
    tickets: int,
    companies: int,
    page_size: int = 150,
    scroll_page_size: int = 100,
    full_lists: int = 0,
    hydrated: bool = True,
) -> int:
    """The most requests a reconcile of these streams may make: one per listing page (and one
    more for a listing's last, empty page), one GET per conversation and ticket (`hydrated`;
    archive mode hydrates none of an equal archive: see `archive_bound`), the companies
    scroll, and `full_lists`: one per tags or companies list of a contact that holds more than
    the inline ten (as in any run that reads that contact)."""
    per_record = 1 if hydrated else 0
    return (
        _pages(contacts, page_size)
        + full_lists
        + _pages(conversations, page_size)
        + conversations * per_record
        + _pages(tickets, page_size)
        + tickets * per_record
        + _pages(companies, scroll_page_size)
        + 1  # the scroll's closing page
    )


def archive_bound(
    *, listed: int, refetched: int, confirmed: int, page_size: int, confirm_searches: bool
) -> int:
    """The most requests an archive-mode pass may make: its listing pages, one GET per record
    it refetches and per archived id it confirms, and (conversations) one search per page of
    confirmed ids for the QA fields only the search gives."""
    searches = math.ceil(confirmed / page_size) if confirm_searches else 0
    return _pages(listed, page_size) + refetched + confirmed + searches


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


class ArchivePassStream(PassStream, Protocol):
    """What an archive-mode pass uses besides (streams.incremental.HydratedSearchStream)."""

    @property
    def confirm_searches(self) -> bool:
        """Whether `confirm` asks the search too (one request per page of ids)."""

    def confirm(self, ids: list[str]) -> Iterator[tuple[str, dict[str, Any] | None]]: ...


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


def run_archive_pass(
    stream: ArchivePassStream,
    report: Report,
    archived: dict[str, Archived],
    *,
    parts_key: str,
) -> Iterator[dict[str, Any]]:
    """One entity's listing checked against the archive's snapshot `archived`: only what the
    archive lacks or holds stale is hydrated and sent; then the archived ids the whole listing
    lacked are fetched by id (a 404 becomes a tombstone). Ids created after the snapshot are
    not in it, so they are never marked. No ACTIVATE_VERSION is to follow."""
    tally = report.tally(stream.name)
    tally.mode, tally.archived = "archive", len(archived)
    started, requests_before = time.monotonic(), stream.requests
    unlisted = set(archived)
    refetched = 0
    for page in stream.reconcile_pages(tally):
        tally.listed += len(page)
        chosen: list[dict[str, Any]] = []
        for record in page:
            record_id = str(record.get("id"))
            unlisted.discard(record_id)
            known = archived.get(record_id)
            reason = refetch(record, known)
            if reason is not None:
                tally.count_refetch(reason)
                chosen.append(record)
            elif known is not None and stated_parts(record, known) > PARTS_CAP:
                tally.over_cap += 1
        refetched += len(chosen)
        sent = 0
        for full in stream.expand(chosen):
            tally.count_parts(full, parts_key)
            sent += 1
            yield full
        tally.sent += sent
        tally.vanished += len(chosen) - sent
        tally.requests = stream.requests - requests_before
    confirm = sorted(unlisted) if tally.complete else []
    if unlisted and not tally.complete:
        stream.logger.warning(
            "%s: the listing did not end normally; the %d archived ids it lacked are not "
            "checked (nothing is marked)",
            stream.name,
            len(unlisted),
        )
    for record_id, found in stream.confirm(confirm) if confirm else ():
        if found is None:
            tally.tombstoned += 1
            yield tombstone(record_id, time.time())
        else:
            tally.confirmed += 1
            tally.count_parts(found, parts_key)
            tally.sent += 1
            yield found
    tally.bound = archive_bound(
        listed=tally.listed,
        refetched=refetched,
        confirmed=len(confirm),
        page_size=stream.page_size,
        confirm_searches=stream.confirm_searches,
    )
    tally.requests = stream.requests - requests_before
    tally.seconds = time.monotonic() - started
