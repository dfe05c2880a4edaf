"""Tickets with their parts: the conversation pattern on /tickets/search and GET /tickets/{id}."""

from __future__ import annotations

from typing import ClassVar

from tap_intercom.streams.incremental import HydratedSearchStream, PartsStream


class TicketsStream(HydratedSearchStream):
    """Changed tickets, each hydrated once; `ticket_parts` keeps counts, not the array."""

    name = "tickets"
    primary_keys: ClassVar[list[str]] = ["id"]
    search_path = "/tickets/search"
    records_key = "tickets"
    item_path = "/tickets/{id}"
    parts_key = "ticket_parts"
    part_parent_key = "ticket_id"


class TicketPartsStream(PartsStream):
    """Every part of every changed ticket, keyed on (ticket_id, id)."""

    name = "ticket_parts"
    parent_stream_type = TicketsStream
    primary_keys: ClassVar[list[str]] = ["ticket_id", "id"]
