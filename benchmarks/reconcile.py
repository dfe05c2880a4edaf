"""A reconcile pass's requests and time on the benchmark workspace, beside a full sync and a
daily incremental run of the same streams (our tap only: there is no peer that reconciles).

    .venv/bin/python -m benchmarks.reconcile [--quick]

The workspace is the full-sync section's (3,000 contacts, 1,500 conversations, 500 companies,
100 tickets) at 50 ms latency and a private app's 1,667 requests per 10 s. The tap runs alone
(its Singer output is counted, not loaded): the figures are the tap's and Intercom's side.
Archive mode (`reconcile_archive`) needs an archive: one more full sync goes through
target-sqlite-archive first, and the reconcile of that equal archive reads it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import typing as t

from benchmarks.common import (
    PRIVATE_APP_RATE,
    EmulatorProcess,
    fresh_archive_target,
    log,
    out_dir,
    run_pipeline,
    write_json,
)
from benchmarks.taps import our_argv, our_catalog, run_ours, work_dir
from tap_intercom import reconcile

STREAMS = (
    "companies",
    "contacts",
    "conversations",
    "conversation_parts",
    "tickets",
    "ticket_parts",
    "reconcile_runs",
)
FULL = {"contacts": 3000, "conversations": 1500, "companies": 500, "tickets": 100}
QUICK = {"contacts": 200, "conversations": 60, "companies": 40, "tickets": 10}


def measure(sizes: dict[str, int], latency_ms: int = 50) -> dict[str, t.Any]:
    folder = work_dir("reconcile")
    with EmulatorProcess(latency_ms=latency_ms, rate_limit=PRIVATE_APP_RATE, **sizes) as emu:
        catalog = our_catalog(emu.url, folder, STREAMS)
        log("reconcile: the first full sync")
        full = run_ours(emu, catalog, folder)
        assert full.ok, full.run.stderr_tail[-2000:]
        state = full.run.state
        log("reconcile: a daily incremental run with nothing changed")
        daily = run_ours(emu, catalog, folder, state=state)
        log("reconcile: the reconcile pass of an equal archive")
        passed = run_ours(
            emu, catalog, folder, state=state, reconcile=True, reconcile_margin_seconds=0
        )
        assert passed.ok, passed.run.stderr_tail[-2000:]
        log("reconcile: a full sync into an archive (tap | target), then its archive-mode pass")
        database, target_argv = fresh_archive_target(folder, "reconcile")
        loaded = run_pipeline(our_argv(emu.url, catalog, folder, None), target_argv)
        assert loaded.ok, loaded.tap.stderr_tail[-2000:]
        archived = run_ours(
            emu,
            catalog,
            folder,
            state=loaded.state,
            reconcile=True,
            reconcile_margin_seconds=0,
            reconcile_archive=str(database),
        )
        assert archived.ok, archived.run.stderr_tail[-2000:]
        truth = emu.truth()
    counts = {e: len(truth[e]) for e in ("contacts", "conversations", "tickets", "companies")}
    # The emulator's contact lists fit one page: one request per list beyond the inline ten,
    # as the full sync (which reads every contact) counted them.
    full_lists = sum(
        sum(codes.values())
        for route, codes in full.routes.items()
        if route in ("GET /contacts/{id}/tags", "GET /contacts/{id}/companies")
    )
    bound, archive_bound = (
        reconcile.request_bound(
            contacts=counts["contacts"],
            conversations=counts["conversations"],
            tickets=counts["tickets"],
            companies=counts["companies"],
            full_lists=full_lists,
            hydrated=hydrated,
        )
        for hydrated in (True, False)
    )
    # The archive was read (a fallback would fetch every conversation and ticket again).
    assert archived.requests <= archive_bound, (archived.requests, archive_bound)
    listing = sum(
        math.ceil(counts[e] / 150) for e in ("contacts", "conversations", "tickets")
    ) + math.ceil(counts["companies"] / 100)
    return {
        "commit": _commit(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "latency_ms": latency_ms,
        "rate_per_10s": PRIVATE_APP_RATE,
        "workspace": counts,
        "runs": {
            name: {
                "seconds": round(run.seconds, 1),
                "requests": run.requests,
                "rate_limited": run.rate_limited,
                "records": run.run.total_records,
                "peak_rss_mb": round(run.run.max_rss_mb),
            }
            for name, run in (
                ("full sync", full),
                ("daily, nothing changed", daily),
                ("reconcile", passed),
                ("reconcile against the archive", archived),
            )
        },
        "reconcile_routes": {
            route: sum(codes.values()) for route, codes in sorted(passed.routes.items())
        },
        "archive_routes": {
            route: sum(codes.values()) for route, codes in sorted(archived.routes.items())
        },
        "bound": bound,
        "archive_bound": archive_bound,
        "listing_pages": listing,
    }


def _commit() -> str:
    from benchmarks.common import _git_commit

    return _git_commit()


def render(result: dict[str, t.Any]) -> str:
    w = result["workspace"]
    lines = [
        f"Run {result['when']} at commit {result['commit']}: {w['contacts']:,} contacts, "
        f"{w['conversations']:,} conversations, {w['tickets']:,} tickets, {w['companies']:,} "
        f"companies; {result['latency_ms']} ms latency, {result['rate_per_10s']:,} requests "
        "per 10 s. Streams: companies, contacts, conversations (+ parts), tickets (+ parts).",
        "",
        "| run | seconds | requests | 429s | records | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in result["runs"].items():
        lines.append(
            f"| {name} | {run['seconds']} | {run['requests']:,} | {run['rate_limited']} | "
            f"{run['records']:,} | {run['peak_rss_mb']} |"
        )
    passed = result["runs"]["reconcile"]["requests"]
    lines += [
        "",
        f"Reconcile requests: {passed:,}, bound {result['bound']:,} "
        f"(`reconcile.request_bound`: listing pages + one GET per conversation and ticket); "
        f"of them {result['listing_pages']:,} are listing pages.",
        "",
        "| route | requests |",
        "|---|---|",
        *(f"| {route} | {n:,} |" for route, n in result["reconcile_routes"].items()),
        "",
        f"Against the archive: {result['runs']['reconcile against the archive']['requests']:,} "
        f"requests, bound {result['archive_bound']:,} (`reconcile.request_bound(hydrated="
        "False)`: listing pages only, as nothing differs).",
        "",
        "| route | requests |",
        "|---|---|",
        *(f"| {route} | {n:,} |" for route, n in result["archive_routes"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    result = measure(QUICK if args.quick else FULL)
    write_json(out_dir() / "reconcile.json", result)
    text = render(result)
    (out_dir() / "reconcile.md").write_text(text + "\n")
    print(text)
    print(json.dumps(result["runs"]))


if __name__ == "__main__":
    main()
