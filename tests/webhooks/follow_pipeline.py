"""The live mirror for tests and benchmarks: ``tap-intercom`` in follow mode piped into
``target-sqlite-archive``, both started here, and readers of the archive they write."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_intercom.timestamps import parse_iso
from tests.e2e.harness import tap_command
from tests.emulator import Emulator, WorkspaceSpec
from tests.emulator.workspace import Workspace
from tests.reliability.pipeline import archive_differences, archive_state, connect, target_command
from tests.webhooks.receiver import Receiver

STREAMS = (
    "contacts", "companies", "conversations", "conversation_parts", "deleted_conversations",
    "tickets", "ticket_parts",
)  # fmt: skip


def follow_spec(seed: int, **extra: Any) -> WorkspaceSpec:
    """A small workspace with every followed stream non-empty and no 500-part cap."""
    values: dict[str, Any] = {
        "admins": 3, "teams": 2, "tags": 5, "segments": 2, "companies": 12, "contacts": 80,
        "conversations": 30, "tickets": 10, "articles": 2, "collections": 1, "parts_mean": 4,
        "cluster_size": 10, "long_conversations": 0,
    }  # fmt: skip
    return WorkspaceSpec(seed=seed, **{**values, **extra})


def follow_config(emu: Emulator, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    """The tap's follow-mode config against the emulator and the receiver's queue."""
    return {
        "access_token": emu.token,
        "api_url": emu.url,
        "start_date": "2000-01-01T00:00:00Z",
        "lookback_window_seconds": 60,
        "webhook_queue": str(receiver.queue_path),
        "follow": True,
        "drain_interval_seconds": 0.5,
        "sync_interval_seconds": 3600,
        **extra,
    }


class Follower:
    """``tap-intercom`` (follow: true) piped into the target; the stderr of both collected."""

    def __init__(
        self,
        tmp: Path,
        tap_config: dict[str, Any],
        database: Path,
        *,
        state: dict[str, Any] | None = None,
        batch_wait_seconds: float = 0.5,
    ) -> None:
        self.database = database
        tmp.mkdir(parents=True, exist_ok=True)
        # Each in its own process group, so that a kill takes the target's writer process too.
        self.tap = subprocess.Popen(
            tap_command(tmp, tap_config, state=state, streams=STREAMS),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.target = subprocess.Popen(
            target_command(
                tmp, {"database": str(database), "batch_wait_seconds": batch_wait_seconds}
            ),
            stdin=self.tap.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.tap.stdout is not None
        self.tap.stdout.close()  # the target holds the pipe now
        self.tap_err: list[str] = []
        self.target_err: list[str] = []
        self.target_out: list[str] = []
        for stream, into in (
            (self.tap.stderr, self.tap_err),
            (self.target.stderr, self.target_err),
            (self.target.stdout, self.target_out),
        ):
            threading.Thread(target=_collect, args=(stream, into), daemon=True).start()

    def terminate(self, timeout: float = 30.0) -> tuple[int, int, float]:
        """SIGTERM the tap (as Meltano or systemd would); both exit codes and seconds taken."""
        start = time.monotonic()
        self.tap.send_signal(signal.SIGTERM)
        tap = self.tap.wait(timeout=timeout)
        target = self.target.wait(timeout=timeout)
        return tap, target, time.monotonic() - start

    def kill(self, victims: tuple[str, ...] = ("tap", "target")) -> None:
        """SIGKILL the tap, the target (with its writer process) or both: a crash or a power
        cut. A killed tap closes the target's input; a killed target takes the tap down with
        it, as a scheduler does when one end of the pipe dies."""
        for name, proc in (("target", self.target), ("tap", self.tap)):
            if proc.poll() is None and (name in victims or "target" in victims):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc in (self.target, self.tap):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            if proc.poll() is None:  # a target still committing what a killed tap sent
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def count(self, needle: str) -> int:
        """Lines of the tap's log that hold ``needle``."""
        return sum(needle in line for line in list(self.tap_err))

    def describe(self) -> str:
        return (
            "--- tap\n"
            + "".join(self.tap_err)[-3000:]
            + "--- target\n"
            + "".join(self.target_err)[-2000:]
        )

    def committed_state(self) -> dict[str, Any] | None:
        return committed_state(self.database)


