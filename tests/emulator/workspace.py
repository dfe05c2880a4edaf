"""A seeded, synthetic Intercom workspace: the live data model behind the emulator.

Everything is derived from ``WorkspaceSpec.seed`` and an anchor time, so the same seed and
anchor give the same workspace. Each record is kept as a *core* dict; the API shape is rendered
from it on demand. For most entities the core is the record itself. Conversations and tickets
keep only the fields that change and that searches filter on; everything else (source, tags,
statistics, rating, parts...) is derived from ``seed + id`` when rendered, and conversation and
ticket parts are generated lazily per request from ``seed + id + count of added parts``. That
keeps a 100,000-conversation workspace in memory.

Cores are copy-on-write: a mutation replaces the core dict and never changes one in place, so a
rendered record can be serialised outside the lock, and the search index can keep the previous
core (search-index lag) by reference.

All names, e-mails and texts are synthetic.
"""

from __future__ import annotations

import html
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

Record = dict[str, Any]

DAY = 86_400
PARTS_CAP = 500  # GET /conversations/{id} returns at most this many (the most recent) parts
INLINE_CAP = 10  # contact tags/notes/companies hold at most this many items inline
EVENT_WINDOW = 90 * DAY  # GET /events lists only events younger than this
HISTORY_KEEP = 3_600.0  # seconds of per-record change history kept for search-index lag
PART_ID_STRIDE = 100_000  # part id = parent numeric id * stride + index

# Custom attribute names that break naive normalizers: spaces, dots, unicode, SQL keywords,
# names equal but for case.
CONTACT_CUSTOM_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("Plan", "string"),
    ("plan", "string"),
    ("account tier", "string"),
    ("signup.source", "string"),
    ("größe", "integer"),
    ("日本語の名前", "string"),
    ("select", "string"),
    ("order", "integer"),
    ("emoji 🎉", "boolean"),
    ("lifetime_value", "float"),
    ("renewal_date", "date"),
)
COMPANY_CUSTOM_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("Region", "string"),
    ("region", "string"),
    ("employees.count", "integer"),
    ("tier ★", "string"),
    ("group", "string"),
    ("churn_risk", "float"),
)
CONTACT_TIMESTAMP_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "signed_up_at",
        "last_seen_at",
        "last_replied_at",
        "last_contacted_at",
        "last_email_opened_at",
        "last_email_clicked_at",
    }
)

_FIRST = ("Ada", "Björn", "Chloé", "Dmitri", "Eşref", "Fatima", "Grace", "Hiro", "Ingrid", "José")
_LAST = ("Lovelace", "Ångström", "O'Brien", "Nakamura", "Müller", "Zhang", "Dubois", "Kowalski")
_WORDS = (
    "billing",
    "refund",
    "login",
    "export",
    "invoice",
    "naïve café",
    "crème brûlée",
    "日本",
    "😀 emoji",
    "“smart quotes”",
    "select",
    "drop table",
)
_PLANS = ("free", "starter", "pro", "enterprise")
_INDUSTRIES = ("software", "retail", "logistics", "health", "education", None)
_EVENT_NAMES = ("signed-in", "viewed-pricing", "invited-friend", "exported-report", "paid")


# Words that occur in about one part body in 89 (by part id): full-text search tests look
# them up. Picked without a draw from the generator, so the rest of the workspace is unchanged.
RARE_WORDS = ("flibbertigibbet", "quokka", "zyzzyva", "sesquipedalian", "Ångström")


