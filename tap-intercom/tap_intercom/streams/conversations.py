"""Conversations with their parts, and the ids of deleted conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom import search
from tap_intercom.streams.base import OwnStateStream
from tap_intercom.streams.incremental import HydratedSearchStream, PartsStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class ConversationsStream(HydratedSearchStream):
    """Changed conversations from the search, each hydrated once for its parts.

    The record keeps every field of GET /conversations/{id} (plain-text bodies) except the parts
    array: `conversation_parts` holds Intercom's `total_count`, `returned_count` (parts the API
    gave) and `truncated` (Intercom returns at most the 500 most recent parts; true when
    `statistics.count_conversation_parts` says there were more).
    """

    name = "conversations"
    primary_keys: ClassVar[list[str]] = ["id"]
    search_path = "/conversations/search"
    records_key = "conversations"
    item_path = "/conversations/{id}"
    parts_key = "conversation_parts"
    parts_stream_name = "conversation_parts"

    @override
    def item_params(self) -> dict[str, Any]:
        return {"display_as": "plaintext"}

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
    parent_key = "conversation_id"
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
        state = self.stream_state
        bookmark = search.to_epoch(state.get("replication_key_value"))
        since = 0 if bookmark is None else bookmark - self._intercom_tap.settings.lookback_seconds
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
                yield record
            if older:
                break
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = search.to_iso(newest) if newest else None
        self.state_manager.is_flushed = False
