"""Synthetic Singer input in the tap's output shapes: contacts, conversations and their parts.

Records follow the project's stream schemas (schemas/*.json): ISO-8601 timestamps, Intercom's
nesting, `custom_attributes` objects whose keys are data. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime
import json
import random
import typing as t
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
KEYS = {
    "contacts": ["id"],
    "conversations": ["id"],
    "conversation_parts": ["conversation_id", "id"],
}
STATE_EVERY = 150  # a state per API page, as the tap emits them
_EPOCH = 1_700_000_000


def _ts(rng: random.Random) -> str:
    seconds = _EPOCH + rng.randrange(0, 30_000_000)
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()


def _hex_id(rng: random.Random) -> str:
    """An id shaped like Intercom's contact ids: 24 hexadecimal digits."""
    return f"{rng.getrandbits(96):024x}"


def _words(rng: random.Random, n: int) -> str:
    vocabulary = ("hello", "order", "refund", "thanks", "invoice", "login", "déjà", "vu", "🙂")
    return " ".join(rng.choice(vocabulary) for _ in range(n))


def _custom_attributes(rng: random.Random) -> dict[str, t.Any]:
    return {
        "plan": rng.choice(["free", "pro", "enterprise"]),
        "seats": rng.randrange(1, 500),
        "mrr": round(rng.random() * 1000, 2),
        "beta_user": rng.random() < 0.3,
        "signup_source": rng.choice(["ads", "organic", None]),
        f"attr_{rng.randrange(40)}": _words(rng, 2),
    }


def contact(rng: random.Random, n: int) -> dict[str, t.Any]:
    contact_id = _hex_id(rng)
    return {
        "type": "contact",
        "id": contact_id,
        "workspace_id": "ecahpwf5",
        "external_id": f"user-{n}",
        "role": rng.choice(["user", "lead"]),
        "email": f"person{n}@example.com",
        "email_domain": "example.com",
        "phone": f"+3531{n:07d}",
        "name": f"Person {n}",
        "owner_id": rng.choice([None, 991267]),
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": rng.random() < 0.1,
        "created_at": _ts(rng),
        "updated_at": _ts(rng),
        "signed_up_at": _ts(rng),
        "last_seen_at": _ts(rng),
        "last_replied_at": _ts(rng),
        "last_contacted_at": _ts(rng),
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        "language_override": None,
        "browser": "chrome",
        "browser_version": "120.0",
        "browser_language": "en",
        "os": "OS X 14",
        "location": {
            "type": "location",
            "country": "Ireland",
            "region": "Dublin",
            "city": "Dublin",
            "country_code": "IRL",
            "continent_code": "EU",
        },
        "android_app_name": None,
        "ios_app_name": None,
        "custom_attributes": _custom_attributes(rng),
        "avatar": {"type": "avatar", "image_url": None},
        "tags": {
            "type": "list",
            "data": [
                {"type": "tag", "id": str(rng.randrange(1000)), "url": "/tags/1"}
                for _ in range(rng.randrange(3))
            ],
            "url": f"/contacts/{contact_id}/tags",
            "total_count": 2,
            "has_more": False,
        },
        "companies": {
            "type": "list",
            "data": [{"type": "company", "id": f"c{rng.randrange(500)}", "url": "/companies/1"}],
            "url": f"/contacts/{contact_id}/companies",
            "total_count": 1,
            "has_more": False,
        },
        "social_profiles": {"type": "list", "data": []},
        "utm_source": rng.choice([None, "newsletter"]),
    }


