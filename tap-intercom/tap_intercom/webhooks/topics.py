"""The webhook topics the receiver queues, and how a notification names its item (pure).

Checked against Intercom's webhook models page for 2.16 (and the topic tables of earlier
versions and the changelogs, which list the same topics): every topic below changes a contact,
conversation, ticket or company the tap archives. Other topics (admins, articles, events, calls,
content stats, visitors...) are answered 200, counted as ignored, and not queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONTACT, CONVERSATION, TICKET, COMPANY = "contact", "conversation", "ticket", "company"

# topic -> the Intercom object type whose id the tap fetches
TOPICS: dict[str, str] = {
    # conversations (Read conversations)
    "conversation.user.created": CONVERSATION,
    "conversation.user.replied": CONVERSATION,
    "conversation.admin.replied": CONVERSATION,
    "conversation.admin.replied.translated": CONVERSATION,
    "conversation.admin.single.created": CONVERSATION,
    "conversation.admin.assigned": CONVERSATION,
    "conversation.admin.open.assigned": CONVERSATION,
    "conversation.admin.noted": CONVERSATION,
    "conversation.admin.closed": CONVERSATION,
    "conversation.admin.opened": CONVERSATION,
    "conversation.admin.snoozed": CONVERSATION,
    "conversation.admin.unsnoozed": CONVERSATION,
    "conversation.operator.replied": CONVERSATION,
    "conversation.priority.updated": CONVERSATION,
    "conversation.contact.attached": CONVERSATION,
    "conversation.contact.detached": CONVERSATION,
    "conversation.rating.added": CONVERSATION,
    "conversation_part.tag.created": CONVERSATION,
    "conversation_part.redacted": CONVERSATION,
    "conversation.deleted": CONVERSATION,
    # contacts (Read users and companies, or Read one user and one company)
    "contact.user.created": CONTACT,
    "contact.lead.created": CONTACT,
    "contact.user.updated": CONTACT,
    "contact.lead.updated": CONTACT,
    "contact.lead.signed_up": CONTACT,
    "contact.lead.added_email": CONTACT,
    "contact.email.updated": CONTACT,
    "contact.subscribed": CONTACT,
    "contact.unsubscribed": CONTACT,
    "contact.archived": CONTACT,
    "contact.unarchived": CONTACT,
    "contact.merged": CONTACT,
    "contact.deleted": CONTACT,
    "contact.user.tag.created": CONTACT,
    "contact.user.tag.deleted": CONTACT,
    "contact.lead.tag.created": CONTACT,
    "contact.lead.tag.deleted": CONTACT,
    # companies (Read users and companies, or Read one user and one company)
    "company.created": COMPANY,
    "company.updated": COMPANY,
    "company.deleted": COMPANY,
    # tickets (Read tickets)
    "ticket.created": TICKET,
    "ticket.state.updated": TICKET,
    "ticket.attribute.updated": TICKET,
    "ticket.admin.assigned": TICKET,
    "ticket.team.assigned": TICKET,
    "ticket.note.created": TICKET,
    "ticket.admin.replied": TICKET,
    "ticket.contact.replied": TICKET,
    "ticket.contact.attached": TICKET,
    "ticket.contact.detached": TICKET,
    "ticket.deleted": TICKET,
}

# The Developer Hub permission each group of topics needs (README's subscription table).
PERMISSIONS: dict[str, str] = {
    CONVERSATION: "Read conversations",
    CONTACT: "Read users and companies (or Read one user and one company)",
    COMPANY: "Read users and companies (or Read one user and one company)",
    TICKET: "Read tickets",
}

PING = "ping"


@dataclass(frozen=True)
class Item:
    """What a notification changed: object type, id, and what the payload says of it."""

    item_type: str
    item_id: str
    updated_at: int | None = None
    merged_into_id: str | None = None


class MalformedNotification(ValueError):
    """A signed body that is not a notification this receiver can read (answered 400)."""


def notification_item(topic: str, body: Mapping[str, Any]) -> Item:
    """The item a notification of a handled ``topic`` is about.

    ``data.item`` is the object itself (its ``type`` says which), a minimal
    ``{type, id}`` for ``*.deleted``, or a ``contact_tag`` holding ``contact`` for the
    ``contact.*.tag.*`` topics. A ``conversation_part`` item (``conversation_part.*`` topics,
    whose object the docs name "Conversation Part") is read through its ``conversation_id``.
    ``contact.merged``'s payload is not documented: the merged (source) contact is read from
    ``data.item.id`` and the surviving one from ``data.item.merged_into.id`` when present
    (a guess, which the emulator follows).
    """
    data = body.get("data")
    item = data.get("item") if isinstance(data, Mapping) else None
    if not isinstance(item, Mapping):
        raise MalformedNotification("no data.item")
    item_type = TOPICS[topic]
    kind = item.get("type")
    source: Mapping[str, Any] = item
    if kind == "contact_tag":
        contact = item.get("contact")
        source = contact if isinstance(contact, Mapping) else {}
        item_id = source.get("id")
    elif kind == "conversation_part":
        item_id = item.get("conversation_id") or _nested_id(item.get("conversation"))
        source = {}
    else:
        item_id = item.get("id")
    if item_id is None or isinstance(item_id, bool) or str(item_id) == "":
        raise MalformedNotification(f"no {item_type} id in data.item")
    updated = source.get("updated_at")
    merged_into = _nested_id(item.get("merged_into")) if topic == "contact.merged" else None
    return Item(
        item_type=item_type,
        item_id=str(item_id),
        updated_at=updated if isinstance(updated, int) and not isinstance(updated, bool) else None,
        merged_into_id=merged_into,
    )


def _nested_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("id") not in (None, ""):
        return str(value["id"])
    return None
