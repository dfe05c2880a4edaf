"""Concurrent hydration: inside the rate windows, one request at a time before a count."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests_mock

from tests.tap.conftest import (
    API,
    NOW,
    FakeClock,
    RateWindow,
    make_config,
    run_tap,
)


def test_concurrent_hydration_stays_inside_the_rate_window(
    api: requests_mock.Mocker, rate_window: Callable[[int], RateWindow]
) -> None:
    server = rate_window(20)
    ids = [str(n) for n in range(45)]

    def search_answer(request: Any, context: Any) -> dict[str, Any]:
        server.serve(context)
        return {"conversations": [{"id": i, "updated_at": NOW - 100 + int(i)} for i in ids]}

    def conversation_answer(request: Any, context: Any) -> dict[str, Any]:
        if not server.serve(context):
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
