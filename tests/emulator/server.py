"""The local Intercom emulator's HTTP server (API version 2.16 shapes).

Built on the standard library's ``http.server.ThreadingHTTPServer`` on purpose: it adds no
dependency to the project, a thread per connection is plenty for a test and benchmark server
on one machine, and writing responses by hand gives full control of the raw bytes, which the
fault injection needs (HTML 5xx bodies, empty 200s, JSON cut mid-body, a body shorter than its
``Content-Length``). It binds to 127.0.0.1 only.

Behaviour (see ``tests/emulator/README.md`` for the full list and the deviations):

- ``Authorization: Bearer <token>``; a wrong or missing token is a 401 ``unauthorized``.
- Scopes per endpoint group (``SCOPES``); a forbidden scope is a 403 ``forbidden`` naming it, a
  plan-restricted one a 403 ``api_plan_restricted``.
- Rate limit in fixed 10-second windows; ``X-RateLimit-Limit/-Remaining/-Reset`` on every
  authenticated response; over budget a 429 ``rate_limit_exceeded``.
- Seeded faults: 5xx with an HTML body, 429 regardless of budget, empty 200, truncated 200
  (cut JSON), short read (fewer bytes than ``Content-Length``), latency with spikes, a 500
  mid-scroll.
- Doubled slashes (``//admins``) are accepted; any ``Intercom-Version`` header is accepted.
- Stateless cursors: ``starting_after`` is base64 of the last (sort key, id) and page number.
- Control routes under ``/_emulator/`` (no auth, no rate limit, not counted).

Endpoints served for singer-io's tap-intercom 2.2.5 (read from its source, version header
``Intercom-Version: 2.12``, paths joined as ``base + "/" + path`` so addressable-list URLs such
as ``/contacts/{id}/tags`` arrive as ``//contacts/{id}/tags``):
``GET /tags`` (token check and tags), ``GET /admins`` then ``GET /admins/{id}``, ``GET /teams``,
``GET /segments?include_count=true``, ``GET /segments?type=company&include_count=true``
(company_segments), ``GET /data_attributes?model=contact`` and ``?model=company``,
``GET /companies/scroll`` (+ ``scroll_param``), ``POST /contacts/search`` (``updated_at`` ``>`` OR
``=`` bookmark, sort ``updated_at`` ascending, 150 per page), ``GET //contacts/{id}/tags``,
``//contacts/{id}/notes``, ``//contacts/{id}/companies`` with ``display_as=plaintext&per_page=60``
(only when ``has_more``), ``POST /conversations/search`` (AND of ``id > / = last`` and
``updated_at > / = bookmark`` with float seconds, sort ``id`` ascending) and
``GET /conversations/{id}?display_as=plaintext`` (conversation_parts).
"""

from __future__ import annotations

import json
import random
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.emulator.extras import (
    ACTIVITY_LOGS_PER_PAGE,
    CALL_SEARCH_MAX_IDS,
    CALLS_MAX_PER_PAGE,
    SNIPPETS_MAX_PER_PAGE,
    Extras,
)
from tests.emulator.search import (
    DayRule,
    Keyed,
    Predicate,
    SearchError,
    compile_query,
    page_after,
    paginate,
    per_page_of,
    sort_records,
    time_slice,
)
from tests.emulator.webhooks import WebhookDelivery
from tests.emulator.workspace import CONTACT_TIMESTAMP_FIELDS, Record, Workspace

WINDOW_SECONDS = 10
DEFAULT_TOKEN = "emulator-token"
# The entities POST /{entity}/search serves.
SEARCHABLE = ("contacts", "conversations", "tickets")
SEARCH_TIMESTAMPS = frozenset({"created_at", "updated_at", "waiting_since", "snoozed_until"})
SCROLL_PAGE_SIZE = 100
DELETED_MAX_PER_PAGE = 60
SEARCH_CACHE_SIZE = 16


@dataclass
class Faults:
    """Seeded fault probabilities (0..1 per request) and latency spikes."""

    seed: int = 0
    error_rate: float = 0.0  # 500/502/503/504 with an HTML body
    rate_limit_rate: float = 0.0  # 429 regardless of the budget
    empty_rate: float = 0.0  # 200 with an empty body
    truncated_rate: float = 0.0  # 200 whose JSON is cut (Content-Length matches the cut body)
    short_read_rate: float = 0.0  # 200 that sends fewer bytes than its Content-Length, then closes
    spike_rate: float = 0.0  # probability of an extra latency spike
    spike_ms: int = 0
    scroll_error_rate: float = 0.0  # 500 on a scroll continuation; the scroll is closed


@dataclass
class Settings:
    """Everything ``configure`` can change at run time."""

    token: str = DEFAULT_TOKEN
    rate_limit: int = 10_000  # requests per 10-second window
    search_lag: float = 0.0  # seconds before a change is visible to search
    scroll_expiry: float = 60.0  # seconds a companies scroll may stay idle
    scroll_page_size: int = SCROLL_PAGE_SIZE
    latency_ms: int = 0
    faults: Faults = field(default_factory=Faults)
    forbidden_scopes: tuple[str, ...] = ()
    plan_restricted_scopes: tuple[str, ...] = ()
    # Route templates answering 404, as in a version, plan or region without the endpoint.
    missing_routes: tuple[str, ...] = ()


FAULT_FIELDS = frozenset(f.name for f in fields(Faults))
SETTING_FIELDS = frozenset(f.name for f in fields(Settings))


