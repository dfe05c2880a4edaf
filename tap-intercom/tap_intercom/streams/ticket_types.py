"""Ticket setup: ticket types (with their attributes and states inline) and ticket states."""

from __future__ import annotations

from typing import ClassVar

from tap_intercom.streams.base import FullTableStream


class TicketTypesStream(FullTableStream):
    """GET /ticket_types: one request; each type holds its attributes and states."""

    name = "ticket_types"
    path = "/ticket_types"
    primary_keys: ClassVar[list[str]] = ["id"]


class TicketStatesStream(FullTableStream):
    """GET /ticket_states: one request; each state names the ticket types that use it."""

    name = "ticket_states"
    path = "/ticket_states"
    primary_keys: ClassVar[list[str]] = ["id"]
