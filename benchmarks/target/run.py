"""Benchmark target-sqlite-archive through its CLI; writes benchmarks/target/RESULTS.md.

    .venv/bin/python -m benchmarks.target.run [--contacts 50000] [--conversations 3000]
                                              [--repeat 3] [--profile]

Inputs are synthetic Intercom-shaped Singer files (see generate.py) in the project's stream
schemas; record validation stays on (the default). Each figure is the best of `--repeat`
runs on a fresh archive, wall clock of the whole CLI process including its start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

from benchmarks import goals
from benchmarks.target import generate
from target_sqlite_archive import batch, committer, writer
from target_sqlite_archive.store import ArchiveStore

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "benchmarks" / "out" / "target"
CONTACTS_GOAL = goals.TARGET_CONTACTS_PER_S.bound  # records/s
CONVERSATIONS_GOAL = goals.TARGET_CONVERSATIONS_PER_S.bound  # each with its ~20 part records
FTS_OVERHEAD_GOAL = 0.25  # full-text indexes may add at most this share of the time
# The same inputs with the full-text indexes of the tap's schemas turned off.
NO_FTS: dict[str, t.Any] = {
    "full_text_search": {s: [] for s in ("contacts", "conversations", "conversation_parts")}
}


class Result(t.NamedTuple):
    name: str  # the input, with "(FTS off)" for the run without full-text indexes
    records: int
    conversations: int
    seconds: float
    cpu_seconds: float  # user + system of the CLI process in the same run
    max_rss_mb: float


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "target-sqlite-archive"
    if script.exists():
        return [str(script)]
    code = "from target_sqlite_archive.target import TargetSqliteArchive; TargetSqliteArchive.cli()"
    return [sys.executable, "-c", code]


# Runs the CLI as its own child and reports that run alone: wall seconds, CPU seconds
# (user + system) and peak RSS, so no other process's figures mix in.
_MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[2:])
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024], out)
sys.exit(done.returncode)
"""