def apply_settings(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    """A new Settings with ``changes``; fault fields may be given flat or as ``faults``."""
    unknown = set(changes) - SETTING_FIELDS - FAULT_FIELDS
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    faults = settings.faults
    given = changes.get("faults")
    if isinstance(given, Faults):
        faults = given
    elif isinstance(given, Mapping):
        faults = replace(faults, **given)
    flat = {k: v for k, v in changes.items() if k in FAULT_FIELDS}
    if flat:
        faults = replace(faults, **flat)
    top = {k: v for k, v in changes.items() if k in SETTING_FIELDS and k != "faults"}
    for key in ("forbidden_scopes", "plan_restricted_scopes", "missing_routes"):
        if key in top:
            top[key] = tuple(top[key])
    return replace(settings, **top, faults=faults)


class TextBody(str):
    """A handler's answer sent as text/plain (a call transcript), not JSON."""


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


@dataclass
class Route:
    method: str
    template: str
    scope: str
    handler: Callable[[Request], Any]
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{[a-z_]+\\\}", "([^/]+)", re.escape(self.template))
        self.pattern = re.compile(f"^{regex}$")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    params: tuple[str, ...]
    base_url: str
    version: str = "2.16"  # the Intercom-Version header

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)


class _Lazy(Mapping[str, Any]):
    """A conversation/ticket core for filtering: core fields first, rendered on a miss."""

    def __init__(self, core: Record, render: Callable[[Record], Record]) -> None:
        self.core, self._render = core, render
        self._full: Record | None = None

    def _rendered(self) -> Record:
        if self._full is None:
            self._full = self._render(self.core)
        return self._full

    def __getitem__(self, key: str) -> Any:
        if key == "contact_ids" and "_contact_ids" in self.core:
            return self.core["_contact_ids"]
        if key in self.core:
            return self.core[key]
        return self._rendered()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rendered())

    def __len__(self) -> int:
        return len(self._rendered())


def _error_body(code: str, message: str) -> Record:
    return {
        "type": "error.list",
        "request_id": secrets.token_hex(8),
        "errors": [{"code": code, "message": message}],
    }


