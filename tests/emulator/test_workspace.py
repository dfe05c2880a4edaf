"""The synthetic workspace: deterministic, realistically awkward, lazy, mutable, fast."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from tests.emulator.workspace import (
    DAY,
    EVENT_WINDOW,
    INLINE_CAP,
    PARTS_CAP,
    Workspace,
    WorkspaceSpec,
    to_plaintext,
)

ANCHOR = 1_790_000_000
SMALL = WorkspaceSpec(
    seed=3,
    anchor=ANCHOR,
    contacts=300,
    conversations=120,
    companies=40,
    tickets=15,
    cluster_size=50,
    conversation_cluster_size=60,
)


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return Workspace(SMALL)


def _dump(ws: Workspace) -> str:
    entities = ("admins", "teams", "tags", "segments", "companies", "contacts", "notes")
    data = {e: ws.records(e) for e in (*entities, "conversations", "tickets", "articles")}
    parts = {cid: ws.conversation(cid) for cid in list(ws.truth()["conversations"])[:20]}
    tickets = {tid: ws.ticket(tid) for tid in ws.truth()["tickets"]}
    return json.dumps([data, parts, tickets, ws.truth()], sort_keys=True)


def test_same_seed_and_anchor_give_identical_data() -> None:
    assert _dump(Workspace(SMALL)) == _dump(Workspace(SMALL))


def test_another_seed_gives_other_data() -> None:
    other = WorkspaceSpec(**{**SMALL.__dict__, "seed": 4})
    assert _dump(Workspace(other)) != _dump(Workspace(SMALL))


def test_default_anchor_is_now() -> None:
    before = int(time.time())
    ws = Workspace(WorkspaceSpec(contacts=5, conversations=5, companies=3, tickets=2))
    assert before <= ws.anchor <= int(time.time())
    assert max(ws.truth()["contacts"].values()) <= ws.anchor


def test_sizes_follow_the_spec(ws: Workspace) -> None:
    truth = ws.truth()
    for entity, size in (
        ("admins", 12),
        ("teams", 4),
        ("tags", 30),
        ("segments", 8),
        ("subscription_types", 3),
        ("companies", 40),
        ("contacts", 300),
        ("conversations", 120),
        ("tickets", 15),
        ("articles", 20),
        ("collections", 5),
        ("help_centers", 1),
    ):
        assert len(truth[entity]) == size, entity


def test_updated_at_spreads_over_two_years_with_some_minutes_old() -> None:
    ws = Workspace(WorkspaceSpec(seed=5, anchor=ANCHOR))
    stamps = list(ws.truth()["contacts"].values()) + list(ws.truth()["conversations"].values())
    assert min(stamps) < ANCHOR - 500 * DAY
    assert max(stamps) <= ANCHOR
    assert sum(1 for s in stamps if s >= ANCHOR - 600) >= 3


def test_clusters_share_one_updated_at() -> None:
    ws = Workspace(WorkspaceSpec(seed=5, anchor=ANCHOR))  # 1000 contacts, 500 conversations
    contacts = Counter(ws.truth()["contacts"].values()).most_common(1)[0][1]
    conversations = Counter(ws.truth()["conversations"].values()).most_common(1)[0][1]
    assert contacts >= 300
    assert conversations >= 400


def test_contacts_are_users_and_leads_with_awkward_custom_attributes(ws: Workspace) -> None:
    contacts = ws.records("contacts")
    assert {c["role"] for c in contacts} == {"user", "lead"}
    keys = set().union(*(c["custom_attributes"] for c in contacts))
    for key in ("Plan", "plan", "account tier", "signup.source", "größe", "select", "order"):
        assert key in keys
    assert all(isinstance(c["owner_id"], str | None) for c in contacts)
    assert any(isinstance(c["owner_id"], str) for c in contacts)


def test_inline_lists_hold_ten_items_and_say_has_more(ws: Workspace) -> None:
    contacts = ws.records("contacts")
    for kind in ("tags", "companies", "notes"):
        big = [c for c in contacts if c[kind]["total_count"] > INLINE_CAP]
        assert big, kind
        for contact in big:
            assert len(contact[kind]["data"]) == INLINE_CAP
            assert contact[kind]["has_more"] is True
        small = [c for c in contacts if c[kind]["total_count"] <= INLINE_CAP]
        assert all(not c[kind]["has_more"] for c in small)
        assert all(len(c[kind]["data"]) == c[kind]["total_count"] for c in small)
    many = next(c for c in contacts if c["tags"]["total_count"] > INLINE_CAP)
    all_tags = ws.contact_tags(many["id"])
    assert all_tags is not None
    assert len(all_tags) == many["tags"]["total_count"]


def test_id_types_follow_2_16(ws: Workspace) -> None:
    for admin in ws.records("admins"):
        assert all(isinstance(t, int) for t in admin["team_ids"])
    for team in ws.records("teams"):
        assert all(isinstance(a, int) for a in team["admin_ids"])
    conversations = ws.records("conversations")
    assignees = [c["admin_assignee_id"] for c in conversations]
    assert all(isinstance(a, int) for a in assignees)
    assert 0 in assignees
    assert any(a > 0 for a in assignees)
    assert all(isinstance(c["team_assignee_id"], int) for c in conversations)


def test_conversations_carry_the_nested_objects(ws: Workspace) -> None:
    conversations = ws.records("conversations")
    assert any(c["ai_agent_participated"] and c["ai_agent"] for c in conversations)
    assert any(not c["ai_agent_participated"] and c["ai_agent"] is None for c in conversations)
    assert any(c["conversation_rating"] for c in conversations)
    assert any(c["sla_applied"] for c in conversations)
    assert any(c["linked_objects"]["data"] for c in conversations)
    assert any(c["source"]["attachments"] for c in conversations)
    assert any(c["tags"]["tags"] for c in conversations)
    assert all(c["contacts"]["contacts"] and c["teammates"]["teammates"] for c in conversations)
    bodies = " ".join(c["source"]["body"] for c in conversations)
    assert "<p>" in bodies
    assert "🎉" in bodies
    assert '"' in bodies


def test_parts_are_lazy_counted_and_capped(ws: Workspace) -> None:
    truth = ws.truth()
    counts = []
    for cid in truth["conversations"]:
        conversation = ws.conversation(cid)
        assert conversation is not None
        parts = conversation["conversation_parts"]["conversation_parts"]
        real = conversation["statistics"]["count_conversation_parts"]
        counts.append(real)
        assert len(parts) == min(real, PARTS_CAP)
        assert [p["id"] for p in parts] == truth["conversation_parts"][cid]
        stamps = [p["created_at"] for p in parts]
        assert stamps == sorted(stamps)
        assert stamps[-1] <= conversation["updated_at"]
    assert min(counts) >= 1
    assert max(c for c in counts if c <= PARTS_CAP) <= 60
    assert sum(1 for c in counts if c > PARTS_CAP) == SMALL.long_conversations
    # parts are not stored: the core holds a count, not a list
    core = ws.core("conversations", next(iter(truth["conversations"])))
    assert core is not None
    assert "conversation_parts" not in core


def test_plaintext_strips_html() -> None:
    assert to_plaintext("<p>a &amp; “b” <b>c</b></p><p>d</p>") == "a & “b” c\nd"


def test_events_older_than_90_days_are_hidden(ws: Workspace) -> None:
    hidden = visible = 0
    for contact_id in list(ws.truth()["contacts"])[:60]:
        every = ws.all_events(contact_id)
        shown = ws.events(intercom_user_id=contact_id)
        assert shown is not None
        cutoff = ws.now() - EVENT_WINDOW
        assert all(e["created_at"] >= cutoff for e in shown)
        hidden += len(every) - len(shown)
        visible += len(shown)
    assert hidden > 0
    assert visible > 0


def test_mutations_update_create_delete_add_parts_burst() -> None:
    ws = Workspace(SMALL)
    cid = next(iter(ws.truth()["conversations"]))
    before = ws.get("conversations", cid)
    assert before is not None
    ws.update("conversations", ids=[cid], at=ANCHOR + 5)
    after = ws.get("conversations", cid)
    assert after is not None
    assert after["updated_at"] == ANCHOR + 5
    assert after["priority"] != before["priority"] or after["read"] != before["read"]

    created = ws.create("contacts", 3)
    assert all(ws.get("contacts", c) for c in created)
    assert len(ws.truth()["contacts"]) == 303

    ws.delete("conversations", [cid])
    assert ws.get("conversations", cid) is None
    assert cid in ws.deleted_conversations()
    assert cid not in ws.truth()["conversation_parts"]

    other = list(ws.truth()["conversations"])[3]
    count = ws.conversation(other)["statistics"]["count_conversation_parts"]  # type: ignore[index]
    earliest = ws.now()
    ws.add_parts([other], 4)
    latest = ws.now()
    grown = ws.conversation(other)
    assert grown is not None
    assert grown["statistics"]["count_conversation_parts"] == count + 4
    last_part = grown["conversation_parts"]["conversation_parts"][-1]
    assert earliest <= last_part["created_at"] == grown["updated_at"] <= latest

    burst = ws.burst("contacts", 40, at=ANCHOR + 100)
    stamps = ws.truth()["contacts"]
    assert {stamps[c] for c in burst} == {ANCHOR + 100}


def test_mutations_are_thread_safe() -> None:
    ws = Workspace(SMALL)
    errors: list[BaseException] = []

    def work(entity: str) -> None:
        try:
            for _ in range(50):
                ws.update(entity, count=3)
                ws.create(entity, 1)
                ws.search_view(entity, 0.0)
                ws.truth()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in ("contacts", "conversations")]
    threads += [threading.Thread(target=work, args=("tickets",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(ws.truth()["contacts"]) == 350


def test_generation_of_10k_contacts_and_5k_conversations_is_fast() -> None:
    started = time.perf_counter()
    ws = Workspace(WorkspaceSpec(seed=11, contacts=10_000, conversations=5_000, companies=2_000))
    generated = time.perf_counter() - started
    truth = ws.truth()
    total_parts = sum(len(p) for p in truth["conversation_parts"].values())
    print(f"generated 10,000 contacts + 5,000 conversations in {generated:.2f} s")
    assert len(truth["contacts"]) == 10_000
    assert len(truth["conversations"]) == 5_000
    assert 15 <= total_parts / 5_000 <= 30  # about 20 parts each (capped ones count 500)
    assert generated < 30
