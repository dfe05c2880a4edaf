"""The webhook drain: the queue's changed items, one GET by id each, into the usual streams.

The receiver (``intercom-webhooks``) queues notification ids, never bodies. A drain reads the
rows after the state's position, keeps the newest per item (fifty notifications of one item
between two drains cost one GET), fetches each item by id (current even while the search index
lags), and emits it as the item's own stream does: conversations (with their QA fields, see
``ConversationsStream.refresh``) and tickets with their parts, contacts with their complete tag
and company lists, companies. A 404 means deleted, a 410 merged (``Link: <…/contacts/{id}>;
rel="canonical"``, Intercom 2.17+; under 2.16 a merged contact answers 404 and the id it went
into comes from the ``contact.merged`` notification). Those become tombstones
(``_sdc_deleted_at``, and ``_sdc_merged_into_id`` for a merge, CONTRACTS.md); a deleted
conversation is also a ``deleted_conversations`` record.

Positions: after every batch the state holds ``bookmarks.webhook_queue.position``, the newest
row emitted. A tap never hears whether the target committed, so rows are pruned only at
start-up, and only up to the position of the *input* state (what the target committed before
this run began): pruning lags one restart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from tap_intercom.errors import Gone, NotFound, StreamUnavailable
from tap_intercom.streams.contacts import ContactsStream
from tap_intercom.streams.conversations import ConversationsStream, DeletedConversationsStream
from tap_intercom.streams.incremental import HydratedSearchStream
from tap_intercom.timestamps import iso
from tap_intercom.webhooks.queue import QueuedNotification, WebhookQueue

if TYPE_CHECKING:
    from tap_intercom.streams.base import IntercomStream
    from tap_intercom.tap import TapIntercom

STATE_KEY = "webhook_queue"  # bookmarks.webhook_queue.position
#: Each queued item type, its stream and its GET by id.
ITEMS = {
    "contact": ("contacts", "/contacts/{id}"),
    "conversation": ("conversations", "/conversations/{id}"),
    "ticket": ("tickets", "/tickets/{id}"),
    "company": ("companies", "/companies/{id}"),
}
#: Queue rows read per batch: a STATE after each, and SIGTERM is heard between two.
BATCH_ROWS = 500
#: Intercom documents a search-index delay of "a few minutes". A search sync may emit, for an
#: item changed this recently, a version older than the one a drain emitted before it: the
#: items notified this long before a sync are fetched again after it (``refetch_since``), so
#: rows received this recently are kept when the queue is pruned.
SEARCH_LAG_MARGIN = 600
_CANONICAL = re.compile(r"<([^>]*)>\s*;\s*rel=\"?canonical\"?")


@dataclass(frozen=True)
class Change:
    """One changed item of a drain: its newest notification and how many there were."""

    item_type: str
    item_id: str
    position: int
    topic: str
    merged_into_id: str | None
    #: When Intercom sent the newest notification (its clock, Unix seconds), if it said.
    notified_at: int | None
    notifications: int


def latest_changes(rows: Iterable[QueuedNotification]) -> list[Change]:
    """The newest notification per item, in the order of their newest positions (pure)."""
    found: dict[tuple[str, str], Change] = {}
    for row in rows:
        entry = row.entry
        key = (entry.item_type, entry.item_id)
        before = found.pop(key, None)
        found[key] = Change(
            item_type=entry.item_type,
            item_id=entry.item_id,
            position=row.position,
            topic=entry.topic,
            # A later notification (the merged-into user's update) does not lose the merge.
            merged_into_id=entry.merged_into_id or (before.merged_into_id if before else None),
            notified_at=entry.created_at,
            notifications=(before.notifications if before else 0) + 1,
        )
    return sorted(found.values(), key=lambda c: c.position)


def canonical_id(link: str | None) -> str | None:
    """The id at the end of a ``Link: <…/contacts/ID>; rel="canonical"`` header (pure)."""
    match = _CANONICAL.search(link or "")
    if not match:
        return None
    return match.group(1).rstrip("/").rsplit("/", 1)[-1] or None


@dataclass
class Fetched:
    """What one GET by id found: the body, or gone (deleted, or merged into another id)."""

    change: Change
    body: dict[str, Any] | None
    merged_into_id: str | None = None


@dataclass
class DrainResult:
    """The figures of one drain (or of every drain of a run, in ``Drainer.totals``)."""

    notifications: int = 0
    items: int = 0  # changed items, each fetched by one GET
    records: int = 0
    tombstones: int = 0
    position: int = 0

    def add(self, other: DrainResult) -> None:
        for f in fields(self):
            if f.name != "position":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.position = other.position


class Drainer:
    """Drains the queue into the tap's streams; one per tap run."""

    def __init__(self, tap: TapIntercom, queue_path: str, *, batch: int = BATCH_ROWS) -> None:
        self.tap = tap
        self.queue = WebhookQueue(queue_path)
        self.batch = batch
        self.input_position = self.position
        self._set_position(self.input_position)  # every state of the run carries it
        self.totals = DrainResult(position=self.position)

    # State.

    @property
    def position(self) -> int:
        bookmark = self.tap.state.get("bookmarks", {}).get(STATE_KEY) or {}
        value = bookmark.get("position")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def _set_position(self, position: int) -> None:
        with self.tap.output_lock:
            self.tap.state.setdefault("bookmarks", {})[STATE_KEY] = {"position": position}

    def write_state(self) -> None:
        with self.tap.output_lock:
            self.tap.state_writer.write_state(self.tap.state)

    def prune_committed(self) -> int:
        """Delete the rows at or before the input state's position (committed by the target
        before this run began) but those of the last ``SEARCH_LAG_MARGIN`` seconds, which the
        run's first search sync may need again; later rows stay until the next start-up."""
        if not self.input_position:
            return 0
        pruned = self.queue.prune(self.input_position, time.time() - SEARCH_LAG_MARGIN)
        if pruned:
            self.tap.logger.info(
                "webhooks: pruned %d queued notifications up to position %d",
                pruned,
                self.input_position,
            )
        return pruned

    # Drains.

    def drain(self, stop: Callable[[], bool] = lambda: False) -> DrainResult:
        """Everything queued after the position, a STATE with the new position after each
        batch; ``stop`` is asked between batches (SIGTERM in follow mode)."""
        result = DrainResult(position=self.position)
        while not stop():
            rows = self.queue.read(after=result.position, limit=self.batch)
            if not rows:
                break
            result.notifications += len(rows)
            self._apply(latest_changes(rows), result)
            result.position = rows[-1].position
            self._set_position(result.position)
            self.write_state()
        self.totals.add(result)
        if result.notifications:
            self.tap.logger.info(
                "webhooks: drained %d notifications of %d items: %d records, %d tombstones; "
                "queue position %d",
                result.notifications,
                result.items,
                result.records,
                result.tombstones,
                result.position,
            )
        return result

    def refetch_after_sync(self, sync_started: float) -> DrainResult:
        """Fetch again the drained items notified in the ``SEARCH_LAG_MARGIN`` before the
        search sync that started at ``sync_started`` (Unix seconds), or since, without moving
        the position: that sync's records of them can be older versions (search-index lag)
        than what a drain emitted before it. Rows after the position are the next drain's."""
        after = sync_started - SEARCH_LAG_MARGIN
        rows = self.queue.read_received(after=after, through=self.position)
        result = DrainResult(position=self.position)
        if rows:
            result.notifications = len(rows)
            self._apply(latest_changes(rows), result)
            self.tap.logger.info(
                "webhooks: fetched %d recently notified items again after the search sync",
                result.items,
            )
        self.totals.add(result)
        return result

    def close(self) -> None:
        self.queue.close()

    # Fetching and emitting.

    def _stream(self, item_type: str) -> IntercomStream | None:
        name = ITEMS[item_type][0] if item_type in ITEMS else None
        stream = self.tap.streams.get(name) if name else None
        if stream is None or not (stream.selected or stream.has_selected_descendents):
            return None
        return stream  # type: ignore[return-value]

    def _apply(self, changes: list[Change], result: DrainResult) -> None:
        """Fetch and emit the changes, one item type at a time."""
        for item_type in ITEMS:
            stream = self._stream(item_type)
            mine = [c for c in changes if c.item_type == item_type]
            if stream is None or not mine:
                continue
            result.items += len(mine)  # one GET by id each
            try:
                for item in self._fetch(stream, mine):
                    if item.body is None:
                        self._tombstone(stream, item)
                        result.tombstones += 1
                    else:
                        result.records += self._emit(stream, item.body)
            except StreamUnavailable as exc:
                # As the stream's own sync would meet it: its items cannot be read; say so.
                self.tap.logger.warning(
                    "webhooks: %s cannot be fetched by id: %s", stream.name, exc
                )

    def _fetch(self, stream: IntercomStream, changes: list[Change]) -> Iterator[Fetched]:
        if isinstance(stream, ConversationsStream):
            # The stream's own refresh: GET by id, with the QA fields only its search gives.
            ids = [c.item_id for c in changes]
            found = {str(r["id"]): r for r in stream.refresh(ids)}
            for change in changes:
                yield Fetched(change, found.get(change.item_id))
            return
        params = stream.item_params() if isinstance(stream, HydratedSearchStream) else None
        path = ITEMS[changes[0].item_type][1]

        def fetch(change: Change) -> Fetched:
            try:
                body = stream.get(path.format(id=change.item_id), params)
            except Gone as exc:
                return Fetched(change, None, canonical_id(exc.link) or change.merged_into_id)
            except NotFound:
                return Fetched(change, None, change.merged_into_id)
            return Fetched(change, body)

        # The tap's hydration threads (a sync shuts them down and the next use makes new ones).
        yield from self.tap.hydration_pool.map(fetch, changes)

    def _emit(self, stream: IntercomStream, body: dict[str, Any]) -> int:
        """One fetched item out as its stream's sync writes it (SCHEMA once, timestamps,
        selection, stream maps), then its parts into the parts streams; the records written."""
        if isinstance(stream, ConversationsStream):
            records: Iterable[dict[str, Any]] = [body]  # refresh has split its parts off
        elif isinstance(stream, HydratedSearchStream):
            records = [stream._split_parts(body)]
        elif isinstance(stream, ContactsStream):
            records = stream.expand([body])  # the complete tag and company lists
        else:
            records = [body]
        written = 0
        for record in records:
            record_id = str(record["id"])
            written += _write(stream, record)
            if isinstance(stream, HydratedSearchStream):
                for child in stream.parts_streams():
                    for part in child.fetch_records({child.parent_key: record_id}):
                        written += _write(child, part)
        return written

    def _tombstone(self, stream: IntercomStream, item: Fetched) -> None:
        """The key and ``_sdc_deleted_at`` (plus ``_sdc_merged_into_id``), as CONTRACTS.md
        says; a deleted conversation is also listed in ``deleted_conversations``."""
        change = item.change
        at = change.notified_at or int(time.time())
        if change.item_type == "conversation":
            deleted = self.tap.streams.get("deleted_conversations")
            assert isinstance(deleted, DeletedConversationsStream)
            listed = {"type": "conversation", "id": change.item_id, "deleted_at": at}
            if deleted.selected:
                _write(deleted, dict(listed))
            deleted.write_tombstone(listed)  # the one writer of conversation tombstones
            return
        record: dict[str, Any] = {"id": change.item_id, "_sdc_deleted_at": iso(at)}
        if change.item_type == "contact" and item.merged_into_id:
            record["_sdc_merged_into_id"] = item.merged_into_id
        if stream.selected:
            _write(stream, record)


def _write(stream: IntercomStream, record: dict[str, Any]) -> int:
    stream.write_schema_once()
    row = stream.post_process(record, None)
    if row is None:
        return 0
    stream.write_record(row)
    return 1
