"""Benchmark the read side on a large archive; figures into BENCHMARKS.md (issue 13).

    .venv/bin/python -m benchmarks.read.run [--conversations 100000] [--parts 20]
        [--contacts 100000] [--samples 100] [--rebuild] [--no-update]

Builds the archive once with the real target from generated Singer input (benchmarks/read/
generate.py; kept in benchmarks/out/read/ and reused unless --rebuild), then measures in
this process, through the same functions the CLI calls: the time to install the views,
search latency at --limit 20 for rare, medium and common words, and contact lookups by
email (in another case), external id and phone. Each latency is one call after one warm-up
call per word class; p50 and p95 over `--samples` calls cycling through the class's words.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path

from benchmarks import goals
from benchmarks.common import ROOT, VENV_BIN, machine
from benchmarks.read import generate
from intercom_archive import contacts, search, views
from intercom_archive.archive import connect

OUT = ROOT / "benchmarks" / "out" / "read"
MARK_START = "<!-- read-figures:start (written by benchmarks/read/run.py) -->"
MARK_END = "<!-- read-figures:end -->"


def log(message: str) -> None:
    print(f"[read-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(conversations: int, parts: int, contacts_count: int, rebuild: bool) -> dict[str, t.Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"{conversations}x{parts}-{contacts_count}"
    database = OUT / f"archive-{name}.sqlite"
    info_file = OUT / f"archive-{name}.json"
    if database.exists() and info_file.exists() and not rebuild:
        return dict(json.loads(info_file.read_text()))
    for leftover in OUT.glob(f"archive-{name}.sqlite*"):
        leftover.unlink()
    singer = OUT / f"input-{name}.singer"
    if rebuild or not singer.exists():
        log(
            f"generating {conversations:,} conversations x {parts} parts, "
            f"{contacts_count:,} contacts"
        )
        generate.write(singer, conversations, parts, contacts_count)
    config = OUT / "target-config.json"
    config.write_text(json.dumps({"database": str(database)}))
    log("writing the archive with target-sqlite-archive")
    started = time.perf_counter()
    with singer.open("rb") as stdin:
        subprocess.run(
            [str(VENV_BIN / "target-sqlite-archive"), "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    info = {
        "database": str(database),
        "target_seconds": time.perf_counter() - started,
        "conversations": conversations,
        "parts": conversations * parts,
        "contacts": contacts_count,
        "bytes": database.stat().st_size,
    }
    info_file.write_text(json.dumps(info))
    return info


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "max": ordered[-1], "n": len(ordered)}


def timed(call: t.Callable[[], t.Any]) -> tuple[float, t.Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def measure_views(database: Path, repeat: int = 3) -> dict[str, t.Any]:
    seconds = []
    for _ in range(repeat):
        connection = connect(database, write=True)
        try:
            ms, results = timed(lambda: views.install_views(connection))  # noqa: B023
        finally:
            connection.close()
        seconds.append(ms / 1000)
    created = [r.name for r in results if r.status == "created"]
    return {"seconds": seconds, "created": created}


def measure_search(database: Path, samples: int) -> dict[str, t.Any]:
    connection = connect(database)
    out: dict[str, t.Any] = {"fts_tables": [f.name for f in search.fts_tables(connection)]}
    try:
        for label, words in (
            ("rare", generate.RARE),
            ("medium", generate.MEDIUM),
            ("common", generate.COMMON),
        ):
            search.search(connection, words[0], limit=20)  # warm-up
            latencies, hits = [], []
            for i in range(samples):
                word = words[i % len(words)]
                ms, found = timed(lambda: search.search(connection, word, limit=20))  # noqa: B023
                latencies.append(ms)
                hits.append(len(found))
            out[label] = {**percentiles(latencies), "mean_hits": statistics.mean(hits)}
            log(f"search {label}: p50 {out[label]['p50']:.1f} ms, p95 {out[label]['p95']:.1f} ms")
    finally:
        connection.close()
    return out


def measure_contacts(database: Path, contacts_count: int, samples: int) -> dict[str, t.Any]:
    connection = connect(database)
    rng = random.Random(5)
    out: dict[str, t.Any] = {}
    try:
        lookups: dict[str, t.Callable[[int], dict[str, str]]] = {
            "email (another case)": lambda n: {"email": f"Person{n}@EXAMPLE.com"},
            "external id": lambda n: {"external_id": f"user-{n}"},
            "phone (other format)": lambda n: {"phone": f"+353 1 {n:07d}"},
        }
        for label, criterion in lookups.items():
            latencies = []
            misses = 0
            for _ in range(samples):
                n = rng.randrange(contacts_count)

                def lookup(n: int = n, criterion: t.Any = criterion) -> t.Any:
                    found = contacts.find_contacts(connection, **criterion(n))
                    contacts.freshness(connection)
                    return found

                ms, found = timed(lookup)
                latencies.append(ms)
                misses += not found
            out[label] = {**percentiles(latencies), "misses": misses}
            log(f"contact {label}: p95 {out[label]['p95']:.2f} ms ({misses} misses)")
    finally:
        connection.close()
    return out


def measure_peers(database: Path, contacts_count: int, samples: int) -> dict[str, t.Any]:
    """The same calls the way the read side made them before: every match ranked by bm25
    (no candidate bound), and phone numbers compared by scanning every contact's number."""
    connection = connect(database)
    out: dict[str, t.Any] = {}
    bound = search.CANDIDATES
    fts = contacts._FTS
    try:
        search.CANDIDATES = 2**62
        for label, words, count in (
            ("medium", generate.MEDIUM, samples),
            ("common", generate.COMMON, max(3, samples // 10)),
        ):
            chosen = [words[i % len(words)] for i in range(count)]
            latencies = [timed(functools.partial(search.search, connection, w))[0] for w in chosen]
            out[f"search {label}"] = percentiles(latencies)
            log(f"peer: search {label} unbounded p95 {out[f'search {label}']['p95']:.1f} ms")
        search.CANDIDATES = bound
        contacts._FTS = "no_such_fts"
        rng = random.Random(5)
        numbers = [f"+353 1 {rng.randrange(contacts_count):07d}" for _ in range(samples // 5 + 3)]
        find = functools.partial(contacts.find_contacts, connection)
        latencies = [timed(functools.partial(find, phone=p))[0] for p in numbers]
        out["contact by phone (other format)"] = percentiles(latencies)
    finally:
        search.CANDIDATES = bound
        contacts._FTS = fts
        connection.close()
    return out


def cli_wall(database: Path) -> float:
    """One `intercom-archive search` as a process: what a person waits for, start-up included."""
    started = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "intercom-archive"), "search", "-d", str(database), generate.RARE[0]],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return (time.perf_counter() - started) * 1000


def _load(results: dict[str, t.Any], key: str) -> str:
    return ", ".join(f"{value:.2f}" for value in results.get(key, ())) or "unknown"


def _peer(peer: dict[str, float] | None, now: dict[str, float]) -> str:
    if not peer:
        return "-"
    return f"{peer['p50']:.1f} / {peer['p95']:.1f} ({peer['p95'] / now['p95']:.0f}x)"


def render(info: dict[str, t.Any], results: dict[str, t.Any]) -> str:
    m = results["machine"]
    rows = []
    for label in ("rare", "medium", "common"):
        s = results["search"][label]
        goal = goals.SEARCH_P95_MS
        if not results["search"]["fts_tables"]:
            verdict = "n/a: the archive has no FTS table"
        elif label == "common":
            verdict = "report as it is"
        else:
            verdict = "**met**" if goal.met(s["p95"]) else "**missed**"
        peer = results.get("peers", {}).get(f"search {label}")
        rows.append(
            f"| search, {label} word | {s['p50']:.1f} | {s['p95']:.1f} | {s['max']:.1f} "
            f"| {s['mean_hits']:.0f} | {goal.text if label != 'common' else '-'} | {verdict} "
            f"| {_peer(peer, s)} |"
        )
    for label, s in results["contacts"].items():
        goal = goals.CONTACT_LOOKUP_P95_MS
        verdict = "**met**" if goal.met(s["p95"]) else "**missed**"
        peer = results.get("peers", {}).get(f"contact by {label}")
        rows.append(
            f"| contact by {label} | {s['p50']:.2f} | {s['p95']:.2f} | {s['max']:.2f} "
            f"| - | {goal.text} | {verdict} | {_peer(peer, s)} |"
        )
    v = results["views"]
    return "\n".join(
        [
            f"Run {m['date']} by `python -m benchmarks.read.run` at commit {m['commit']}; "
            f"{m['cores']} cores ({m['cpu']}), SQLite {m['sqlite']}, shared with other work: "
            f"load average (1, 5, 15 min) {_load(results, 'load_before')} before and "
            f"{_load(results, 'load_after')} after, so the tails (p95, max) carry other "
            "processes' noise.",
            "",
            f"Archive: {info['conversations']:,} conversations, {info['parts']:,} parts, "
            f"{info['contacts']:,} contacts, {info['bytes'] / 2**30:.2f} GiB, written by "
            f"target-sqlite-archive in {info['target_seconds']:.0f} s. FTS tables: "
            f"{', '.join(results['search']['fts_tables']) or 'none'}"
            ". Latencies in ms, in "
            "process (the functions the CLI calls), "
            f"{results['samples']} calls each after a warm-up; each rare word is in about 4 "
            "parts, each medium word in 0.5 %, each common word in a third.",
            "",
            "| figure | p50 ms | p95 ms | max ms | hits | goal (p95) | | before, same run: p50 / "
            "p95 ms (p95 ratio) |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Installing the views: {', '.join(f'{s:.3f}' for s in v['seconds'])} s "
            f"({len(v['created'])} views; they are definitions, so the time does not grow "
            "with the archive). One `intercom-archive search` process for a rare word, "
            f"start-up included: {results['cli_ms']:.0f} ms.",
        ]
    )


def update_benchmarks_md(text: str, path: Path) -> None:
    block = f"{MARK_START}\n{text.strip()}\n{MARK_END}"
    current = path.read_text()
    if MARK_START in current and MARK_END in current:
        head, rest = current.split(MARK_START, 1)
        path.write_text(head + block + rest.split(MARK_END, 1)[1])
    else:
        section = "\n## The read side: search and contact lookup (issue 13)\n\n"
        path.write_text(current.rstrip() + "\n" + section + block + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-update", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    info = build(args.conversations, args.parts, args.contacts, args.rebuild)
    database = Path(info["database"])
    results: dict[str, t.Any] = {"machine": machine(), "samples": args.samples}
    results["load_before"] = os.getloadavg()
    log("installing the views")
    results["views"] = measure_views(database)
    results["search"] = measure_search(database, args.samples)
    results["contacts"] = measure_contacts(database, args.contacts, args.samples)
    results["peers"] = measure_peers(database, args.contacts, args.samples)
    results["cli_ms"] = cli_wall(database)
    results["load_after"] = os.getloadavg()
    (OUT / "results.json").write_text(json.dumps({"info": info, "results": results}, indent=2))
    text = render(info, results)
    print(text)
    if not args.no_update:
        update_benchmarks_md(text, ROOT / "BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
