"""When teammates paused and resumed handling conversations (opt-in, per changed conversation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom.streams.base import IntercomStream
from tap_intercom.streams.conversations import ConversationsStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class HandlingEventsStream(IntercomStream):
    """GET /conversations/{id}/handling_events for each conversation changed in this run (off
    by default: a request per changed conversation).

    The events have no id and the list no pages; the key is the tap's: (conversation_id,
    timestamp, type, teammate_id).
    """

    name = "handling_events"
    parent_stream_type = ConversationsStream
    primary_keys: ClassVar[list[str]] = ["conversation_id", "timestamp", "type", "teammate_id"]
    selected_by_default = False
    state_partitioning_keys: ClassVar[list[str]] = []

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        conversation_id = context["conversation_id"]
        body = self.get(f"/conversations/{conversation_id}/handling_events")
        for event in body.get("handling_events") or []:
            teammate = event.get("teammate") if isinstance(event.get("teammate"), dict) else {}
            event["conversation_id"] = conversation_id
            event["teammate_id"] = None if teammate.get("id") is None else str(teammate["id"])
            yield event
