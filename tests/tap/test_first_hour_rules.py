"""The pure rules behind a new user's first hour: unknown settings, numbers from the
environment, the start state, and the probes of `--test` (the CLI side is in
tests/reliability/test_first_hour.py)."""

from __future__ import annotations

import pytest

from tap_intercom import probe, state
from tap_intercom.config_schema import CONFIG_SCHEMA
from tap_intercom.errors import AccessTokenRejected, NotFound, StreamUnavailable
from tap_intercom.settings import SettingError, environment_numbers, unknown_settings
from tap_intercom.stream_types import STREAM_TYPES


def test_unknown_settings_name_the_closest_known_one() -> None:
    config = {"page_sise": 1, "page_size": 2, "zzz": 3}
    assert unknown_settings(config, ["page_size", "region"]) == {
        "page_sise": "page_size",
        "zzz": None,
    }


def test_numbers_from_the_environment() -> None:
    environ = {"TAP_INTERCOM_REQUEST_TIMEOUT": "30", "TAP_INTERCOM_PAGE_SIZE": "50"}
    parsed = environment_numbers(CONFIG_SCHEMA, "TAP_INTERCOM_", environ)
    assert parsed == {"request_timeout": 30.0, "page_size": 50}
    assert isinstance(parsed["page_size"], int)
    with pytest.raises(SettingError, match="TAP_INTERCOM_PAGE_SIZE must be a whole number"):
        environment_numbers(CONFIG_SCHEMA, "TAP_INTERCOM_", {"TAP_INTERCOM_PAGE_SIZE": "1.5"})


def test_the_start_state() -> None:
    own = {"replication_key": "updated_at", "replication_key_value": "2026-01-01T00:00:00Z"}
    wrapped = {"singer_state": {"bookmarks": {"contacts": own, "issues": {}}}}
    start = state.start_state(wrapped, ["contacts", "admins"])
    assert start.state == {"bookmarks": {"contacts": own}}
    assert start.foreign == ["issues"]
    assert not start.only_foreign
    assert state.start_state({"bookmarks": {"issues": {}}}, ["contacts"]).only_foreign
    assert state.start_state({}, ["contacts"]).state == {}
    with pytest.raises(state.StateError, match="window_end='soon'"):
        state.start_state({"bookmarks": {"contacts": {"window_end": "soon"}}}, ["contacts"])


RANGE = {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z", "cursor": "c1"}


@pytest.mark.parametrize(
    ("ranges", "named"),
    [
        ("all of them", "ranges='all of them', which is not a list"),
        ([RANGE, "second"], r"a range \(ranges\[1\]\) without a start and an end"),
        ([{**RANGE, "end": None}], r"a range \(ranges\[0\]\) without a start and an end"),
        ([{**RANGE, "start": "yesterday"}], "ranges\\[0\\].start='yesterday'"),
        ([RANGE, {**RANGE, "stopped_at": "later"}], "ranges\\[1\\].stopped_at='later'"),
    ],
)
def test_a_saved_range_that_cannot_be_resumed_is_named(ranges: object, named: str) -> None:
    bookmark = {"window_start": RANGE["start"], "window_end": RANGE["end"], "ranges": ranges}
    with pytest.raises(state.StateError, match=named) as caught:
        state.start_state({"bookmarks": {"contacts": bookmark}}, ["contacts"])
    assert "remove bookmarks.contacts from the state" in str(caught.value)


def test_saved_ranges_that_can_be_resumed_pass() -> None:
    bookmark = {"ranges": [RANGE, {**RANGE, "done": True, "stopped_at": RANGE["end"]}]}
    start = state.start_state({"bookmarks": {"contacts": bookmark}}, ["contacts"])
    assert start.state["bookmarks"]["contacts"] == bookmark
    assert state.start_state({"bookmarks": {"contacts": {"ranges": None}}}, ["contacts"])


def test_every_stream_has_a_probe_and_none_opens_the_companies_scroll() -> None:
    probes = {str(vars(t).get("name", t.__name__)): probe.probe_for(t) for t in STREAM_TYPES}
    assert probes["companies"].path == "/companies"
    assert probes["conversation_parts"] == probes["conversations"]
    assert probes["contacts"].method == "POST"
    assert all(not p.path.endswith("/scroll") for p in probes.values())


def test_probes_are_sent_once_and_read_as_scope_answers() -> None:
    search = probe.Probe("POST", "/tickets/search")
    answers: dict[str, Exception | None] = {
        "/tickets/search": StreamUnavailable("forbidden", scope="read_tickets", status=403),
        "/contacts/0/notes": NotFound("not found", status=404),
        "/admins": None,
    }
    sent: list[str] = []

    def send(request: probe.Probe) -> object:
        sent.append(request.path)
        answer = answers[request.path]
        if answer is not None:
            raise answer
        return {}

    planned: list[tuple[str, probe.Probe | str]] = [
        ("tickets", search),
        ("ticket_parts", search),
        ("notes", probe.Probe("GET", "/contacts/0/notes")),
        ("admins", probe.Probe("GET", "/admins")),
        ("deleted_conversations", "needs Intercom-Version 2.16"),
    ]
    outcome = probe.run(planned, send)
    assert sent == ["/tickets/search", "/contacts/0/notes", "/admins"]
    assert outcome.unreadable == {
        "tickets": "missing scope: read_tickets",
        "ticket_parts": "missing scope: read_tickets",
        "deleted_conversations": "needs Intercom-Version 2.16",
    }
    answers["/admins"] = AccessTokenRejected("rejected", status=401)
    with pytest.raises(AccessTokenRejected):
        probe.run([("admins", probe.Probe("GET", "/admins"))], send)
