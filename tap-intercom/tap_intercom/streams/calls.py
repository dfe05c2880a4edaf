"""Calls (opt-in): the full list, and the transcripts of the calls of changed conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_intercom.errors import NotFound
from tap_intercom.streams.base import FullTableStream, IntercomStream
from tap_intercom.streams.conversations import ConversationsStream
from tap_intercom.streams.knowledge import numbered_pages

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

#: GET /calls takes at most 25 per page; POST /calls/search at most 20 conversation ids.
CALLS_MAX_PER_PAGE = 25
CALL_SEARCH_MAX_IDS = 20


class CallsStream(FullTableStream):
    """GET /calls by page number, 25 a page. Intercom offers no date filter, so every run
    lists every call: off by default."""

    name = "calls"
    path = "/calls"
    primary_keys: ClassVar[list[str]] = ["id"]
    selected_by_default = False

    @override
    def list_records(self) -> Iterator[dict[str, Any]]:
        per_page = min(self.page_size, CALLS_MAX_PER_PAGE)
        for page in numbered_pages(self, self.path, per_page=per_page):
            yield from page


class CallTranscriptsStream(IntercomStream):
    """The calls of the conversations changed in this run, with their transcripts: one
    POST /calls/search per 20 changed conversations (off by default).

    The conversations stream hands over each batch of ids with the conversation that closes
    it (`ConversationsStream.call_batches`). A call the search lists with an empty transcript
    while its `transcription_url` is set gets the plain text of GET /calls/{id}/transcript in
    `transcript_text`.
    """

    name = "call_transcripts"
    parent_stream_type = ConversationsStream
    primary_keys: ClassVar[list[str]] = ["id"]
    selected_by_default = False
    state_partitioning_keys: ClassVar[list[str]] = []
    #: Tells the parent to batch conversation ids for this stream.
    batch_size: ClassVar[int] = CALL_SEARCH_MAX_IDS

    @override
    def fetch_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        parent = self.host.streams["conversations"]
        assert isinstance(parent, ConversationsStream)
        batch = parent.call_batches.pop(context["conversation_id"], None)
        if not batch:
            return
        body = self.post("/calls/search", {"conversation_ids": batch})
        for call in body.get("data") or []:
            if not call.get("transcript") and call.get("transcription_url"):
                try:
                    call["transcript_text"] = self.client.get_text(
                        f"/calls/{call['id']}/transcript"
                    )
                except NotFound:
                    call["transcript_text"] = None
                self._counted()
            yield call
