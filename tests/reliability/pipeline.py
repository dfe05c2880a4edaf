"""tap-intercom | target-sqlite-archive as two processes wired here, and the archive vs the truth.

`run_pipeline` pipes the tap's stdout straight into the target. `run_killed` relays the lines
itself so that a SIGKILL lands at an exact, seeded message: on the tap, the target or both.
The resume state is what a scheduler such as Meltano keeps: the last STATE line the TARGET
emitted (it emits a state only after the COMMIT that covers it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_intercom import timestamps
from tests.e2e.harness import DEFAULT_STREAMS, tap_command
from tests.emulator import Emulator, WorkspaceSpec

TARGET = str(Path(sys.executable).with_name("target-sqlite-archive"))
TOKEN = "reliability-token-5f3c9a7e21d4b8aa"

# Root tables whose truth holds updated_at (or deleted_at) per id.
TIMED = (
    "companies",
    "contacts",
    "conversations",
    "tickets",
    "segments",
    "articles",
    "collections",
    "help_centers",
)
UNTIMED = ("admins", "teams", "tags", "subscription_types")
PARTS = (("conversation_parts", "conversation_id"), ("ticket_parts", "ticket_id"))


def small_spec(seed: int = 5, **extra: Any) -> WorkspaceSpec:
    """Small enough for many runs, with every stream non-empty and no 500-part cap."""
    values: dict[str, Any] = {
        "seed": seed,
        "admins": 4,
        "teams": 2,
        "tags": 6,
        "segments": 3,
        "subscription_types": 2,
        "companies": 24,
        "contacts": 90,
        "conversations": 50,
        "tickets": 12,
        "articles": 4,
        "collections": 2,
        "parts_mean": 3,
        "long_conversations": 0,
        "deleted_conversations": 3,
        "cluster_size": 30,
        "conversation_cluster_size": 20,
    }
    values.update(extra)
    return WorkspaceSpec(**values)


def tap_config(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return {
        "access_token": emu.token,
        "api_url": emu.url,
        "start_date": "2000-01-01T00:00:00Z",
        "lookback_window_seconds": 600,
        **extra,
    }


def target_config(database: Path, **extra: Any) -> dict[str, Any]:
    return {"database": str(database), **extra}


@dataclass
class PipelineRun:
    tap_returncode: int | None
    target_returncode: int | None
    states: list[dict[str, Any]] = field(default_factory=list)
    tap_stderr: str = ""
    target_stderr: str = ""
    lines_sent: int = 0
    killed: str = ""

    @property
    def state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    @property
    def ok(self) -> bool:
        return self.tap_returncode == 0 and self.target_returncode == 0

    def describe(self) -> str:
        return (
            f"tap exit {self.tap_returncode}, target exit {self.target_returncode}\n"
            f"--- tap stderr (end)\n{self.tap_stderr[-3000:]}\n"
            f"--- target stderr (end)\n{self.target_stderr[-3000:]}"
        )


def _write_json(path: Path, content: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return str(path)


def target_command(tmp: Path, config: dict[str, Any]) -> list[str]:
    return [TARGET, "--config", _write_json(tmp / "target-config.json", config)]


def _collect(stream: Any, into: list[str]) -> threading.Thread:
    def read() -> None:
        for line in stream:
            into.append(line)
        stream.close()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _states(lines: list[str]) -> list[dict[str, Any]]:
    states = []
    for line in lines:
        if line.strip():
            try:
                states.append(json.loads(line))
            except ValueError:
                break  # a line cut by a kill was never a complete state
    return states


def run_pipeline(
    tmp: Path,
    tap_cfg: dict[str, Any],
    target_cfg: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] | list[str] = DEFAULT_STREAMS,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> PipelineRun:
    """tap | target, the tap's stdout connected to the target's stdin by the OS."""
    full_env = {**os.environ, **(env or {})}
    tap = subprocess.Popen(
        tap_command(tmp, tap_cfg, state=state, streams=streams),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        text=True,
    )
    assert tap.stdout is not None
    assert tap.stderr is not None
    target = subprocess.Popen(
        target_command(tmp, target_cfg),
        stdin=tap.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        text=True,
    )
    tap.stdout.close()  # the target holds the only reading end
    assert target.stdout is not None
    assert target.stderr is not None
    out: list[str] = []
    tap_err: list[str] = []
    target_err: list[str] = []
    readers = [
        _collect(target.stdout, out),
        _collect(tap.stderr, tap_err),
        _collect(target.stderr, target_err),
    ]
    try:
        target.wait(timeout=timeout)
        tap.wait(timeout=timeout)
    finally:
        for process in (tap, target):
            if process.poll() is None:
                process.kill()
                process.wait()
    for reader in readers:
        reader.join(timeout=10)
    return PipelineRun(
        tap.returncode,
        target.returncode,
        _states(out),
        "".join(tap_err),
        "".join(target_err),
    )


def run_killed(
    tmp: Path,
    tap_cfg: dict[str, Any],
    target_cfg: dict[str, Any],
    *,
    kill_after: int,
    victim: str,
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] | list[str] = DEFAULT_STREAMS,
    timeout: float = 240,
) -> PipelineRun:
    """tap | target with this process relaying lines; after `kill_after` lines have been
    passed on, SIGKILL `victim` ("tap", "target" or "both"). A killed tap closes the target's
    input (as a dying tap does in a pipe); a killed target takes the tap down with it (its
    next write would fail with a broken pipe)."""
    tap = subprocess.Popen(
        tap_command(tmp, tap_cfg, state=state, streams=streams),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    target = subprocess.Popen(
        target_command(tmp, target_cfg),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert tap.stdout is not None
    assert target.stdin is not None
    out: list[str] = []
    err: list[str] = []
    readers = [
        _collect((b.decode() for b in iter(target.stdout.readline, b"")), out),  # type: ignore[union-attr]
        _collect((b.decode(errors="replace") for b in iter(target.stderr.readline, b"")), err),  # type: ignore[union-attr]
    ]
    sent = 0
    killed = ""
    try:
        for line in tap.stdout:
            try:
                target.stdin.write(line)
                target.stdin.flush()
            except BrokenPipeError:
                break
            sent += 1
            if sent >= kill_after:
                killed = victim
                if victim in ("tap", "both"):
                    os.killpg(tap.pid, signal.SIGKILL)
                if victim in ("target", "both"):
                    os.killpg(target.pid, signal.SIGKILL)
                    os.killpg(tap.pid, signal.SIGKILL)
                break
        with contextlib.suppress(BrokenPipeError):
            target.stdin.close()
        target.wait(timeout=timeout)
        tap.wait(timeout=timeout)
    finally:
        for process in (tap, target):
            if process.poll() is None:
                process.kill()
                process.wait()
        tap.stdout.close()
    for reader in readers:
        reader.join(timeout=10)
    return PipelineRun(
        tap.returncode,
        target.returncode,
        _states(out),
        "",
        "".join(err),
        sent,
        killed,
    )


# -- the archive ------------------------------------------------------------------------------


def connect(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True)


def integrity_ok(database: Path) -> bool:
    with connect(database) as db:
        return db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def archive_state(database: Path) -> Any:
    with connect(database) as db:
        row = db.execute("SELECT state FROM _archive_state").fetchone()
    return json.loads(row[0]) if row else None


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def duplicate_keys(database: Path) -> dict[str, int]:
    """Root tables with a repeated `_sdc_id` or natural key: {table: duplicated rows}."""
    found: dict[str, int] = {}
    with connect(database) as db:
        tables = _tables(db)
        keys: dict[str, str] = dict.fromkeys((*TIMED, *UNTIMED, "deleted_conversations"), "id")
        keys.update({name: f"{parent}, id" for name, parent in PARTS})
        keys["data_attributes"] = "model, name"
        for table, key in keys.items():
            if table not in tables:
                continue
            total, by_sdc, by_key = db.execute(
                f"SELECT count(*), count(DISTINCT _sdc_id), "  # noqa: S608 (fixed names)
                f'(SELECT count(*) FROM (SELECT DISTINCT {key} FROM "{table}")) '
                f'FROM "{table}"'
            ).fetchone()
            if total != by_sdc or total != by_key:
                found[table] = total - min(by_sdc, by_key)
    return found


def archive_differences(database: Path, emu: Emulator) -> list[str]:
    """What the archive's root tables get wrong against the emulator's truth (empty: equal).

    Every id with its latest updated_at (or deleted_at), every (parent id, part id) pair,
    rows of full-table streams not marked deleted; conversations deleted at the source may
    stay in the archive (an incremental stream never hears of a deletion except through
    deleted_conversations, which must then list them)."""
    truth = emu.truth()
    problems: list[str] = []
    with connect(database) as db:
        tables = _tables(db)

        def live(table: str, columns: str) -> list[tuple[Any, ...]]:
            if table not in tables:
                return []
            where = ""
            cols = {r[1] for r in db.execute(f'PRAGMA table_info("{table}")')}
            if "_sdc_deleted_at" in cols:
                where = " WHERE _sdc_deleted_at IS NULL"
            return list(db.execute(f'SELECT {columns} FROM "{table}"{where}'))  # noqa: S608

        deleted = {str(k) for k in truth["deleted_conversations"]}
        for table in TIMED:
            want = {str(k): timestamps.iso(v) for k, v in truth[table].items()}
            have = {str(i): u for i, u in live(table, "id, updated_at")}
            if table == "conversations":
                have = {i: u for i, u in have.items() if i in want or i not in deleted}
            missing = sorted(set(want) - set(have))
            extra = sorted(set(have) - set(want))
            stale = sorted(i for i in set(want) & set(have) if want[i] != have[i])
            if missing or extra or stale:
                problems.append(
                    f"{table}: missing {missing[:5]} ({len(missing)}), extra {extra[:5]} "
                    f"({len(extra)}), stale {[(i, have[i], want[i]) for i in stale[:3]]} "
                    f"({len(stale)})"
                )
        for table in UNTIMED:
            want_ids = {str(k) for k in truth[table]}
            have_ids = {str(r[0]) for r in live(table, "id")}
            if want_ids != have_ids:
                problems.append(
                    f"{table}: missing {sorted(want_ids - have_ids)[:5]}, "
                    f"extra {sorted(have_ids - want_ids)[:5]}"
                )
        want_deleted = {
            str(k): timestamps.iso(v) for k, v in truth["deleted_conversations"].items()
        }
        have_deleted = {str(i): d for i, d in live("deleted_conversations", "id, deleted_at")}
        if want_deleted != have_deleted:
            problems.append(f"deleted_conversations: {have_deleted} != {want_deleted}")
        want_attrs = {str(k) for k in truth["data_attributes"]}
        have_attrs = {
            f"{m}.{n}"
            for m, n in live("data_attributes", "model, full_name")
            if m != "conversation"
        }
        if want_attrs != have_attrs:
            problems.append(f"data_attributes: {sorted(want_attrs ^ have_attrs)[:5]}")
        for table, parent in PARTS:
            want_pairs = {(str(p), str(i)) for p, ids in truth[table].items() for i in ids}
            have_pairs = {
                (str(p), str(i))
                for p, i in live(table, f"{parent}, id")
                if table != "conversation_parts" or str(p) not in deleted
            }
            if want_pairs != have_pairs:
                problems.append(
                    f"{table}: missing {sorted(want_pairs - have_pairs)[:5]} "
                    f"({len(want_pairs - have_pairs)}), extra {sorted(have_pairs - want_pairs)[:5]}"
                    f" ({len(have_pairs - want_pairs)})"
                )
    return problems


def assert_archive_is_truth(database: Path, emu: Emulator) -> None:
    assert integrity_ok(database)
    assert duplicate_keys(database) == {}
    problems = archive_differences(database, emu)
    assert not problems, "\n".join(problems)
