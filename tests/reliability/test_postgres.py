# ruff: noqa: S608  (SQL text is built from this file's fixed table names only)
"""Downstream at scale: tap-intercom into meltanolabs-target-postgres on a real PostgreSQL
server (Debian's package, installed and started by scripts/postgres on 127.0.0.1), every
stream, then a second, incremental run after the workspace changed."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tap_intercom import timestamps
from tests.e2e.harness import DEFAULT_STREAMS, tap_command
from tests.emulator import Emulator
from tests.reliability.pipeline import TIMED, TOKEN, small_spec, tap_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TARGET_POSTGRES = ROOT / ".venv-target-postgres" / "bin" / "target-postgres"
EVERY_STREAM = (*DEFAULT_STREAMS, "notes", "events")
SCHEMA = "intercom"


class Postgres:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port

    def query(self, sql: str) -> list[list[str]]:
        done = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-AtX",
                "-F",
                "\t",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return [line.split("\t") for line in done.stdout.splitlines()]

    def target_config(self, **extra: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "postgres",
            "password": "",
            "database": "postgres",
            "default_target_schema": SCHEMA,
            **extra,
        }


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    directory = tmp_path_factory.mktemp("postgres")
    started = subprocess.run(
        [str(ROOT / "scripts" / "postgres"), "start", str(directory)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("POSTGRES_URL=postgresql://postgres@127.0.0.1:")
    try:
        yield Postgres(directory, int(url.rsplit(":", 1)[1].split("/")[0]))
    finally:
        subprocess.run(
            [str(ROOT / "scripts" / "postgres"), "stop", str(directory)], check=False, timeout=120
        )


def _load(tmp: Path, emu: Emulator, pg: Postgres, state: dict[str, Any] | None) -> dict[str, Any]:
    """tap | target-postgres; the target's last emitted state."""
    config = tmp / "target-postgres.json"
    config.write_text(json.dumps(pg.target_config()))
    tap = subprocess.Popen(
        tap_command(tmp, tap_config(emu, page_size=40), state=state, streams=EVERY_STREAM),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tap.stdout is not None
    assert tap.stderr is not None
    tap_err: list[str] = []
    reader = threading.Thread(target=lambda: tap_err.append(tap.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    target = subprocess.run(
        [str(TARGET_POSTGRES), "--config", str(config)],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
        check=False,
    )
    tap.wait(timeout=60)
    reader.join(timeout=10)
    assert tap.returncode == 0, "".join(tap_err)[-3000:]
    assert target.returncode == 0, target.stderr[-3000:]
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    assert states, "target-postgres emitted no state"
    return states[-1]


def _iso(column: str) -> str:
    return f"""to_char({column}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _live(pg: Postgres, table: str, columns: str) -> list[list[str]]:
    return pg.query(f'SELECT {columns} FROM {SCHEMA}."{table}" WHERE _sdc_deleted_at IS NULL')


def _differences(pg: Postgres, emu: Emulator) -> list[str]:
    truth = emu.truth()
    problems = []
    deleted = {str(k) for k in truth["deleted_conversations"]}
    for table in TIMED:
        want = {str(k): timestamps.iso(v) for k, v in truth[table].items()}
        have = dict(_live(pg, table, f"id, {_iso('updated_at')}"))
        if want != have:
            problems.append(
                f"{table}: {len(set(want) ^ set(have))} ids differ, "
                f"{sum(1 for i in want if i in have and have[i] != want[i])} stale"
            )
    for table in ("admins", "teams", "tags", "subscription_types", "notes"):
        want_ids = {str(k) for k in truth[table]}
        have_ids = {r[0] for r in _live(pg, table, "id")}
        if want_ids != have_ids:
            problems.append(f"{table}: {sorted(want_ids ^ have_ids)[:5]}")
    want_deleted = {str(k): timestamps.iso(v) for k, v in truth["deleted_conversations"].items()}
    have_deleted = dict(_live(pg, "deleted_conversations", f"id, {_iso('deleted_at')}"))
    if want_deleted != have_deleted:
        problems.append(f"deleted_conversations: {have_deleted} != {want_deleted}")
    want_attrs = {str(k) for k in truth["data_attributes"]}
    have_attrs = {
        f"{m}.{n}"
        for m, n in _live(pg, "data_attributes", "model, full_name")
        if m != "conversation"
    }
    if want_attrs != have_attrs:
        problems.append(f"data_attributes: {sorted(want_attrs ^ have_attrs)[:5]}")
    for table, parent in (("conversation_parts", "conversation_id"), ("ticket_parts", "ticket_id")):
        want_pairs = {(str(p), str(i)) for p, ids in truth[table].items() for i in ids}
        have_pairs = {(p, i) for p, i in _live(pg, table, f"{parent}, id") if p not in deleted}
        if want_pairs != have_pairs:
            problems.append(f"{table}: {len(want_pairs ^ have_pairs)} pairs differ")
    want_events = {
        (str(c), name, timestamps.iso(at))
        for c, events in truth["events"].items()
        for name, at in events
    }
    have_events = {
        (c, n, a)
        for c, n, a in _live(pg, "events", f"intercom_user_id, event_name, {_iso('created_at')}")
    }
    if want_events != have_events:
        problems.append(f"events: {len(want_events ^ have_events)} differ")
    return problems


def _duplicates(pg: Postgres) -> dict[str, int]:
    keys = dict.fromkeys(DEFAULT_STREAMS, "id")
    keys.update(
        conversation_parts="conversation_id, id",
        ticket_parts="ticket_id, id",
        data_attributes="model, name",
        notes="id",
        events="intercom_user_id, event_name, created_at",
    )
    found = {}
    for table, key in keys.items():
        [[total, distinct]] = pg.query(
            f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT {key} "
            f'FROM {SCHEMA}."{table}") d) FROM {SCHEMA}."{table}"'
        )
        if total != distinct:
            found[table] = int(total) - int(distinct)
    return found


def test_every_stream_loads_into_postgres_and_the_next_run_is_incremental(
    postgres: Postgres, tmp_path: Path
) -> None:
    with Emulator(small_spec(seed=61), token=TOKEN, scroll_expiry=2.0) as emu:
        state = _load(tmp_path, emu, postgres, None)
        tables = {
            r[0]
            for r in postgres.query(
                f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{SCHEMA}'"
            )
        }
        assert set(EVERY_STREAM) <= tables
        for stream in EVERY_STREAM:
            [[rows]] = postgres.query(f'SELECT count(*) FROM {SCHEMA}."{stream}"')
            assert int(rows) > 0, stream
        assert _differences(postgres, emu) == []
        assert _duplicates(postgres) == {}
        [[first_contacts]] = postgres.query(f"SELECT count(*) FROM {SCHEMA}.contacts")

        ws = emu.workspace
        changed = set(ws.update("contacts", count=7)) | set(ws.create("contacts", count=3))
        ws.update("conversations", count=5)
        ws.create("conversations", count=2)
        ws.add_parts(count=4, n=2)
        ws.update("tickets", count=3)
        ws.create("tickets", count=1)
        ws.update("companies", count=2)
        emu.reset_stats()
        state = _load(tmp_path, emu, postgres, state)
        stats = emu.stats()
        # Incremental: the second run hydrated only what changed (and the lookback overlap),
        # not every conversation again.
        hydrated = sum(stats["routes"].get("GET /conversations/{id}", {}).values())
        assert hydrated < len(emu.truth()["conversations"])
        assert _differences(postgres, emu) == []
        assert _duplicates(postgres) == {}
        [[second_contacts]] = postgres.query(f"SELECT count(*) FROM {SCHEMA}.contacts")
        assert int(second_contacts) == int(first_contacts) + 3
        updated = {
            r[0]
            for r in postgres.query(
                f"SELECT id FROM {SCHEMA}.contacts WHERE id IN "
                f"({', '.join(repr(c) for c in changed)})"
            )
        }
        assert updated == changed
        assert state["bookmarks"]["contacts"]["replication_key_value"]
