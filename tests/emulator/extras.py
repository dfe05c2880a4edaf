"""The emulated workspace's other lists: activity logs, ticket types and states, macros, away
status reasons, office hours, internal articles, content snippets, calls with transcripts,
conversation handling events and QA results (monitor evaluations, scorecards).

Generated from the workspace's seed and anchor, like the rest, and kept apart from
``workspace.py`` because none of it takes part in search or its lag. Shapes follow the 2.16
spec (``tests/test_emulator_schema.py`` validates every route); where the spec leaves a
behaviour open the choice is named in ``tests/emulator/README.md``.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.emulator.workspace import Workspace

Record = dict[str, Any]
DAY = 86_400

ACTIVITY_TYPES = (
    ("app_name_change", "changed your app name"),
    ("admin_login_success", "logged in"),
    ("macro_update", "updated a macro"),
    ("office_hours_change", "changed office hours"),
    ("admin_away_mode_change", "changed their away mode"),
)
TICKET_STATE_CATEGORIES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
CALLS_MAX_PER_PAGE = 25
SNIPPETS_MAX_PER_PAGE = 50
CALL_SEARCH_MAX_IDS = 20
ACTIVITY_LOGS_PER_PAGE = 20


def iso(seconds: float) -> str:
    """Macros' own timestamp format: ISO-8601 with milliseconds."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def macro_cursor(updated_at: int, macro_id: str) -> str:
    """The spec's macro cursor: Base64 of the JSON array [updated_at, id]."""
    return base64.b64encode(json.dumps([float(updated_at), macro_id]).encode()).decode()


def read_macro_cursor(cursor: str) -> tuple[float, str]:
    updated_at, macro_id = json.loads(base64.b64decode(cursor))
    return float(updated_at), str(macro_id)