def _run_cli(
    singer_file: Path, folder: Path, config: dict[str, t.Any], *, expect_state: bool = True
) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of one CLI run on a fresh archive."""
    database = folder / "archive.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps({"database": str(database), **config}))
    usage_file = folder / "usage.json"
    command = [sys.executable, "-c", _MEASURE, str(usage_file), *_cli()]
    with singer_file.open() as stdin:
        done = subprocess.run(
            [*command, "--config", str(config_file)],
            stdin=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    if expect_state and not done.stdout.strip():
        raise RuntimeError("the target emitted no state")
    wall, cpu, rss = json.loads(usage_file.read_text())
    return float(wall), float(cpu), float(rss)


def _count(folder: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(folder / "archive.sqlite")) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608


def _inputs(contacts: int, conversations: int, parts: int) -> dict[str, tuple[Path, int, int]]:
    OUT.mkdir(parents=True, exist_ok=True)
    contacts_file = OUT / f"contacts-{contacts}.singer"
    conversations_file = OUT / f"conversations-{conversations}x{parts}.singer"
    if not contacts_file.exists():
        generate.write_contacts(contacts_file, contacts)
    if not conversations_file.exists():
        generate.write_conversations(conversations_file, conversations, parts)
    return {
        "contacts": (contacts_file, contacts, 0),
        "conversations + parts": (conversations_file, conversations * (1 + parts), conversations),
    }


_PROFILE_WRITER: dict[str, t.Any] = {}


def _inline_submit(self: committer.Committer, job: batch.Job, *, wait: bool = False) -> None:
    # cProfile sees only its own process: the profile does the writer process's work inline,
    # so every cost appears in one single-process profile.
    if "store" not in _PROFILE_WRITER:
        _PROFILE_WRITER["store"] = ArchiveStore(
            self._settings.database, compression_level=self._settings.compression_level
        )
        _PROFILE_WRITER["sent"] = {}
        _PROFILE_WRITER["plans"] = {}
    message = batch.encode(job, _PROFILE_WRITER["sent"])
    decoded = batch.decode(message)
    writer.commit(_PROFILE_WRITER["store"], _PROFILE_WRITER["plans"], decoded)


def _profile(singer_file: Path, top: int = 22) -> str:
    from target_sqlite_archive.target import TargetSqliteArchive

    original = committer.Committer.submit
    committer.Committer.submit = _inline_submit  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as folder:
            target = TargetSqliteArchive(config={"database": f"{folder}/archive.sqlite"})
            profiler = cProfile.Profile()
            with singer_file.open() as stdin, contextlib.redirect_stdout(io.StringIO()):
                profiler.enable()
                target.listen(stdin)
                profiler.disable()
    finally:
        committer.Committer.submit = original  # type: ignore[method-assign]
        if "store" in _PROFILE_WRITER:
            _PROFILE_WRITER.pop("store").close()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    lines = text.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return "\n".join(line.replace(str(Path.cwd()) + "/", "") for line in lines[start:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--conversations", type=int, default=3_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="add a cProfile of each input")
    parser.add_argument(
        "--memory-contacts",
        type=int,
        default=150_000,
        help="one more run on this many contacts: peak memory must not grow with the input "
        "(0 to skip)",
    )
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)

    inputs = _inputs(args.contacts, args.conversations, args.parts)
    load_before = os.getloadavg()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        empty = folder / "empty.singer"
        empty.write_text("")
        startup = min(
            _run_cli(empty, folder, {}, expect_state=False)[0] for _ in range(args.repeat)
        )
        for name, (singer_file, records, conversations) in inputs.items():
            # FTS on and off alternate, so both see the same load on a shared machine.
            best = {"": (float("inf"), 0.0, 0.0), " (FTS off)": (float("inf"), 0.0, 0.0)}
            for _ in range(args.repeat):
                for label, config in (("", {}), (" (FTS off)", NO_FTS)):
                    seconds, cpu, rss = _run_cli(singer_file, folder, config)
                    if seconds < best[label][0]:
                        best[label] = (seconds, cpu, rss)
            table = "contacts" if conversations == 0 else "conversation_parts"
            expected = records if conversations == 0 else records - conversations
            assert _count(folder, table) == expected, f"{table}: rows missing"
            for label, (seconds, cpu, rss) in best.items():
                results.append(Result(name + label, records, conversations, seconds, cpu, rss))
                print(f"{name}{label}: {records} records in {seconds:.2f} s", file=sys.stderr)
        if args.memory_contacts:
            large = OUT / f"contacts-{args.memory_contacts}.singer"
            if not large.exists():
                generate.write_contacts(large, args.memory_contacts)
            seconds, cpu, rss = _run_cli(large, folder, {})
            name = "contacts, memory check (one run)"
            results.append(Result(name, args.memory_contacts, 0, seconds, cpu, rss))
    profiles = {}
    if args.profile:
        profiles = {name: _profile(path) for name, (path, _r, _c) in inputs.items()}
    load = os.getloadavg()
    args.results.write_text(_report(results, startup, profiles, load_before, load))
    print(args.results.read_text())


def _report(
    results: list[Result],
    startup: float,
    profiles: dict[str, str],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    rows = []
    for r in results:
        rate = r.records / r.seconds
        net = r.records / max(r.seconds - startup, 1e-9)
        if r.conversations:
            per_second = r.conversations / r.seconds
            goal = f"{CONVERSATIONS_GOAL:,} conversations/s"
            met = "yes" if per_second >= CONVERSATIONS_GOAL else "no"
            conv = f"{per_second:,.0f}"
        else:
            goal, conv = f"{CONTACTS_GOAL:,} records/s", "-"
            met = "yes" if rate >= CONTACTS_GOAL else "no"
        rows.append(
            f"| {r.name} | {r.records:,} | {r.seconds:.2f} | {r.cpu_seconds:.2f} | {rate:,.0f} "
            f"| {net:,.0f} | {conv} | {r.max_rss_mb:,.0f} | {goal} | {met} |"
        )
    machine = (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.machine()}"
    )
    text = [
        "# target-sqlite-archive benchmark",
        "",
        "Generated by `.venv/bin/python -m benchmarks.target.run` (do not edit by hand).",
        "",
        f"Machine: {machine}. Record validation on. CLI start-up alone: {startup:.2f} s.",
        "Wall clock of the whole CLI run (best of the repeats), fresh archive each run;",
        "'net' leaves the start-up out; 'CPU s' is user + system time of that run (above",
        "the wall time when both cores work); max RSS is that run's peak memory.",
        f"Load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}: on",
        "a shared machine other work slows the wall clock.",
        "",
        "| input | records | seconds | CPU s | records/s | net records/s | conversations/s "
        "| max RSS MB | goal | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    overheads = []
    for r in results:
        off = next((o for o in results if o.name == r.name + " (FTS off)"), None)
        if off is not None:
            share = r.seconds / off.seconds - 1
            met = "met" if share <= FTS_OVERHEAD_GOAL else "missed"
            overheads.append(
                f"- {r.name}: {r.seconds:.2f} s with FTS, {off.seconds:.2f} s without: "
                f"{share:+.0%} (goal <= {FTS_OVERHEAD_GOAL:.0%}: {met})"
            )
    if overheads:
        text += ["Full-text indexes (the tap's `x-full-text-search`) on against off:", ""]
        text += [*overheads, ""]
    for name, profile in profiles.items():
        title = f"## Profile: {name} (cProfile, in-process, by own time)"
        text += [title, "", "```", profile, "```", ""]
    return "\n".join(text)


if __name__ == "__main__":
    main()
