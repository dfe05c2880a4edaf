"""More stream behaviour: tickets and their parts, plan-restricted streams, and concurrent
hydration kept inside Intercom's rate windows."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests_mock

from tap_intercom import timestamps
from tap_intercom.errors import IntercomError
from tests.tap.conftest import (
    API,
    NOW,
    FakeClock,
    json_bodies,
    make_config,
    run_tap,
    run_tap_failing,
)


def ticket(tid: str, updated_at: int, parts: int, total: int | None = None) -> dict[str, Any]:
    return {
        "type": "ticket",
        "id": tid,
        "created_at": updated_at - 50,
        "updated_at": updated_at,
        "ticket_parts": {
            "type": "ticket_part.list",
            "ticket_parts": [
                {"type": "ticket_part", "id": f"tp{n}", "created_at": updated_at}
                for n in range(parts)
            ],
            "total_count": parts if total is None else total,
        },
    }


def test_tickets_hydrate_once_and_split_their_parts(api: requests_mock.Mocker) -> None:
    tickets = [ticket("t1", NOW - 100, 2), ticket("t2", NOW - 50, 1, total=3)]
    api.post(
        f"{API}/tickets/search",
        json={"tickets": [{"id": t["id"], "updated_at": t["updated_at"]} for t in tickets]},
    )
    for t in tickets:
        api.get(f"{API}/tickets/{t['id']}", json=t)
    run = run_tap(["tickets", "ticket_parts"])
    gets = [r for r in api.request_history if r.method == "GET"]
    assert sorted(r.path for r in gets) == ["/tickets/t1", "/tickets/t2"]
    assert all(r.query == "" for r in gets)
    records = run.records("tickets")
    assert [r["ticket_parts"] for r in records] == [
        {"type": "ticket_part.list", "total_count": 2, "returned_count": 2, "truncated": False},
        {"type": "ticket_part.list", "total_count": 3, "returned_count": 1, "truncated": True},
    ]
    parts = run.records("ticket_parts")
    assert [(p["ticket_id"], p["id"]) for p in parts] == [
        ("t1", "tp0"),
        ("t1", "tp1"),
        ("t2", "tp0"),
    ]
    (body,) = json_bodies(api, "/tickets/search")
    assert body["sort"] == {"field": "updated_at", "order": "ascending"}
    assert run.bookmark("tickets")["replication_key_value"] == timestamps.iso(NOW)


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


class WindowServer:
    """Intercom's 10-second window on the fake clock: 429 once the window is spent."""

    def __init__(self, clock: FakeClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.lock = threading.Lock()
        self.reset = NOW + 10
        self.remaining = limit
        self.limited = 0
        self.windows = 1

    def answer(self, context: Any) -> bool:
        with self.lock:
            while self.clock.now >= self.reset:
                self.reset += 10
                self.remaining = self.limit
                self.windows += 1
            ok = self.remaining > 0
            if ok:
                self.remaining -= 1
            else:
                self.limited += 1
            context.headers.update(
                {
                    "X-RateLimit-Limit": str(self.limit),
                    "X-RateLimit-Remaining": str(self.remaining),
                    "X-RateLimit-Reset": str(self.reset),
                }
            )
            return ok


def test_concurrent_hydration_stays_inside_the_rate_window(
    api: requests_mock.Mocker, clock: FakeClock
) -> None:
    server = WindowServer(clock, limit=20)
    ids = [str(n) for n in range(45)]

    def search_answer(request: Any, context: Any) -> dict[str, Any]:
        server.answer(context)
        return {"conversations": [{"id": i, "updated_at": NOW - 100 + int(i)} for i in ids]}

    def conversation_answer(request: Any, context: Any) -> dict[str, Any]:
        if not server.answer(context):
            context.status_code = 429
            return {"type": "error.list", "errors": [{"code": "rate_limit_exceeded"}]}
        cid = request.path.rsplit("/", 1)[1]
        return {"id": cid, "updated_at": NOW - 100 + int(cid)}

    api.post(f"{API}/conversations/search", json=search_answer)
    for i in ids:
        api.get(f"{API}/conversations/{i}", json=conversation_answer)
    run = run_tap(["conversations"])
    assert [r["id"] for r in run.records("conversations")] == ids
    assert server.limited == 0
    assert server.windows >= 3  # 46 requests at most 19 a window: the tap waited for resets


def test_a_5xx_burst_on_the_first_scroll_page_is_retried_with_backoff(
    api: requests_mock.Mocker, clock: FakeClock
) -> None:
    """Opening a scroll is safe to replay (a lost answer leaves a scroll open, which the next
    try meets as scroll_exists and waits out), so a short 5xx burst gets the client's usual
    max_retries with backoff, like every other stream, not four immediate restarts."""
    burst = [{"status_code": 502, "text": "<html>Bad Gateway</html>"}] * 5
    api.get(f"{API}/companies/scroll", [*burst, {"json": {"data": [{"id": "a"}]}}])
    run = run_tap(["companies"], config=make_config(max_retries=8))
    assert [r["id"] for r in run.records("companies")] == ["a"]
    assert api.call_count == 6
    assert sum(clock.sleeps) > 0  # backed off between tries instead of hammering


class Overlap:
    """A local Intercom (a real HTTP server: requests-mock serializes every request) that
    counts hydration requests running at the same time."""

    def __init__(self, wait: float, headers: dict[str, str]) -> None:
        self.wait = wait
        self.headers = headers
        self.lock = threading.Lock()
        self.current = 0
        self.most = 0
        self.company = threading.Event()
        self.ids = [str(n) for n in range(6)]

    def hydrate(self, cid: str) -> dict[str, Any]:
        with self.lock:
            self.current += 1
            self.most = max(self.most, self.current)
            if self.current > 1:
                self.company.set()
        # Give another request the chance to arrive (no time.sleep: an event with a timeout).
        self.company.wait(self.wait)
        with self.lock:
            self.current -= 1
        return {"id": cid, "updated_at": NOW - 100}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        overlap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in overlap.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listed = [{"id": i, "updated_at": NOW - 100} for i in overlap.ids]
                self._send({"conversations": listed})

            def do_GET(self) -> None:
                self._send(overlap.hydrate(self.path.split("?")[0].rsplit("/", 1)[1]))

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def run(self) -> None:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{httpd.server_address[1]}"
            config = make_config(api_url=url, hydration_workers=4)
            run = run_tap(["conversations"], config=config)
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)
        assert [r["id"] for r in run.records("conversations")] == self.ids


