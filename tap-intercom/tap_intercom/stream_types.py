"""Every stream of the tap, in the order its catalog lists them (children after parents)."""

from __future__ import annotations

from singer_sdk import Stream

from tap_intercom.streams.admin_activity import AdminActivityLogsStream
from tap_intercom.streams.calls import CallsStream, CallTranscriptsStream
from tap_intercom.streams.companies import CompaniesStream
from tap_intercom.streams.contacts import ContactsStream, EventsStream, NotesStream
from tap_intercom.streams.conversations import (
    ConversationPartsStream,
    ConversationsStream,
    DeletedConversationsStream,
)
from tap_intercom.streams.handling_events import HandlingEventsStream
from tap_intercom.streams.help_center import ArticlesStream, CollectionsStream, HelpCentersStream
from tap_intercom.streams.inbox_settings import (
    AwayStatusReasonsStream,
    MacrosStream,
    OfficeHoursSchedulesStream,
)
from tap_intercom.streams.knowledge import ContentSnippetsStream, InternalArticlesStream
from tap_intercom.streams.reconcile_runs import ReconcileRunsStream
from tap_intercom.streams.ticket_types import TicketStatesStream, TicketTypesStream
from tap_intercom.streams.tickets import TicketPartsStream, TicketsStream
from tap_intercom.streams.workspace import (
    AdminsStream,
    DataAttributesStream,
    SegmentsStream,
    SubscriptionTypesStream,
    TagsStream,
    TeamsStream,
)

# The run syncs the top-level streams at once and reconcile_runs last (tap.py), whatever
# this order; it is the order of `--discover` and of the README's stream table.
STREAM_TYPES: list[type[Stream]] = [
    AdminsStream,
    TeamsStream,
    TagsStream,
    SegmentsStream,
    SubscriptionTypesStream,
    DataAttributesStream,
    CompaniesStream,
    ContactsStream,
    NotesStream,
    EventsStream,
    ConversationsStream,
    ConversationPartsStream,
    DeletedConversationsStream,
    TicketsStream,
    TicketPartsStream,
    ArticlesStream,
    CollectionsStream,
    HelpCentersStream,
    AdminActivityLogsStream,
    TicketTypesStream,
    TicketStatesStream,
    MacrosStream,
    AwayStatusReasonsStream,
    OfficeHoursSchedulesStream,
    InternalArticlesStream,
    ContentSnippetsStream,
    CallsStream,
    CallTranscriptsStream,
    HandlingEventsStream,
    ReconcileRunsStream,
]
