"""An archive synced from the emulator by the real tap and target, for the read side's tests.

One archive per test process (building it takes a few seconds); tests that change the
workspace or the archive build their own with `synced_archive`.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from intercom_archive import cli
from tests.emulator import Emulator
from tests.reliability.pipeline import (
    PipelineRun,
    run_pipeline,
    small_spec,
    tap_config,
    target_config,
)


@dataclass
class Synced:
    """An emulator and the archive its workspace was synced into."""

    emulator: Emulator
    database: Path
    folder: Path
    last: PipelineRun
    target: dict[str, Any]

    def sync(self) -> PipelineRun:
        """Another (incremental) run from the last committed state."""
        self.last = run_pipeline(
            self.folder,
            tap_config(self.emulator),
            target_config(self.database, **self.target),
            state=self.last.state,
        )
        assert self.last.ok, self.last.describe()
        return self.last


@contextlib.contextmanager
def synced_archive(
    folder: Path, target: dict[str, Any] | None = None, **spec: Any
) -> Iterator[Synced]:
    """The emulator's workspace (`spec`) synced into `folder`; `target`: more target settings."""
    with Emulator(small_spec(**spec), token="read-side-token") as emulator:
        database = folder / "archive.sqlite"
        settings = dict(target or {})
        run = run_pipeline(folder, tap_config(emulator), target_config(database, **settings))
        assert run.ok, run.describe()
        yield Synced(emulator, database, folder, run, settings)


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """Synced once per test process; its views installed. Tests must not change it."""
    with synced_archive(tmp_path_factory.mktemp("read-archive")) as synced:
        assert cli.main(["views", "--database", str(synced.database)]) == 0
        yield synced


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*argv: str) -> Result:
    """`intercom-archive ARGV` in this process, its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: The installed console script, for tests that need a real process (exit codes, signals).
CLI = str(Path(sys.executable).with_name("intercom-archive"))
#: Queries that must never reach FTS5 syntax unless --raw, nor end in a traceback.
HOSTILE = (
    '"',
    "(",
    "a AND",
    "-x",
    "alice@example.com",
    "🎉",
    "🙂 emoji only 🎉",
    "DROP TABLE contacts;--",
    "' OR 1=1 --",
    "NEAR(a b)",
    "body:refund",
    "refun*",
    "x" * 10_000,
    " ".join(["order"] * 2_000),
)


def check_hostile_query(database: Path, query: str) -> None:
    """A literal search for `query` exits 0 with a JSON list and nothing on stderr; with --raw
    it exits 0, or 2 with FTS5's rejection in one line; never a traceback."""
    literal = subprocess.run(
        [CLI, "search", "-d", str(database), "--json", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert literal.returncode == 0, literal.stderr
    assert literal.stderr == ""
    assert isinstance(json.loads(literal.stdout), list)
    raw = subprocess.run(
        [CLI, "search", "-d", str(database), "--raw", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert raw.returncode in (0, 2), raw.stderr
    assert "Traceback" not in raw.stderr
    if raw.returncode == 2:
        assert raw.stderr.startswith("intercom-archive: FTS5 rejected the --raw query")
        assert len(raw.stderr.strip().splitlines()) == 1
