"""The tap's command line against a tiny local HTTP server: exit codes, one clear error line,
no traceback, the skipped-stream summary, and the token absent at DEBUG level."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.tap.conftest import TOKEN, catalog_for

TAP = Path(sys.executable).parent / "tap-intercom"
RATE = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "999", "X-RateLimit-Reset": "1"}


@dataclass
class Route:
    status: int
    body: str
    content_type: str = "application/json"


@dataclass
class FakeIntercom:
    """Routes by path; remembers every request (method, path, Authorization header)."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""


def _handler(fake: FakeIntercom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            path = self.path.split("?", 1)[0]
            self.seen_request(path)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            route = fake.routes.get(path, Route(404, json.dumps({"errors": [{"code": "nf"}]})))
            payload = route.body.encode()
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in RATE.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def seen_request(self, path: str) -> None:
            fake.seen.append((self.command, path, self.headers.get("Authorization", "")))

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def server() -> Iterator[FakeIntercom]:
    fake = FakeIntercom()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


def run_cli(
    tmp_path: Path, config: dict[str, Any], streams: list[str], *, level: str = "DEBUG"
) -> Result:
    config_path = tmp_path / "config.json"
    catalog_path = tmp_path / "catalog.json"
    config_path.write_text(json.dumps(config))
    catalog_path.write_text(json.dumps(catalog_for(*streams)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_INTERCOM_")}
    env["TAP_INTERCOM_LOGLEVEL"] = level
    env["LOGLEVEL"] = level
    proc = subprocess.run(
        [str(TAP), "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def base_config(server: FakeIntercom, **extra: Any) -> dict[str, Any]:
    return {"access_token": TOKEN, "api_url": server.url, **extra}


def assert_clean(result: Result) -> None:
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "ERROR" in line]


TEAMS = json.dumps({"type": "team.list", "teams": [{"type": "team", "id": "9", "name": "S"}]})


def test_401_exits_non_zero_with_one_clear_line(server: FakeIntercom, tmp_path: Path) -> None:
    server.routes["/admins"] = Route(
        401, json.dumps({"type": "error.list", "errors": [{"code": "unauthorized"}]})
    )
    result = run_cli(tmp_path, base_config(server), ["admins", "teams"])
    assert result.code != 0
    assert_clean(result)
    mentions = [line for line in result.stderr.splitlines() if "access token was rejected" in line]
    assert len(mentions) == 1, result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert [(m, p) for m, p, _ in server.seen] == [("GET", "/admins")]
    # The server did get the token, in the header only.
    assert server.seen[0][2] == f"Bearer {TOKEN}"


def test_403_skips_the_stream_and_exits_zero(server: FakeIntercom, tmp_path: Path) -> None:
    server.routes["/admins"] = Route(
        403,
        json.dumps(
            {
                "type": "error.list",
                "errors": [
                    {
                        "code": "forbidden",
                        "message": "You do not have the required scope (read_admins)",
                    }
                ],
            }
        ),
    )
    server.routes["/teams"] = Route(200, TEAMS)
    result = run_cli(tmp_path, base_config(server), ["admins", "teams"])
    assert result.code == 0, result.stderr
    assert_clean(result)
    warnings = [line for line in result.stderr.splitlines() if "admins" in line]
    assert any("read_admins" in line and "Skipping" in line for line in warnings)
    summary = [line for line in result.stderr.splitlines() if "Run summary" in line]
    assert any("admins" in line and "skipped" in line for line in summary), result.stderr
    messages = result.messages()
    assert [m["record"]["id"] for m in messages if m["type"] == "RECORD"] == ["9"]
    activated = [m["stream"] for m in messages if m["type"] == "ACTIVATE_VERSION"]
    assert activated == ["teams"]


def test_exhausted_retries_exit_non_zero_with_one_clear_line(
    server: FakeIntercom, tmp_path: Path
) -> None:
    server.routes["/teams"] = Route(502, "<html><body>Bad Gateway</body></html>", "text/html")
    result = run_cli(tmp_path, base_config(server, max_retries=1), ["teams"])
    assert result.code != 0
    assert_clean(result)
    stops = [line for line in result.stderr.splitlines() if "The sync stopped" in line]
    assert len(stops) == 1, result.stderr
    assert "/teams" in stops[0]
    assert "HTTP 502" in stops[0]
    assert error_lines(result) == stops, result.stderr


def test_invalid_setting_exits_before_any_request(server: FakeIntercom, tmp_path: Path) -> None:
    result = run_cli(tmp_path, base_config(server, page_size=0), ["teams"])
    assert result.code != 0
    assert_clean(result)
    assert "page_size" in result.stderr
    assert server.seen == []


def test_missing_token_exits_before_any_request(server: FakeIntercom, tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"api_url": server.url}, ["teams"])
    assert result.code != 0
    assert "Traceback" not in result.stderr
    assert "access_token" in result.stderr
    assert server.seen == []


def test_a_clean_run_at_debug_level_keeps_the_token_out(
    server: FakeIntercom, tmp_path: Path
) -> None:
    server.routes["/teams"] = Route(200, TEAMS)
    result = run_cli(tmp_path, base_config(server), ["teams"])
    assert result.code == 0, result.stderr
    assert "DEBUG" in result.stderr
    assert_clean(result)
    assert "Run summary: no stream was skipped" in result.stderr


def test_a_token_with_a_line_break_fails_cleanly(server: FakeIntercom, tmp_path: Path) -> None:
    server.routes["/teams"] = Route(200, TEAMS)
    config = {"access_token": TOKEN + "\n", "api_url": server.url}
    result = run_cli(tmp_path, config, ["teams"])
    assert result.code != 0
    assert_clean(result)
    assert "access_token" in result.stderr
    assert server.seen == []


def test_a_failure_in_a_child_stream_ends_in_one_clear_line(
    server: FakeIntercom, tmp_path: Path
) -> None:
    server.routes["/contacts/search"] = Route(
        200, json.dumps({"type": "list", "data": [{"id": "c1", "updated_at": 1}]})
    )
    server.routes["/contacts/c1/notes"] = Route(502, "<html>Bad Gateway</html>", "text/html")
    config = base_config(server, max_retries=1)
    result = run_cli(tmp_path, config, ["contacts", "notes"], level="INFO")
    assert result.code != 0
    assert_clean(result)
    assert len(error_lines(result)) == 1, result.stderr
    assert "stream 'notes'" in error_lines(result)[0]


def test_discover_needs_no_token_and_sends_nothing(server: FakeIntercom, tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"api_url": server.url}))
    proc = subprocess.run(
        [str(TAP), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    catalog = json.loads(proc.stdout)
    names = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert {"admins", "conversations", "conversation_parts", "contacts", "companies"} <= names
    assert len(names) == 30  # 29 of Intercom and the tap's reconcile_runs
    assert server.seen == []


def test_a_list_answering_404_is_skipped_named_and_the_run_exits_zero(
    server: FakeIntercom, tmp_path: Path
) -> None:
    server.routes["/admins"] = Route(200, json.dumps({"type": "admin.list", "admins": []}))
    server.routes["/teams"] = Route(200, TEAMS)  # /tags is unknown to the server: 404
    result = run_cli(tmp_path, base_config(server), ["admins", "teams", "tags"])
    assert result.code == 0, result.stderr
    assert_clean(result)
    skips = [line for line in result.stderr.splitlines() if "Skipping stream 'tags'" in line]
    assert len(skips) == 1, result.stderr
    assert "/tags" in skips[0]
    assert any(
        "Run summary: stream 'tags' was skipped" in line for line in result.stderr.splitlines()
    )
    assert [m["record"]["id"] for m in result.messages() if m["type"] == "RECORD"] == ["9"]


def test_404_everywhere_fails_with_the_wrong_url_line(server: FakeIntercom, tmp_path: Path) -> None:
    config = {"access_token": TOKEN, "api_url": f"{server.url}/not-the-api"}
    result = run_cli(tmp_path, config, ["teams", "tags", "admins"])
    assert result.code == 1
    assert_clean(result)
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    assert "answered 404 Not Found" in errors[0]
    assert f"{server.url}/not-the-api does not look like Intercom's API" in errors[0]
    assert "check api_url" in errors[0]
    assert [p for _, p, _ in server.seen] == ["/not-the-api/admins"]