def committed_state(database: Path) -> dict[str, Any] | None:
    """The state the target committed last (what Meltano would resume from)."""
    try:
        state = archive_state(database)
    except Exception:  # not created yet
        return None
    return state if isinstance(state, dict) else None


def committed_position(database: Path) -> int:
    state = committed_state(database) or {}
    return int(state.get("bookmarks", {}).get("webhook_queue", {}).get("position", 0))


def _collect(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line)


def wait_for(check: Callable[[], bool], timeout: float = 60.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the archive may still be being created
            if check():
                return True
        time.sleep(every)
    return False


def rows(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connect(database) as db:
        return db.execute(sql, params).fetchall()


def column(database: Path, table: str, name: str, rid: str) -> Any:
    """One column of one root row by id (None when the row is missing)."""
    found = rows(database, f'SELECT "{name}" FROM "{table}" WHERE id = ?', rid)  # noqa: S608
    return found[0][0] if found else None


def mirror_differences(database: Path, emu: Emulator) -> list[str]:
    """What the archive's followed tables get wrong against the workspace (empty: equal):
    every live id at its latest updated_at, no row Intercom no longer holds left unmarked,
    every part, every deleted conversation listed.

    A drained deletion's ``deleted_at`` is the notification's time, which may be a second
    after Intercom's own (the next search sync writes Intercom's): a second is allowed."""
    problems = [
        p
        for p in archive_differences(database, emu)
        if p.split(":")[0] in STREAMS and not p.startswith("deleted_conversations:")
    ]
    want = emu.truth()["deleted_conversations"]
    have = dict(rows(database, "SELECT id, deleted_at FROM deleted_conversations"))
    off = {
        str(rid): (have.get(str(rid)), at)
        for rid, at in want.items()
        if str(rid) not in have or abs(_epoch(have[str(rid)]) - at) > 1
    }
    if off or set(have) - {str(rid) for rid in want}:
        problems.append(f"deleted_conversations: {off} (have {sorted(have)})")
    return problems


def _epoch(text: str) -> int:
    return int(parse_iso(text).timestamp())


@dataclass(frozen=True)
class Changes:
    """The ids of one change of every kind the mirror must show (see ``make_every_change``)."""

    updated: str
    created: str
    archived: str
    unarchived: str
    deleted: str
    merged: str
    merged_into: str
    new_conversation: str
    replied: str
    closed: str
    redacted_part: str
    deleted_conversation: str
    ticket: str
    deleted_ticket: str
    company: str
    deleted_company: str


def make_every_change(ws: Workspace) -> Changes:
    """Created, updated, archived (and one unarchived), deleted and merged contacts; created,
    replied-to, closed, redacted and deleted conversations; updated and deleted tickets and
    companies."""
    (updated,) = ws.update("contacts", count=1)
    (created,) = ws.create("contacts")
    archived, unarchived = ws.archive(count=2)
    ws.unarchive([unarchived])
    (deleted,) = ws.delete("contacts", count=1)
    merged, into = ws.merge()
    (new_conversation,) = ws.create("conversations")
    (replied,) = ws.add_parts(count=1, n=2)
    (closed,) = ws.close(count=1)
    (part,) = ws.redact(closed)
    (gone,) = ws.delete("conversations", count=1)
    (ticket,) = ws.update("tickets", count=1)
    (gone_ticket,) = ws.delete("tickets", count=1)
    (company,) = ws.update("companies", count=1)
    (gone_company,) = ws.delete("companies", count=1)
    return Changes(
        updated, created, archived, unarchived, deleted, merged, into, new_conversation,
        replied, closed, part, gone, ticket, gone_ticket, company, gone_company,
    )  # fmt: skip