def rare_word(key: int) -> str | None:
    """The rare word of the part with this id, if it has one."""
    return RARE_WORDS[key // 89 % len(RARE_WORDS)] if key % 89 == 5 else None


def _html_body(rng: random.Random, n: int, key: int | None = None) -> str:
    word = _WORDS[rng.randrange(len(_WORDS))]
    body = (
        f"<p>Message {n} about {html.escape(word)} &amp; more — ‘quoted’ "
        f'and "double" 🎉</p><p>Second <b>line</b> with <a href="https://example.test/{n}">'
        f"a link</a></p>"
    )
    rare = None if key is None else rare_word(key)
    return body if rare is None else f"{body}<p>Also <i>{html.escape(rare)}</i>.</p>"


_TAG_RE = re.compile(r"<[^>]+>")

# Webhook topics of the generic mutations (contacts' depend on the role: see _contact_topic).
_CREATE_TOPICS = {
    "companies": "company.created",
    "conversations": "conversation.user.created",
    "tickets": "ticket.created",
}
_UPDATE_TOPICS = {
    "companies": "company.updated",
    "conversations": "conversation.priority.updated",  # update() changes priority and read
    "tickets": "ticket.attribute.updated",  # update() changes the title
}
# A redacted part keeps its id; what Intercom leaves of it is a guess: no body, no attachments.
_REDACTED: dict[str, Any] = {"redacted": True, "body": None, "attachments": []}


def to_plaintext(body: str | None) -> str | None:
    """What ``display_as=plaintext`` does to an HTML body: tags out, entities decoded."""
    if body is None:
        return None
    text = body.replace("</p><p>", "\n")
    return html.unescape(_TAG_RE.sub("", text))


def _identity(core: Record) -> Record:
    return core


def _hex_id(prefix: int, seed: int, n: int) -> str:
    return f"{prefix:02x}{seed % 2**24:06x}{n:016x}"


@dataclass
class WorkspaceSpec:
    """Sizes and shape of a synthetic workspace. ``anchor`` is unix seconds (default: now)."""

    seed: int = 1
    anchor: int | None = None
    admins: int = 12
    teams: int = 4
    tags: int = 30
    segments: int = 8
    subscription_types: int = 3
    companies: int = 200
    contacts: int = 1000
    conversations: int = 500
    tickets: int = 100
    articles: int = 20
    collections: int = 5
    help_centers: int = 1
    parts_mean: int = 20
    timezone: str = "Europe/Berlin"
    cluster_size: int = 300  # contacts sharing one updated_at (capped at half the contacts)
    conversation_cluster_size: int = 400  # conversations sharing one updated_at (cap: 80 %)
    long_conversations: int = 3  # conversations with more than PARTS_CAP parts
    deleted_conversations: int = 5  # already deleted when the workspace is generated
    notes_mean: int = 2
    events_mean: int = 6
    recent_fraction: float = 0.01  # share of records updated in the last ten minutes
    history_days: int = 730


@dataclass
class _Change:
    at: float  # real clock (time.time()) of the change
    previous: Record | None  # the core the search index still shows until the lag passes


class Workspace:
    """The live, thread-safe model. All public methods take the lock."""

    SEARCHABLE = ("contacts", "conversations", "tickets")
    MUTABLE = ("contacts", "companies", "conversations", "tickets")

    def __init__(self, spec: WorkspaceSpec | None = None) -> None:
        self.spec = spec or WorkspaceSpec()
        self.anchor = int(self.spec.anchor if self.spec.anchor is not None else time.time())
        self.tz = ZoneInfo(self.spec.timezone)
        self.lock = threading.RLock()
        self._started = time.monotonic()
        self._data: dict[str, dict[str, Record]] = {}
        self._history: dict[str, dict[str, list[_Change]]] = {}
        self._deleted_conversations: dict[str, int] = {}
        self._counters: dict[str, int] = {}
        self._mutation_rng = random.Random(f"{self.spec.seed}/mutations")
        self.version = 0  # bumped by every mutation (search results are cached per version)
        self.last_change = 0.0  # real clock of the last mutation
        # Called as listener(topic, item) for every mutation, under the lock (so in the order
        # of the changes): the webhook delivery subscribes here. Listeners must not block.
        self.listeners: list[Callable[[str, Record], None]] = []
        self._archived: dict[str, Record] = {}  # archived contacts: GET answers 404 (a guess)
        self._merged: dict[str, str] = {}  # merged contact id -> the contact it went into
        # user id -> its merge_history items, oldest first (GET /contacts?include_merge_history)
        self._merge_history: dict[str, list[Record]] = {}
        self._renderers: dict[str, Callable[[Record], Record]] = {
            "conversations": self._render_conversation,
            "tickets": self._render_ticket,
            "contacts": self._render_contact,
            "notes": self._render_note,
            "admins": self._render_admin,
        }
        self._generate()

    # ----------------------------------------------------------------- clock
    def now(self) -> int:
        """The workspace's present: the anchor plus the real time elapsed since generation."""
        return self.anchor + int(time.monotonic() - self._started)

    def day_start(self, ts: float) -> int:
        """Unix seconds of the start of the calendar day holding ``ts`` in the workspace zone."""
        local = datetime.fromtimestamp(ts, self.tz)
        return int(datetime(local.year, local.month, local.day, tzinfo=self.tz).timestamp())

    def next_day_start(self, ts: float) -> int:
        local = datetime.fromtimestamp(ts, self.tz).date() + timedelta(days=1)
        return int(datetime(local.year, local.month, local.day, tzinfo=self.tz).timestamp())

    # ------------------------------------------------------------ generation
    def _next_id(self, entity: str) -> int:
        n = self._counters.get(entity, 0)
        self._counters[entity] = n + 1
        return n

    def _spread(self, rng: random.Random) -> tuple[int, int]:
        """(created_at, updated_at) spread over the history window before the anchor."""
        start = self.anchor - self.spec.history_days * DAY
        created = rng.randint(start, self.anchor - 3_600)
        if rng.random() < self.spec.recent_fraction:
            return created, rng.randint(self.anchor - 600, self.anchor)
        return created, rng.randint(created, self.anchor - 900)

    def _generate(self) -> None:
        s = self.spec
        rng = random.Random(s.seed)
        for name in (
            "admins",
            "teams",
            "tags",
            "segments",
            "subscription_types",
            "data_attributes",
            "conversation_attributes",
            "companies",
            "contacts",
            "notes",
            "conversations",
            "tickets",
            "articles",
            "collections",
            "help_centers",
        ):
            self._data[name] = {}
            self._history[name] = {}
        for _ in range(s.admins):
            self._add_admin(rng)
        for _ in range(s.teams):
            self._add_team(rng)
        for _ in range(s.tags):
            self._add_tag(rng)
        for _ in range(s.segments):
            self._add_segment(rng)
        for _ in range(s.subscription_types):
            self._add_subscription_type()
        self._add_data_attributes()
        for _ in range(s.companies):
            self._add_company(rng)
        for _ in range(s.contacts):
            self._add_contact(rng)
        self._share_an_email_across_case()
        self._cluster(rng, "contacts", min(s.cluster_size, s.contacts // 2))
        self._count_company_users()
        for _ in range(s.conversations):
            self._add_conversation(rng)
        conversation_ids = list(self._data["conversations"])
        for cid in rng.sample(conversation_ids, min(s.long_conversations, len(conversation_ids))):
            core = self._data["conversations"][cid]
            core["_parts"] = (rng.randint(PARTS_CAP + 20, PARTS_CAP + 400), *core["_parts"][1:])
        self._cluster(
            rng, "conversations", min(s.conversation_cluster_size, int(s.conversations * 0.8))
        )
        for n in range(s.deleted_conversations):
            self._deleted_conversations[str(99_000_000 + n)] = rng.randint(
                self.anchor - 60 * DAY, self.anchor - DAY
            )
        for _ in range(s.tickets):
            self._add_ticket(rng)
        for _ in range(s.help_centers):
            self._add_help_center()
        for _ in range(s.collections):
            self._add_collection(rng)
        for _ in range(s.articles):
            self._add_article(rng)

    def _share_an_email_across_case(self) -> None:
        """The first lead gets the first user's email in other case: Intercom keeps a user and
        a lead apart even when their emails differ only in case (lookups must find both)."""
        contacts = list(self._data["contacts"].values())
        user = next((c for c in contacts if c["role"] == "user"), None)
        lead = next((c for c in contacts if c["role"] == "lead"), None)
        if user is not None and lead is not None:
            lead["email"] = user["email"].title()

    def _cluster(self, rng: random.Random, entity: str, size: int) -> None:
        """Give ``size`` records one shared updated_at, as bulk imports and workflows do."""
        if size < 2:
            return
        at = self.anchor - rng.randint(2 * DAY, 30 * DAY)
        for rid in rng.sample(list(self._data[entity]), size):
            core = self._data[entity][rid]
            core["created_at"] = min(core["created_at"], at)
            core["updated_at"] = at
            if "_parts" in core:
                core["_parts"] = (core["_parts"][0], core["created_at"], at)

    def _add_admin(self, rng: random.Random) -> None:
        n = self._next_id("admins")
        team_count = max(self.spec.teams, 1)
        teams = sorted({7_000_000 + rng.randrange(team_count) for _ in range(rng.randint(0, 2))})
        name = f"{_FIRST[n % len(_FIRST)]} {_LAST[n % len(_LAST)]} {n}"
        aid = str(5_000_000 + n)
        self._data["admins"][aid] = {
            "type": "admin",
            "id": aid,
            "name": name,
            "email": f"admin{n}@example.test",
            "job_title": rng.choice(("Support", "Success", "Sales", "Engineer")),
            "away_mode_enabled": rng.random() < 0.1,
            "away_mode_reassign": False,
            "away_status_reason_id": None,
            "has_inbox_seat": rng.random() < 0.9,
            "team_ids": teams if self.spec.teams else [],
            "_avatar_url": None if n % 3 else f"https://static.example.test/avatars/{n}.png",
            "team_priority_level": {"primary_team_ids": teams, "secondary_team_ids": []},
        }

    def _add_team(self, rng: random.Random) -> None:
        n = self._next_id("teams")
        tid = 7_000_000 + n
        members = [int(a["id"]) for a in self._data["admins"].values() if tid in a["team_ids"]]
        self._data["teams"][str(tid)] = {
            "type": "team",
            "id": str(tid),
            "name": f"Team {n} — {rng.choice(('Support', 'VIP', 'Billing', 'Nachtschicht'))}",
            "admin_ids": members,
            "admin_priority_level": {"primary_admin_ids": members, "secondary_admin_ids": []},
            "assignment_limit": None,
            "distribution_method": "round_robin",
        }

    def _add_tag(self, rng: random.Random) -> None:
        n = self._next_id("tags")
        tid = str(9_000_000 + n)
        word = _WORDS[rng.randrange(len(_WORDS))]
        self._data["tags"][tid] = {"type": "tag", "id": tid, "name": f"{word} {n}"}

    def _add_segment(self, rng: random.Random) -> None:
        n = self._next_id("segments")
        sid = _hex_id(0x5E, self.spec.seed, n)
        created, updated = self._spread(rng)
        self._data["segments"][sid] = {
            "type": "segment",
            "id": sid,
            "name": f"Segment {n}: {_WORDS[n % len(_WORDS)]}",
            "created_at": created,
            "updated_at": updated,
            "person_type": "user" if n % 2 else "contact",
            "count": rng.randint(0, 500),
        }

    def _add_subscription_type(self) -> None:
        n = self._next_id("subscription_types")
        translation = {
            "name": f"Newsletter {n} ✉",
            "description": "Product news, “rarely”",
            "locale": "en",
        }
        self._data["subscription_types"][str(100 + n)] = {
            "type": "subscription",
            "id": str(100 + n),
            "state": ("live", "draft", "archived")[n % 3],
            "default_translation": translation,
            "translations": [translation],
            "consent_type": "opt_out" if n % 2 == 0 else "opt_in",
            "content_types": ["email"] if n % 2 == 0 else ["email", "sms_message"],
        }

    def _add_data_attributes(self) -> None:
        standard = {
            "contact": (("name", "string"), ("email", "string"), ("created_at", "date")),
            "company": (("name", "string"), ("company_id", "string"), ("size", "integer")),
        }
        custom = {"contact": CONTACT_CUSTOM_ATTRIBUTES, "company": COMPANY_CUSTOM_ATTRIBUTES}
        ts = self.anchor - 400 * DAY
        n = 0
        for model in ("contact", "company"):
            for name, dtype in standard[model]:
                key = f"{model}.{name}"
                self._data["data_attributes"][key] = {
                    "type": "data_attribute",
                    "model": model,
                    "name": name,
                    "full_name": name,
                    "label": name.replace("_", " ").title(),
                    "description": f"Standard {model} attribute",
                    "data_type": dtype,
                    "api_writable": False,
                    "ui_writable": False,
                    "messenger_writable": False,
                    "custom": False,
                    "archived": False,
                }
            for name, dtype in custom[model]:
                n += 1
                key = f"{model}.custom_attributes.{name}"
                self._data["data_attributes"][key] = {
                    "type": "data_attribute",
                    "id": 30_000 + n,
                    "model": model,
                    "name": name,
                    "full_name": f"custom_attributes.{name}",
                    "label": name,
                    "description": f"Custom {model} attribute “{name}”",
                    "data_type": dtype,
                    "api_writable": True,
                    "ui_writable": True,
                    "messenger_writable": False,
                    "custom": True,
                    "archived": False,
                    "created_at": ts + n,
                    "updated_at": ts + n * 3_600,
                    "admin_id": next(iter(self._data["admins"]), "0"),
                }
        kinds = ("string", "integer", "list", "decimal", "boolean", "datetime")
        for i, dtype in enumerate(kinds):
            attr: Record = {
                "type": "conversation_attribute",
                "id": 40_000 + i,
                "name": f"Conversation {dtype} ✓",
                "description": "",
                "data_type": dtype,
                "required": False,
                "visible_to_team_ids": [],
                "archived": False,
                "created_at": ts + i,
                "updated_at": ts + i,
                "admin_id": next(iter(self._data["admins"]), "0"),
            }
            if dtype == "list":
                attr["options"] = [
                    {"id": str(41_000 + k), "label": label, "archived": False}
                    for k, label in enumerate(("Bug", "Question", "Feature request"))
                ]
            if dtype == "string":
                attr["multiline"] = False
            self._data["conversation_attributes"][str(40_000 + i)] = attr

    def _custom_values(self, rng: random.Random, attrs: tuple[tuple[str, str], ...]) -> Record:
        out: Record = {}
        for name, dtype in attrs:
            if rng.random() < 0.15:
                out[name] = None
            elif dtype == "string":
                out[name] = f"{_WORDS[rng.randrange(len(_WORDS))]} {rng.randint(0, 99)}"
            elif dtype == "integer":
                out[name] = rng.randint(-5, 10_000)
            elif dtype == "float":
                out[name] = round(rng.uniform(0, 5_000), 2)
            elif dtype == "boolean":
                out[name] = rng.random() < 0.5
            else:
                out[name] = self.anchor - rng.randint(0, 300) * DAY
        return out

    def _add_company(self, rng: random.Random, at: int | None = None) -> str:
        n = self._next_id("companies")
        cid = _hex_id(0x67, self.spec.seed, n)
        created, updated = (at, at) if at is not None else self._spread(rng)
        tags = list(self._data["tags"].values())
        segments = list(self._data["segments"].values())
        plan = rng.randrange(len(_PLANS))
        self._data["companies"][cid] = {
            "type": "company",
            "id": cid,
            "name": f"{_LAST[n % len(_LAST)]} & Co {n} “GmbH”",
            "app_id": "emu" + str(self.spec.seed),
            "plan": {"type": "plan", "id": str(800 + plan), "name": _PLANS[plan]},
            "company_id": f"cmp-{n}",
            "remote_created_at": created - DAY,
            "created_at": created,
            "updated_at": updated,
            "last_request_at": updated,
            "size": rng.randint(1, 5_000),
            "website": f"https://company{n}.example.test",
            "industry": _INDUSTRIES[n % len(_INDUSTRIES)] or "",
            "monthly_spend": rng.randint(0, 20_000),
            "session_count": rng.randint(0, 900),
            "user_count": 0,
            "custom_attributes": self._custom_values(rng, COMPANY_CUSTOM_ATTRIBUTES),
            "tags": {
                "type": "tag.list",
                "tags": [
                    {"type": "tag", "id": t["id"], "name": t["name"]}
                    for t in rng.sample(tags, min(len(tags), rng.randint(0, 3)))
                ],
            },
            "segments": {
                "type": "segment.list",
                "segments": rng.sample(segments, min(len(segments), rng.randint(0, 2))),
            },
        }
        return cid

    def _count_company_users(self) -> None:
        counts: dict[str, int] = {}
        for contact in self._data["contacts"].values():
            for cid in contact["_company_ids"]:
                counts[cid] = counts.get(cid, 0) + 1
        for cid, core in self._data["companies"].items():
            core["user_count"] = counts.get(cid, 0)

    def _add_contact(self, rng: random.Random, at: int | None = None) -> str:
        n = self._next_id("contacts")
        cid = _hex_id(0x66, self.spec.seed, n)
        created, updated = (at, at) if at is not None else self._spread(rng)
        role = "user" if rng.random() < 0.8 else "lead"
        tag_ids = list(self._data["tags"])
        company_ids = list(self._data["companies"])
        many = rng.random() < 0.03  # more than INLINE_CAP tags and companies
        n_tags = rng.randint(11, 15) if many else rng.randint(0, 3)
        n_companies = rng.randint(11, 13) if many else rng.randint(0, 2)
        admins = list(self._data["admins"])
        name = f"{_FIRST[rng.randrange(len(_FIRST))]} {_LAST[rng.randrange(len(_LAST))]}"
        seen = rng.randint(updated - 30 * DAY, updated) if rng.random() < 0.7 else None
        core: Record = {
            "type": "contact",
            "id": cid,
            "workspace_id": f"emu{self.spec.seed}",
            "external_id": f"user-{n}" if role == "user" else None,
            "role": role,
            "email": f"contact{n}@example.test",
            "email_domain": "example.test",
            "phone": f"+4930{n:07d}" if n % 4 == 0 else None,
            "name": name if n % 10 else None,
            "owner_id": admins[n % len(admins)] if admins and n % 3 == 0 else None,
            "has_hard_bounced": False,
            "marked_email_as_spam": False,
            "unsubscribed_from_emails": n % 17 == 0,
            "created_at": created,
            "updated_at": updated,
            "signed_up_at": created if role == "user" else None,
            "last_seen_at": seen,
            "last_replied_at": None,
            "last_contacted_at": None,
            "last_email_opened_at": None,
            "last_email_clicked_at": None,
            "language_override": None,
            "browser": "firefox" if n % 2 else "chrome",
            "browser_version": "120.0",
            "browser_language": "de",
            "os": "Linux",
            "custom_attributes": self._custom_values(rng, CONTACT_CUSTOM_ATTRIBUTES),
            "avatar": {"type": "avatar", "image_url": None},
            "location": {
                "type": "location",
                "country": "Germany",
                "region": "Berlin",
                "city": "Berlin",
            },
            "social_profiles": {"type": "list", "data": []},
            "_tag_ids": sorted(rng.sample(tag_ids, min(n_tags, len(tag_ids)))),
            "_company_ids": sorted(rng.sample(company_ids, min(n_companies, len(company_ids)))),
            "_note_ids": [],
        }
        self._data["contacts"][cid] = core
        notes = rng.randint(11, 13) if many else rng.randint(0, 2 * self.spec.notes_mean)
        core["_note_ids"] = [self._add_note(rng, cid, created) for _ in range(notes)]
        return cid

    def _add_note(self, rng: random.Random, contact_id: str, after: int) -> str:
        n = self._next_id("notes")
        nid = str(300_000_000 + n)
        admins = list(self._data["admins"])
        self._data["notes"][nid] = {
            "type": "note",
            "id": nid,
            "created_at": rng.randint(after, max(after, self.anchor - 60)),
            "contact": {"type": "contact", "id": contact_id},
            "_author_id": admins[n % len(admins)] if admins else None,
            "body": f"<p>Note {n}: called about {html.escape(_WORDS[n % len(_WORDS)])} ☎</p>",
        }
        return nid

    def _add_conversation(self, rng: random.Random, at: int | None = None) -> str:
        n = self._next_id("conversations")
        cid = str(100_000_000 + n)
        created, updated = (at, at) if at is not None else self._spread(rng)
        contacts = self._data["contacts"]
        contact_ids = [next(iter(contacts))] if contacts else []
        if len(contacts) > 1:
            contact_ids = [_hex_id(0x66, self.spec.seed, rng.randrange(len(contacts)))]
            if rng.random() < 0.1:
                contact_ids.append(_hex_id(0x66, self.spec.seed, rng.randrange(len(contacts))))
        state = rng.choice(("open", "closed", "closed", "snoozed"))
        admins = list(self._data["admins"])
        teams = list(self._data["teams"])
        assigned = rng.random() < 0.7
        mean = self.spec.parts_mean
        parts = max(1, min(60, int(rng.expovariate(1 / mean)) + 1)) if mean else 1
        self._data["conversations"][cid] = {
            "id": cid,
            "title": None if n % 3 else f"Question about {_WORDS[n % len(_WORDS)]}",
            "created_at": created,
            "updated_at": updated,
            "waiting_since": updated if state == "open" else None,
            "snoozed_until": updated + DAY if state == "snoozed" else None,
            "open": state != "closed",
            "state": state,
            "read": rng.random() < 0.8,
            "priority": rng.choice(("none", "none", "low", "medium", "high", "urgent")),
            "admin_assignee_id": int(rng.choice(admins)) if assigned and admins else 0,
            "team_assignee_id": int(rng.choice(teams)) if assigned and teams else 0,
            "_contact_ids": list(dict.fromkeys(c for c in contact_ids if c in contacts)),
            "_parts": (parts, created, updated),
            "_added": (),
            "_v": 0,
        }
        return cid

    def _add_ticket(self, rng: random.Random, at: int | None = None) -> str:
        n = self._next_id("tickets")
        tid = str(200_000_000 + n)
        created, updated = (at, at) if at is not None else self._spread(rng)
        contacts = self._data["contacts"]
        contact_ids = (
            [_hex_id(0x66, self.spec.seed, rng.randrange(len(contacts)))] if contacts else []
        )
        state = rng.choice(("submitted", "in_progress", "waiting_on_customer", "resolved"))
        admins = list(self._data["admins"])
        self._data["tickets"][tid] = {
            "id": tid,
            "ticket_id": str(n + 1),
            "category": rng.choice(("Customer", "Back-office", "Tracker")),
            "created_at": created,
            "updated_at": updated,
            "open": state != "resolved",
            "state": state,
            "admin_assignee_id": int(rng.choice(admins)) if admins and n % 2 else 0,
            "team_assignee_id": 0,
            "title": f"Ticket {n}: {_WORDS[n % len(_WORDS)]}",
            "_contact_ids": [c for c in contact_ids if c in contacts],
            "_parts": (rng.randint(1, 8), created, updated),
            "_added": (),
            "_v": 0,
        }
        return tid

    def _add_help_center(self) -> None:
        n = self._next_id("help_centers")
        hid = str(600_000 + n)
        self._data["help_centers"][hid] = {
            "id": hid,
            "workspace_id": f"emu{self.spec.seed}",
            "created_at": self.anchor - 500 * DAY,
            "updated_at": self.anchor - 20 * DAY,
            "identifier": f"help-{n}",
            "website_turned_on": True,
            "display_name": f"Hilfe-Center {n} ✨",
            "url": f"https://help{n}.example.test",
            "custom_domain": None,
            "default": n == 0,
            "locales": ["en", "de"],
        }

    def _add_collection(self, rng: random.Random) -> None:
        n = self._next_id("collections")
        cid = str(500_000 + n)
        created, updated = self._spread(rng)
        centers = list(self._data["help_centers"])
        self._data["collections"][cid] = {
            "id": cid,
            "workspace_id": f"emu{self.spec.seed}",
            "name": f"Collection {n}: {_WORDS[n % len(_WORDS)]}",
            "description": None if n % 2 else "Getting started — “basics”",
            "created_at": created,
            "updated_at": updated,
            "url": f"https://help.example.test/collections/{cid}",
            "icon": None,
            "order": n,
            "default_locale": "en",
            "translated_content": None,
            "parent_id": None,
            "help_center_id": int(centers[0]) if centers else None,
        }

    def _add_article(self, rng: random.Random) -> None:
        n = self._next_id("articles")
        aid = str(400_000 + n)
        created, updated = self._spread(rng)
        admins = list(self._data["admins"])
        collections = list(self._data["collections"])
        author = int(admins[n % len(admins)]) if admins else 0
        self._data["articles"][aid] = {
            "type": "article",
            "id": aid,
            "workspace_id": f"emu{self.spec.seed}",
            "title": f"How to {_WORDS[n % len(_WORDS)]} ({n})",
            "description": None,
            "body": _html_body(rng, n),
            "author_id": author,
            "state": "published" if n % 4 else "draft",
            "created_at": created,
            "updated_at": updated,
            "url": f"https://help.example.test/articles/{aid}",
            "parent_ids": [int(collections[n % len(collections)])] if collections else [],
            "default_locale": "en",
            "translated_content": None,
        }

    # -------------------------------------------------------------- rendering
    def _admin_ref(self, admin_id: str | None) -> Record:
        return {"type": "admin", "id": admin_id}

    def _render_contact(self, core: Record) -> Record:
        out = {k: v for k, v in core.items() if not k.startswith("_")}
        cid = core["id"]

        def inline(kind: str, ids: list[str], url_kind: str) -> Record:
            return {
                "type": "list",
                "data": [
                    {"type": kind, "id": i, "url": f"/{url_kind}/{i}"} for i in ids[:INLINE_CAP]
                ],
                "url": f"/contacts/{cid}/{url_kind}",
                "total_count": len(ids),
                "has_more": len(ids) > INLINE_CAP,
            }

        out["tags"] = inline("tag", core["_tag_ids"], "tags")
        out["notes"] = inline("note", core["_note_ids"], "notes")
        out["companies"] = inline("company", core["_company_ids"], "companies")
        return out

    def _render_admin(self, core: Record) -> Record:
        """Without ``avatar``: GET /admins adds it (an object) only for ``display_avatar``."""
        return {k: v for k, v in core.items() if not k.startswith("_")}

    def admin_avatar(self, admin_id: str) -> Record:
        core = self._data["admins"][admin_id]
        return {"type": "avatar", "image_url": core["_avatar_url"]}

    def _render_note(self, core: Record) -> Record:
        out = {k: v for k, v in core.items() if not k.startswith("_")}
        author = self._data["admins"].get(core["_author_id"] or "")
        out["author"] = None if author is None else self._render_admin(author)
        return out

    def _contact_refs(self, ids: list[str]) -> list[Record]:
        contacts = self._data["contacts"]
        return [
            {
                "type": "contact",
                "id": i,
                "external_id": contacts[i]["external_id"] if i in contacts else None,
            }
            for i in ids
        ]

    def _render_conversation(self, core: Record) -> Record:
        cid = core["id"]
        rng = random.Random(f"{self.spec.seed}/conversation/{cid}")
        created = core["created_at"]
        admins = list(self._data["admins"]) or ["0"]
        tags = list(self._data["tags"].values())
        contact_ids = core["_contact_ids"]
        contacts = self._data["contacts"]
        first = contacts.get(contact_ids[0]) if contact_ids else None
        ai = rng.random() < 0.3
        total = core["_parts"][0] + len(core["_added"])
        teammate = core["admin_assignee_id"] or int(admins[0])
        first_reply = created + rng.randint(60, 7_200)
        out: Record = {
            "type": "conversation",
            "id": cid,
            "title": core["title"],
            "created_at": created,
            "updated_at": core["updated_at"],
            "waiting_since": core["waiting_since"],
            "snoozed_until": core["snoozed_until"],
            "open": core["open"],
            "state": core["state"],
            "read": core["read"],
            "priority": core["priority"],
            "admin_assignee_id": core["admin_assignee_id"],
            "team_assignee_id": core["team_assignee_id"],
            "tags": {
                "type": "tag.list",
                "tags": [
                    {
                        "type": "tag",
                        "id": t["id"],
                        "name": t["name"],
                        "applied_at": created + 60,
                        "applied_by": {"type": "admin", "id": admins[0]},
                    }
                    for t in rng.sample(tags, min(len(tags), rng.randint(0, 3)))
                ],
            },
            "conversation_rating": None,
            "source": {
                "type": "conversation",
                "id": str(int(cid) * 7 + 3),
                "delivered_as": "customer_initiated",
                "subject": "",
                "body": _html_body(rng, int(cid)),
                "author": {
                    "type": first["role"] if first else "user",
                    "id": contact_ids[0] if contact_ids else "0",
                    "name": first["name"] if first else None,
                    "email": first["email"] if first else "nobody@example.test",
                },
                "attachments": [
                    {
                        "type": "upload",
                        "name": "screenshot ü.png",
                        "url": f"https://files.example.test/{cid}/screenshot.png",
                        "content_type": "image/png",
                        "filesize": rng.randint(1_000, 900_000),
                        "width": 640,
                        "height": 480,
                    }
                ]
                if rng.random() < 0.2
                else [],
                "url": None,
                "redacted": False,
            },
            "contacts": {"type": "contact.list", "contacts": self._contact_refs(contact_ids)},
            "teammates": {
                "type": "admin.list",
                "teammates": [{"type": "admin", "id": str(teammate)}],
            },
            "custom_attributes": {
                "Category": rng.choice(("Bug", "Question", "Feature request")),
                "Issue type": _WORDS[rng.randrange(len(_WORDS))],
                "Résumé score": rng.randint(0, 10),
                "order": rng.random() < 0.5,
            },
            "first_contact_reply": {"created_at": created, "type": "conversation", "url": None},
            "sla_applied": None,
            "statistics": {
                "type": "conversation_statistics",
                "time_to_assignment": 0,
                "time_to_admin_reply": first_reply - created,
                "time_to_first_close": 3_600,
                "time_to_last_close": 3_600,
                "median_time_to_reply": 900,
                "first_contact_reply_at": created,
                "first_assignment_at": created,
                "first_admin_reply_at": first_reply,
                "first_close_at": created + 3_600,
                "last_assignment_at": created,
                "last_assignment_admin_reply_at": first_reply,
                "last_contact_reply_at": core["updated_at"],
                "last_admin_reply_at": first_reply,
                "last_close_at": core["updated_at"],
                "last_closed_by_id": admins[0],
                "count_reopens": rng.randint(0, 2),
                "count_assignments": 1,
                "count_conversation_parts": total,
                "assigned_team_first_response_time": [],
                "assigned_team_first_response_time_in_office_hours": [],
                "handling_time": rng.randint(0, 3_000),
                "adjusted_handling_time": None,
            },
            "linked_objects": {"type": "list", "total_count": 0, "has_more": False, "data": []},
            "ai_agent_participated": ai,
            "ai_agent": None,
            "channel": {"initial": "chat", "current": "chat"},
        }
        if rng.random() < 0.25 and first:
            out["conversation_rating"] = {
                "rating": rng.randint(1, 5),
                "remark": rng.choice(("", "Schnell & freundlich 👍", 'Said "thanks"')),
                "created_at": created + 7_200,
                "updated_at": created + 7_200,
                "contact": self._contact_refs(contact_ids[:1])[0],
                "teammate": {"type": "admin", "id": str(teammate)},
            }
        if rng.random() < 0.3:
            out["sla_applied"] = {
                "type": "conversation_sla_summary",
                "sla_name": "VIP 1h",
                "sla_status": rng.choice(("hit", "missed", "cancelled", "active")),
            }
        if ai:
            out["ai_agent"] = {
                "source_type": "workflow",
                "source_title": "Fin — first line",
                "last_answer_type": rng.choice(("ai_answer", "custom_answer")),
                "resolution_state": rng.choice(("assumed_resolution", "escalated")),
                "rating": None,
                "rating_remark": None,
                "created_at": created + 5,
                "updated_at": created + 30,
                "content_sources": {
                    "type": "content_source.list",
                    "total_count": 1,
                    "content_sources": [
                        {
                            "content_type": "article",
                            "url": "/articles/400000",
                            "title": "How to billing (0)",
                            "locale": "en",
                        }
                    ],
                },
            }
        if self._data["tickets"] and rng.random() < 0.1:
            tid = str(200_000_000 + rng.randrange(len(self._data["tickets"])))
            out["linked_objects"] = {
                "type": "list",
                "total_count": 1,
                "has_more": False,
                "data": [{"type": "ticket", "id": tid, "category": "Customer"}],
            }
        return out

    def _part_times(self, core: Record, seed_kind: str) -> list[int]:
        base, start, end = core["_parts"]
        rng = random.Random(f"{self.spec.seed}/{seed_kind}/{core['id']}")
        times = sorted(rng.randint(start, max(start, end)) for _ in range(base))
        times[-1:] = [end] if times else []
        return times + list(core["_added"])

    def part_ids(self, entity: str, core: Record, cap: int | None = None) -> list[str]:
        """The part ids GET by id returns: all or the ``cap`` most recent, oldest first."""
        total = core["_parts"][0] + len(core["_added"])
        first = max(0, total - cap) if cap is not None else 0
        base = int(core["id"]) * PART_ID_STRIDE
        return [str(base + i) for i in range(first, total)]

    def _conversation_parts(self, core: Record, plaintext: bool) -> list[Record]:
        times = self._part_times(core, "parts")
        first = max(0, len(times) - PARTS_CAP)
        base = int(core["id"]) * PART_ID_STRIDE
        admins = list(self._data["admins"]) or ["0"]
        contact = core["_contact_ids"][0] if core["_contact_ids"] else "0"
        rng = random.Random(f"{self.spec.seed}/part-content/{core['id']}/{first}")
        redacted = core.get("_redacted", ())
        parts: list[Record] = []
        for i in range(first, len(times)):
            kind = ("comment", "comment", "note", "assignment", "comment", "close")[i % 6]
            from_contact = kind == "comment" and i % 2 == 0
            body = None if kind == "assignment" else _html_body(rng, i, key=base + i)
            author_id = contact if from_contact else admins[i % len(admins)]
            parts.append(
                {
                    "type": "conversation_part",
                    "id": str(base + i),
                    "part_type": kind,
                    "body": to_plaintext(body) if plaintext else body,
                    "created_at": times[i],
                    "updated_at": times[i],
                    "notified_at": times[i],
                    "assigned_to": {"type": "admin", "id": admins[0]}
                    if kind == "assignment"
                    else None,
                    "author": {
                        "type": "user" if from_contact else "admin",
                        "id": author_id,
                        "name": None if from_contact else f"Admin {author_id}",
                        "email": f"{author_id}@example.test",
                        "from_ai_agent": False,
                        "is_ai_answer": False,
                    },
                    "attachments": [],
                    "external_id": None,
                    "redacted": False,
                    "tags": [],
                    **(_REDACTED if str(base + i) in redacted else {}),
                }
            )
        return parts

    def _render_ticket(self, core: Record) -> Record:
        tid = core["id"]
        state_ids = {
            "submitted": "1",
            "in_progress": "2",
            "waiting_on_customer": "3",
            "resolved": "4",
        }
        state = {
            "type": "ticket_state",
            "id": state_ids[core["state"]],
            "category": core["state"],
            "internal_label": core["state"].replace("_", " ").title(),
            "external_label": core["state"].replace("_", " ").title(),
        }
        return {
            "type": "ticket",
            "id": tid,
            "ticket_id": core["ticket_id"],
            "category": core["category"],
            "ticket_attributes": {
                "_default_title_": core["title"],
                "_default_description_": "Beschreibung mit “Anführungszeichen” 🎫",
            },
            "ticket_state": state,
            "ticket_type": {
                "type": "ticket_type",
                "id": "1",
                "category": core["category"],
                "name": "Bug report",
                "description": "",
                "icon": "🐞",
                "workspace_id": f"emu{self.spec.seed}",
                "archived": False,
                "created_at": self.anchor - 500 * DAY,
                "updated_at": self.anchor - 500 * DAY,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": self._contact_refs(core["_contact_ids"]),
            },
            "admin_assignee_id": core["admin_assignee_id"],
            "team_assignee_id": core["team_assignee_id"],
            "created_at": core["created_at"],
            "updated_at": core["updated_at"],
            "open": core["open"],
            "linked_objects": {"type": "list", "total_count": 0, "has_more": False, "data": []},
            "is_shared": False,
            "previous_ticket_state_id": None,
        }

    def _ticket_parts(self, core: Record) -> list[Record]:
        times = self._part_times(core, "ticket-parts")
        base = int(core["id"]) * PART_ID_STRIDE
        states = ("submitted", "in_progress", "waiting_on_customer", "resolved")
        admins = list(self._data["admins"]) or ["0"]
        rng = random.Random(f"{self.spec.seed}/ticket-part-content/{core['id']}")
        return [
            {
                "type": "ticket_part",
                "id": str(base + i),
                "part_type": "comment" if i else "ticket_state_updated_by_admin",
                "body": _html_body(rng, i),
                "previous_ticket_state": states[max(0, i - 1) % 4],
                "ticket_state": states[i % 4],
                "created_at": t,
                "updated_at": t,
                "assigned_to": None,
                "author": {
                    "type": "admin",
                    "id": admins[i % len(admins)],
                    "name": f"Admin {admins[i % len(admins)]}",
                    "email": f"{admins[i % len(admins)]}@example.test",
                },
                "attachments": [],
                "external_id": None,
                "redacted": False,
            }
            for i, t in enumerate(times)
        ]

    # --------------------------------------------------------------- reading
    def renderer(self, entity: str) -> Callable[[Record], Record]:
        """The function turning a core into the API shape (the identity for most)."""
        return self._renderers.get(entity, _identity)

    def render(self, entity: str, core: Record) -> Record:
        renderer = self._renderers.get(entity)
        return renderer(core) if renderer else core

    def core(self, entity: str, rid: str) -> Record | None:
        with self.lock:
            return self._data[entity].get(rid)

    def get(self, entity: str, rid: str) -> Record | None:
        """The current API shape of one record (None when unknown or deleted)."""
        with self.lock:
            core = self._data[entity].get(rid)
            return None if core is None else self.render(entity, core)

    def records(self, entity: str) -> list[Record]:
        """Every current record of an entity, in API shape (parts not included)."""
        with self.lock:
            return [self.render(entity, core) for core in self._data[entity].values()]

    def cores(self, entity: str) -> list[Record]:
        with self.lock:
            return list(self._data[entity].values())

    def conversation(self, rid: str, *, plaintext: bool = False) -> Record | None:
        """GET /conversations/{id}: the conversation with its most recent 500 parts."""
        with self.lock:
            core = self._data["conversations"].get(rid)
            if core is None:
                return None
            out = self._render_conversation(core)
            parts = self._conversation_parts(core, plaintext)
        if plaintext:
            out["source"] = {**out["source"], "body": to_plaintext(out["source"]["body"])}
        out["conversation_parts"] = {
            "type": "conversation_part.list",
            "conversation_parts": parts,
            "total_count": len(parts),
        }
        return out

    def ticket(self, rid: str) -> Record | None:
        with self.lock:
            core = self._data["tickets"].get(rid)
            if core is None:
                return None
            out = self._render_ticket(core)
            parts = self._ticket_parts(core)
        out["ticket_parts"] = {
            "type": "ticket_part.list",
            "ticket_parts": parts,
            "total_count": len(parts),
        }
        return out

    def contact_tags(self, contact_id: str) -> list[Record] | None:
        with self.lock:
            core = self._data["contacts"].get(contact_id)
            if core is None:
                return None
            return [self._data["tags"][t] for t in core["_tag_ids"] if t in self._data["tags"]]

    def contact_companies(self, contact_id: str) -> list[Record] | None:
        with self.lock:
            core = self._data["contacts"].get(contact_id)
            if core is None:
                return None
            companies = self._data["companies"]
            return [companies[c] for c in core["_company_ids"] if c in companies]

    def contact_notes(self, contact_id: str) -> list[Record] | None:
        with self.lock:
            core = self._data["contacts"].get(contact_id)
            if core is None:
                return None
            notes = self._data["notes"]
            return [self._render_note(notes[n]) for n in core["_note_ids"] if n in notes]

    def _events_for(self, core: Record) -> list[Record]:
        rng = random.Random(f"{self.spec.seed}/events/{core['id']}")
        count = rng.randint(0, 2 * self.spec.events_mean)
        events = []
        for _ in range(count):
            name = _EVENT_NAMES[rng.randrange(len(_EVENT_NAMES))]
            event: Record = {
                "type": "event",
                "event_name": name,
                "created_at": self.anchor - rng.randint(60, 200 * DAY),
                "intercom_user_id": core["id"],
                "email": core["email"],
                "metadata": {"plan": _PLANS[rng.randrange(len(_PLANS))], "note": "“ok” ✓"},
            }
            if core["external_id"]:
                event["user_id"] = core["external_id"]
            events.append(event)
        events.sort(key=lambda e: -e["created_at"])
        return events

    def events(
        self, *, intercom_user_id: str | None = None, user_id: str | None = None
    ) -> list[Record] | None:
        """Events of one contact younger than 90 days, newest first (None: unknown contact)."""
        with self.lock:
            core = None
            if intercom_user_id is not None:
                core = self._data["contacts"].get(intercom_user_id)
            elif user_id is not None:
                core = next(
                    (c for c in self._data["contacts"].values() if c["external_id"] == user_id),
                    None,
                )
            if core is None:
                return None
            cutoff = self.now() - EVENT_WINDOW
            return [e for e in self._events_for(core) if e["created_at"] >= cutoff]

    def all_events(self, contact_id: str) -> list[Record]:
        """Every generated event of a contact, including those the API hides (tests only)."""
        with self.lock:
            return self._events_for(self._data["contacts"][contact_id])

    def deleted_conversations(self) -> dict[str, int]:
        with self.lock:
            return dict(self._deleted_conversations)

    def search_view(self, entity: str, lag: float) -> list[Record]:
        """The cores the search index shows now: changes younger than ``lag`` seconds are not
        visible yet (the previous version is, or nothing for a new record)."""
        cutoff = time.time() - lag
        with self.lock:
            data = self._data[entity]
            history = self._history[entity]
            if not history:
                return list(data.values())
            out = []
            for rid in data.keys() | history.keys():
                core = data.get(rid)
                for change in history.get(rid, ()):
                    if change.at > cutoff:
                        core = change.previous
                        break
                if core is not None:
                    out.append(core)
            return out

    def truth(self) -> dict[str, Any]:
        """Every entity the API serves, keyed by id, with updated_at (None when it has none)."""
        with self.lock:
            out: dict[str, Any] = {}
            for entity, records in self._data.items():
                out[entity] = {rid: core.get("updated_at") for rid, core in records.items()}
            out["deleted_conversations"] = dict(self._deleted_conversations)
            out["archived_contacts"] = {r: c.get("updated_at") for r, c in self._archived.items()}
            out["merged_contacts"] = dict(self._merged)
            out["conversation_parts"] = {
                rid: self.part_ids("conversations", core, PARTS_CAP)
                for rid, core in self._data["conversations"].items()
            }
            out["ticket_parts"] = {
                rid: self.part_ids("tickets", core) for rid, core in self._data["tickets"].items()
            }
            cutoff = self.now() - EVENT_WINDOW
            out["events"] = {
                rid: [
                    [e["event_name"], e["created_at"]]
                    for e in self._events_for(core)
                    if e["created_at"] >= cutoff
                ]
                for rid, core in self._data["contacts"].items()
            }
            return out

    # -------------------------------------------------------------- mutations
    def _replace(self, entity: str, rid: str, core: Record | None) -> None:
        """Install a new core (None: delete) and remember the old one for search lag."""
        now = time.time()
        self.version += 1
        self.last_change = now
        history = self._history[entity]
        changes = [c for c in history.get(rid, []) if c.at > now - HISTORY_KEEP]
        changes.append(_Change(now, self._data[entity].get(rid)))
        history[rid] = changes
        if core is None:
            self._data[entity].pop(rid, None)
        else:
            self._data[entity][rid] = core

    _ITEM_TYPES: ClassVar[dict[str, str]] = {
        "contacts": "contact",
        "companies": "company",
        "conversations": "conversation",
        "tickets": "ticket",
    }

    def _notify(self, topic: str, entity: str, rid: str, *, minimal: bool = False) -> None:
        """Tell the listeners of a change: the item as the API renders it, or only its
        identifying fields (``*.deleted`` topics, as Intercom documents)."""
        if not self.listeners:
            return
        item: Record
        core = self._data[entity].get(rid)
        if minimal or core is None:
            item = {"type": self._ITEM_TYPES[entity], "id": rid}
        else:
            item = {"type": self._ITEM_TYPES[entity], **self.render(entity, core)}
            item.pop("_tag_ids", None)
        self._emit(topic, item)

    def _emit(self, topic: str, item: Record) -> None:
        for listener in list(self.listeners):
            listener(topic, item)

    def _contact_topic(self, rid: str, action: str) -> str:
        role = self._data["contacts"][rid]["role"]
        return f"contact.{'lead' if role == 'lead' else 'user'}.{action}"

    def _pick(self, entity: str, ids: list[str] | None, count: int) -> list[str]:
        if entity not in self.MUTABLE:
            raise ValueError(f"cannot mutate {entity!r}; one of {', '.join(self.MUTABLE)}")
        if ids is not None:
            unknown = [i for i in ids if i not in self._data[entity]]
            if unknown:
                raise KeyError(f"unknown {entity} ids: {unknown[:5]}")
            return list(ids)
        live = list(self._data[entity])
        return self._mutation_rng.sample(live, min(count, len(live)))

    def _changed(self, entity: str, core: Record, at: int) -> Record:
        new = dict(core)
        new["updated_at"] = at
        if entity == "contacts":
            attrs = dict(core["custom_attributes"])
            attrs["order"] = self._mutation_rng.randint(0, 10_000)
            new["custom_attributes"] = attrs
            new["name"] = f"{core['name'] or 'Unnamed'} ✎"
        elif entity == "companies":
            new["monthly_spend"] = core["monthly_spend"] + 1
        elif entity == "tickets":
            new["_v"] = core["_v"] + 1
            new["title"] = f"{core['title'].split(' ✎')[0]} ✎{new['_v']}"
        else:
            new["_v"] = core["_v"] + 1
            new["read"] = not core["read"]
            new["priority"] = ("none", "low", "medium", "high", "urgent")[new["_v"] % 5]
        return new

    def update(
        self, entity: str, ids: list[str] | None = None, count: int = 1, at: int | None = None
    ) -> list[str]:
        """Change ``ids`` (or ``count`` random records): a field changes, updated_at becomes
        ``at`` or now."""
        with self.lock:
            chosen = self._pick(entity, ids, count)
            for rid in chosen:
                ts = self.now() if at is None else at
                self._replace(entity, rid, self._changed(entity, self._data[entity][rid], ts))
                topic = _UPDATE_TOPICS.get(entity) or self._contact_topic(rid, "updated")
                self._notify(topic, entity, rid)
            return chosen

    def burst(self, entity: str, count: int, at: int | None = None) -> list[str]:
        """Set ``count`` records to one shared updated_at (a bulk import or workflow run)."""
        return self.update(entity, count=count, at=self.now() if at is None else at)

    def create(self, entity: str, count: int = 1, at: int | None = None) -> list[str]:
        """New records created at ``at`` or now; searches see them once the lag has passed."""
        adders = {
            "contacts": self._add_contact,
            "companies": self._add_company,
            "conversations": self._add_conversation,
            "tickets": self._add_ticket,
        }
        if entity not in adders:
            raise ValueError(f"cannot create {entity!r}; one of {', '.join(adders)}")
        with self.lock:
            created = []
            for _ in range(count):
                ts = self.now() if at is None else at
                rid = adders[entity](self._mutation_rng, ts)
                core = self._data[entity].pop(rid)
                self._replace(entity, rid, core)
                created.append(rid)
                topic = _CREATE_TOPICS.get(entity) or self._contact_topic(rid, "created")
                self._notify(topic, entity, rid)
            return created

    def delete(self, entity: str, ids: list[str] | None = None, count: int = 1) -> list[str]:
        """Delete ``ids`` (or ``count`` random records); deleted conversations are listed by
        GET /conversations/deleted."""
        with self.lock:
            chosen = self._pick(entity, ids, count)
            for rid in chosen:
                self._replace(entity, rid, None)
                if entity == "conversations":
                    self._deleted_conversations[rid] = self.now()
                self._notify(f"{self._ITEM_TYPES[entity]}.deleted", entity, rid, minimal=True)
            return chosen

    def add_parts(
        self, conversation_ids: list[str] | None = None, n: int = 1, count: int = 1
    ) -> list[str]:
        """Append ``n`` parts to each conversation (or ``count`` random ones), now; this also
        bumps the conversation's updated_at."""
        with self.lock:
            chosen = self._pick("conversations", conversation_ids, count)
            ts = self.now()
            for rid in chosen:
                core = self._data["conversations"][rid]
                if core["_parts"][0] + len(core["_added"]) + n >= PART_ID_STRIDE:
                    raise ValueError(f"conversation {rid} would exceed {PART_ID_STRIDE} parts")
                new = self._changed("conversations", core, ts)
                new["_added"] = (*core["_added"], *([ts] * n))
                new["open"], new["state"], new["waiting_since"] = True, "open", ts
                self._replace("conversations", rid, new)
                self._notify("conversation.user.replied", "conversations", rid)
            return chosen

    def close(self, conversation_ids: list[str] | None = None, count: int = 1) -> list[str]:
        """An admin closes conversations (``conversation.admin.closed``): a close part is
        added, the state becomes closed, updated_at now."""
        with self.lock:
            chosen = self._pick("conversations", conversation_ids, count)
            ts = self.now()
            for rid in chosen:
                core = self._data["conversations"][rid]
                new = self._changed("conversations", core, ts)
                new["_added"] = (*core["_added"], ts)
                new["open"], new["state"], new["waiting_since"] = False, "closed", None
                new["snoozed_until"] = None
                self._replace("conversations", rid, new)
                self._notify("conversation.admin.closed", "conversations", rid)
            return chosen

    def redact(self, conversation_id: str, part_id: str | None = None) -> list[str]:
        """Redact one part of a conversation (default: its newest):
        ``conversation_part.redacted``. The part keeps its id with ``redacted: true`` and no
        body; the conversation's updated_at moves to now (a guess: Intercom does not say)."""
        with self.lock:
            (rid,) = self._pick("conversations", [conversation_id], 1)
            core = self._data["conversations"][rid]
            ids = self.part_ids("conversations", core)
            chosen = part_id if part_id is not None else ids[-1]
            if chosen not in ids:
                raise KeyError(f"conversation {rid} has no part {chosen}")
            new = self._changed("conversations", core, self.now())
            new["_redacted"] = frozenset({*core.get("_redacted", ()), chosen})
            self._replace("conversations", rid, new)
            self._notify("conversation_part.redacted", "conversations", rid)
            return [chosen]

    def archive(self, ids: list[str] | None = None, count: int = 1) -> list[str]:
        """Archive contacts (``contact.archived``): gone from search, list and GET (404, a
        guess: Intercom does not document what GET answers for an archived contact)."""
        with self.lock:
            chosen = self._pick("contacts", ids, count)
            for rid in chosen:
                core = self._data["contacts"][rid]
                self._notify("contact.archived", "contacts", rid)
                self._archived[rid] = core
                self._replace("contacts", rid, None)
            return chosen

    def unarchive(self, ids: list[str]) -> list[str]:
        """Bring archived contacts back (``contact.unarchived``), updated_at now."""
        with self.lock:
            unknown = [i for i in ids if i not in self._archived]
            if unknown:
                raise KeyError(f"unknown archived contact ids: {unknown[:5]}")
            for rid in ids:
                core = dict(self._archived.pop(rid))
                core["updated_at"] = self.now()
                self._replace("contacts", rid, core)
                self._notify("contact.unarchived", "contacts", rid)
            return list(ids)

    def merge(self, from_id: str | None = None, into_id: str | None = None) -> list[str]:
        """Merge a lead into a user (``contact.merged``; the user also gets
        ``contact.user.updated``). The lead is gone: GET answers 404 under 2.16 and 410 with a
        ``Link`` to the user from 2.17 on, as Intercom's docs of those versions say. Returns
        ``[from_id, into_id]``."""
        with self.lock:
            contacts = self._data["contacts"]
            if from_id is None:
                leads = sorted(c for c, core in contacts.items() if core["role"] == "lead")
                from_id = self._mutation_rng.choice(leads)
            if into_id is None:
                users = sorted(
                    c for c, core in contacts.items() if core["role"] == "user" and c != from_id
                )
                into_id = self._mutation_rng.choice(users)
            (from_id,) = self._pick("contacts", [from_id], 1)
            (into_id,) = self._pick("contacts", [into_id], 1)
            if from_id == into_id:
                raise ValueError("cannot merge a contact into itself")
            item = {
                "type": "merge_history",
                "source_contact_id": from_id,
                "source_contact_role": contacts[from_id]["role"],
                "merged_at": self.now(),
            }
            self._merge_history.setdefault(into_id, []).append(item)
            self._replace("contacts", from_id, None)
            self._merged[from_id] = into_id
            # The payload's shape is not documented; the receiver reads these two ids (a guess).
            self._emit(
                "contact.merged",
                {
                    "type": "contact",
                    "id": from_id,
                    "merged_into": {"type": "contact", "id": into_id},
                },
            )
            ts = self.now()
            self._replace("contacts", into_id, self._changed("contacts", contacts[into_id], ts))
            self._notify(self._contact_topic(into_id, "updated"), "contacts", into_id)
            return [from_id, into_id]

    def merge_history(self, contact_id: str) -> list[Record]:
        """The contacts merged into ``contact_id``, oldest first, as ``merge_history`` items."""
        with self.lock:
            return [dict(item) for item in self._merge_history.get(contact_id, ())]

    def merged_into(self, contact_id: str) -> str | None:
        """The contact a merged contact went into (None when it was not merged)."""
        with self.lock:
            return self._merged.get(contact_id)

    def iter_ids(self, entity: str) -> Iterator[str]:
        with self.lock:
            yield from list(self._data[entity])