def _html_error(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    return (
        f"<!DOCTYPE html><html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{status} {phrase}</h1><p>upstream said no</p></body></html>"
    ).encode()


def _page_number(value: str | None) -> int:
    try:
        page = int(value or 1)
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", "page must be an integer") from exc
    if page < 1:
        raise ApiError(400, "parameter_invalid", "page must be 1 or more")
    return page


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, workspace: Workspace, settings: Settings, port: int = 0) -> None:
        self.workspace = workspace
        self.extras = Extras(workspace)
        self.settings = settings
        self.lock = threading.Lock()
        self._fault_rng = random.Random(settings.faults.seed)
        self._fault_seed = settings.faults.seed
        self._window = 0
        self._window_count = 0
        self._scroll: dict[str, Any] | None = None
        self._stats: dict[str, dict[str, int]] = {}
        self._fault_counts: dict[str, int] = {}
        self._total = 0
        self._search_cache: dict[tuple[str, str, str], tuple[int, Keyed]] = {}
        self._sorted_views: dict[tuple[str, str], tuple[int, Keyed, list[float]]] = {}
        self._day_rule = DayRule(workspace.day_start, workspace.next_day_start)
        self.routes = self._routes()
        self.webhooks: WebhookDelivery | None = None  # set by Emulator when it delivers
        super().__init__(("127.0.0.1", port), Handler)

    # ------------------------------------------------------------ control
    def configure(self, **changes: Any) -> Settings:
        with self.lock:
            self.settings = apply_settings(self.settings, changes)
            if self.settings.faults.seed != self._fault_seed:
                self._fault_seed = self.settings.faults.seed
                self._fault_rng = random.Random(self._fault_seed)
            return self.settings

    def stats(self) -> dict[str, Any]:
        with self.lock:
            rate_limited = sum(s.get("429", 0) for s in self._stats.values())
            return {
                "total": self._total,
                "rate_limited": rate_limited,
                "routes": {k: dict(v) for k, v in self._stats.items()},
                "faults": dict(self._fault_counts),
            }

    def reset_stats(self) -> None:
        with self.lock:
            self._stats.clear()
            self._fault_counts.clear()
            self._total = 0

    def count(self, route: str, status: int) -> None:
        with self.lock:
            self._total += 1
            by_status = self._stats.setdefault(route, {})
            by_status[str(status)] = by_status.get(str(status), 0) + 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self._fault_counts[kind] = self._fault_counts.get(kind, 0) + 1

    # ---------------------------------------------------------- budget
    def take_budget(self) -> tuple[bool, dict[str, str]]:
        """Spend one request of the current 10-second window; False when it is used up."""
        now = time.time()
        with self.lock:
            window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
            if window != self._window:
                self._window, self._window_count = window, 0
            limit = self.settings.rate_limit
            allowed = self._window_count < limit
            if allowed:
                self._window_count += 1
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(0, limit - self._window_count)),
                "X-RateLimit-Reset": str(window + WINDOW_SECONDS),
            }
            return allowed, headers

    def draw_fault(self) -> tuple[str | None, float]:
        """Which fault (if any) hits this request, and the latency to add in seconds."""
        with self.lock:
            f = self.settings.faults
            delay = self.settings.latency_ms / 1000
            if f.spike_rate and self._fault_rng.random() < f.spike_rate:
                delay += f.spike_ms / 1000
            roll = self._fault_rng.random()
            for kind, rate in (
                ("error", f.error_rate),
                ("rate_limit", f.rate_limit_rate),
                ("empty", f.empty_rate),
                ("truncated", f.truncated_rate),
                ("short_read", f.short_read_rate),
            ):
                if roll < rate:
                    return kind, delay
                roll -= rate
            return None, delay

    def fault_choice(self, options: tuple[int, ...]) -> int:
        with self.lock:
            return self._fault_rng.choice(options)

    # ---------------------------------------------------------- routes
    def _routes(self) -> list[Route]:
        r = Route
        admins, users, convs = "read_admins", "read_users_companies", "read_conversations"
        return [
            r("GET", "/me", admins, self.get_me),
            r("GET", "/admins", admins, self.list_admins),
            r("GET", "/admins/activity_logs", admins, self.list_activity_logs),
            r("GET", "/admins/{id}", admins, self.get_admin),
            r("GET", "/teams", admins, self.list_teams),
            r("GET", "/tags", "read_tags", self.list_tags),
            r("GET", "/segments", users, self.list_segments),
            r("GET", "/subscription_types", users, self.list_subscription_types),
            r("GET", "/data_attributes", "read_data_attributes", self.list_data_attributes),
            r("GET", "/conversations/attributes", "read_data_attributes", self.list_conv_attrs),
            r("GET", "/help_center/collections", "read_content", self.list_collections),
            r("GET", "/help_center/help_centers", "read_content", self.list_help_centers),
            r("GET", "/articles", "read_content", self.list_articles),
            r("GET", "/companies/scroll", users, self.scroll_companies),
            r("GET", "/companies", users, self.list_companies),
            r("POST", "/companies/list", users, self.list_companies_with_contacts),
            r("GET", "/companies/{id}", users, self.get_company),
            r("GET", "/companies/{id}/notes", users, self.list_company_notes),
            r("POST", "/contacts/search", users, self.search_contacts),
            r("GET", "/contacts", users, self.list_contacts),
            r("GET", "/contacts/{id}", users, self.get_contact),
            r("GET", "/contacts/{id}/tags", "read_tags", self.list_contact_tags),
            r("GET", "/contacts/{id}/companies", users, self.list_contact_companies),
            r("GET", "/contacts/{id}/notes", users, self.list_contact_notes),
            r("GET", "/events", "read_events", self.list_events),
            r("POST", "/conversations/search", convs, self.search_conversations),
            r("GET", "/conversations", convs, self.list_conversations),
            r("GET", "/conversations/deleted", convs, self.list_deleted_conversations),
            r("GET", "/conversations/{id}", convs, self.get_conversation),
            r("POST", "/tickets/search", "read_tickets", self.search_tickets),
            r("GET", "/tickets/{id}", "read_tickets", self.get_ticket),
            r("GET", "/ticket_types", "read_tickets", self.list_ticket_types),
            r("GET", "/ticket_states", "read_tickets", self.list_ticket_states),
            r("GET", "/macros", convs, self.list_macros),
            r("GET", "/away_status_reasons", admins, self.list_away_status_reasons),
            r("GET", "/office_hours_schedules", admins, self.list_office_hours_schedules),
            r("GET", "/internal_articles", "read_content", self.list_internal_articles),
            r("GET", "/content_snippets", "read_content", self.list_content_snippets),
            r("GET", "/calls", convs, self.list_calls),
            r("POST", "/calls/search", convs, self.search_calls),
            r("GET", "/calls/{id}/transcript", convs, self.get_call_transcript),
            r("GET", "/conversations/{id}/handling_events", convs, self.list_handling_events),
        ]

    def match(self, method: str, path: str) -> tuple[Route | None, tuple[str, ...], bool]:
        """(route, path params, path known for another method)."""
        known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                if route.method == method:
                    return route, m.groups(), True
                known = True
        return None, (), known

    # -------------------------------------------------------- handlers
    def _not_found(self) -> ApiError:
        return ApiError(404, "not_found", "Resource Not Found")

    def get_me(self, req: Request) -> Record:
        admins = self.workspace.records("admins")
        if not admins:
            raise self._not_found()
        me = dict(admins[0])
        me["avatar"] = self.workspace.admin_avatar(me["id"])
        me["email_verified"] = True
        for key in ("away_status_reason_id", "team_priority_level"):
            me.pop(key, None)
        me["app"] = {
            "type": "app",
            "id_code": f"emu{self.workspace.spec.seed}",
            "name": "Emulated Workspace ✨",
            "region": "Europe",
            "timezone": self.workspace.spec.timezone,
            "created_at": self.workspace.anchor - 900 * 86_400,
            "identity_verification": False,
        }
        return me

    def _with_avatar(self, req: Request, admin: Record) -> Record:
        if (req.arg("display_avatar") or "").lower() != "true":
            return admin
        return {**admin, "avatar": self.workspace.admin_avatar(admin["id"])}

    def list_admins(self, req: Request) -> Record:
        admins = [self._with_avatar(req, a) for a in self.workspace.records("admins")]
        return {"type": "admin.list", "admins": admins}

    def get_admin(self, req: Request) -> Record:
        admin = self.workspace.get("admins", req.params[0])
        if admin is None:
            raise ApiError(404, "admin_not_found", "Admin not found")
        return self._with_avatar(req, admin)

    def list_teams(self, req: Request) -> Record:
        return {"type": "team.list", "teams": self.workspace.records("teams")}

    def list_tags(self, req: Request) -> Record:
        return {"type": "list", "data": self.workspace.records("tags")}

    def list_segments(self, req: Request) -> Record:
        include_count = (req.arg("include_count") or "").lower() == "true"
        segments = []
        for segment in self.workspace.records("segments"):
            out = dict(segment)
            if not include_count:
                out.pop("count")
            segments.append(out)
        return {"type": "segment.list", "segments": segments, "pages": {}}

    def list_subscription_types(self, req: Request) -> Record:
        return {"type": "list", "data": self.workspace.records("subscription_types")}

    def list_data_attributes(self, req: Request) -> Record:
        model = req.arg("model")
        if model not in (None, "contact", "company", "conversation"):
            raise ApiError(400, "parameter_invalid", f"model {model!r} is not valid")
        data = [a for a in self.workspace.records("data_attributes") if model in (None, a["model"])]
        return {"type": "list", "data": data}

    def list_conv_attrs(self, req: Request) -> Record:
        return {"type": "list", "data": self.workspace.records("conversation_attributes")}

    def _page_list(self, req: Request, items: list[Record], default: int = 50) -> Record:
        """Page-number pagination (``page``, ``per_page``) as the help-center lists use."""
        per_page = self._per_page(req.arg("per_page"), default)
        page = _page_number(req.arg("page"))
        return {
            "type": "list",
            "data": items[(page - 1) * per_page : page * per_page],
            "total_count": len(items),
            "pages": {
                "type": "pages",
                "page": page,
                "per_page": per_page,
                "total_pages": -(-len(items) // per_page),
            },
        }

    def list_collections(self, req: Request) -> Record:
        return self._page_list(req, self.workspace.records("collections"))

    def list_help_centers(self, req: Request) -> Record:
        return {"type": "list", "data": self.workspace.records("help_centers")}

    def list_articles(self, req: Request) -> Record:
        return self._page_list(req, self.workspace.records("articles"))

    def _per_page(self, value: Any, default: int = 50, maximum: int = 150) -> int:
        try:
            return per_page_of(value, default, maximum)
        except SearchError as exc:
            raise ApiError(400, exc.code, exc.message) from exc

    # ---------------------------------------------------------- companies
    def scroll_companies(self, req: Request) -> Record:
        param = req.arg("scroll_param")
        now = time.monotonic()
        with self.lock:
            scroll = self._scroll
            expiry = self.settings.scroll_expiry
            if scroll is not None and now - scroll["last"] > expiry:
                scroll = self._scroll = None
            if not param:
                if scroll is not None:
                    raise ApiError(400, "scroll_exists", "scroll already exists for this workspace")
                scroll = self._scroll = {
                    "param": secrets.token_hex(16),
                    "ids": None,
                    "pos": 0,
                    "last": now,
                }
            elif scroll is None or scroll["param"] != param:
                raise ApiError(404, "not_found", "scroll_param not found or expired")
            scroll["last"] = now
            scroll_fault = bool(param) and self.fault_rate_locked(
                self.settings.faults.scroll_error_rate
            )
            if scroll_fault:
                self._scroll = None
            size = self.settings.scroll_page_size
        if scroll_fault:
            self.count_fault("scroll_error")
            raise ApiError(500, "server_error", "Server Error")
        if scroll["ids"] is None:
            scroll["ids"] = sorted(c["id"] for c in self.workspace.cores("companies"))
        chunk_ids = scroll["ids"][scroll["pos"] : scroll["pos"] + size]
        scroll["pos"] += size
        companies = [c for c in (self.workspace.get("companies", i) for i in chunk_ids) if c]
        if not chunk_ids:
            with self.lock:
                if self._scroll is scroll:
                    self._scroll = None
        return {
            "type": "list",
            "data": companies,
            "pages": None,
            "total_count": None,
            "scroll_param": scroll["param"],
        }

    def fault_rate_locked(self, rate: float) -> bool:
        return rate > 0 and self._fault_rng.random() < rate

    def _companies(self, req: Request, only_with_contacts: bool) -> Record:
        companies = sorted(self.workspace.records("companies"), key=lambda c: c["id"])
        if only_with_contacts:
            companies = [c for c in companies if c["user_count"] > 0][:10_000]
        for key in ("company_id", "name"):
            wanted = req.arg(key)
            if wanted is not None:
                companies = [c for c in companies if c[key] == wanted]
        per_page = self._per_page(req.arg("per_page"), 15, 60 if only_with_contacts else 150)
        page = _page_number(req.arg("page"))
        return {
            "type": "list",
            "data": companies[(page - 1) * per_page : page * per_page],
            "total_count": len(companies),
            "pages": {
                "type": "pages",
                "page": page,
                "per_page": per_page,
                "total_pages": -(-len(companies) // per_page),
            },
        }

    def list_companies(self, req: Request) -> Record:
        return self._companies(req, only_with_contacts=False)

    def list_companies_with_contacts(self, req: Request) -> Record:
        return self._companies(req, only_with_contacts=True)

    def get_company(self, req: Request) -> Record:
        company = self.workspace.get("companies", req.params[0])
        if company is None:
            raise ApiError(404, "company_not_found", "Company Not Found")
        return company

    def list_company_notes(self, req: Request) -> Record:
        self.get_company(req)
        return {"type": "list", "data": [], "total_count": 0, "pages": None}

    # ------------------------------------------------------------ search
    def _search(self, req: Request, entity: str) -> tuple[list[Record], Record, int]:
        body = req.body
        if not isinstance(body, Mapping) or "query" not in body:
            raise ApiError(400, "parameter_invalid", "a search needs a query")
        pagination = body.get("pagination") or {}
        sort = body.get("sort") or {}
        if not isinstance(pagination, Mapping) or not isinstance(sort, Mapping):
            raise ApiError(400, "parameter_invalid", "pagination and sort must be objects")
        order = sort.get("order", "ascending")
        if order not in ("ascending", "descending"):
            raise ApiError(400, "parameter_invalid", f"sort order {order!r} is not valid")
        try:
            if entity == "contacts":
                predicate = compile_query(
                    body["query"],
                    timestamp_fields=CONTACT_TIMESTAMP_FIELDS,
                    day_rule=self._day_rule,
                )
            else:
                predicate = compile_query(body["query"], timestamp_fields=SEARCH_TIMESTAMPS)
            per_page = per_page_of(pagination.get("per_page"))
            sort_field = str(sort.get("field", "id"))
            keyed = self._matches(entity, body["query"], predicate, sort_field)
            page, pages, total = page_after(
                keyed,
                descending=order == "descending",
                per_page=per_page,
                starting_after=pagination.get("starting_after"),
            )
        except SearchError as exc:
            raise ApiError(400, exc.code, exc.message) from exc
        with self.workspace.lock:
            cores = [r.core if isinstance(r, _Lazy) else r for r in page]
            data = [self.workspace.render(entity, c) for c in cores]
        return data, pages, total

    def _matches(self, entity: str, query: Any, predicate: Predicate, sort_field: str) -> Keyed:
        """The sorted matches of a query, cached while the workspace does not change and no
        change is hidden by the search lag (then the view is the current data)."""
        version, stable = self._search_version()
        key = (entity, json.dumps(query, sort_keys=True), sort_field)
        with self.lock:
            cached = self._search_cache.get(key)
        if stable and cached is not None and cached[0] == version:
            return cached[1]
        # Filtering the sorted view keeps its order: a new query costs one pass, not a sort;
        # a query that only bounds the sort field costs a bisection.
        keyed, numbers = self._sorted_view(entity, sort_field, version, stable)
        timestamps = CONTACT_TIMESTAMP_FIELDS if entity == "contacts" else SEARCH_TIMESTAMPS
        rule = self._day_rule if entity == "contacts" else None
        bounds = time_slice(query, sort_field, numbers, rule) if sort_field in timestamps else None
        if bounds is not None:
            keyed = keyed[bounds[0] : bounds[1]]
        else:
            keyed = [kr for kr in keyed if predicate(kr[1])]

        if stable:
            with self.lock:
                self._search_cache[key] = (version, keyed)
                while len(self._search_cache) > SEARCH_CACHE_SIZE:
                    self._search_cache.pop(next(iter(self._search_cache)))
        return keyed

    def _search_version(self) -> tuple[int, bool]:
        """The workspace's version, and whether the search shows all of it (no change is
        hidden by the search lag): only then are its views and matches cached."""
        with self.workspace.lock:
            version = self.workspace.version
            stable = time.time() - self.settings.search_lag > self.workspace.last_change
        return version, stable

    def _sorted_view(
        self, entity: str, sort_field: str, version: int, stable: bool
    ) -> tuple[Keyed, list[float]]:
        """Every record the search index shows, sorted by `sort_field`, with its values as
        numbers (-inf: none or not a number), cached like a query's matches (apart from
        them, so that many queries do not push it out)."""
        key = (entity, sort_field)
        with self.lock:
            cached = self._sorted_views.get(key)
        if stable and cached is not None and cached[0] == version:
            return cached[1], cached[2]
        workspace = self.workspace
        view = workspace.search_view(entity, self.settings.search_lag)
        render = workspace.renderer(entity)
        rows: list[Any] = view if entity == "contacts" else [_Lazy(c, render) for c in view]
        keyed = sort_records(rows, sort_field)
        numbers = [float(k[1]) if k[0] == 1 else float("-inf") for k, _ in keyed]
        if stable:
            with self.lock:
                self._sorted_views[key] = (version, keyed, numbers)
        return keyed, numbers

    def warm(self, entities: Sequence[str] = SEARCHABLE, sort_field: str = "updated_at") -> int:
        """Build the sorted views the searches of `entities` by `sort_field` read, now rather
        than at their first search (Intercom indexes a change as it happens): a benchmark
        calls it after its changes, so that the next timed run does not share the machine's
        cores with this process sorting every record. Returns the number of views built."""
        unknown = sorted(set(entities) - set(SEARCHABLE))
        if unknown:
            msg = f"no search for {unknown}; searchable: {list(SEARCHABLE)}"
            raise ValueError(msg)
        version, stable = self._search_version()
        if not stable:
            return 0  # a change the search does not show yet: the view would not be kept
        for entity in entities:
            self._sorted_view(entity, sort_field, version, stable)
        return len(entities)

    def search_contacts(self, req: Request) -> Record:
        data, pages, total = self._search(req, "contacts")
        return {"type": "list", "data": data, "total_count": total, "pages": pages}

    def search_conversations(self, req: Request) -> Record:
        data, pages, total = self._search(req, "conversations")
        # QA results come only from the search, and only when asked for.
        monitors = (req.arg("include_monitors") or "").lower() == "true"
        scorecards = (req.arg("include_scorecards") or "").lower() == "true"
        if monitors or scorecards:
            data = [dict(c) for c in data]
            for conversation in data:
                if monitors:
                    conversation["monitor_evaluations"] = self.extras.monitor_evaluations(
                        conversation["id"]
                    )
                if scorecards:
                    conversation["scorecards"] = self.extras.scorecards(conversation["id"])
        return {
            "type": "conversation.list",
            "conversations": data,
            "total_count": total,
            "pages": pages,
        }

    def search_tickets(self, req: Request) -> Record:
        data, pages, total = self._search(req, "tickets")
        return {"type": "ticket.list", "tickets": data, "total_count": total, "pages": pages}

    # ---------------------------------------------------------- contacts
    def _cursor_list(
        self, req: Request, records: list[Record], sort_field: str, descending: bool
    ) -> tuple[list[Record], Record, int]:
        try:
            return paginate(
                records,
                field=sort_field,
                descending=descending,
                per_page=per_page_of(req.arg("per_page")),
                starting_after=req.arg("starting_after"),
            )
        except SearchError as exc:
            raise ApiError(400, exc.code, exc.message) from exc

    def list_contacts(self, req: Request) -> Record:
        data, pages, total = self._cursor_list(req, self.workspace.cores("contacts"), "id", False)
        with self.workspace.lock:
            rendered = [self.workspace.render("contacts", c) for c in data]
        if req.arg("include_merge_history") == "true":
            # 2.16 documents the array on users only ("Only returned for contacts with a user
            # role"); a user nobody was merged into gets an empty one (a guess).
            for contact in rendered:
                if contact.get("role") == "user":
                    contact["merge_history"] = self.workspace.merge_history(contact["id"])
        return {"type": "list", "data": rendered, "total_count": total, "pages": pages}

    def get_contact(self, req: Request) -> Record:
        contact = self.workspace.get("contacts", req.params[0])
        if contact is None:
            into = self.workspace.merged_into(req.params[0])
            if into is not None and _version_at_least(req.version, (2, 17)):
                # Intercom's 2.17 docs: a merged contact answers 410 Gone with a Link header
                # to the contact it went into (2.16's: 404). The header's exact form is a guess.
                link = f'<{req.base_url}/contacts/{into}>; rel="canonical"'
                raise ApiError(410, "gone", "Contact was merged", {"Link": link})
            raise self._not_found()
        return contact

    def list_contact_tags(self, req: Request) -> Record:
        tags = self.workspace.contact_tags(req.params[0])
        if tags is None:
            raise self._not_found()
        return {"type": "list", "data": tags}

    def list_contact_companies(self, req: Request) -> Record:
        companies = self.workspace.contact_companies(req.params[0])
        if companies is None:
            raise self._not_found()
        per_page = self._per_page(req.arg("per_page"), 50)
        page = _page_number(req.arg("page"))
        total_pages = -(-len(companies) // per_page)
        next_url = None
        if page < total_pages:
            query = urlencode({"page": page + 1, "per_page": per_page})
            next_url = f"{req.base_url}/contacts/{req.params[0]}/companies?{query}"
        return {
            "type": "list",
            "companies": companies[(page - 1) * per_page : page * per_page],
            "total_count": len(companies),
            "pages": {
                "type": "pages",
                "page": page,
                "next": next_url,
                "per_page": per_page,
                "total_pages": total_pages,
            },
        }

    def list_contact_notes(self, req: Request) -> Record:
        notes = self.workspace.contact_notes(req.params[0])
        if notes is None:
            raise self._not_found()
        data, pages, total = self._cursor_list(req, notes, "created_at", True)
        return {"type": "list", "data": data, "total_count": total, "pages": pages}

    def list_events(self, req: Request) -> Record:
        if req.arg("type") != "user":
            raise ApiError(400, "parameter_invalid", "type must be user")
        intercom_user_id, user_id = req.arg("intercom_user_id"), req.arg("user_id")
        if intercom_user_id is None and user_id is None:
            raise ApiError(400, "parameter_not_found", "intercom_user_id or user_id is required")
        events = self.workspace.events(intercom_user_id=intercom_user_id, user_id=user_id)
        if events is None:
            raise ApiError(404, "not_found", "User Not Found")
        per_page = self._per_page(req.arg("per_page"), 50)
        page = _page_number(req.arg("page"))
        pages: Record = {}
        if page * per_page < len(events):
            ident = {"intercom_user_id": intercom_user_id} if intercom_user_id else {}
            ident = ident or {"user_id": user_id or ""}
            query = urlencode({"type": "user", **ident, "per_page": per_page, "page": page + 1})
            pages["next"] = f"{req.base_url}/events?{query}"
        return {
            "type": "event.list",
            "events": events[(page - 1) * per_page : page * per_page],
            "pages": pages,
        }

    # ----------------------------------------------------- conversations
    def list_conversations(self, req: Request) -> Record:
        data, pages, total = self._cursor_list(
            req, self.workspace.cores("conversations"), "updated_at", True
        )
        with self.workspace.lock:
            rendered = [self.workspace.render("conversations", c) for c in data]
        return {
            "type": "conversation.list",
            "conversations": rendered,
            "total_count": total,
            "pages": pages,
        }

    def get_conversation(self, req: Request) -> Record:
        plaintext = req.arg("display_as") == "plaintext"
        conversation = self.workspace.conversation(req.params[0], plaintext=plaintext)
        if conversation is None:
            raise self._not_found()
        return conversation

    def list_deleted_conversations(self, req: Request) -> Record:
        per_page = self._per_page(req.arg("per_page"), 20, DELETED_MAX_PER_PAGE)
        page = _page_number(req.arg("page"))
        order = req.arg("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "parameter_invalid", "order must be asc or desc")
        deleted = sorted(
            self.workspace.deleted_conversations().items(),
            key=lambda item: (item[1], int(item[0])),
            reverse=order == "desc",
        )
        total_pages = -(-len(deleted) // per_page)
        next_url = None
        if page < total_pages:
            query = urlencode({"per_page": per_page, "order": order, "page": page + 1})
            next_url = f"{req.base_url}/conversations/deleted?{query}"
        return {
            "type": "conversations.list",
            "conversations": [
                {"type": "conversation", "id": cid, "metrics_retained": False, "deleted_at": at}
                for cid, at in deleted[(page - 1) * per_page : page * per_page]
            ],
            "total_count": len(deleted),
            "pages": {
                "type": "pages",
                "next": next_url,
                "page": page,
                "per_page": per_page,
                "total_pages": total_pages,
            },
        }

    def get_ticket(self, req: Request) -> Record:
        ticket = self.workspace.ticket(req.params[0])
        if ticket is None:
            raise ApiError(404, "ticket_not_found", "Ticket not found")
        return ticket

    # ------------------------------------------------------------ extras
    def list_activity_logs(self, req: Request) -> Record:
        after = req.arg("created_at_after")
        if after is None:
            raise ApiError(400, "parameter_not_found", "created_at_after is required")
        try:
            since = int(after)
            before = int(req.arg("created_at_before") or 0) or None
        except ValueError as exc:
            raise ApiError(400, "parameter_invalid", "timestamps must be unix seconds") from exc
        logs = self.extras.activity_logs_between(since, before)
        # The spec's cursor_pages without a documented query parameter: the cursor names the
        # next page (a guess, see the README).
        page = _page_number(req.arg("starting_after") or req.arg("page"))
        per_page = ACTIVITY_LOGS_PER_PAGE
        total_pages = -(-len(logs) // per_page)
        pages: Record = {
            "type": "pages",
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
        }
        if page < total_pages:
            pages["next"] = {"per_page": per_page, "starting_after": str(page + 1)}
        return {
            "type": "activity_log.list",
            "pages": pages,
            "activity_logs": logs[(page - 1) * per_page : page * per_page],
        }

    def list_ticket_types(self, req: Request) -> Record:
        with self.extras.lock:
            return {"type": "list", "data": list(self.extras.ticket_types.values())}

    def list_ticket_states(self, req: Request) -> Record:
        with self.extras.lock:
            states = list(self.extras.ticket_states.values())
            types = list(self.extras.ticket_types.values())
        data = []
        for state in states:
            used = [
                {k: t[k] for k in ("type", "id", "category", "name", "description", "archived")}
                for t in types
                if any(s["id"] == state["id"] for s in t["ticket_states"]["data"])
            ]
            data.append({**state, "ticket_types": {"type": "list", "data": used}})
        return {"type": "list", "data": data}

    def list_macros(self, req: Request) -> Record:
        per_page = self._per_page(req.arg("per_page"), 50)
        since = req.arg("updated_since")
        try:
            updated_since = int(since) if since else None
            data, cursor = self.extras.macro_page(
                per_page=per_page,
                updated_since=updated_since,
                starting_after=req.arg("starting_after"),
            )
        except ValueError as exc:
            raise ApiError(400, "parameter_invalid", "Invalid updated_since timestamp") from exc
        next_page = {"starting_after": cursor} if cursor else None
        return {
            "type": "list",
            "data": data,
            "pages": {"type": "pages", "per_page": per_page, "next": next_page},
        }

    def list_away_status_reasons(self, req: Request) -> Record:
        with self.extras.lock:
            return {"type": "list", "data": list(self.extras.away_status_reasons.values())}

    def list_office_hours_schedules(self, req: Request) -> Record:
        with self.extras.lock:
            return {"type": "list", "data": list(self.extras.office_hours_schedules.values())}

    def list_internal_articles(self, req: Request) -> Record:
        with self.extras.lock:
            articles = list(self.extras.internal_articles.values())
        return {
            "type": "list",
            "pages": {"type": "pages", "page": 1, "per_page": len(articles), "total_pages": 1},
            "total_count": len(articles),
            "data": articles,
        }

    def _numbered(self, req: Request, records: list[Record], maximum: int, default: int) -> Any:
        per_page = self._per_page(req.arg("per_page"), default, maximum)
        page = _page_number(req.arg("page"))
        total_pages = -(-len(records) // per_page)
        return records[(page - 1) * per_page : page * per_page], page, per_page, total_pages

    def list_content_snippets(self, req: Request) -> Record:
        with self.extras.lock:
            snippets = list(self.extras.content_snippets.values())
        data, page, per_page, total_pages = self._numbered(req, snippets, SNIPPETS_MAX_PER_PAGE, 20)
        return {
            "type": "list",
            "data": data,
            "total_count": len(snippets),
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
        }

    def list_calls(self, req: Request) -> Record:
        with self.extras.lock:
            calls = [self.extras.public(c) for c in self.extras.calls.values()]
        data, page, per_page, total_pages = self._numbered(
            req, calls, CALLS_MAX_PER_PAGE, CALLS_MAX_PER_PAGE
        )
        return {
            "type": "list",
            "data": data,
            "total_count": len(calls),
            "pages": {
                "type": "pages",
                "page": page,
                "per_page": per_page,
                "total_pages": total_pages,
            },
        }

    def search_calls(self, req: Request) -> Record:
        ids = req.body.get("conversation_ids") if isinstance(req.body, Mapping) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= CALL_SEARCH_MAX_IDS:
            raise ApiError(
                400,
                "conversation_id_limit_exceeded",
                "A list of up to 20 conversation IDs is required",
            )
        return {"type": "list", "data": self.extras.calls_of([str(i) for i in ids])}

    def get_call_transcript(self, req: Request) -> TextBody:
        text = self.extras.transcript_text(req.params[0])
        if text is None:
            raise ApiError(404, "not_found", "Not Found")
        return TextBody(text)

    def list_handling_events(self, req: Request) -> Record:
        if self.workspace.core("conversations", req.params[0]) is None:
            raise self._not_found()
        return {"handling_events": self.extras.handling_events(req.params[0])}

    # ----------------------------------------------------------- control
    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/_emulator/truth":
            return 200, {**self.workspace.truth(), **self.extras.truth()}
        if method == "GET" and path == "/_emulator/stats":
            return 200, self.stats()
        if method == "POST" and path == "/_emulator/reset_stats":
            self.reset_stats()
            return 200, {"ok": True}
        if method == "POST" and path == "/_emulator/configure":
            try:
                settings = self.configure(**(body or {}))
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
            return 200, settings_json(settings)
        if path == "/_emulator/webhooks" and self.webhooks is not None:
            if method == "GET":
                return 200, self.webhooks.stats()
            try:
                delivery = self.webhooks.configure(**(body or {}))
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"url": delivery.url, "app_id": delivery.app_id}
        if method == "POST" and path == "/_emulator/warm":
            try:
                return 200, {"views": self.warm(**(body or {}))}
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
        if method == "POST" and path == "/_emulator/mutate":
            try:
                return 200, {"ids": mutate(self.workspace, body or {})}
            except (ValueError, KeyError, TypeError) as exc:
                return 400, {"error": str(exc)}
        return 404, {"error": f"no control route {method} {path}"}


def settings_json(settings: Settings) -> Record:
    out = {f.name: getattr(settings, f.name) for f in fields(Settings) if f.name != "token"}
    out["faults"] = {f.name: getattr(settings.faults, f.name) for f in fields(Faults)}
    out["forbidden_scopes"] = list(settings.forbidden_scopes)
    out["plan_restricted_scopes"] = list(settings.plan_restricted_scopes)
    out["missing_routes"] = list(settings.missing_routes)
    return out


def mutate(workspace: Workspace, spec: Mapping[str, Any]) -> list[str]:
    """Apply one ``/_emulator/mutate`` request: ``{"action", "entity", "count", "ids", "at"}``."""
    action = spec.get("action")
    entity = spec.get("entity", "conversations")
    ids, at = spec.get("ids"), spec.get("at")
    count = int(spec.get("count", 1))
    if action == "update":
        return workspace.update(entity, ids=ids, count=count, at=at)
    if action == "create":
        return workspace.create(entity, count=count, at=at)
    if action == "delete":
        return workspace.delete(entity, ids, count=count)
    if action == "add_parts":
        return workspace.add_parts(ids, n=int(spec.get("n", 1)), count=count)
    if action == "burst":
        return workspace.burst(entity, count=count, at=at)
    if action == "close":
        return workspace.close(ids, count=count)
    if action == "redact":
        return workspace.redact(str((ids or [None])[0]), spec.get("part_id"))
    if action == "archive":
        return workspace.archive(ids, count=count)
    if action == "unarchive":
        return workspace.unarchive(list(ids or []))
    if action == "merge":
        return workspace.merge(spec.get("from"), spec.get("into"))
    raise ValueError(f"unknown action {action!r}")


def _version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:  # "Unstable" and other names: the newest behaviour
        return True
    return (major, minor) >= minimum


SCOPE_MESSAGE = "You do not have the required scope ({}) to access this resource"


class Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    _counted_route: str | None = None  # the API route the response being sent is counted under

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without NODELAY, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and benchmarks read ``stats()`` instead of a request log."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ------------------------------------------------------------ plumbing
    def _send(
        self,
        status: int,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
        length: int | None = None,
    ) -> None:
        # Counted before the first byte leaves, so a client that has its response
        # always finds it in stats().
        if self._counted_route is not None:
            self.server.count(self._counted_route, status)
            self._counted_route = None
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(body, ensure_ascii=False).encode(), headers)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "bad_request", "the request body is not valid JSON") from exc

    def _handle(self, method: str) -> None:
        server = self.server
        split = urlsplit(self.path)
        path = re.sub(r"/{2,}", "/", split.path)
        if len(path) > 1:
            path = path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self._counted_route = None
        if path.startswith("/_emulator/"):
            try:
                body = self._read_body()
            except ApiError as exc:
                self._send_json(400, {"error": exc.message})
                return
            status, payload = server.control(method, path, body)
            self._send_json(status, payload)
            return
        route, params, known = server.match(method, path)
        template = f"{method} {route.template}" if route else f"{method} (unmatched)"
        settings = server.settings
        if self.headers.get("Authorization", "") != f"Bearer {settings.token}":
            self._read_body_quietly()
            self._counted_route = template
            self._send_json(401, _error_body("unauthorized", "Access Token Invalid"))
            return
        allowed, headers = server.take_budget()
        self._counted_route = template
        self._respond(method, path, query, route, params, known, allowed, headers)

    def _read_body_quietly(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def _respond(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        route: Route | None,
        params: tuple[str, ...],
        known: bool,
        allowed: bool,
        headers: dict[str, str],
    ) -> int:
        server = self.server
        try:
            body = self._read_body()
        except ApiError as exc:
            self._send_json(exc.status, _error_body(exc.code, exc.message), headers)
            return exc.status
        if not allowed:
            self._send_json(429, _error_body("rate_limit_exceeded", "Rate Limit Exceeded"), headers)
            return 429
        if route is None:
            status = 405 if known else 404
            code = "method_not_allowed" if known else "not_found"
            self._send_json(status, _error_body(code, "Resource Not Found"), headers)
            return status
        settings = server.settings
        if route.template in settings.missing_routes:
            self._send_json(404, _error_body("not_found", "Resource Not Found"), headers)
            return 404
        if route.scope in settings.forbidden_scopes:
            error = _error_body("forbidden", SCOPE_MESSAGE.format(route.scope))
            self._send_json(403, error, headers)
            return 403
        if route.scope in settings.plan_restricted_scopes:
            error = _error_body("api_plan_restricted", "Active subscription needed.")
            self._send_json(403, error, headers)
            return 403
        fault, delay = server.draw_fault()
        if delay:
            time.sleep(delay)
        if fault == "error":
            server.count_fault(fault)
            status = server.fault_choice((500, 502, 503, 504))
            self._send(status, _html_error(status), headers, "text/html; charset=utf-8")
            return status
        if fault == "rate_limit":
            server.count_fault(fault)
            self._send_json(429, _error_body("rate_limit_exceeded", "Rate Limit Exceeded"), headers)
            return 429
        host = self.headers.get("Host") or f"127.0.0.1:{server.server_address[1]}"
        version = self.headers.get("Intercom-Version") or "2.16"
        request = Request(method, path, query, body, params, f"http://{host}", version)
        try:
            payload = route.handler(request)
        except ApiError as exc:
            self._send_json(exc.status, _error_body(exc.code, exc.message), headers | exc.headers)
            return exc.status
        except Exception:  # an emulator bug: answer (so the client does not hang) and show it
            traceback.print_exc(file=sys.stderr)
            self._send_json(500, _error_body("server_error", "emulator bug, see stderr"), headers)
            return 500
        content_type = "application/json; charset=utf-8"
        if isinstance(payload, TextBody):
            raw, content_type = payload.encode(), "text/plain; charset=utf-8"
        else:
            raw = json.dumps(payload, ensure_ascii=False).encode()
        if fault is not None:
            server.count_fault(fault)
        if fault == "empty":
            raw = b""
        elif fault == "truncated":
            raw = raw[: max(1, len(raw) // 2)]
        elif fault == "short_read":
            self._send(200, raw[: max(1, len(raw) // 2)], headers, content_type, len(raw))
            return 200
        self._send(200, raw, headers, content_type)
        return 200


def serve(workspace: Workspace, settings: Settings, port: int = 0) -> EmulatorServer:
    """A bound (not yet serving) server; call ``serve_forever`` in a thread."""
    return EmulatorServer(workspace, settings, port)