def conversation(rng: random.Random, n: int, parts: int) -> dict[str, t.Any]:
    created = _ts(rng)
    return {
        "type": "conversation",
        "id": str(10_000_000 + n),
        "title": None,
        "created_at": created,
        "updated_at": _ts(rng),
        "waiting_since": None,
        "snoozed_until": None,
        "open": rng.random() < 0.2,
        "state": rng.choice(["open", "closed", "snoozed"]),
        "read": True,
        "priority": "not_priority",
        "admin_assignee_id": rng.choice([None, 991267, 991268]),
        "team_assignee_id": rng.choice([None, 5017691]),
        "tags": {
            "type": "tag.list",
            "tags": [
                {
                    "type": "tag",
                    "id": str(rng.randrange(1000)),
                    "name": _words(rng, 1),
                    "applied_at": _ts(rng),
                    "applied_by": {"type": "admin", "id": "991267"},
                }
                for _ in range(rng.randrange(4))
            ],
        },
        "conversation_rating": {
            "rating": rng.randrange(1, 6),
            "remark": None,
            "created_at": _ts(rng),
        },
        "source": {
            "type": "conversation",
            "id": str(rng.randrange(10**9)),
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": f"<p>{_words(rng, 30)}</p>",
            "author": {
                "type": "user",
                "id": _hex_id(rng),
                "name": "Person",
                "email": "person@example.com",
            },
            "attachments": [
                {
                    "type": "upload",
                    "name": "screenshot.png",
                    "url": "https://example.com/a.png",
                    "content_type": "image/png",
                    "filesize": rng.randrange(10**6),
                    "width": 800,
                    "height": 600,
                }
                for _ in range(rng.randrange(2))
            ],
            "url": None,
            "redacted": False,
        },
        "contacts": {
            "type": "contact.list",
            "contacts": [{"type": "contact", "id": _hex_id(rng), "external_id": None}],
        },
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": "991267"}]},
        "custom_attributes": _custom_attributes(rng),
        "first_contact_reply": {"created_at": created, "type": "conversation", "url": None},
        "statistics": {
            "type": "conversation_statistics",
            "time_to_assignment": 0,
            "time_to_admin_reply": rng.randrange(10_000),
            "time_to_first_close": rng.randrange(100_000),
            "first_contact_reply_at": created,
            "first_assignment_at": created,
            "first_admin_reply_at": _ts(rng),
            "first_close_at": _ts(rng),
            "last_assignment_at": _ts(rng),
            "last_contact_reply_at": _ts(rng),
            "last_admin_reply_at": _ts(rng),
            "last_close_at": _ts(rng),
            "last_closed_by_id": "991267",
            "count_reopens": rng.randrange(3),
            "count_assignments": rng.randrange(3),
            "count_conversation_parts": parts,
        },
        "conversation_parts": {
            "type": "conversation_part.list",
            "total_count": parts,
            "returned_count": parts,
            "truncated": False,
        },
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent_participated": False,
    }


def part(rng: random.Random, conversation_record: dict[str, t.Any], n: int) -> dict[str, t.Any]:
    return {
        "type": "conversation_part",
        "id": str(rng.randrange(10**10)) + str(n),
        "conversation_id": conversation_record["id"],
        "part_type": rng.choice(["comment", "note", "assignment", "close"]),
        "body": f"<p>{_words(rng, rng.randrange(5, 40))}</p>",
        "created_at": _ts(rng),
        "updated_at": _ts(rng),
        "notified_at": _ts(rng),
        "assigned_to": rng.choice([None, {"type": "admin", "id": "991267"}]),
        "author": {
            "id": "991267",
            "type": "admin",
            "name": "Teammate",
            "email": "teammate@example.com",
            "from_ai_agent": False,
            "is_ai_answer": False,
        },
        "attachments": [
            {
                "type": "upload",
                "name": "a.pdf",
                "url": "https://example.com/a.pdf",
                "content_type": "application/pdf",
                "filesize": 1234,
                "width": None,
                "height": None,
            }
        ]
        if rng.random() < 0.1
        else [],
        "external_id": None,
        "redacted": False,
    }


def _schema_line(stream: str) -> str:
    schema = json.loads((SCHEMAS / f"{stream}.json").read_text())
    return json.dumps(
        {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": KEYS[stream]}
    )


def _record_line(stream: str, record: dict[str, t.Any]) -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def write_contacts(path: Path, count: int, seed: int = 1) -> int:
    """A contacts sync of `count` records; returns the record count."""
    rng = random.Random(seed)
    with path.open("w") as out:
        out.write(_schema_line("contacts") + "\n")
        for n in range(count):
            out.write(_record_line("contacts", contact(rng, n)) + "\n")
            if (n + 1) % STATE_EVERY == 0:
                out.write(json.dumps({"type": "STATE", "value": {"contacts": n}}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"contacts": count}}) + "\n")
    return count


def write_conversations(path: Path, count: int, parts_each: int = 20, seed: int = 2) -> int:
    """`count` hydrated conversations, each followed by its parts; returns all records."""
    rng = random.Random(seed)
    records = 0
    with path.open("w") as out:
        out.write(_schema_line("conversations") + "\n")
        out.write(_schema_line("conversation_parts") + "\n")
        for n in range(count):
            record = conversation(rng, n, parts_each)
            out.write(_record_line("conversations", record) + "\n")
            for i in range(parts_each):
                out.write(_record_line("conversation_parts", part(rng, record, i)) + "\n")
            records += 1 + parts_each
            if (n + 1) % STATE_EVERY == 0:
                out.write(json.dumps({"type": "STATE", "value": {"conversations": n}}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"conversations": count}}) + "\n")
    return records
