"""The target's two figures beside dlt's and beside its own encrypted runs, in one run.

    .venv/bin/python -m benchmarks.target.compare [--contacts 50000] [--conversations 5000]
                                                  [--parts 20] [--repeat 3] [--no-dlt]

The same Singer files for every program (benchmarks/target/generate.py: Intercom-shaped
records in the project's schemas, so the keys and the full-text search of the tap's `x-`
annotations are on; validation on, the default). Programs: ours (`target-sqlite-archive`),
ours with `encryption_key` (SQLCipher 4), and dlt (`benchmarks/dlt_load.py` in
`benchmarks/.venv-dlt`, see `benchmarks/run`). They run interleaved, input by input, so a
load change on the shared machine hits all of them; figures are medians of `--repeat`, whole
process wall time start-up included, CPU is user + system of the process and its children.
Ours also runs on each input's SCHEMA lines alone (`peers.startup_file`): that run's wall time
is the fixed cost of a run (imports, the SDK, the writer process, the tables), reported apart
with the rate net of it; and on each input again, into the archive an untimed run of it has
just written (every record unchanged, as most are in an incremental run). The inputs are
large enough (105,000 records of conversations and parts) that start-up is a small part of
the figure, as in a real sync.
Prints a Markdown section for BENCHMARKS.md (commit and load average included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import typing as t

from benchmarks import goals
from benchmarks.common import out_dir
from benchmarks.target import peers

# The label of ours run on an input's SCHEMA lines alone.
STARTUP = "ours, start-up (schemas only)"
# The label of ours run on an input into the archive an untimed run of it just wrote: every
# record comes again unchanged, as most do in an incremental run.
AGAIN = "ours, the same input again"
# A synthetic passphrase: the benchmark measures the cipher, not a secret.
KEY = "benchmark passphrase, not a secret"
# Each program: (peers.run_target's program, settings added to ours' config).
PROGRAMS: dict[str, tuple[str, dict[str, t.Any]]] = {
    "ours": ("ours", {}),
    STARTUP: ("ours", {}),
    AGAIN: ("ours", {}),
    "ours, encrypted": ("ours", {"encryption_key": KEY}),
    "dlt": ("dlt", {}),
}


class Figure(t.NamedTuple):
    seconds: list[float]
    cpu: list[float]
    rss_mb: list[float]

    @property
    def wall(self) -> float:
        return statistics.median(self.seconds)


def measure(
    inputs: dict[str, tuple[t.Any, int, int]], repeat: int, programs: list[str]
) -> dict[str, dict[str, Figure]]:
    """Every program on every input, `repeat` times interleaved: figures by input, program."""
    figures: dict[str, dict[str, Figure]] = {}
    for name, (singer_file, _records, _conversations) in inputs.items():
        runs: dict[str, Figure] = {p: Figure([], [], []) for p in programs}
        for _ in range(repeat):
            for label in programs:
                program, settings = PROGRAMS[label]
                folder = out_dir() / "work" / f"compare-{program}"
                source = peers.startup_file(singer_file) if label == STARTUP else singer_file
                fresh = label != AGAIN
                if not fresh:  # an untimed first run writes the archive this one reads again
                    _succeeded(peers.run_target(program, source, folder, settings), label, name)
                run = peers.run_target(program, source, folder, settings, fresh=fresh)
                _succeeded(run, label, name)
                runs[label].seconds.append(run.seconds)
                runs[label].cpu.append(run.cpu_seconds)
                runs[label].rss_mb.append(run.max_rss_mb)
                print(f"{name} / {label}: {run.seconds:.2f} s", file=sys.stderr, flush=True)
        figures[name] = runs
    return figures


def _succeeded(run: peers.Run, label: str, name: str) -> None:
    if run.returncode != 0:
        msg = f"{label} failed on {name}: {run.stderr_tail[-2000:]}"
        raise RuntimeError(msg)


def report(
    inputs: dict[str, tuple[t.Any, int, int]],
    figures: dict[str, dict[str, Figure]],
    load: tuple[float, float],
    commit: str,
    repeat: int,
) -> str:
    rows, checks = [], []
    for name, (_path, records, conversations) in inputs.items():
        by = figures[name]
        startup = by[STARTUP].wall if STARTUP in by else 0.0
        rate = {label: records / f.wall for label, f in by.items() if label != STARTUP}
        for label, f in by.items():
            if label == STARTUP:
                rows.append(
                    f"| {name} | {label} | 0 | {f.wall:.2f} | "
                    f"{[round(s, 2) for s in f.seconds]} | - | - | - | "
                    f"{statistics.median(f.cpu):.2f} | {max(f.rss_mb):,.0f} |"
                )
                continue
            per_conv = f"{conversations / f.wall:,.0f}" if conversations else "-"
            rows.append(
                f"| {name} | {label} | {records:,} | {f.wall:.2f} | "
                f"{[round(s, 2) for s in f.seconds]} | {rate[label]:,.0f} | {per_conv} | "
                f"{_net(records, f.wall, startup)} | "
                f"{statistics.median(f.cpu):.2f} | {max(f.rss_mb):,.0f} |"
            )
        goal = goals.TARGET_CONVERSATIONS_PER_S if conversations else goals.TARGET_CONTACTS_PER_S
        figure = conversations / by["ours"].wall if conversations else rate["ours"]
        net = _net(conversations or records, by["ours"].wall, startup)
        checks.append(
            f"| {name}: ours | {figure:,.0f} (net of {startup:.2f} s start-up: {net}) | "
            f"{goal.text} | {_met(goal.met(figure))} |"
        )
        if "ours, encrypted" in by:
            enc = (
                conversations / by["ours, encrypted"].wall
                if conversations
                else rate["ours, encrypted"]
            )
            cpu = statistics.median(by["ours, encrypted"].cpu) / statistics.median(by["ours"].cpu)
            checks.append(
                f"| {name}: ours, encrypted | {enc:,.0f} ({enc / figure:.2f}× plain; CPU "
                f"{cpu:.2f}× plain) | reported (encryption's cost, apart from the goal) | |"
            )
        if AGAIN in by:
            again = rate[AGAIN]
            checks.append(
                f"| {name}: {AGAIN} (every record unchanged) | {again:,.0f} records/s "
                f"({again / rate['ours']:.2f}× a first load) | reported | |"
            )
        if "dlt" in by:
            ratio = rate["ours"] / rate["dlt"]
            checks.append(
                f"| {name}: ours against dlt | {ratio:.1f}× ({rate['ours']:,.0f} vs "
                f"{rate['dlt']:,.0f} records/s) | {goals.TARGET_VS_DLT.text} | "
                f"{_met(goals.TARGET_VS_DLT.met(ratio))} |"
            )
    return "\n".join(
        [
            f"Commit {commit}; {os.cpu_count()} cores; load average (1 min) {load[0]:.1f} "
            f"before, {load[1]:.1f} after; medians of {repeat} interleaved runs.",
            "",
            "| figure | measured | goal | |",
            "|---|---|---|---|",
            *checks,
            "",
            "| input | program | records | wall s (median) | all runs s | records/s "
            "| conversations/s | records/s net of start-up | CPU s | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def _net(records: int, wall: float, startup: float) -> str:
    """Records per second of the run beyond its start-up ("-" if too close to tell)."""
    beyond = wall - startup
    return f"{records / beyond:,.0f}" if startup and beyond > 0.05 else "-"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.target.compare")
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dlt", action="store_true", help="ours plain and encrypted only")
    args = parser.parse_args(argv)
    available = peers.programs()
    programs = [p for p in PROGRAMS if available[PROGRAMS[p][0]]]
    if args.no_dlt:
        programs = [p for p in programs if p != "dlt"]
    inputs: dict[str, tuple[t.Any, int, int]] = {
        "contacts": (peers.contacts_file(args.contacts), args.contacts, 0),
        "conversations + parts": (
            peers.conversations_file(args.conversations, args.parts),
            args.conversations * (1 + args.parts),
            args.conversations,
        ),
    }
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    before = os.getloadavg()[0]
    figures = measure(inputs, args.repeat, programs)
    print(report(inputs, figures, (before, os.getloadavg()[0]), commit, args.repeat))


if __name__ == "__main__":
    main()
