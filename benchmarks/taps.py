"""Tap benchmarks against the emulator: ours (`.venv/bin/tap-intercom`) and singer-io's
tap-intercom 2.2.5 (through `benchmarks/peer_runner.py` in `benchmarks/.venv-peer-tap`)."""

from __future__ import annotations

import json
import re
import subprocess
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    BENCH,
    PEER_VENV,
    TOKEN,
    VENV_BIN,
    EmulatorProcess,
    Run,
    log,
    out_dir,
    run_measured,
)
from tests.catalog import select_streams

# The entities singer-io's tap syncs, and the streams of ours that carry them.
OURS_FOR_PEER = (
    "admins",
    "companies",
    "contacts",
    "conversations",
    "conversation_parts",
    "data_attributes",
    "segments",
    "tags",
    "teams",
)
# Emitted stream -> the emulator truth key its ids are checked against.
TRUTH_OF_STREAM = {
    "admins": "admins",
    "companies": "companies",
    "contacts": "contacts",
    "conversations": "conversations",
    "conversation_parts": "conversation_parts",
    "segments": "segments",
    "company_segments": "segments",
    "tags": "tags",
    "teams": "teams",
}
SUMMARY = re.compile(r"Run summary: (\d+) requests, (\d+) retried, (\d+) answered 429")


@dataclass
class TapRun:
    """A tap run with the emulator's view of it."""

    program: str
    run: Run
    requests: int
    rate_limited: int
    routes: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.run.seconds

    @property
    def ok(self) -> bool:
        return self.run.returncode == 0


def work_dir(name: str) -> Path:
    folder = out_dir() / "work" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def peer_available() -> bool:
    return (PEER_VENV / "bin" / "python").exists()


# --------------------------------------------------------------------------- ours
def our_config(url: str, folder: Path, **extra: t.Any) -> Path:
    config = {
        "access_token": TOKEN,
        "api_url": url,
        "start_date": "2000-01-01T00:00:00Z",
        **extra,
    }
    path = folder / f"ours-config-{abs(hash(json.dumps(config, sort_keys=True)))}.json"
    path.write_text(json.dumps(config))
    return path


_DISCOVERED: list[str] = []


def our_catalog(url: str, folder: Path, streams: t.Iterable[str]) -> Path:
    """`--discover`, then select exactly `streams` (every field of them)."""
    wanted = set(streams)
    if not _DISCOVERED:
        # Discovery makes no request (the catalog is the same for every workspace): once.
        config = our_config(url, folder)
        _DISCOVERED.append(
            subprocess.run(
                [str(VENV_BIN / "tap-intercom"), "--config", str(config), "--discover"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    catalog = select_streams(json.loads(_DISCOVERED[0]), wanted)
    path = folder / f"ours-catalog-{'-'.join(sorted(wanted))[:80]}.json"
    path.write_text(json.dumps(catalog))
    return path


def run_ours(
    emulator: EmulatorProcess,
    catalog: Path,
    folder: Path,
    *,
    state: dict[str, t.Any] | None = None,
    keep_ids: bool = False,
    **config: t.Any,
) -> TapRun:
    argv = our_argv(emulator.url, catalog, folder, state, **config)
    emulator.reset_stats()
    run = run_measured(argv, keep_ids=keep_ids)
    stats = emulator.stats()
    match = SUMMARY.search(run.stderr_tail)
    if match and int(match.group(1)) != stats["total"]:
        log(f"ours: the tap counted {match.group(1)} requests, the emulator {stats['total']}")
    return TapRun("ours", run, int(stats["total"]), int(stats["rate_limited"]), stats["routes"])


def our_argv(
    url: str, catalog: Path, folder: Path, state: dict[str, t.Any] | None, **config: t.Any
) -> list[str]:
    argv = [
        str(VENV_BIN / "tap-intercom"),
        "--config",
        str(our_config(url, folder, **config)),
        "--catalog",
        str(catalog),
    ]
    if state is not None:
        state_file = folder / "ours-state.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    return argv


# --------------------------------------------------------------------------- peer
def _peer_argv(url: str) -> list[str]:
    return [
        str(PEER_VENV / "bin" / "python"),
        str(BENCH / "peer_runner.py"),
        "--api-url",
        url,
        "--",
    ]


def peer_config(folder: Path) -> Path:
    path = folder / "peer-config.json"
    config = {"access_token": TOKEN, "start_date": "2000-01-01T00:00:00Z", "user_agent": "bench"}
    path.write_text(json.dumps(config))
    return path


def peer_catalog(url: str, folder: Path) -> Path:
    """The peer's own `--discover`, with every stream and field selected."""
    text = subprocess.run(
        [*_peer_argv(url), "--config", str(peer_config(folder)), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    catalog = json.loads(text)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
    path = folder / "peer-catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def run_peer(
    emulator: EmulatorProcess,
    catalog: Path,
    folder: Path,
    *,
    state: dict[str, t.Any] | None = None,
    keep_ids: bool = False,
) -> TapRun:
    argv = [*_peer_argv(emulator.url), "--config", str(peer_config(folder)), "--catalog"]
    argv.append(str(catalog))
    if state is not None:
        state_file = folder / "peer-state.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    emulator.reset_stats()
    run = run_measured(argv, keep_ids=keep_ids)
    stats = emulator.stats()
    return TapRun("peer", run, int(stats["total"]), int(stats["rate_limited"]), stats["routes"])


# --------------------------------------------------------------------------- completeness
def missing_records(run: Run, truth: dict[str, t.Any]) -> dict[str, int]:
    """Per truth entity: how many ids the emulator holds that the run did not emit."""
    missing: dict[str, int] = {}
    emitted: dict[str, set[str]] = {}
    for stream, ids in run.ids.items():
        key = TRUTH_OF_STREAM.get(stream)
        if key:
            emitted.setdefault(key, set()).update(ids)
    for key in sorted(set(TRUTH_OF_STREAM.values())):
        if key not in emitted:
            continue
        if key == "conversation_parts":
            expected = {str(p) for parts in truth[key].values() for p in parts}
        else:
            expected = {str(i) for i in truth[key]}
        missing[key] = len(expected - emitted[key])
    return missing


def truth_counts(truth: dict[str, t.Any]) -> dict[str, int]:
    counts = {key: len(truth[key]) for key in set(TRUTH_OF_STREAM.values())}
    counts["conversation_parts"] = sum(len(p) for p in truth["conversation_parts"].values())
    return counts


def hydration_rate(run: Run) -> float:
    """Conversations per second between the first and the last conversation emitted."""
    count = run.records.get("conversations", 0)
    first, last = run.first_record.get("conversations"), run.last_record.get("conversations")
    if count < 2 or first is None or last is None or last <= first:
        return float("nan")
    return (count - 1) / (last - first)
