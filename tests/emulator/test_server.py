"""The emulator's HTTP behaviour: auth, scopes, rate windows, scroll, lists, faults, control."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator import Emulator, Faults, WorkspaceSpec
from tests.emulator.workspace import PARTS_CAP

REPO = Path(__file__).resolve().parents[2]
SPEC = WorkspaceSpec(
    seed=5,
    contacts=120,
    conversations=50,
    companies=45,
    tickets=8,
    long_conversations=1,
    cluster_size=20,
    conversation_cluster_size=20,
    deleted_conversations=7,
)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(SPEC) as emulator:
        yield emulator


def get(emu: Emulator, path: str, **kw: Any) -> requests.Response:
    headers = kw.pop("headers", emu.headers())
    return requests.get(emu.url + path, headers=headers, timeout=10, **kw)


# --------------------------------------------------------------------- auth, scopes
@pytest.mark.parametrize("header", [None, "Bearer wrong", "emulator-token", "Bearer "])
def test_bad_or_missing_token_is_401(emu: Emulator, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = get(emu, "/admins", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error.list"
    assert body["request_id"]
    assert body["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]
    assert "X-RateLimit-Limit" not in response.headers


def test_custom_token() -> None:
    with Emulator(SPEC, token="another") as emu:
        assert emu.token == "another"
        assert get(emu, "/tags").status_code == 200
        assert (
            get(emu, "/tags", headers={"Authorization": "Bearer emulator-token"}).status_code == 401
        )


def test_forbidden_scope_is_403_naming_it(emu: Emulator) -> None:
    emu.configure(forbidden_scopes=["read_admins"])
    response = get(emu, "/admins")
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {
            "code": "forbidden",
            "message": "You do not have the required scope (read_admins) to access this resource",
        }
    ]
    assert "X-RateLimit-Remaining" in response.headers
    assert get(emu, "/teams").status_code == 403
    assert get(emu, "/tags").status_code == 200
    emu.configure(forbidden_scopes=[], plan_restricted_scopes=["read_tickets"])
    assert get(emu, "/admins").status_code == 200
    restricted = requests.post(
        f"{emu.url}/tickets/search", json={"query": {}}, headers=emu.headers(), timeout=10
    )
    assert restricted.status_code == 403
    assert restricted.json()["errors"][0]["code"] == "api_plan_restricted"


def test_doubled_slashes_and_any_version_are_accepted(emu: Emulator) -> None:
    for version in ("2.12", "2.14", "2.16", "Unstable"):
        response = get(emu, "//admins", headers=emu.headers(version))
        assert response.status_code == 200
        assert response.json()["type"] == "admin.list"
    contact = next(iter(emu.truth()["contacts"]))
    assert get(emu, f"//contacts/{contact}/tags").status_code == 200


def test_unknown_route_is_404_error_list(emu: Emulator) -> None:
    response = get(emu, "/no/such/thing")
    assert response.status_code == 404
    assert response.json()["type"] == "error.list"


# --------------------------------------------------------------------- rate limit
def _wait_for_fresh_window() -> None:
    if 10 - time.time() % 10 < 3:
        time.sleep(10 - time.time() % 10 + 0.05)


def test_rate_budget_runs_out_into_429_with_headers() -> None:
    with Emulator(SPEC, rate_limit=5) as emu:
        _wait_for_fresh_window()
        remaining = []
        for _ in range(5):
            response = get(emu, "/tags")
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
            reset = int(response.headers["X-RateLimit-Reset"])
            assert reset % 10 == 0
            assert time.time() < reset <= time.time() + 10
        assert remaining == [4, 3, 2, 1, 0]
        over = get(emu, "/tags")
        assert over.status_code == 429
        assert over.json()["errors"][0]["code"] == "rate_limit_exceeded"
        assert over.headers["X-RateLimit-Remaining"] == "0"
        assert over.headers["X-RateLimit-Reset"] == str(reset)
        # control routes are free and not counted
        assert requests.get(f"{emu.url}/_emulator/stats", timeout=10).status_code == 200
        stats = emu.stats()
        assert stats["rate_limited"] == 1
        assert stats["total"] == 6
        emu.configure(rate_limit=100)
        assert get(emu, "/tags").status_code == 200


def test_budget_refills_in_the_next_window() -> None:
    with Emulator(SPEC, rate_limit=2) as emu:
        _wait_for_fresh_window()
        for _ in range(2):
            assert get(emu, "/tags").status_code == 200
        blocked = get(emu, "/tags")
        assert blocked.status_code == 429
        time.sleep(max(0.0, int(blocked.headers["X-RateLimit-Reset"]) - time.time()) + 0.05)
        assert get(emu, "/tags").status_code == 200


# --------------------------------------------------------------------- scroll
def scroll(emu: Emulator, param: str | None = None) -> requests.Response:
    return get(emu, "/companies/scroll", params={"scroll_param": param} if param else None)


def test_scroll_reads_every_company_once_and_ends_with_an_empty_page(emu: Emulator) -> None:
    emu.configure(scroll_page_size=10)
    ids: list[str] = []
    response = scroll(emu)
    for _ in range(100):
        assert response.status_code == 200
        body = response.json()
        if not body["data"]:
            break
        ids += [c["id"] for c in body["data"]]
        response = scroll(emu, body["scroll_param"])
    assert sorted(ids) == sorted(emu.truth()["companies"])
    assert len(ids) == len(set(ids))
    assert scroll(emu).status_code == 200  # the empty page closed the scroll


def test_second_scroll_is_scroll_exists(emu: Emulator) -> None:
    assert scroll(emu).status_code == 200
    second = scroll(emu)
    assert second.status_code == 400
    assert second.json()["errors"] == [
        {"code": "scroll_exists", "message": "scroll already exists for this workspace"}
    ]


def test_idle_scroll_expires(emu: Emulator) -> None:
    emu.configure(scroll_expiry=0.3)
    first = scroll(emu).json()["scroll_param"]
    assert scroll(emu).status_code == 400
    time.sleep(0.45)
    assert scroll(emu, first).status_code == 404  # expired
    assert scroll(emu).status_code == 200  # a new scroll may start


def test_scroll_fault_is_a_500_mid_scroll(emu: Emulator) -> None:
    emu.configure(scroll_error_rate=1.0, scroll_page_size=5)
    first = scroll(emu)
    assert first.status_code == 200  # opening a scroll is not hit
    failed = scroll(emu, first.json()["scroll_param"])
    assert failed.status_code == 500
    emu.configure(scroll_error_rate=0.0)
    assert scroll(emu).status_code == 200  # the failed scroll was closed: restart works
    assert emu.stats()["faults"]["scroll_error"] == 1


# --------------------------------------------------------------------- lists
def test_conversation_parts_are_capped_at_500_with_the_real_count(emu: Emulator) -> None:
    truth = emu.truth()
    long_id = next(
        cid for cid in truth["conversations"] if len(truth["conversation_parts"][cid]) == PARTS_CAP
    )
    body = get(emu, f"/conversations/{long_id}").json()
    parts = body["conversation_parts"]
    assert parts["type"] == "conversation_part.list"
    assert len(parts["conversation_parts"]) == parts["total_count"] == PARTS_CAP
    assert body["statistics"]["count_conversation_parts"] > PARTS_CAP
    ids = [p["id"] for p in parts["conversation_parts"]]
    assert ids == truth["conversation_parts"][long_id]
    # they are the most recent ones
    first_index = int(ids[0]) - int(long_id) * 100_000
    assert first_index == body["statistics"]["count_conversation_parts"] - PARTS_CAP


def test_display_as_plaintext_strips_html(emu: Emulator) -> None:
    cid = next(iter(emu.truth()["conversations"]))
    html = get(emu, f"/conversations/{cid}").json()
    plain = get(emu, f"/conversations/{cid}?display_as=plaintext").json()
    html_bodies = [p["body"] for p in html["conversation_parts"]["conversation_parts"] if p["body"]]
    plain_bodies = [
        p["body"] for p in plain["conversation_parts"]["conversation_parts"] if p["body"]
    ]
    assert all("<p>" in b for b in html_bodies)
    assert plain_bodies
    assert not any("<" in b for b in plain_bodies)
    assert "<" not in plain["source"]["body"]


def test_unknown_and_deleted_conversations_are_404_and_listed_as_deleted(emu: Emulator) -> None:
    assert get(emu, "/conversations/1").status_code == 404
    victim = next(iter(emu.truth()["conversations"]))
    emu.workspace.delete("conversations", [victim])
    response = get(emu, f"/conversations/{victim}")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    listed: list[dict[str, Any]] = []
    url: str | None = f"{emu.url}/conversations/deleted?per_page=3"
    while url:
        body = requests.get(url, headers=emu.headers(), timeout=10).json()
        listed += body["conversations"]
        url = body["pages"]["next"]
    assert len(listed) == 8
    assert victim in {d["id"] for d in listed}
    assert listed[0]["id"] == victim  # newest first
    assert all(set(d) == {"type", "id", "metrics_retained", "deleted_at"} for d in listed)
    assert get(emu, "/conversations/deleted?per_page=61").status_code == 400
    assert get(emu, "/conversations/deleted?per_page=60").status_code == 200


def test_conversation_list_pages_are_complete(emu: Emulator) -> None:
    ids: list[str] = []
    params: dict[str, Any] = {"per_page": 7}
    for _ in range(100):
        body = get(emu, "/conversations", params=params).json()
        ids += [c["id"] for c in body["conversations"]]
        assert all("conversation_parts" not in c for c in body["conversations"])
        nxt = body["pages"].get("next")
        if not nxt:
            break
        params["starting_after"] = nxt["starting_after"]
    assert sorted(ids) == sorted(emu.truth()["conversations"])


def test_contact_children_lists(emu: Emulator) -> None:
    contacts = emu.workspace.records("contacts")
    busy = max(contacts, key=lambda c: c["companies"]["total_count"])
    assert busy["companies"]["has_more"]
    companies: list[str] = []
    url: str | None = f"{emu.url}/contacts/{busy['id']}/companies?per_page=4"
    while url:
        body = requests.get(url, headers=emu.headers(), timeout=10).json()
        companies += [c["id"] for c in body["companies"]]
        url = body["pages"]["next"]
    assert len(companies) == busy["companies"]["total_count"]
    tags = get(emu, f"/contacts/{busy['id']}/tags").json()["data"]
    assert len(tags) == busy["tags"]["total_count"]
    noted = max(contacts, key=lambda c: c["notes"]["total_count"])
    notes: list[str] = []
    params: dict[str, Any] = {"per_page": 3}
    for _ in range(20):
        body = get(emu, f"/contacts/{noted['id']}/notes", params=params).json()
        notes += [n["id"] for n in body["data"]]
        if "next" not in body["pages"]:
            break
        params["starting_after"] = body["pages"]["next"]["starting_after"]
    assert len(notes) == noted["notes"]["total_count"] > 10
    assert get(emu, "/contacts/doesnotexist").status_code == 404


def test_events_only_from_the_last_90_days(emu: Emulator) -> None:
    checked = 0
    for contact in emu.workspace.records("contacts")[:40]:
        every = emu.workspace.all_events(contact["id"])
        old = [e for e in every if e["created_at"] < time.time() - 90 * 86_400]
        body = get(emu, f"/events?type=user&intercom_user_id={contact['id']}&per_page=150").json()
        assert body["type"] == "event.list"
        assert len(body["events"]) == len(every) - len(old)
        assert all(e["created_at"] >= time.time() - 90 * 86_400 - 5 for e in body["events"])
        checked += bool(old)
        if contact["external_id"]:
            by_user_id = get(emu, f"/events?type=user&user_id={contact['external_id']}").json()
            assert len(by_user_id["events"]) == len(body["events"])
    assert checked > 0
    assert get(emu, "/events?type=user&intercom_user_id=nobody").status_code == 404
    assert get(emu, "/events?intercom_user_id=x").status_code == 400


def test_events_paginate_with_a_next_url(emu: Emulator) -> None:
    contact = max(
        emu.workspace.records("contacts"),
        key=lambda c: len(emu.workspace.events(intercom_user_id=c["id"]) or []),
    )
    expected = len(emu.workspace.events(intercom_user_id=contact["id"]) or [])
    assert expected >= 2
    events: list[Any] = []
    url: str | None = f"{emu.url}/events?type=user&intercom_user_id={contact['id']}&per_page=1"
    while url:
        body = requests.get(url, headers=emu.headers(), timeout=10).json()
        events += body["events"]
        url = body["pages"].get("next")
    assert len(events) == expected


def test_segments_include_count_only_when_asked(emu: Emulator) -> None:
    assert all("count" not in s for s in get(emu, "/segments").json()["segments"])
    counted = get(emu, "/segments?include_count=true&type=company").json()["segments"]
    assert all(isinstance(s["count"], int) for s in counted)


def test_data_attributes_by_model(emu: Emulator) -> None:
    contact = get(emu, "/data_attributes?model=contact").json()["data"]
    company = get(emu, "/data_attributes?model=company").json()["data"]
    both = get(emu, "/data_attributes").json()["data"]
    assert {a["model"] for a in contact} == {"contact"}
    assert {a["model"] for a in company} == {"company"}
    assert len(both) == len(contact) + len(company)
    assert all(("id" in a) == a["custom"] for a in both)


def test_companies_list_omits_companies_without_contacts(emu: Emulator) -> None:
    listed = requests.post(
        f"{emu.url}/companies/list?per_page=60", headers=emu.headers(), timeout=10
    ).json()
    everything = get(emu, "/companies?per_page=150").json()
    assert listed["total_count"] < everything["total_count"] == len(emu.truth()["companies"])
    assert all(c["user_count"] > 0 for c in listed["data"])


# --------------------------------------------------------------------- faults
def _statuses(emu: Emulator, n: int) -> list[requests.Response]:
    session = requests.Session()
    return [session.get(f"{emu.url}/tags", headers=emu.headers(), timeout=10) for _ in range(n)]


def test_server_error_fault_has_an_html_body() -> None:
    with Emulator(SPEC, faults=Faults(error_rate=1.0)) as emu:
        response = get(emu, "/admins")
        assert response.status_code in (500, 502, 503, 504)
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.text.startswith("<!DOCTYPE html>")


def test_empty_truncated_and_short_bodies() -> None:
    with Emulator(SPEC, faults=Faults(empty_rate=1.0)) as emu:
        response = get(emu, "/admins")
        assert response.status_code == 200
        assert response.content == b""
        emu.set_faults(Faults(truncated_rate=1.0))
        cut = get(emu, "/admins")
        assert cut.status_code == 200
        assert cut.text.startswith('{"type": "admin.list"')
        with pytest.raises(ValueError, match=r".+"):
            json.loads(cut.text)
        emu.set_faults(Faults(short_read_rate=1.0))
        with pytest.raises(requests.exceptions.RequestException):
            get(emu, "/admins")
        emu.set_faults(Faults(rate_limit_rate=1.0))
        forced = get(emu, "/admins")
        assert forced.status_code == 429
        assert int(forced.headers["X-RateLimit-Remaining"]) > 0


def test_fault_rates_are_seeded_and_roughly_as_configured() -> None:
    faults = Faults(seed=42, error_rate=0.2, empty_rate=0.1, truncated_rate=0.1)
    outcomes = []
    for _ in range(2):
        with Emulator(SPEC, faults=faults) as emu:
            outcomes.append([(r.status_code, len(r.content)) for r in _statuses(emu, 300)])
            counts = emu.stats()["faults"]
    assert outcomes[0] == outcomes[1]  # same seed, same faults
    assert 35 <= counts["error"] <= 85
    assert 12 <= counts["empty"] <= 50
    assert 12 <= counts["truncated"] <= 50
    errors = sum(1 for status, _ in outcomes[0] if status >= 500)
    empty = sum(1 for status, size in outcomes[0] if status == 200 and size == 0)
    assert errors == counts["error"]
    assert empty == counts["empty"]


def test_latency_and_spikes() -> None:
    with Emulator(SPEC, latency_ms=150) as emu:
        started = time.perf_counter()
        get(emu, "/tags")
        assert time.perf_counter() - started >= 0.15
        emu.configure(latency_ms=0, spike_rate=1.0, spike_ms=200)
        started = time.perf_counter()
        get(emu, "/tags")
        assert time.perf_counter() - started >= 0.2
        emu.configure(spike_rate=0.0)
        started = time.perf_counter()
        get(emu, "/tags")
        assert time.perf_counter() - started < 0.15


# --------------------------------------------------------------------- control
def test_stats_count_routes_and_statuses(emu: Emulator) -> None:
    get(emu, "/admins")
    get(emu, "/admins")
    admin = next(iter(emu.truth()["admins"]))
    get(emu, f"/admins/{admin}")
    get(emu, "/admins/0")
    get(emu, "/tags", headers={})
    stats = emu.stats()
    assert stats["total"] == 5
    assert stats["routes"]["GET /admins"] == {"200": 2}
    assert stats["routes"]["GET /admins/{id}"] == {"200": 1, "404": 1}
    assert stats["routes"]["GET /tags"] == {"401": 1}
    emu.reset_stats()
    assert emu.stats()["total"] == 0


def test_http_control_routes(emu: Emulator) -> None:
    base = f"{emu.url}/_emulator"
    truth = requests.get(f"{base}/truth", timeout=10).json()
    assert set(truth["contacts"]) == set(emu.truth()["contacts"])
    for key in ("admins", "conversation_parts", "ticket_parts", "deleted_conversations", "events"):
        assert key in truth
    assert all(v is None for v in truth["admins"].values())
    get(emu, "/tags")
    assert requests.get(f"{base}/stats", timeout=10).json()["total"] == 1
    assert requests.post(f"{base}/reset_stats", timeout=10).status_code == 200
    assert emu.stats()["total"] == 0
    configured = requests.post(
        f"{base}/configure",
        json={"rate_limit": 77, "search_lag": 1.5, "error_rate": 0.0, "forbidden_scopes": []},
        timeout=10,
    )
    assert configured.status_code == 200
    assert configured.json()["rate_limit"] == 77
    assert emu.settings.search_lag == 1.5
    assert get(emu, "/tags").headers["X-RateLimit-Limit"] == "77"
    assert requests.post(f"{base}/configure", json={"nope": 1}, timeout=10).status_code == 400

    def mutate(**body: Any) -> list[str]:
        response = requests.post(f"{base}/mutate", json=body, timeout=10)
        assert response.status_code == 200, response.text
        ids: list[str] = response.json()["ids"]
        return ids

    updated = mutate(action="update", entity="contacts", count=2, at=123)
    assert all(emu.truth()["contacts"][c] == 123 for c in updated)
    created = mutate(action="create", entity="tickets", count=2)
    assert all(c in emu.truth()["tickets"] for c in created)
    grown = mutate(action="add_parts", count=1, n=3)
    assert len(grown) == 1
    burst = mutate(action="burst", entity="conversations", count=5, at=456)
    assert {emu.truth()["conversations"][c] for c in burst} == {456}
    deleted = mutate(action="delete", entity="conversations", ids=burst[:2])
    assert set(deleted) <= set(emu.truth()["deleted_conversations"])
    bad = requests.post(f"{base}/mutate", json={"action": "explode"}, timeout=10)
    assert bad.status_code == 400


def test_mutations_while_paging_do_not_break_the_server(emu: Emulator) -> None:
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            emu.workspace.update("conversations", count=2)
            emu.workspace.add_parts(n=1, count=1)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(20):
            body = {"query": {"field": "updated_at", "operator": ">", "value": 0}}
            response = requests.post(
                f"{emu.url}/conversations/search", json=body, headers=emu.headers(), timeout=10
            )
            assert response.status_code == 200
            cid = response.json()["conversations"][0]["id"]
            assert get(emu, f"/conversations/{cid}").status_code == 200
    finally:
        stop.set()
        worker.join()


CLI_ARGS = [
    "--port",
    "0",
    "--seed",
    "2",
    "--contacts",
    "30",
    "--conversations",
    "10",
    "--companies",
    "5",
    "--tickets",
    "3",
    "--rate-limit",
    "50",
    "--token",
    "cli-token",
    "--search-lag",
    "0",
    "--latency-ms",
    "0",
]


def test_cli_prints_the_url_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", *CLI_ARGS],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("EMULATOR_URL=http://127.0.0.1:")
        url = line.strip().split("=", 1)[1]
        response = requests.get(
            f"{url}/admins", headers={"Authorization": "Bearer cli-token"}, timeout=10
        )
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "50"
        truth = requests.get(f"{url}/_emulator/truth", timeout=10).json()
        assert len(truth["contacts"]) == 30
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert process.stdout.read() == ""
