"""Error paths in-process: 401, 403, 404 on hydration, retries, and the token kept secret."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
import requests
import requests_mock
import urllib3

from tap_intercom.errors import AccessTokenRejected, IntercomError, RetriesExhausted
from tests.tap.conftest import (
    API,
    NOW,
    RATE_HEADERS,
    TOKEN,
    FakeClock,
    make_config,
    paths,
    run_tap,
    run_tap_failing,
)
from tests.tap.records import search_page

ADMINS = {"type": "admin.list", "admins": [{"type": "admin", "id": "1", "name": "Ann"}]}
TEAMS = {"type": "team.list", "teams": [{"type": "team", "id": "9", "name": "Support"}]}
SCOPE_403 = {
    "type": "error.list",
    "request_id": "r-1",
    "errors": [
        {
            "code": "forbidden",
            "message": "You do not have the required scope (read_admins) to access this",
        }
    ],
}
UNAUTHORIZED = {
    "type": "error.list",
    "request_id": "r-2",
    "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}],
}


def messages_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def assert_no_token(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text


# 401 -------------------------------------------------------------------------------------


def test_401_stops_the_run_without_retry(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/admins", status_code=401, json=UNAUTHORIZED)
    exc, _ = run_tap_failing(["admins", "teams"])
    assert isinstance(exc, AccessTokenRejected)
    assert "the access token was rejected" in str(exc)
    assert api.call_count == 1


def test_401_on_a_search_stops_the_run(api: requests_mock.Mocker) -> None:
    api.post(f"{API}/conversations/search", status_code=401, json=UNAUTHORIZED)
    exc, _ = run_tap_failing(["conversations"])
    assert isinstance(exc, AccessTokenRejected)
    assert api.call_count == 1


# 403 -------------------------------------------------------------------------------------


def test_403_skips_only_that_stream(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(f"{API}/admins", status_code=403, json=SCOPE_403)
    api.get(f"{API}/teams", json=TEAMS)
    with caplog.at_level(logging.INFO):
        run = run_tap(["admins", "teams"])
    assert paths(api) == ["GET /admins", "GET /teams"]
    assert run.records("admins") == []
    assert [r["id"] for r in run.records("teams")] == ["9"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("admins" in w and "read_admins" in w for w in warnings)
    summary = [m for m in messages_of(caplog) if m.startswith("Run summary")]
    assert any("admins" in line and "skipped" in line for line in summary)
    assert run.tap.skipped.keys() == {"admins"}


def test_403_mid_list_sends_no_activate_version(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/articles",
        [
            {"json": {"data": [{"id": "1"}], "pages": {"next": {"starting_after": "c1"}}}},
            {"status_code": 403, "json": SCOPE_403},
        ],
    )
    run = run_tap(["articles"])
    assert [r["id"] for r in run.records("articles")] == ["1"]
    assert run.of("ACTIVATE_VERSION") == []
    assert "articles" in run.tap.skipped


# Retries ---------------------------------------------------------------------------------


def test_429_waits_for_the_reset_and_succeeds(api: requests_mock.Mocker, clock: FakeClock) -> None:
    limited = {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(NOW + 7),
    }
    api.get(
        f"{API}/admins",
        [
            {
                "status_code": 429,
                "json": {
                    "type": "error.list",
                    "errors": [{"code": "rate_limit_exceeded", "message": "Exceeded rate limit"}],
                },
                "headers": limited,
            },
            {"json": ADMINS, "headers": {**RATE_HEADERS, "X-RateLimit-Reset": str(NOW + 17)}},
        ],
    )
    run = run_tap(["admins"])
    assert api.call_count == 2
    assert [r["id"] for r in run.records("admins")] == ["1"]
    # The second try went only after the announced reset.
    assert clock.now >= NOW + 7
    assert run.tap.client.statuses[429] == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(
            {"status_code": 502, "text": "<html><body>Bad Gateway</body></html>"}, id="502-html"
        ),
        pytest.param({"status_code": 500, "text": "oops"}, id="500"),
        pytest.param({"status_code": 503, "json": {"type": "error.list"}}, id="503"),
        pytest.param({"status_code": 200, "text": ""}, id="empty-200"),
        pytest.param({"status_code": 200, "text": '{"type": "admin.list", "adm'}, id="truncated"),
        pytest.param({"status_code": 200, "text": "[]"}, id="not-an-object"),
        pytest.param({"exc": requests.exceptions.ConnectTimeout}, id="timeout"),
        pytest.param({"exc": requests.exceptions.ConnectionError}, id="connection"),
    ],
)
def test_transient_failures_are_retried(api: requests_mock.Mocker, failure: dict[str, Any]) -> None:
    # After the API has answered once (admins): before that, see the test below.
    api.get(f"{API}/admins", json=ADMINS)
    teams = api.get(f"{API}/teams", [failure, {"json": TEAMS}])
    run = run_tap(["admins", "teams"])
    assert teams.call_count == 2
    assert [r["id"] for r in run.records("teams")] == ["9"]
    assert run.tap.client.retries == 1


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectTimeout("no answer"),
        requests.exceptions.ConnectionError(
            urllib3.exceptions.MaxRetryError(
                None,  # type: ignore[arg-type]  # the pool plays no part here
                "/admins",
                urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
            )
        ),
    ],
    ids=["connect-timeout", "refused"],
)
def test_a_first_request_that_cannot_connect_is_not_retried(
    api: requests_mock.Mocker, exc: Exception
) -> None:
    api.get(f"{API}/admins", exc=exc)
    caught, _ = run_tap_failing(["admins"])
    assert api.call_count == 1
    assert isinstance(caught, IntercomError)
    assert "could not connect" in str(caught)
    assert "check api_url" in str(caught)


def test_retries_are_bounded_then_a_clear_error(
    api: requests_mock.Mocker, clock: FakeClock
) -> None:
    api.get(f"{API}/admins", status_code=503, text="<html>Service Unavailable</html>")
    exc, stdout = run_tap_failing(["admins"], config=make_config(max_retries=4))
    assert isinstance(exc, RetriesExhausted)
    assert api.call_count == 4
    assert "GET /admins failed 4 times" in str(exc)
    assert "HTTP 503" in str(exc)
    assert len(clock.sleeps) >= 3
    assert '"ACTIVATE_VERSION"' not in stdout


def test_other_4xx_is_not_retried(api: requests_mock.Mocker) -> None:
    api.get(
        f"{API}/admins",
        status_code=400,
        json={"type": "error.list", "errors": [{"code": "parameter_invalid", "message": "x"}]},
    )
    exc, _ = run_tap_failing(["admins"])
    assert isinstance(exc, IntercomError)
    assert "parameter_invalid" in str(exc)
    assert api.call_count == 1


# 404 on hydration ------------------------------------------------------------------------


def _conversation(cid: str, updated_at: int) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": cid,
        "updated_at": updated_at,
        "conversation_parts": {"conversation_parts": [], "total_count": 0},
    }


def test_404_on_hydration_skips_and_counts(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(
        f"{API}/conversations/search",
        json={"conversations": [_conversation(c, NOW - 60) for c in ("1", "2", "3")]},
    )
    api.get(f"{API}/conversations/1", json=_conversation("1", NOW - 60))
    api.get(
        f"{API}/conversations/2",
        status_code=404,
        json={"type": "error.list", "errors": [{"code": "not_found", "message": "Not found"}]},
    )
    api.get(f"{API}/conversations/3", json=_conversation("3", NOW - 60))
    with caplog.at_level(logging.INFO):
        run = run_tap(["conversations"])
    assert [r["id"] for r in run.records("conversations")] == ["1", "3"]
    stream = run.tap.streams["conversations"]
    assert stream.missing == 1  # type: ignore[attr-defined]
    assert any("1 vanished" in m for m in messages_of(caplog))
    assert sum(1 for r in api.request_history if r.path == "/conversations/2") == 1


# The token stays secret ------------------------------------------------------------------

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "401": [{"status_code": 401, "json": UNAUTHORIZED}],
    "403": [{"status_code": 403, "json": SCOPE_403}],
    "429-then-ok": [
        {"status_code": 429, "headers": {**RATE_HEADERS, "X-RateLimit-Remaining": "0"}},
        {"json": ADMINS},
    ],
    "5xx-exhausted": [{"status_code": 500, "text": "<html>error</html>"}],
    "truncated-exhausted": [{"status_code": 200, "text": '{"adm'}],
    "timeout-exhausted": [{"exc": requests.exceptions.ReadTimeout}],
    "connection-exhausted": [{"exc": requests.exceptions.ConnectionError(f"Bearer {TOKEN}")}],
    "400": [{"status_code": 400, "json": {"errors": [{"code": "bad", "message": "no"}]}}],
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_token_never_logged_or_raised_at_debug_level(
    api: requests_mock.Mocker,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
) -> None:
    api.get(f"{API}/admins", SCENARIOS[scenario])
    api.get(f"{API}/teams", json=TEAMS)
    texts: list[str] = []
    try:
        run = run_tap(["admins", "teams"])
        texts.append(run.stdout)
    except Exception as exc:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        texts += [repr(arg) for arg in exc.args]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, debug_logs.text]
    texts += [repr(r.args) for r in debug_logs.records]
    assert any(r.levelno == logging.DEBUG for r in debug_logs.records)
    assert_no_token(*texts)


def test_client_repr_and_auth_hide_the_token() -> None:
    from tap_intercom.tap import TapIntercom

    tap = TapIntercom(config=make_config())
    client = tap.client
    assert_no_token(repr(client.session.auth), repr(tap.settings), repr(client.settings))


def test_a_forbidden_child_stream_is_asked_once_not_per_parent(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    """notes is read per changed contact: after its first 403 the stream is skipped for the
    rest of the run, not asked again (and warned about again) for every contact."""
    api.post(
        f"{API}/contacts/search",
        json={"data": [{"id": f"c{n}", "updated_at": NOW - 5} for n in range(4)]},
    )
    api.get(
        requests_mock.ANY,
        status_code=403,
        json={
            "type": "error.list",
            "errors": [
                {"code": "forbidden", "message": "You do not have the required scope (read_notes)"}
            ],
        },
    )
    with caplog.at_level(logging.WARNING):
        run = run_tap(["contacts", "notes"])
    assert [r["id"] for r in run.records("contacts")] == ["c0", "c1", "c2", "c3"]
    assert paths(api) == ["POST /contacts/search", "GET /contacts/c0/notes"]
    skips = [m for m in messages_of(caplog) if m.startswith("Skipping stream 'notes'")]
    assert len(skips) == 1
    assert "read_notes" in run.tap.skipped["notes"]


@pytest.mark.parametrize(
    "hydration",
    [
        pytest.param({"status_code": 404, "json": {"errors": [{"code": "not_found"}]}}, id="404"),
        pytest.param({"status_code": 500, "text": "<html>x</html>"}, id="500-exhausted"),
        pytest.param({"status_code": 401, "json": UNAUTHORIZED}, id="401"),
        pytest.param({"status_code": 403, "json": SCOPE_403}, id="403"),
    ],
)
def test_token_never_logged_on_search_and_hydration_paths(
    api: requests_mock.Mocker,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    hydration: dict[str, Any],
) -> None:
    api.post(
        f"{API}/conversations/search",
        json={"conversations": [_conversation("1", NOW - 60)], "pages": {}},
    )
    api.get(f"{API}/conversations/1", **hydration)
    texts: list[str] = []
    try:
        texts.append(run_tap(["conversations", "conversation_parts"]).stdout)
    except Exception as exc:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, debug_logs.text]
    texts += [repr(r.args) for r in debug_logs.records]
    assert_no_token(*texts)


def test_a_known_failure_in_a_child_stream_logs_no_error_before_the_closing_line(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    """The CLI ends a known API failure with one ERROR line (TapIntercom.invoke); a failure in
    notes (a child of contacts) must not add the SDK's 'unhandled error' line of the parent."""
    api.post(f"{API}/contacts/search", json={"data": [{"id": "c1", "updated_at": NOW - 5}]})
    api.get(f"{API}/contacts/c1/notes", status_code=500, text="<html>oops</html>")
    with caplog.at_level(logging.INFO):
        exc, _ = run_tap_failing(["contacts", "notes"], config=make_config(max_retries=1))
    assert isinstance(exc, RetriesExhausted)
    assert getattr(exc, "stream", None) == "notes"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_known_failure_logs_no_error_before_the_closing_line(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(f"{API}/admins", status_code=401, json=UNAUTHORIZED)
    with caplog.at_level(logging.INFO):
        run_tap_failing(["admins"])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_run_summary_counts_requests_retries_and_429s(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(f"{API}/conversations/search", json=search_page([], None))
    api.get(
        f"{API}/teams",
        [
            {"status_code": 429, "headers": {**RATE_HEADERS, "X-RateLimit-Remaining": "0"}},
            {"status_code": 502, "text": "<html></html>"},
            {"json": {"teams": []}},
        ],
    )
    with caplog.at_level(logging.INFO):
        run_tap(["teams", "conversations"])
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Run summary")]
    assert "Run summary: 4 requests, 2 retried, 1 answered 429" in summary
    assert "Run summary: no stream was skipped" in summary


def test_plan_restricted_search_skips_the_stream(api: requests_mock.Mocker) -> None:
    api.post(
        f"{API}/tickets/search",
        status_code=403,
        json={
            "type": "error.list",
            "errors": [{"code": "api_plan_restricted", "message": "Active subscription needed."}],
        },
    )
    api.get(f"{API}/teams", json={"teams": [{"id": "1"}]})
    run = run_tap(["tickets", "teams"])
    assert "api_plan_restricted" in run.tap.skipped["tickets"]
    assert run.records("tickets") == []
    assert len(run.records("teams")) == 1