class Extras:
    """The lists beside the searchable entities; thread-safe (one lock)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.seed = workspace.spec.seed
        self.anchor = workspace.anchor
        self.lock = threading.Lock()
        self._rng = random.Random(f"{self.seed}/extras")
        self._mutation_rng = random.Random(f"{self.seed}/extras/mutations")
        self.admin_ids = [a["id"] for a in workspace.records("admins")] or ["0"]
        self.activity_logs: dict[str, Record] = {}
        self.macros: dict[str, Record] = {}
        self.ticket_types: dict[str, Record] = {}
        self.ticket_states: dict[str, Record] = {}
        self.away_status_reasons: dict[str, Record] = {}
        self.office_hours_schedules: dict[str, Record] = {}
        self.internal_articles: dict[str, Record] = {}
        self.content_snippets: dict[str, Record] = {}
        self.calls: dict[str, Record] = {}
        self._generate()

    # ------------------------------------------------------------ generation
    def _generate(self) -> None:
        rng = self._rng
        for _ in range(45):
            self._add_activity_log(rng, self.anchor - rng.randint(60, 60 * DAY))
        for n in range(8):
            state_id = str(3_000 + n)
            self.ticket_states[state_id] = {
                "type": "ticket_state",
                "id": state_id,
                "category": TICKET_STATE_CATEGORIES[n % 4],
                "internal_label": f"State {n} — intern",
                "external_label": f"State {n}",
                "archived": n == 7,
            }
        states = list(self.ticket_states.values())
        for n in range(3):
            type_id = str(2_000 + n)
            created = self.anchor - rng.randint(100 * DAY, 400 * DAY)
            self.ticket_types[type_id] = {
                "type": "ticket_type",
                "id": type_id,
                "category": ("Customer", "Back-office", "Tracker")[n],
                "name": ("Bug report 🐞", "Billing", "Feature request")[n],
                "description": f"Ticket type {n}",
                "icon": "🎟️",
                "workspace_id": f"emu{self.seed}",
                "archived": False,
                "is_internal": n == 1,
                "created_at": created,
                "updated_at": created + DAY,
                "ticket_type_attributes": {
                    "type": "list",
                    "data": [self._ticket_type_attribute(type_id, a, created) for a in range(3)],
                },
                "ticket_states": {
                    "type": "list",
                    "data": [
                        {k: s[k] for k in ("type", "id", "category", "internal_label")}
                        | {"external_label": s["external_label"]}
                        for s in states[n : n + 4]
                    ],
                },
            }
        for n in range(30):
            created = self.anchor - rng.randint(10 * DAY, 300 * DAY)
            self._put_macro(str(600 + n), created, created + rng.randint(0, 5 * DAY), n)
        for n, (label, emoji) in enumerate(
            (("On a break", "☕"), ("Lunch", "🥪"), ("In a meeting", "📅"), ("Old reason", "🗑️"))
        ):
            created = self.anchor - (200 - n) * DAY
            self.away_status_reasons[str(80 + n)] = {
                "type": "away_status_reason",
                "id": str(80 + n),
                "label": label,
                "emoji": emoji,
                "order": n + 1,
                "deleted": label == "Old reason",
                "created_at": created,
                "updated_at": created + n * DAY,
            }
        for n in range(2):
            created = self.anchor - (300 + n) * DAY
            self.office_hours_schedules[str(90 + n)] = {
                "type": "office_hours_schedule",
                "id": str(90 + n),
                "name": ("Office hours (Berlin)", "24/7 support")[n],
                "time_zone_name": self.workspace.spec.timezone,
                "time_intervals": []
                if n
                else [
                    {"start_minute": day * 1440 + 540, "end_minute": day * 1440 + 1020}
                    for day in range(5)
                ],
                "twenty_four_seven": bool(n),
                "created_at": created,
                "updated_at": created + DAY,
            }
        for n in range(12):
            created = self.anchor - rng.randint(DAY, 200 * DAY)
            self.internal_articles[str(700 + n)] = {
                "type": "internal_article",
                "id": str(700 + n),
                "title": f"Internal: how we handle case {n} ✓",
                "body": f"<p>Step {n}: check the “account”.</p>",
                "body_markdown": f"Step {n}: check the “account”.",
                "owner_id": int(self.admin_ids[n % len(self.admin_ids)]),
                "author_id": int(self.admin_ids[0]),
                "created_at": created,
                "updated_at": created + rng.randint(0, DAY),
                "locale": "en",
                "audience_ids": [1, 2] if n % 2 else None,
                "ai_chatbot_availability": n % 3 == 0,
                "ai_copilot_availability": True,
                "ai_sales_agent_availability": False,
            }
        for n in range(70):
            created = self.anchor - rng.randint(DAY, 300 * DAY)
            self.content_snippets[str(800 + n)] = {
                "type": "content_snippet",
                "id": str(800 + n),
                "title": f"Snippet {n}: reset your password" if n % 7 else None,
                "locale": "en",
                "json_blocks": [{"type": "paragraph", "text": f"Go to Settings › Security ({n})."}],
                "body_markdown": f"Go to Settings › Security ({n}).",
                "chatbot_availability": 1,
                "copilot_availability": 1,
                "ai_chatbot_availability": True,
                "ai_copilot_availability": n % 2 == 0,
                "ai_sales_agent_availability": False,
                "created_at": created,
                "updated_at": created + rng.randint(0, DAY),
                "audience_ids": [1] if n % 3 else None,
            }
        conversation_ids = sorted(self.workspace.iter_ids("conversations"), key=int)
        with_calls = rng.sample(conversation_ids, min(len(conversation_ids) // 4, 40))
        for n, conversation_id in enumerate([*with_calls, *[None] * 6]):
            self._add_call(rng, str(900_000 + n), conversation_id)

    def _ticket_type_attribute(self, type_id: str, n: int, created: int) -> Record:
        return {
            "type": "ticket_type_attribute",
            "id": f"{type_id}{n:02d}",
            "workspace_id": f"emu{self.seed}",
            "name": ("_default_title_", "_default_description_", "Priorität")[n],
            "description": f"Attribute {n}",
            "data_type": ("string", "string", "list")[n],
            "input_options": {"multiline": n == 1},
            "order": n,
            "required_to_create": n == 0,
            "required_to_create_for_contacts": False,
            "visible_on_create": True,
            "visible_to_contacts": n < 2,
            "default": n < 2,
            "ticket_type_id": int(type_id),
            "archived": False,
            "created_at": created,
            "updated_at": created,
        }

    def _add_activity_log(self, rng: random.Random, at: int) -> str:
        log_id = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}"
        admin_id = self.admin_ids[rng.randrange(len(self.admin_ids))]
        kind, text = ACTIVITY_TYPES[rng.randrange(len(ACTIVITY_TYPES))]
        # The component types before/after as objects (its own example shows strings).
        metadata: Record = {"before": {"name": "Émile's app"}, "after": {"name": "Émile’s app ✨"}}
        if kind == "admin_away_mode_change":
            metadata = {"away_mode": True, "away_status_reason": "☕ On a break"}
        elif kind == "macro_update":
            metadata = {"before": {"title": "Refund"}, "after": {"title": "Refund ✓"}}
        self.activity_logs[log_id] = {
            "id": log_id,
            "performed_by": {
                "type": "admin",
                "id": admin_id,
                "email": f"admin{admin_id}@example.test",
                "ip": "192.0.2.10",
            },
            "metadata": metadata,
            "created_at": at,
            "activity_type": kind,
            "activity_description": f"Admin {admin_id} {text}.",
        }
        return log_id

    def _put_macro(self, macro_id: str, created: int, updated: int, n: int) -> None:
        self.macros[macro_id] = {
            "type": "macro",
            "id": macro_id,
            "name": f"Macro {n}: order status",
            "body": f'<p>Hi <attribute key="user.name" default="there"/>, order {n}</p>',
            "body_text": f'Hi {{{{user.name|fallback:"there"}}}}, order {n}',
            "created_at": iso(created),
            "updated_at": iso(updated),
            "_updated_at": updated,
            "visible_to": "specific_teams" if n % 5 == 0 else "everyone",
            "visible_to_team_ids": ["7000000"] if n % 5 == 0 else [],
            "available_on": ["inbox", "messenger"] if n % 2 else ["inbox"],
        }

    def _add_call(self, rng: random.Random, call_id: str, conversation_id: str | None) -> None:
        started = self.anchor - rng.randint(DAY, 90 * DAY)
        has_transcript = rng.random() < 0.7
        self.calls[call_id] = {
            "type": "call",
            "id": call_id,
            "conversation_id": conversation_id,
            "admin_id": self.admin_ids[rng.randrange(len(self.admin_ids))],
            "contact_id": None,
            "state": "completed",
            "initiated_at": started,
            "answered_at": started + 5,
            "ended_at": started + rng.randint(60, 900),
            "created_at": started,
            "updated_at": started + 900,
            "recording_url": None,
            "transcription_url": f"https://api.intercom.test/calls/{call_id}/transcript"
            if has_transcript
            else None,
            "call_type": "phone",
            "direction": rng.choice(("inbound", "outbound")),
            "ended_reason": "completed",
            "phone": f"+4930{rng.randint(1_000_000, 9_999_999)}",
            "fin_recording_url": None,
            "fin_transcription_url": None,
            "_transcript": [
                {
                    "timestamp": "00:00:03",
                    "speaker": "Teammate 1",
                    "text": "Hallo, wie kann ich helfen?",
                },
                {"timestamp": "00:00:09", "speaker": "User", "text": "I need my “account” back."},
            ]
            if has_transcript
            else [],
        }

    # --------------------------------------------------------------- reading
    @staticmethod
    def public(record: Record) -> Record:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def truth(self) -> dict[str, Any]:
        with self.lock:
            return {
                "admin_activity_logs": {i: r["created_at"] for i, r in self.activity_logs.items()},
                "ticket_types": {i: r["updated_at"] for i, r in self.ticket_types.items()},
                "ticket_states": dict.fromkeys(self.ticket_states),
                "macros": {i: r["_updated_at"] for i, r in self.macros.items()},
                "away_status_reasons": {
                    i: r["deleted"] for i, r in self.away_status_reasons.items()
                },
                "office_hours_schedules": {
                    i: r["updated_at"] for i, r in self.office_hours_schedules.items()
                },
                "internal_articles": {
                    i: r["updated_at"] for i, r in self.internal_articles.items()
                },
                "content_snippets": {i: r["updated_at"] for i, r in self.content_snippets.items()},
                "calls": {i: r["conversation_id"] for i, r in self.calls.items()},
                "call_transcripts": {
                    i: len(r["_transcript"])
                    for i, r in self.calls.items()
                    if r["conversation_id"] is not None
                },
            }

    def activity_logs_between(self, after: int, before: int | None) -> list[Record]:
        """Logs created after ``after`` (and before ``before``), newest first."""
        with self.lock:
            found = [
                r
                for r in self.activity_logs.values()
                if r["created_at"] > after and (before is None or r["created_at"] < before)
            ]
        return sorted(found, key=lambda r: (-r["created_at"], r["id"]))

    def macro_page(
        self, *, per_page: int, updated_since: int | None, starting_after: str | None
    ) -> tuple[list[Record], str | None]:
        """Macros updated after ``updated_since``, newest first, from the cursor on."""
        with self.lock:
            ordered = sorted(self.macros.values(), key=lambda m: (-m["_updated_at"], -int(m["id"])))
        if updated_since is not None:
            ordered = [m for m in ordered if m["_updated_at"] > updated_since]
        if starting_after:
            at, last_id = read_macro_cursor(starting_after)
            ordered = [
                m for m in ordered if (-m["_updated_at"], -int(m["id"])) > (-at, -int(last_id))
            ]
        page = ordered[:per_page]
        more = len(ordered) > per_page
        cursor = macro_cursor(page[-1]["_updated_at"], page[-1]["id"]) if more else None
        return [self.public(m) for m in page], cursor

    def calls_of(self, conversation_ids: list[str]) -> list[Record]:
        wanted = set(conversation_ids)
        with self.lock:
            found = [c for c in self.calls.values() if c["conversation_id"] in wanted]
        # Every third transcribed call comes without its structured transcript (a guess at
        # "if available"): its text is still at transcription_url.
        return [
            {
                **self.public(c),
                "transcript": [] if self.text_only(c["id"]) else c["_transcript"],
                "transcript_status": "completed" if c["_transcript"] else None,
            }
            for c in sorted(found, key=lambda c: int(c["id"]))
        ]

    def text_only(self, call_id: str) -> bool:
        """Whether the call search leaves this call's transcript to GET .../transcript."""
        return int(call_id) % 3 == 0

    def transcript_text(self, call_id: str) -> str | None:
        with self.lock:
            call = self.calls.get(call_id)
        if call is None or not call["_transcript"]:
            return None
        return "\n".join(
            f'[{line["timestamp"]}] {line["speaker"]}: "{line["text"]}"'
            for line in call["_transcript"]
        )

    def handling_events(self, conversation_id: str) -> list[Record]:
        rng = random.Random(f"{self.seed}/handling/{conversation_id}")
        events: list[Record] = []
        at = self.anchor - rng.randint(DAY, 30 * DAY)
        for n in range(rng.choice((0, 0, 2, 4))):
            admin_id = self.admin_ids[rng.randrange(len(self.admin_ids))]
            at += rng.randint(60, 3_600)
            events.append(
                {
                    "teammate": {
                        "type": "admin",
                        "id": int(admin_id),
                        "name": f"Admin {admin_id}",
                        "email": f"admin{admin_id}@example.test",
                    },
                    "type": "paused" if n % 2 == 0 else "resumed",
                    "timestamp": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "reason": "Away" if n % 2 == 0 else None,
                }
            )
        return events

    def monitor_evaluations(self, conversation_id: str) -> list[Record]:
        rng = random.Random(f"{self.seed}/monitors/{conversation_id}")
        if rng.random() >= 0.3:
            return []
        return [
            {
                "monitor_id": str(40 + rng.randrange(3)),
                "monitor_name": "Rude language",
                "monitor_type": "ai",
                "result": rng.choice(("flagged", "not_flagged")),
                "explanation": "The reply said “sorry” twice.",
                "evaluated_at": self.anchor - rng.randint(DAY, 10 * DAY),
            }
        ]

    def scorecards(self, conversation_id: str) -> list[Record]:
        rng = random.Random(f"{self.seed}/scorecards/{conversation_id}")
        if rng.random() >= 0.3:
            return []
        admin_id = self.admin_ids[rng.randrange(len(self.admin_ids))]
        return [
            {
                "scorecard_id": "51",
                "scorecard_version_id": "51-3",
                "name": "Support quality",
                "scorecard_type": "manual",
                "passed": rng.random() < 0.8,
                "score": round(rng.uniform(40, 100), 1),
                "ai_score": None,
                "evaluated_at": self.anchor - rng.randint(DAY, 10 * DAY),
                "reviewed_teammate": {"type": "admin", "id": admin_id},
                "evaluators": [{"type": "admin", "id": self.admin_ids[0]}],
            }
        ]

    # -------------------------------------------------------------- mutations
    def add_activity_logs(self, count: int = 1, at: int | None = None) -> list[str]:
        """New activity logs created at ``at`` or the workspace's now."""
        with self.lock:
            when = self.workspace.now() if at is None else at
            return [self._add_activity_log(self._mutation_rng, when) for _ in range(count)]

    def update_macros(
        self, ids: list[str] | None = None, count: int = 1, at: int | None = None
    ) -> list[str]:
        """Macros renamed, updated_at ``at`` or now."""
        with self.lock:
            chosen = ids or self._mutation_rng.sample(sorted(self.macros), count)
            when = self.workspace.now() if at is None else at
            for macro_id in chosen:
                macro = dict(self.macros[macro_id])
                macro["name"] = f"{macro['name']} ✎"
                macro["_updated_at"] = when
                macro["updated_at"] = iso(when)
                self.macros[macro_id] = macro
            return list(chosen)
