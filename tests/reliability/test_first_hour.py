"""A new user's mistakes with the tap, through the CLI against the emulator: each one named in
one line, before the first request where it can be, and no traceback."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import TapRun, parse_output, tap_command
from tests.emulator import Emulator
from tests.reliability.pipeline import TOKEN, small_spec, tap_config

pytestmark = pytest.mark.e2e

FAR_FUTURE = "2100-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(seed=43), token=TOKEN) as emu:
        yield emu


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_INTERCOM_")}
    return {**env, **extra}


def _run(
    tmp: Path,
    config: dict[str, Any],
    *,
    streams: tuple[str, ...] = ("teams",),
    state: dict[str, Any] | None = None,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[TapRun, float]:
    command = tap_command(tmp, config, streams=streams, state=state)
    started = time.monotonic()
    done = subprocess.run(
        [*command, *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or _env(),
    )
    elapsed = time.monotonic() - started
    return parse_output(done.stdout, TapRun(done.returncode, done.stderr)), elapsed


def _lines(run: TapRun, level: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if f"| {level}" in line]


def _seconds_to_error(run: TapRun) -> float:
    """From the tap's first log line to its error line: the time the run spent, without the
    interpreter's start (seconds on a loaded machine)."""
    stamps = [
        datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for line in run.stderr.splitlines()
        if line[:4].isdigit() and " | " in line
    ]
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    error_at = datetime.datetime.strptime(errors[0][:23], "%Y-%m-%d %H:%M:%S,%f")
    return (error_at - stamps[0]).total_seconds()


def _assert_clean(run: TapRun) -> None:
    assert "Traceback" not in run.stderr
    assert TOKEN not in run.stderr


# Unknown and misspelled settings.


