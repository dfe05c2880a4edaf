"""Every public endpoint the emulator serves answers in the shape of Intercom's 2.16 spec.

Each response is validated with ``OAS30Validator`` against the 200 response schema of the
spec's path (``$ref``s resolve inside the loaded spec). The spec is read from
``$INTERCOM_OPENAPI_SPEC``, else ``<repo>/../shared/intercom-openapi/api.intercom.io-2.16.yaml``,
once per session.

Deliberate deviations (patched into a copy of the spec below, each one asserted to be needed
so the list cannot go stale):

1. ``conversation.ai_agent`` is ``null`` when Fin did not take part; the spec does not mark
   the object nullable, the live API sends null.
2. ``GET /events`` (listing one contact's events) is validated against ``data_event_list``
   (``type: event.list``); the spec's 200 response names ``data_event_summary``, which is the
   ``summary=true`` shape.
3. ``assigned_to`` of conversation and ticket parts is ``null`` for parts that assign nobody;
   the spec's ``reference`` object is not nullable, the live API sends null.
4. ``custom_attributes`` of companies and conversations hold any JSON value (booleans,
   decimals, null); the spec allows only strings (companies) or strings, integers, dates and
   object lists (conversations), though its own examples hold ``true`` and ``155.5``.
5. ``admin.avatar`` is absent unless ``display_avatar=true``, and then an object
   ``{type: avatar, image_url}``, as the ``display_avatar`` parameter's description says; the
   ``admin`` schema types it as a URL string.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator

from tests.emulator import Emulator, WorkspaceSpec

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO.parent / "shared" / "intercom-openapi" / "api.intercom.io-2.16.yaml"


@functools.cache
def load_spec() -> dict[str, Any]:
    path = Path(os.environ.get("INTERCOM_OPENAPI_SPEC", DEFAULT_SPEC))
    if not path.exists():
        pytest.skip(f"OpenAPI 2.16 description not found at {path}")
    with path.open("rb") as fh:
        spec: dict[str, Any] = yaml.load(fh, Loader=yaml.CSafeLoader)
    return spec


def _nullable_copy(schemas: dict[str, Any], name: str) -> dict[str, str]:
    schemas[f"{name}_or_null"] = {**schemas[name], "nullable": True}
    return {"$ref": f"#/components/schemas/{name}_or_null"}


def patched_components(spec: dict[str, Any]) -> dict[str, Any]:
    components = copy.deepcopy(spec["components"])
    schemas = components["schemas"]
    ai_agent = _nullable_copy(schemas, "ai_agent")
    for name in ("conversation", "conversation_list_item"):
        schemas[name]["properties"]["ai_agent"] = ai_agent
    reference = _nullable_copy(schemas, "reference")
    for name in ("conversation_part", "ticket_part"):
        schemas[name]["properties"]["assigned_to"] = reference
    schemas["admin"]["properties"]["avatar"] = {
        "type": "object",
        "nullable": True,
        "properties": {
            "type": {"type": "string"},
            "image_url": {"type": "string", "nullable": True},
        },
    }
    schemas["company"]["properties"]["custom_attributes"] = {"type": "object"}
    schemas["custom_attributes"] = {"type": "object"}
    return components


def validator_for(schema: dict[str, Any], *, patched: bool = True) -> OAS30Validator:
    spec = load_spec()
    components = patched_components(spec) if patched else spec["components"]
    return OAS30Validator({"components": components, "allOf": [schema]})


def response_schema(method: str, path: str) -> dict[str, Any]:
    if (method, path) == ("get", "/events"):
        return {"$ref": "#/components/schemas/data_event_list"}
    operation = load_spec()["paths"][path][method]
    schema: dict[str, Any] = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    spec = WorkspaceSpec(
        seed=7,
        contacts=120,
        conversations=60,
        companies=30,
        tickets=10,
        long_conversations=1,
        cluster_size=20,
        conversation_cluster_size=20,
    )
    with Emulator(spec) as emulator:
        yield emulator


def _ids(emu: Emulator) -> dict[str, str]:
    truth = emu.truth()
    contacts = emu.workspace.records("contacts")
    busy = max(contacts, key=lambda c: c["companies"]["total_count"] + c["notes"]["total_count"])
    with_events = next(c["id"] for c in contacts if emu.workspace.events(intercom_user_id=c["id"]))
    ai = next(c for c in emu.workspace.records("conversations") if c["ai_agent_participated"])
    return {
        "admin": next(iter(truth["admins"])),
        "company": next(iter(truth["companies"])),
        "contact": busy["id"],
        "event_contact": with_events,
        "conversation": ai["id"],
        "ticket": next(iter(truth["tickets"])),
        "call": next(i for i, n in truth["call_transcripts"].items() if n),
    }


SEARCH = {
    "query": {
        "operator": "OR",
        "value": [
            {"field": "updated_at", "operator": ">", "value": 0},
            {"field": "updated_at", "operator": "=", "value": 0},
        ],
    },
    "pagination": {"per_page": 20},
    "sort": {"field": "updated_at", "order": "ascending"},
}

# (method, spec path, emulator path with {placeholders}, body)
ENDPOINTS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "/me", "/me", None),
    ("get", "/admins", "/admins", None),
    ("get", "/admins", "/admins?display_avatar=true", None),
    ("get", "/admins/{admin_id}", "/admins/{admin}", None),
    ("get", "/teams", "/teams", None),
    ("get", "/tags", "/tags", None),
    ("get", "/segments", "/segments?include_count=true", None),
    ("get", "/subscription_types", "/subscription_types", None),
    ("get", "/data_attributes", "/data_attributes?model=contact", None),
    ("get", "/conversations/attributes", "/conversations/attributes", None),
    ("get", "/help_center/collections", "/help_center/collections", None),
    ("get", "/help_center/help_centers", "/help_center/help_centers", None),
    ("get", "/articles", "/articles", None),
    ("get", "/companies/scroll", "/companies/scroll", None),
    ("get", "/companies", "/companies?per_page=50", None),
    ("post", "/companies/list", "/companies/list?per_page=50", None),
    ("get", "/companies/{company_id}", "/companies/{company}", None),
    ("get", "/companies/{company_id}/notes", "/companies/{company}/notes", None),
    ("post", "/contacts/search", "/contacts/search", SEARCH),
    ("get", "/contacts", "/contacts?per_page=30", None),
    ("get", "/contacts/{contact_id}", "/contacts/{contact}", None),
    ("get", "/contacts/{contact_id}/tags", "/contacts/{contact}/tags", None),
    ("get", "/contacts/{contact_id}/companies", "/contacts/{contact}/companies?per_page=5", None),
    ("get", "/contacts/{contact_id}/notes", "/contacts/{contact}/notes?per_page=5", None),
    ("get", "/events", "/events?type=user&intercom_user_id={event_contact}", None),
    ("post", "/conversations/search", "/conversations/search", SEARCH),
    ("get", "/conversations", "/conversations?per_page=30", None),
    ("get", "/conversations/deleted", "/conversations/deleted", None),
    ("get", "/conversations/{conversation_id}", "/conversations/{conversation}", None),
    ("post", "/tickets/search", "/tickets/search", SEARCH),
    ("get", "/tickets/{ticket_id}", "/tickets/{ticket}", None),
    ("get", "/admins/activity_logs", "/admins/activity_logs?created_at_after=0", None),
    ("get", "/ticket_types", "/ticket_types", None),
    ("get", "/ticket_states", "/ticket_states", None),
    ("get", "/macros", "/macros?per_page=10", None),
    ("get", "/macros", "/macros?updated_since=1", None),
    ("get", "/away_status_reasons", "/away_status_reasons", None),
    ("get", "/office_hours_schedules", "/office_hours_schedules", None),
    ("get", "/internal_articles", "/internal_articles", None),
    ("get", "/content_snippets", "/content_snippets?per_page=50", None),
    ("get", "/calls", "/calls?per_page=25", None),
    ("post", "/calls/search", "/calls/search", {"conversation_ids": ["{call_conversation}"]}),
    (
        "post",
        "/conversations/search",
        "/conversations/search?include_monitors=true&include_scorecards=true",
        SEARCH,
    ),
    (
        "get",
        "/conversations/{id}/handling_events",
        "/conversations/{conversation}/handling_events",
        None,
    ),
]


def _fetch(emu: Emulator, method: str, path: str, body: dict[str, Any] | None) -> Any:
    ids = _ids(emu)
    url = emu.url + path.format(**ids)
    if body and body.get("conversation_ids") == ["{call_conversation}"]:
        body = {"conversation_ids": [emu.truth()["calls"][ids["call"]]]}
    response = requests.request(method, url, headers=emu.headers(), json=body, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return response.json()


@pytest.mark.parametrize(
    ("method", "spec_path", "path", "body"), ENDPOINTS, ids=[e[2] for e in ENDPOINTS]
)
def test_response_matches_the_2_16_schema(
    emu: Emulator, method: str, spec_path: str, path: str, body: dict[str, Any] | None
) -> None:
    data = _fetch(emu, method, path, body)
    if spec_path == "/companies/scroll":
        requests.get(  # finish the scroll so the next test may open one
            f"{emu.url}/companies/scroll",
            params={"scroll_param": data["scroll_param"]},
            headers=emu.headers(),
            timeout=10,
        )
    errors = sorted(validator_for(response_schema(method, spec_path)).iter_errors(data), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_every_served_route_is_validated(emu: Emulator) -> None:
    served = {(r.method.lower(), r.template) for r in emu._server.routes}
    covered = {(m, p.split("?")[0]) for m, _, p, _ in ENDPOINTS}
    placeholder = {
        "{admin}": "{id}",
        "{company}": "{id}",
        "{contact}": "{id}",
        "{conversation}": "{id}",
        "{ticket}": "{id}",
        "{call}": "{id}",
    }
    covered.add(("get", "/calls/{call}/transcript"))  # text/plain: checked below
    normalized = set()
    for method, path in covered:
        for key, value in placeholder.items():
            path = path.replace(key, value)
        normalized.add((method, path))
    assert served <= normalized, served - normalized


def test_a_call_transcript_is_plain_text(emu: Emulator) -> None:
    """GET /calls/{id}/transcript answers text/plain (the spec's only non-JSON 200)."""
    content = load_spec()["paths"]["/calls/{call_id}/transcript"]["get"]["responses"]["200"]
    assert list(content["content"]) == ["text/plain"]
    call = _ids(emu)["call"]
    response = requests.get(f"{emu.url}/calls/{call}/transcript", headers=emu.headers(), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith("[00:00:03] ")
    missing = requests.get(f"{emu.url}/calls/1/transcript", headers=emu.headers(), timeout=10)
    assert missing.status_code == 404


def test_qa_fields_come_only_when_asked_for(emu: Emulator) -> None:
    plain = _fetch(emu, "post", "/conversations/search", SEARCH)["conversations"]
    assert not any("monitor_evaluations" in c or "scorecards" in c for c in plain)
    asked = _fetch(
        emu, "post", "/conversations/search?include_monitors=true&include_scorecards=true", SEARCH
    )["conversations"]
    assert any(c["monitor_evaluations"] for c in asked)
    assert any(c["scorecards"] for c in asked)
    hydrated = _fetch(emu, "get", f"/conversations/{asked[0]['id']}", None)
    assert "monitor_evaluations" not in hydrated
    assert "scorecards" not in hydrated


def test_error_bodies_match_the_error_schema(emu: Emulator) -> None:
    validator = validator_for({"$ref": "#/components/schemas/error"})
    bad = requests.get(f"{emu.url}/admins", headers={"Authorization": "Bearer nope"}, timeout=10)
    missing = requests.get(f"{emu.url}/conversations/1", headers=emu.headers(), timeout=10)
    for response in (bad, missing):
        assert not list(validator.iter_errors(response.json()))


def test_deviations_are_still_needed(emu: Emulator) -> None:
    """Without the patches, the spec rejects what the emulator (like the live API) sends."""
    ids = _ids(emu)
    without_ai = next(
        c for c in emu.workspace.records("conversations") if not c["ai_agent_participated"]
    )
    strict = validator_for(
        response_schema("get", "/conversations/{conversation_id}"), patched=False
    )
    conversation = _fetch(emu, "get", f"/conversations/{without_ai['id']}", None)
    messages = [e.message for e in strict.iter_errors(conversation)]
    assert any("None is not of type 'object'" in m for m in messages)
    events = _fetch(emu, "get", f"/events?type=user&intercom_user_id={ids['event_contact']}", None)
    summary = validator_for(
        load_spec()["paths"]["/events"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]
    )
    assert list(summary.iter_errors(events))
    strict_company = validator_for({"$ref": "#/components/schemas/company"}, patched=False)
    company = _fetch(emu, "get", f"/companies/{ids['company']}", None)
    company["custom_attributes"]["employees.count"] = 12
    assert list(strict_company.iter_errors(company))
    part = next(
        p
        for p in _fetch(emu, "get", f"/conversations/{ids['conversation']}", None)[
            "conversation_parts"
        ]["conversation_parts"]
        if p["assigned_to"] is None
    )
    strict_part = validator_for({"$ref": "#/components/schemas/conversation_part"}, patched=False)
    assert list(strict_part.iter_errors(part))
    strict_admins = validator_for(response_schema("get", "/admins"), patched=False)
    assert list(strict_admins.iter_errors(_fetch(emu, "get", "/admins?display_avatar=true", None)))
    strict_attrs = validator_for({"$ref": "#/components/schemas/custom_attributes"}, patched=False)
    assert list(strict_attrs.iter_errors({"order": True}))
