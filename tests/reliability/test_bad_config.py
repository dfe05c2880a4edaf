"""Bad tap configuration through the CLI, against the emulator: one clear error line naming
the problem, before the first request (or, for an unreachable URL, at it)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import tap_command
from tests.emulator import Emulator
from tests.reliability.pipeline import TOKEN, small_spec, tap_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(seed=41), token=TOKEN) as emu:
        yield emu


def _run(tmp: Path, emu: Emulator, changes: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    command = tap_command(tmp, tap_config(emu))  # the catalog comes from a good config
    config = {k: v for k, v in {**tap_config(emu), **changes}.items() if v is not None}
    Path(command[2]).write_text(json.dumps(config))
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "missing token": ({"access_token": None}, "access_token"),
    "empty token": ({"access_token": "  "}, "access_token: is required"),
    "malformed start_date": (
        {"start_date": "last tuesday"},
        "start_date: 'last tuesday' is not an ISO 8601",
    ),
    "page_size 0": ({"page_size": 0}, "page_size: must be a whole number from 1 to 150, got 0"),
    "page_size 500": (
        {"page_size": 500},
        "page_size: must be a whole number from 1 to 150, got 500",
    ),
    "unknown region": ({"api_url": None, "region": "mars"}, "'mars' is not one of"),
    "api_url not a URL": ({"api_url": "localhost:8080"}, "api_url: must be an http(s) URL"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_setting_stops_the_tap_before_any_request_with_its_name(
    emulator: Emulator, tmp_path: Path, case: str
) -> None:
    changes, expected = CASES[case]
    emulator.reset_stats()
    done = _run(tmp_path, emulator, changes)
    assert done.returncode != 0
    assert emulator.stats()["total"] == 0, "a request was sent with a bad configuration"
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert errors, done.stderr
    assert expected in errors[0], errors
    assert "Config validation failed" in done.stderr
    assert "Traceback" not in done.stderr
    assert '"type":"RECORD"' not in done.stdout.replace(" ", "")
    assert TOKEN not in done.stdout + done.stderr


def test_an_unreachable_api_url_fails_at_the_first_request_naming_the_host(
    emulator: Emulator, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = _run(
        tmp_path,
        emulator,
        {"api_url": "http://127.0.0.1:9", "request_timeout": 1, "max_retries": 2},
    )
    # Wall clock with the interpreter's start (seconds on a loaded machine); that the first
    # connection fails within 5 s of the tap starting is tests/reliability/test_first_hour.py's.
    assert time.monotonic() - started < 30
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, errors
    assert "GET /admins: could not connect to 127.0.0.1:9" in errors[0]
    assert "Traceback" not in done.stderr
    assert '"type":"RECORD"' not in done.stdout.replace(" ", "")
    assert TOKEN not in done.stdout + done.stderr