def test_an_unknown_setting_warns_naming_the_closest_known_setting(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(
        emulator, page_sise=50, stream_map={}, flattening_enabled=False, colour="blue"
    )
    run, _ = _run(tmp_path, config)
    assert run.returncode == 0, run.stderr
    warnings = _lines(run, "WARNING")
    assert any("'page_sise'" in w and "did you mean 'page_size'" in w for w in warnings), warnings
    # The SDK's own settings are known settings too.
    assert any("'stream_map'" in w and "did you mean 'stream_maps'" in w for w in warnings)
    assert any("'colour' is ignored" in w for w in warnings), warnings
    assert not any("flattening_enabled" in w for w in warnings), warnings
    _assert_clean(run)


def test_a_misspelled_required_setting_is_named(emulator: Emulator, tmp_path: Path) -> None:
    good = tap_config(emulator)
    command = tap_command(tmp_path, good, streams=("teams",))
    config = {k: v for k, v in good.items() if k != "access_token"}
    config["access_tokn"] = TOKEN
    Path(command[2]).write_text(json.dumps(config))
    emulator.reset_stats()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert "'access_token' is a required property" in errors[0], errors
    assert "the config has 'access_tokn'" in errors[0], errors
    assert emulator.stats()["total"] == 0
    assert "Traceback" not in done.stderr


# The state a run starts from.


def _conversations_state(value: str) -> dict[str, Any]:
    return {
        "bookmarks": {
            "conversations": {"replication_key": "updated_at", "replication_key_value": value}
        }
    }


def test_meltanos_wrapped_state_is_resumed_from(emulator: Emulator, tmp_path: Path) -> None:
    wrapped = {"singer_state": _conversations_state(FAR_FUTURE)}
    run, _ = _run(tmp_path, tap_config(emulator), streams=("conversations",), state=wrapped)
    assert run.returncode == 0, run.stderr
    # The bookmark was read: nothing is older than it, so nothing is fetched again.
    assert run.records["conversations"] == []
    assert run.bookmark("conversations")["replication_key_value"] >= "2099"
    assert "singer_state" not in run.state
    _assert_clean(run)


def test_another_taps_state_is_named_and_not_carried_on(emulator: Emulator, tmp_path: Path) -> None:
    foreign = {"bookmarks": {"issues": {"replication_key_value": "2026-01-01T00:00:00Z"}}}
    run, _ = _run(tmp_path, tap_config(emulator), state=foreign)
    assert run.returncode == 0, run.stderr
    warnings = [w for w in _lines(run, "WARNING") if "state" in w]
    assert len(warnings) == 1, warnings
    assert "streams this tap does not have (issues)" in warnings[0]
    assert all("issues" not in state.get("bookmarks", {}) for state in run.states)
    _assert_clean(run)


def test_a_corrupt_bookmark_is_one_line_naming_stream_value_and_reset(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.reset_stats()
    run, _ = _run(
        tmp_path,
        tap_config(emulator),
        streams=("conversations",),
        state=_conversations_state("not-a-date"),
    )
    assert run.returncode == 1
    errors = _lines(run, "ERROR")
    assert len(errors) == 1, run.stderr
    assert "stream 'conversations'" in errors[0]
    assert "'not-a-date'" in errors[0]
    assert "remove bookmarks.conversations from the state" in errors[0]
    assert emulator.stats()["total"] == 0
    assert run.messages == []
    _assert_clean(run)


# A first request that cannot connect.


def test_a_refused_first_connection_fails_within_5_seconds(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = {**tap_config(emulator), "api_url": "http://127.0.0.1:9"}  # default max_retries 8
    run, _ = _run(tmp_path, config)
    assert run.returncode == 1
    assert _seconds_to_error(run) < 5
    errors = _lines(run, "ERROR")
    assert len(errors) == 1, run.stderr
    assert "could not connect to 127.0.0.1:9" in errors[0]
    assert "check api_url" in errors[0]
    _assert_clean(run)


@contextlib.contextmanager
def _blackhole() -> Iterator[int]:
    """A port whose connections are never answered: its listen queue is full, so the kernel
    drops further SYNs, as a firewall that drops packets would."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_a_blackholed_first_connection_fails_within_its_connect_timeout(
    emulator: Emulator, tmp_path: Path
) -> None:
    with _blackhole() as port:
        config = {**tap_config(emulator), "api_url": f"http://127.0.0.1:{port}"}
        config["request_timeout"] = 60
        run, _ = _run(tmp_path, config)
    assert run.returncode == 1
    waited = _seconds_to_error(run)
    assert waited < 8, f"the first connection waited {waited:.1f} s, not its 5-s connect timeout"
    errors = _lines(run, "ERROR")
    assert len(errors) == 1, run.stderr
    assert f"could not connect to 127.0.0.1:{port}" in errors[0]
    _assert_clean(run)


# `--test`: every selected stream whose scope is missing.


def test_test_mode_names_every_selected_stream_whose_scope_is_missing(
    emulator: Emulator, tmp_path: Path
) -> None:
    streams = ("admins", "contacts", "events", "tickets", "ticket_parts", "companies")
    command = tap_command(tmp_path, tap_config(emulator), streams=streams)
    emulator.configure(forbidden_scopes=("read_tickets", "read_events"))
    emulator.reset_stats()
    try:
        # --test before --catalog: the catalog is still read first.
        done = subprocess.run(
            [*command[:3], "--test", *command[3:]],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
    finally:
        emulator.configure(forbidden_scopes=())
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert "3 of 6 selected streams cannot be read" in errors[0]
    for name, scope in (("events", "read_events"), ("tickets", "read_tickets")):
        assert f"{name} (missing scope: {scope})" in errors[0]
    assert "ticket_parts (missing scope: read_tickets)" in errors[0]
    assert "admins" not in errors[0]
    assert "contacts" not in errors[0]
    stats = emulator.stats()
    assert stats["total"] <= len(streams)
    assert "GET /companies/scroll" not in stats["routes"], "a probe opened the companies scroll"
    assert '"type":"RECORD"' not in done.stdout.replace(" ", "")
    assert "Traceback" not in done.stderr


def test_test_mode_passes_when_every_selected_stream_can_be_read(
    emulator: Emulator, tmp_path: Path
) -> None:
    command = tap_command(tmp_path, tap_config(emulator), streams=("admins", "notes"))
    done = subprocess.run(
        [*command, "--test"], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert done.returncode == 0, done.stderr
    assert "Test passed: all 2 selected streams can be read" in done.stderr


# Numbers from the environment.


def test_decimal_settings_from_the_environment_are_parsed(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = _env(TAP_INTERCOM_REQUEST_TIMEOUT="30", TAP_INTERCOM_RATE_LIMIT_HEADROOM="0.2")
    run, _ = _run(tmp_path, tap_config(emulator), extra=("--config", "ENV"), env=env)
    assert run.returncode == 0, run.stderr
    assert [r["id"] for r in run.records["teams"]], run.stderr
    _assert_clean(run)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TAP_INTERCOM_REQUEST_TIMEOUT", "30s", "must be a decimal number, got '30s'"),
        ("TAP_INTERCOM_PAGE_SIZE", "fifty", "must be a whole number, got 'fifty'"),
    ],
)
def test_a_bad_number_from_the_environment_is_one_line(
    emulator: Emulator, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    emulator.reset_stats()
    env = _env(**{variable: value})
    run, _ = _run(tmp_path, tap_config(emulator), extra=("--config", "ENV"), env=env)
    assert run.returncode == 1
    errors = _lines(run, "ERROR")
    assert variable in errors[0], errors
    assert expected in errors[0], errors
    assert emulator.stats()["total"] == 0
    _assert_clean(run)
