"""Conversations with their parts, and the ids of deleted conversations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom import qa, search, timestamps
from tap_intercom.sdk_hooks import SdkStream
from tap_intercom.streams.base import OwnStateStream
from tap_intercom.streams.incremental import HydratedSearchStream, PartsStream
from tap_intercom.timestamps import iso

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class ConversationsStream(HydratedSearchStream):
    """Changed conversations from the search, each hydrated once for its parts.

    The record keeps every field of GET /conversations/{id} (plain-text bodies) except the parts
    array: `conversation_parts` holds Intercom's `total_count`, `returned_count` (parts the API
    gave) and `truncated` (Intercom returns at most the 500 most recent parts; true when
    `statistics.count_conversation_parts` says there were more).

    `monitor_evaluations` and `scorecards` (QA results) come only from the search, so they are
    carried from the search record into the hydrated one. A refresh by GET alone (a webhook
    follower) must not wipe them: `refresh` hydrates and asks the search for them, one search
    request per page of ids.
    """

    name = "conversations"
    primary_keys: ClassVar[list[str]] = ["id"]
    search_path = f"/conversations/search?{qa.QA_PARAMS}"
    records_key = "conversations"
    item_path = "/conversations/{id}"
    parts_key = "conversation_parts"
    part_parent_key = "conversation_id"
    confirm_searches = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Batches of changed conversation ids for children that take many at once
        #: (call_transcripts), keyed by the id of the conversation that closes the batch.
        self.call_batches: dict[str, list[str]] = {}
        self._open_batch: list[str] = []

    @override
    def item_params(self) -> dict[str, Any]:
        return {"display_as": "plaintext"}

    @override
    def _hydrate(self, record: dict[str, Any]) -> dict[str, Any] | None:
        full = super()._hydrate(record)
        return None if full is None else qa.merge_qa(full, record)

    def _batch_size(self) -> int:
        sizes = [getattr(c, "batch_size", 0) for c in self.child_streams if c.selected]
        return min([s for s in sizes if s] or [0])

    @override
    def expand(self, records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        size = self._batch_size()
        if not size:
            yield from super().expand(records)
            return
        # One record behind, so the last conversation of the page closes the open batch.
        held: dict[str, Any] | None = None
        for record in super().expand(records):
            if held is not None:
                yield self._batched(held, size, last=False)
            held = record
        if held is not None:
            yield self._batched(held, size, last=True)

    def _batched(self, record: dict[str, Any], size: int, *, last: bool) -> dict[str, Any]:
        conversation_id = str(record["id"])
        self._open_batch.append(conversation_id)
        if last or len(self._open_batch) >= size:
            self.call_batches[conversation_id], self._open_batch = self._open_batch, []
        return record

    def refresh(self, ids: list[str]) -> Iterator[dict[str, Any]]:
        """Conversations by id, current (GET) and with their QA fields (search): for a refresh
        outside the search sync. Records come in the order of `ids`, parts split off as in a
        sync; vanished ones are left out."""
        for start in range(0, len(ids), self.page_size):
            chunk = ids[start : start + self.page_size]
            body = search.search_body(qa.qa_query(chunk), per_page=self.page_size, cursor=None)
            listed = {
                str(c.get("id")): c
                for c in self.post(self.search_path, body).get(self.records_key) or []
            }
            hydrate = super()._hydrate  # the GET alone: the QA fields come from `listed`
            fetched = self.workers().map(hydrate, [{"id": i} for i in chunk])
            for conversation_id, full in zip(chunk, fetched, strict=True):
                if full is not None:
                    qa.merge_qa(full, listed.get(conversation_id, {}))
                    yield self._split_parts(full)

    @override
    def confirm(self, ids: list[str]) -> Iterator[tuple[str, dict[str, Any] | None]]:
        # As `refresh`: the QA fields come from the search (one request per page of ids; a
        # conversation a lagging search does not hold yet gets none, as a webhook refresh).
        found = self.refresh(ids)
        upcoming = next(found, None)
        for conversation_id in ids:
            if upcoming is not None and str(upcoming["id"]) == conversation_id:
                yield conversation_id, upcoming
                upcoming = next(found, None)
            else:
                yield conversation_id, None

    @override
    def stated_part_count(self, record: dict[str, Any], listing: dict[str, Any]) -> int:
        statistics = record.get("statistics") or {}
        counted = statistics.get("count_conversation_parts")
        return max(
            counted if isinstance(counted, int) else 0,
            super().stated_part_count(record, listing),
        )


class ConversationPartsStream(PartsStream):
    """Every part of every changed conversation, keyed on (conversation_id, id)."""

    name = "conversation_parts"
    parent_stream_type = ConversationsStream
    primary_keys: ClassVar[list[str]] = ["conversation_id", "id"]


class DeletedConversationsStream(OwnStateStream):
    """Ids of deleted conversations, newest first; each run stops at the known ones.

    GET /conversations/deleted pages by number (60 at most) in descending `deleted_at`, so the
    stream reads until it passes the bookmark minus the lookback.
    """

    name = "deleted_conversations"
    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = "deleted_at"
    min_version = "2.16"
    path = "/conversations/deleted"

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        bookmark = search.to_epoch(self.stream_state.get("replication_key_value"))
        since = 0 if bookmark is None else bookmark - self.host.settings.lookback_seconds
        newest = bookmark or 0
        params = {"per_page": 60, "order": "desc"}
        for page in self.pages(self.path, records_key="conversations", params=params):
            older = False
            for record in page:
                deleted_at = record.get("deleted_at") or 0
                if deleted_at < since:
                    older = True
                    break
                newest = max(newest, deleted_at)
                self.write_tombstone(record)
                yield record
            if older:
                break
        self.save_bookmark(iso(newest) if newest else None)

    def write_tombstone(self, record: dict[str, Any]) -> None:
        """A tombstone in `conversations` (Singer's `_sdc_deleted_at`) for a record of this
        stream: an archive marks the conversation and its parts deleted and keeps their data."""
        conversations = self.host.streams.get("conversations")
        if not isinstance(conversations, SdkStream) or not conversations.selected:
            return
        if "id" not in record:
            return
        conversations.write_schema_once()
        deleted_at = timestamps.to_iso(record.get("deleted_at") or int(time.time()))
        conversations.write_record({"id": str(record["id"]), "_sdc_deleted_at": deleted_at})