def test_without_any_rate_count_requests_go_one_at_a_time(clock: FakeClock) -> None:
    overlap = Overlap(wait=0.03, headers={})
    overlap.run()
    assert overlap.most == 1


def test_with_a_rate_count_hydration_runs_concurrently(clock: FakeClock) -> None:
    rate = {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "900",
        "X-RateLimit-Reset": str(NOW + 10),
    }
    overlap = Overlap(wait=5.0, headers=rate)  # returns as soon as a second request is in
    overlap.run()
    assert overlap.most > 1


def test_forbidden_conversation_attributes_keep_the_rest_without_activate_version(
    api: requests_mock.Mocker,
) -> None:
    api.get(f"{API}/data_attributes", json={"data": [{"name": "email"}]})
    api.get(
        f"{API}/conversations/attributes",
        status_code=403,
        json={"errors": [{"code": "forbidden", "message": "required scope (read_conversations)"}]},
    )
    run = run_tap(["data_attributes"])
    assert [r["model"] for r in run.records("data_attributes")] == ["contact", "company"]
    assert run.of("ACTIVATE_VERSION") == []
    assert "data_attributes" not in run.tap.skipped


def test_a_refused_fresh_cursor_stops_the_run_without_closing_the_window(
    api: requests_mock.Mocker,
) -> None:
    """Only a cursor saved by an earlier run is read again from the window's start when
    refused. A 400 on a cursor Intercom has just given used to restart the window too; the
    restarted pass then met that cursor again, stopped on it as 'repeated', and closed the
    window (bookmark at its end) without reading anything past the first page."""
    api.post(
        f"{API}/conversations/search",
        [
            {
                "json": {
                    "conversations": [{"id": "1", "updated_at": NOW - 9}],
                    "pages": {"next": {"starting_after": "fresh"}},
                }
            },
            {"status_code": 400, "json": {"errors": [{"code": "bad_request", "message": "no"}]}},
            {
                "json": {
                    "conversations": [{"id": "1", "updated_at": NOW - 9}],
                    "pages": {"next": {"starting_after": "fresh"}},
                }
            },
        ],
    )
    api.get(f"{API}/conversations/1", json={"id": "1", "updated_at": NOW - 9})
    exc, stdout = run_tap_failing(["conversations"])
    assert isinstance(exc, IntercomError)
    assert exc.status == 400
    bodies = json_bodies(api, "/conversations/search")
    assert [b["pagination"].get("starting_after") for b in bodies] == [None, "fresh"]
    states = [m["value"] for m in map(json.loads, stdout.splitlines()) if m["type"] == "STATE"]
    last = states[-1]["bookmarks"]["conversations"]
    assert last["cursor"] == "fresh"
    assert last["window_end"] is not None
    assert last["replication_key_value"] is None
